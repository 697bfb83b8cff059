from ontoc import Store, ViewModel, attrs, one

from .models import Order


class OrderStore(Store):
    order = one(Order)


class OrderCard(ViewModel):
    class Meta:
        topic = "pj_order_cards"
        store = OrderStore

    @attrs.getter
    def customer_name(self) -> str:
        return self.store.order.customer.name

    @attrs.getter
    def contact(self) -> str:
        return self.store.order.customer.email or "no email"

    @attrs.getter
    def vip(self) -> bool:
        return self.store.order.customer.vip

    @attrs.getter
    def country(self) -> str:
        return self.store.order.customer.country.upper()

    @attrs.getter
    def status_label(self) -> str:
        return self.store.order.status.upper()

    @attrs.getter
    def total(self) -> float:
        if self.store.order.discount is None:
            return self.store.order.amount
        return self.store.order.amount * (1 - self.store.order.discount)

    @attrs.getter
    def big(self) -> bool:
        return self.store.order.amount > 100 and self.store.order.customer.vip

    @attrs.where
    def visible(self) -> bool:
        return self.store.order.status != "draft"
