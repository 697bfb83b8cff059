from ontoc import Store, ViewModel, attrs, one

from .models import Order


class OrderStore(Store):
    order = one(Order)


class OrderCardPy(ViewModel):
    """OrderCard (workload `projection`) as a team without ontoc writes it: each getter is one Python function.

    Compiled with `static_methods="inline"` the functions become SQL; with "udf" each is a Python UDF.
    """

    class Meta:
        topic = "pj_order_cards_py"
        store = OrderStore

    @attrs.getter
    def customer_name(self) -> str:
        return self.name_of(self.store.order.customer)

    @attrs.getter
    def contact(self) -> str:
        return self.contact_of(self.store.order.customer)

    @attrs.getter
    def vip(self) -> bool:
        return self.vip_of(self.store.order.customer)

    @attrs.getter
    def country(self) -> str:
        return self.country_of(self.store.order.customer)

    @attrs.getter
    def status_label(self) -> str:
        return self.label_of(self.store.order.status)

    @attrs.getter
    def total(self) -> float:
        return self.total_of(self.store.order)

    @attrs.getter
    def big(self) -> bool:
        return self.big_of(self.store.order)

    @attrs.where
    def visible(self) -> bool:
        return self.store.order.status != "draft"

    @staticmethod
    def name_of(customer) -> str:
        return customer.name

    @staticmethod
    def contact_of(customer) -> str:
        return customer.email or "no email"

    @staticmethod
    def vip_of(customer) -> bool:
        return customer.vip

    @staticmethod
    def country_of(customer) -> str:
        return customer.country.upper()

    @staticmethod
    def label_of(status: str) -> str:
        return status.upper()

    @staticmethod
    def total_of(order) -> float:
        if order.discount is None:
            return order.amount
        return order.amount * (1 - order.discount)

    @staticmethod
    def big_of(order) -> bool:
        return order.amount > 100 and order.customer.vip
