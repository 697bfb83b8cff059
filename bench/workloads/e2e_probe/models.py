from ontoc import DomainModel, attrs


class Customer(DomainModel):
    class Meta:
        topic = "e2e_customers"

    name: str
    tier: str


class Order(DomainModel):
    class Meta:
        topic = "e2e_orders"

    customer: Customer = attrs.ref()
    amount: float
    stamp: float  # the producer's time.time() when it sent this event
