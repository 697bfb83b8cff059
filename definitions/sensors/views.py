from ontoc import Store, ViewModel, attrs, many, one

from .models import Device, Reading


class DeviceStore(Store):
    device = one(Device)
    readings = many(Reading, on="device")


class DeviceStats(ViewModel):
    """Integer and float arithmetic as Python does it, errors as None."""

    class Meta:
        topic = "sensor_device_stats"
        store = DeviceStore

    @attrs.getter
    def floor_div(self) -> int:
        return self.store.device.a // self.store.device.b

    @attrs.getter
    def modulo(self) -> int:
        return self.store.device.a % self.store.device.b

    @attrs.getter
    def true_div(self) -> float:
        return self.store.device.a / self.store.device.b

    @attrs.getter
    def float_floor_div(self) -> float:
        return self.store.device.x // 1.5

    @attrs.getter
    def float_mod(self) -> float:
        return self.store.device.x % -2.0

    @attrs.getter
    def ratio_or_zero(self) -> float:
        return (self.store.device.x / self.store.device.b) or 0

    @attrs.getter
    def power(self) -> int:
        return self.store.device.a ** 3 - self.store.device.b ** 2

    @attrs.getter
    def float_power(self) -> float:
        return self.store.device.x ** 2.0

    @attrs.getter
    def rounded(self) -> int:
        return round(self.store.device.x)

    @attrs.getter
    def truncated(self) -> int:
        return int(self.store.device.x)

    @attrs.getter
    def absolute(self) -> int:
        return abs(self.store.device.a - self.store.device.b)

    @attrs.getter
    def clamp(self) -> int:
        return max(-5, min(self.store.device.a, 5))

    @attrs.getter
    def y_plus_one(self) -> float | None:
        return self.store.device.y + 1

    @attrs.getter
    def n_or_default(self) -> int:
        return self.store.device.n or 7

    @attrs.getter
    def n_and_a(self) -> int | None:
        return self.store.device.n and self.store.device.a

    @attrs.getter
    def between(self) -> bool:
        return -3 <= self.store.device.a < self.store.device.b <= 10

    @attrs.getter
    def y_is_missing(self) -> bool:
        return self.store.device.y is None or self.store.device.y == 0

    @attrs.getter
    def bools(self) -> int:
        return self.store.device.enabled + self.store.device.enabled * 2

    @attrs.getter
    def label_text(self) -> str:
        d = self.store.device
        return f"{d.label or 'unnamed'}:{d.a}:{d.enabled}:{d.n}"

    @attrs.getter
    def site_shift(self) -> int:
        return self.store.device.a + self.store.device.site.offset

    @attrs.getter
    def kind(self) -> str:
        a = self.store.device.a
        if a < 0:
            return "negative"
        elif a == 0:
            return "zero"
        elif a in (1, 2, 3):
            return "small"
        return "large"

    @attrs.getter
    def total(self) -> float:
        return sum(r.value for r in self.store.readings if r.ok)

    @attrs.getter
    def count_sum(self) -> int:
        return sum(r.count for r in self.store.readings)

    @attrs.getter
    def lowest(self) -> float:
        return min(r.value for r in self.store.readings)

    @attrs.getter
    def highest_count(self) -> int:
        return max((r.count for r in self.store.readings if r.count > 0), default=-1)

    @attrs.getter
    def mean(self) -> float | None:
        n = len(self.store.readings)
        return self.total / n if n else None

    @attrs.getter
    def all_ok(self) -> bool:
        return all(r.ok for r in self.store.readings)

    @attrs.getter
    def any_negative(self) -> bool:
        return any(r.value < 0 for r in self.store.readings)

    @attrs.getter
    def per_count(self) -> float:
        return sum(r.value / r.count for r in self.store.readings)

    @attrs.getter
    def values(self) -> list[float]:
        return sorted(r.value for r in self.store.readings)

    @attrs.getter
    def weighted(self) -> float:
        acc = 0.0
        for r in self.store.readings:
            if r.ok:
                acc = acc + r.value * r.count
            else:
                acc -= 1
        return acc

    @attrs.where
    def enabled(self) -> bool:
        return self.store.device.enabled
