"""Found while building part 2: an inlined static method drops its arguments' errors when its body
short-circuits. `python -m bench.repro_inline_args` prints the three answers.

    @attrs.getter
    def big(self) -> bool:
        return self.big_of(self.store.order.amount, self.store.order.customer.vip)

    @staticmethod
    def big_of(amount, vip) -> bool:
        return amount > 100 and vip

Python evaluates the arguments first: with the customer missing, `customer.vip` raises and `big`
is None (spec section 4), whatever `amount` is. `static_methods="udf"` gives None; `"inline"`
translates `amount > 100 and vip` with `vip`'s error flag only on the branch that reads `vip`, so
an order of amount 50 gets False.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

MODELS = '''
from ontoc import DomainModel, attrs


class Customer(DomainModel):
    class Meta:
        topic = "ri_customers"

    vip: bool = False


class Order(DomainModel):
    class Meta:
        topic = "ri_orders"

    customer: Customer = attrs.ref()
    amount: float
'''

VIEWS = '''
from ontoc import Store, ViewModel, attrs, one

from .models import Order


class OrderStore(Store):
    order = one(Order)


class OrderFlag(ViewModel):
    class Meta:
        topic = "ri_order_flags"
        store = OrderStore

    @attrs.getter
    def big(self) -> bool:
        return self.big_of(self.store.order.amount, self.store.order.customer.vip)

    @staticmethod
    def big_of(amount: float, vip: bool) -> bool:
        return amount > 100 and vip
'''


def main() -> None:
    from ontoc.events import Event, final_documents, validate
    from ontoc.oracle import import_definitions, view_rows
    from ontoc.pipeline import compile_definitions
    from ontoc.runtime.embedded import run_compiled

    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / "repro_inline_args_pkg"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "models.py").write_text(MODELS)
        (package / "views.py").write_text(VIEWS)
        answers = {}
        for mode in ("inline", "udf"):
            compiled = compile_definitions(package, static_methods=mode)
            models = {m.topic: m for m in compiled.schema.models.values()}
            events = [Event("ri_orders", "o1", validate(models["ri_orders"], {"customer": "nobody", "amount": 50.0}),
                            "repro", 1)]
            answers[mode] = run_compiled(compiled, events)["ri_order_flags"]["o1"]["big"]
        oracle = view_rows(compiled.schema, import_definitions(compiled.schema), final_documents(events))
        answers["python (oracle)"] = oracle["ri_order_flags"]["o1"]["big"]
    for k, v in answers.items():
        print(f"{k:>16}: big = {v!r}")
    print("inline agrees with Python" if answers["inline"] == answers["python (oracle)"] else
          "inline DIFFERS from Python: the argument's error is dropped")


if __name__ == "__main__":
    main()
