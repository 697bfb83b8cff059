from ontoc import DomainModel, attrs


class Site(DomainModel):
    class Meta:
        topic = "sensor_sites"

    name: str
    offset: int = 0


class Device(DomainModel):
    class Meta:
        topic = "sensor_devices"

    site: Site = attrs.ref()
    a: int
    b: int
    x: float
    y: float | None = None
    n: int | None = None
    enabled: bool = True
    label: str = ""


class Reading(DomainModel):
    class Meta:
        topic = "sensor_readings"

    device: Device = attrs.ref()
    value: float
    count: int
    ok: bool = True
