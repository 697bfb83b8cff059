"""What a Python expression of a getter stands for while it is translated.

Each value carries its SQL expression and an error flag: a boolean SQL
expression that is true exactly where Python would raise. A getter's field is
NULL where its flag holds, so `(a / b) or 0` with `b == 0` is None, as in Python.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace
from datetime import timedelta

from ..ir import types as T
from ..ir.expr import FALSE, Expr
from .schema import EntryDef
from .scope import AggScope, DocNode


@dataclass(frozen=True, eq=False)
class Scalar:
    expr: Expr
    err: Expr = FALSE

    @property
    def dtype(self) -> T.DType:
        return self.expr.dtype


@dataclass(frozen=True, eq=False)
class Doc:
    """A document that may be missing (then `None` in Python)."""

    node: DocNode
    err: Expr = FALSE


@dataclass(frozen=True, eq=False)
class DictVal:
    """A dict literal with string keys; lives only inside collections."""

    items: tuple[tuple[str, Scalar], ...]

    def get(self, key: str) -> Scalar | None:
        return dict(self.items).get(key)


@dataclass(frozen=True, eq=False)
class ManyVal:
    """`self.store.<many entry>`: every element, before any comprehension."""

    entry: EntryDef


@dataclass(frozen=True, eq=False)
class Coll:
    """A list or set built over a `many` collection.

    `include` (element level, never NULL) says which elements are in it;
    `elem_err` (element level) holds where computing the filter or the element
    raises; `none_err` (view level) where the whole value is None or raised
    before iteration (a getter read through `self.` that failed).
    """

    agg: AggScope
    include: Expr
    elem: Scalar | DictVal | Doc
    elem_err: Expr = FALSE
    none_err: Expr = FALSE
    sort_keys: tuple[Expr, ...] | None = None
    reverse: bool = False
    distinct: bool = False

    def but(self, **changes) -> Coll:
        return replace(self, **changes)


@dataclass(frozen=True, eq=False)
class EmptyList:
    pass


@dataclass(frozen=True, eq=False)
class CondList:
    """`if cond: return <list> ... return <list>` as one list-valued value."""

    cond: Expr  # view level, never NULL
    then: ListLike
    otherwise: ListLike
    err: Expr = FALSE


ListLike = Coll | EmptyList | CondList


@dataclass(frozen=True, eq=False)
class SelfRef:
    pass


@dataclass(frozen=True, eq=False)
class StoreRef:
    """`self.store`, or the `s` of a key lambda (which sees earlier entries only)."""

    visible: tuple[str, ...] | None = None


@dataclass(frozen=True, eq=False)
class LambdaVal:
    node: ast.Lambda | ast.FunctionDef  # a def when a static or class method is referenced by name
    env: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class TupleVal:
    """A literal tuple, list or set, for `in` tests and sort keys."""

    items: tuple[Scalar, ...]


@dataclass(frozen=True, eq=False)
class DeltaVal:
    """A `datetime.timedelta`: a literal (`fixed`), or `later - earlier` of two datetimes.

    It lives only in comparisons, which move the difference to one side (`a - b < td` is `a < b + td`),
    so SQL never computes a duration.
    """

    fixed: timedelta | None = None
    later: Scalar | None = None
    earlier: Scalar | None = None


@dataclass(frozen=True, eq=False)
class DateVal:
    """A `datetime.date` (`dt.date()` or a literal), only compared: `key` is the int yyyymmdd, which
    orders as the dates do."""

    key: Scalar


@dataclass(frozen=True, eq=False)
class UtcVal:
    """`datetime.timezone.utc` (or `datetime.UTC`): only a `tzinfo=` of a datetime literal, also through a local."""


Value = (
    Scalar
    | Doc
    | DictVal
    | ManyVal
    | Coll
    | EmptyList
    | CondList
    | SelfRef
    | StoreRef
    | LambdaVal
    | TupleVal
    | DeltaVal
    | DateVal
    | UtcVal
)
