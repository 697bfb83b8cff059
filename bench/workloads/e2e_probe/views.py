from ontoc import Store, ViewModel, attrs, one

from .models import Order


class OrderStore(Store):
    order = one(Order)


class OrderLatency(ViewModel):
    class Meta:
        topic = "e2e_order_views"
        store = OrderStore

    @attrs.getter
    def stamp(self) -> float:
        return self.store.order.stamp

    @attrs.getter
    def customer(self) -> str:
        return self.store.order.customer.name

    @attrs.getter
    def label(self) -> str:
        return f"{self.store.order.customer.tier.upper()}: {round(self.store.order.amount)}"
