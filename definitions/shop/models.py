from ontoc import DomainModel, attrs


class Category(DomainModel):
    class Meta:
        topic = "shop_categories"

    name: str
    vat_percent: int = 20


class Product(DomainModel):
    class Meta:
        topic = "shop_products"

    title: str
    price: float
    category: Category = attrs.ref()
    tags: list[str] = []


class Customer(DomainModel):
    class Meta:
        topic = "shop_customers"

    name: str
    email: str | None = None
    vip: bool = False


class Order(DomainModel):
    class Meta:
        topic = "shop_orders"

    customer: Customer = attrs.ref()
    status: str
    discount: float | None = None
    note: str | None = None


class OrderLine(DomainModel):
    class Meta:
        topic = "shop_order_lines"

    order: Order = attrs.ref()
    product: Product = attrs.ref()
    quantity: int
    gift: bool = False
