"""The small builder syntax of the pass fixtures (tests/fixtures/passes/): a view plan as one Python expression.

    plan(join(scan("s", "warehouse"), scan("w", "name"), eq(w.doc_id, s.warehouse)), f=w.name)

`scan(alias, *columns)` reads `doc_id` and the columns (`"qty:int"` for another
type than str); `s.warehouse` is that column. Operators are their `Op` names
(`and_`, `or_`, `not_`, `in_` where Python has a keyword); Python literals are
IR literals and `null` is a NULL string. The result is compared as `ir.dump` text.
"""

from __future__ import annotations

from typing import cast

from ontoc.ir import types as T
from ontoc.ir.expr import OPS, AggCall, Case, Column, Expr, Func, Literal, Op, Value
from ontoc.ir.plan import ViewField, ViewPlan
from ontoc.ir.relations import Aggregate, Derived, Filter, LeftJoin, Project, Rel, Scan


def _expr(value: object) -> Expr:
    if isinstance(value, Expr):
        return value
    dtype = {bool: T.BOOL, int: T.INT, float: T.FLOAT, str: T.STR}[type(value)]
    return Literal(cast(Value, value), dtype)


class _Namespace(dict):
    """Builder functions, and an alias object for any other name (`s` in `s.warehouse`)."""

    def __init__(self) -> None:
        super().__init__()
        self.types: dict[tuple[str, str], T.DType] = {}
        for op, spec in OPS.items():
            self[op.value + ("_" if op.value in ("and", "or", "not", "in") else "")] = self._op(op, spec.result)
        self.update(
            scan=self.scan,
            join=lambda left, right, on: LeftJoin(left, right, on),
            where=lambda rel, predicate: Filter(rel, _expr(predicate)),
            aggregate=self.aggregate,
            derived=self.derived,
            count=lambda where=None: AggCall("count", None, where, T.INT),
            agg=lambda func, arg, where=None: AggCall(func, arg, where, arg.dtype.null()),
            udaf=lambda function, arg, where=None: AggCall("udaf", arg, where, arg.dtype.null(), function),
            case=lambda *whens, default: Case(
                tuple((_expr(c), _expr(v)) for c, v in whens), _expr(default), _expr(default).dtype.null()
            ),
            null=Literal(None, T.STR),
            plan=self.plan,
        )

    def __missing__(self, alias: str) -> _Alias:
        return _Alias(alias, self.types)

    def _op(self, op: Op, result: T.Kind | None):
        def build(*args: object) -> Func:
            exprs = tuple(_expr(a) for a in args)
            return Func(op, exprs, T.DType(result) if result is not None else exprs[0].dtype)

        return build

    def scan(self, alias: str, *columns: str) -> Scan:
        cols = [("doc_id", T.STR)]
        for c in columns:
            name, _, kind = c.partition(":")
            cols.append((name, T.DType(kind or "str")))
        self.types.update({(alias, n): t for n, t in cols})
        return Scan(alias, alias, alias, tuple(cols))

    def aggregate(self, alias: str, parent: Rel, key: Expr, where: Expr | None = None, **calls: AggCall) -> Aggregate:
        self.types[(alias, "root_id")] = key.dtype
        self.types.update({(alias, n): c.dtype for n, c in calls.items()})
        return Aggregate(parent, alias, key, tuple(calls.items()), where)

    def derived(self, alias: str, parent: Rel, key: Expr, **columns: Expr) -> Derived:
        self.types[(alias, "root_id")] = key.dtype
        self.types.update({(alias, n): e.dtype for n, e in columns.items()})
        return Derived(parent, alias, key, tuple(columns.items()))

    def plan(self, rel: Rel, **fields: object) -> ViewPlan:
        exprs = tuple((n, _expr(e)) for n, e in fields.items())
        key = Column(_first_scan(rel).alias, "doc_id", T.STR)
        return ViewPlan(
            "V", "v", "Root", tuple(ViewField(n, e.dtype) for n, e in exprs), Project(rel, key, exprs), "views.py"
        )


def _first_scan(rel: Rel) -> Scan:
    """The root document: the scan at the bottom of the left-join chain."""
    while not isinstance(rel, Scan):
        rel = rel.left if isinstance(rel, LeftJoin) else rel.inputs()[0]
    return rel


class _Alias:
    def __init__(self, alias: str, types: dict[tuple[str, str], T.DType]):
        self._alias, self._types = alias, types

    def __getattr__(self, name: str) -> Column:
        return Column(self._alias, name, self._types.get((self._alias, name), T.STR))


def build_plan(source: str) -> ViewPlan:
    """Evaluate one fixture input."""
    return eval(source, {"__builtins__": {}}, _Namespace())  # noqa: S307 - test fixtures of this repository
