"""Scalar expressions of the IR: frozen, typed nodes.

Every node has a `dtype`. Operators are `Func` nodes whose `op` must be one
of `OPS`, so the backend has a visitor for everything the frontend builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .types import BOOL, DType

# op name -> (min args, max args); None = unbounded
OPS: dict[str, tuple[int, int | None]] = {
    # arithmetic (SQL semantics: the frontend adds Python's)
    "add": (2, 2),
    "sub": (2, 2),
    "mul": (2, 2),
    "div": (2, 2),
    "neg": (1, 1),
    "mod": (2, 2),
    "power": (2, 2),
    "abs": (1, 1),
    "floor": (1, 1),
    "round": (1, 2),
    "greatest": (2, None),
    "least": (2, None),
    # comparison and logic
    "eq": (2, 2),
    "ne": (2, 2),
    "lt": (2, 2),
    "le": (2, 2),
    "gt": (2, 2),
    "ge": (2, 2),
    "not_distinct": (2, 2),
    "and": (2, None),
    "or": (2, None),
    "not": (1, 1),
    "is_null": (1, 1),
    "is_not_null": (1, 1),
    "in": (2, None),
    "coalesce": (2, None),
    "nullif": (2, 2),
    # strings
    "concat": (2, None),
    "upper": (1, 1),
    "lower": (1, 1),
    "char_length": (1, 1),
    "substring": (3, 3),
    "position": (2, 2),
    "replace": (3, 3),
    "regexp_replace": (3, 3),
    "try_cast": (1, 1),
    # collections and records
    "cardinality": (1, 1),
    "array_sort": (2, 2),
    "array_contains": (2, 2),
    "row": (1, None),
    "empty_array": (0, 0),
    "py_str": (1, 1),
    "py_round": (2, 2),
}


class Expr:
    """Base of scalar expressions."""

    dtype: DType

    def children(self) -> tuple[Expr, ...]:
        return ()

    def walk(self) -> Iterator[Expr]:
        """This node and every node below it, depth first, parents before children."""
        # a stack, not nested generators: `yield from` costs every level of depth per node
        stack: list[Expr] = [self]
        while stack:
            node = stack.pop()
            yield node
            children = node.children()
            if children:
                stack.extend(reversed(children))


Value = str | int | float | bool | Decimal | datetime | None


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    value: Value
    dtype: DType


@dataclass(frozen=True, slots=True)
class Column(Expr):
    """A column of the relation aliased `relation` in the enclosing query."""

    relation: str
    name: str
    dtype: DType


@dataclass(frozen=True, slots=True)
class Func(Expr):
    op: str
    args: tuple[Expr, ...]
    dtype: DType

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown operator {self.op!r}")
        low, high = OPS[self.op]
        if len(self.args) < low or (high is not None and len(self.args) > high):
            raise ValueError(f"{self.op} takes {low}..{high} arguments, got {len(self.args)}")

    def children(self) -> tuple[Expr, ...]:
        return self.args


@dataclass(frozen=True, slots=True)
class Case(Expr):
    whens: tuple[tuple[Expr, Expr], ...]
    default: Expr
    dtype: DType

    def children(self) -> tuple[Expr, ...]:
        return tuple(x for pair in self.whens for x in pair) + (self.default,)


@dataclass(frozen=True, slots=True)
class Cast(Expr):
    arg: Expr
    dtype: DType

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


AGG_FUNCS = ("count", "count_distinct", "sum", "min", "max", "array_agg", "array_agg_distinct", "udaf")


@dataclass(frozen=True, slots=True)
class AggCall(Expr):
    """An aggregate over the rows of a group; only inside `Aggregate`."""

    func: str
    arg: Expr | None
    where: Expr | None
    dtype: DType
    function: str | None = None  # the registered name of a Python aggregate function ("udaf")

    def __post_init__(self) -> None:
        if self.func not in AGG_FUNCS:
            raise ValueError(f"unknown aggregate {self.func!r}")
        if (self.func == "udaf") != (self.function is not None):
            raise ValueError("a Python aggregate needs its function name, and only it")

    def children(self) -> tuple[Expr, ...]:
        return tuple(x for x in (self.arg, self.where) if x is not None)


@dataclass(frozen=True, slots=True)
class UdfCall(Expr):
    """A call of a generated Python scalar UDF; its result is ROW<ok BOOLEAN, value T>."""

    function: str
    args: tuple[Expr, ...]
    dtype: DType

    def children(self) -> tuple[Expr, ...]:
        return self.args


@dataclass(frozen=True, slots=True)
class FieldAccess(Expr):
    """One field of a ROW-typed expression."""

    arg: Expr
    name: str
    dtype: DType

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


TRUE = Literal(True, BOOL)
FALSE = Literal(False, BOOL)


def columns_in(expr: Expr) -> Iterator[Column]:
    for node in expr.walk():
        if isinstance(node, Column):
            yield node
