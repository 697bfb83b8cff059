from ontoc import Store, ViewModel, attrs, many, one

from .models import Order, OrderLine


class OrderStore(Store):
    order = one(Order)
    lines = many(OrderLine, on="order")


class OrderSummary(ViewModel):
    """Every collection aggregate over an order's lines, with nested references."""

    class Meta:
        topic = "shop_order_summaries"
        store = OrderStore

    @attrs.getter
    def customer_name(self) -> str:
        return self.store.order.customer.name

    @attrs.getter
    def contact(self) -> str:
        return self.store.order.customer.email or "no email"

    @attrs.getter
    def line_count(self) -> int:
        return len(self.store.lines)

    @attrs.getter
    def units(self) -> int:
        return sum(line.quantity for line in self.store.lines)

    @attrs.getter
    def gross(self) -> float:
        return sum(line.quantity * line.product.price for line in self.store.lines)

    @attrs.getter
    def net(self) -> float | None:
        if self.store.order.discount is None:
            return self.gross
        return self.gross * (1 - self.store.order.discount)

    @attrs.getter
    def cheapest(self) -> float | None:
        return min((line.product.price for line in self.store.lines), default=None)

    @attrs.getter
    def biggest_quantity(self) -> int:
        return max(line.quantity for line in self.store.lines if not line.gift)

    @attrs.getter
    def has_gift(self) -> bool:
        return any(line.gift for line in self.store.lines)

    @attrs.getter
    def all_in_stock_categories(self) -> bool:
        return all(line.product.category.name != "discontinued" for line in self.store.lines)

    @attrs.getter
    def distinct_products(self) -> int:
        return len({line.product.doc_id for line in self.store.lines})

    @attrs.getter
    def category_names(self) -> list[str]:
        return sorted(line.product.category.name for line in self.store.lines if line.quantity > 0)

    @attrs.getter
    def lines_detail(self) -> list[dict]:
        return [{"product": line.product.title, "quantity": line.quantity, "gift": line.gift}
                for line in self.store.lines]

    @attrs.getter
    def avg_quantity(self) -> float | None:
        if not self.store.lines:
            return None
        return self.units / self.line_count

    @attrs.getter
    def gift_units(self) -> int:
        total = 0
        for line in self.store.lines:
            if line.gift:
                total += line.quantity
        return total

    @attrs.getter
    def max_vat(self) -> int:
        best = 0
        for line in self.store.lines:
            best = max(best, line.product.category.vat_percent)
        return best

    @attrs.getter
    def titles(self) -> list[str]:
        out = []
        for line in self.store.lines:
            if line.quantity >= 2:
                out.append(line.product.title.upper())
        return out

    @attrs.getter
    def big_order(self) -> bool:
        return self.units > 10 and self.store.order.customer.vip

    @attrs.where
    def visible(self) -> bool:
        return self.store.order.status != "draft"
