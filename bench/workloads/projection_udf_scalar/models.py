from ontoc import DomainModel, attrs


class Customer(DomainModel):
    class Meta:
        topic = "pj_customers"

    name: str
    email: str | None = None
    vip: bool = False
    country: str


class Order(DomainModel):
    class Meta:
        topic = "pj_orders"

    customer: Customer = attrs.ref()
    status: str  # "draft" | "open" | "paid" | "shipped"
    amount: float
    discount: float | None = None
