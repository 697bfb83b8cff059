"""Synthetic definitions packages with N views, for compile speed and memory.

The package has six domain models (references two deep, a `many` collection) in `models.py` and
the views in files of ten (`views_000.py`, ...). View i cycles through kinds of getters that
ontoc users write: field reads, navigation one and two references deep, `or` defaults, f-strings,
arithmetic with `None` checks, `len`/`sum`/`max`/`any` over a `many` collection, a sorted list of
dicts, a `where`. Every view has 8 getters and a distinct topic.
"""

from __future__ import annotations

from pathlib import Path

MODELS = """\
from ontoc import DomainModel, attrs


class Region(DomainModel):
    class Meta:
        topic = "s_regions"

    name: str
    code: str


class Customer(DomainModel):
    class Meta:
        topic = "s_customers"

    name: str
    email: str | None = None
    vip: bool = False
    region: Region = attrs.ref()


class Product(DomainModel):
    class Meta:
        topic = "s_products"

    title: str
    price: float
    stock: int = 0


class Order(DomainModel):
    class Meta:
        topic = "s_orders"

    customer: Customer = attrs.ref()
    status: str
    discount: float | None = None
    note: str | None = None


class Line(DomainModel):
    class Meta:
        topic = "s_lines"

    order: Order = attrs.ref()
    product: Product = attrs.ref()
    quantity: int
    gift: bool = False


class Shipment(DomainModel):
    class Meta:
        topic = "s_shipments"

    order: Order = attrs.ref()
    carrier: str
    weight: float
"""

GETTERS = [
    ("customer_name_{i}", "str", "return self.store.order.customer.name"),
    ("contact_{i}", "str", 'return self.store.order.customer.email or "none-{i}"'),
    ("region_{i}", "str | None", "return self.store.order.customer.region.code.lower()"),
    ("label_{i}", "str", 'return f"{{self.store.order.status}}-{i}:{{self.store.order.customer.name}}"'),
    ("lines_{i}", "int", "return len([l for l in self.store.lines if l.quantity > {i} % 5])"),
    ("units_{i}", "int", "return sum(l.quantity for l in self.store.lines if not l.gift)"),
    ("gross_{i}", "float", "return sum(l.quantity * l.product.price for l in self.store.lines)"),
    (
        "net_{i}",
        "float | None",
        "if self.store.order.discount is None:\n            return None\n"
        "        return self.store.order.discount * {i} + 1",
    ),
    ("biggest_{i}", "int", "return max((l.quantity for l in self.store.lines), default={i})"),
    ("any_gift_{i}", "bool", "return any(l.gift for l in self.store.lines)"),
    ("heavy_{i}", "int", "return len([s for s in self.store.shipments if s.weight > {i}])"),
    (
        "titles_{i}",
        "list[dict]",
        'return sorted(({{"title": l.product.title, "q": l.quantity}} for l in self.store.lines), '
        'key=lambda d: d["title"])',
    ),
]
GETTERS_PER_VIEW = 8


def view_source(i: int) -> str:
    lines = [
        f"class Store{i}(Store):",
        "    order = one(Order)",
        '    lines = many(Line, on="order")',
        '    shipments = many(Shipment, on="order")',
        "",
        "",
        f"class View{i}(ViewModel):",
        "    class Meta:",
        f'        topic = "synthetic_view_{i}"',
        f"        store = Store{i}",
        "",
    ]
    for k in range(GETTERS_PER_VIEW):
        name, annotation, body = GETTERS[(i + k) % len(GETTERS)]
        lines += [
            "    @attrs.getter",
            f"    def {name.format(i=i)}(self) -> {annotation}:",
            "        " + body.format(i=i),
            "",
        ]
    if i % 3 == 0:
        lines += [
            "    @attrs.where",
            "    def visible(self) -> bool:",
            f'        return self.store.order.status != "draft-{i}"',
            "",
        ]
    return "\n".join(lines) + "\n"


def write_package(folder: Path, n_views: int, per_file: int = 10) -> Path:
    """A definitions package with `n_views` views under `folder`; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text('"""Synthetic views for ontoc\'s compile benchmark."""\n', encoding="utf-8")
    (folder / "models.py").write_text(MODELS, encoding="utf-8")
    header = "from ontoc import Store, ViewModel, attrs, many, one\n\nfrom .models import Line, Order, Shipment\n\n\n"
    for start in range(0, n_views, per_file):
        body = "\n\n".join(view_source(i) for i in range(start, min(start + per_file, n_views)))
        (folder / f"views_{start // per_file:03d}.py").write_text(header + body, encoding="utf-8")
    return folder
