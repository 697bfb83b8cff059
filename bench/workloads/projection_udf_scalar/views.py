from ontoc import Store, ViewModel, attrs, one

from .models import Order


class OrderStore(Store):
    order = one(Order)


class OrderCardScalars(ViewModel):
    """OrderCard (workload `projection`) with one Python function per getter, given field values only.

    Flink 2.2's thread mode cannot pass a NULL ROW to a Python function (a NullPointerException in
    PythonTypeUtils$RowDataConverter), which a document argument is while its reference dangles;
    scalar arguments run in both modes.
    """

    class Meta:
        topic = "pj_order_cards_scalars"
        store = OrderStore

    @attrs.getter
    def customer_name(self) -> str:
        return self.same(self.store.order.customer.name)

    @attrs.getter
    def contact(self) -> str:
        return self.contact_of(self.store.order.customer.email)

    @attrs.getter
    def vip(self) -> bool:
        return self.flag(self.store.order.customer.vip)

    @attrs.getter
    def country(self) -> str:
        return self.upper(self.store.order.customer.country)

    @attrs.getter
    def status_label(self) -> str:
        return self.upper(self.store.order.status)

    @attrs.getter
    def total(self) -> float:
        return self.total_of(self.store.order.amount, self.store.order.discount)

    @attrs.getter
    def big(self) -> bool:
        # not `big_of(amount, customer.vip)`: kept as first measured (inlined, that form once dropped the
        # argument's error; fixed in commit 1e361d2, a differential case since)
        return self.big_of(self.store.order.amount, self.store.order.discount)

    @attrs.where
    def visible(self) -> bool:
        return self.store.order.status != "draft"

    @staticmethod
    def same(text: str) -> str:
        return text

    @staticmethod
    def contact_of(email: str | None) -> str:
        return email or "no email"

    @staticmethod
    def flag(value: bool) -> bool:
        return value

    @staticmethod
    def upper(text: str) -> str:
        return text.upper()

    @staticmethod
    def total_of(amount: float, discount: float | None) -> float:
        if discount is None:
            return amount
        return amount * (1 - discount)

    @staticmethod
    def big_of(amount: float, discount: float | None) -> bool:
        return amount > 100 and discount is None
