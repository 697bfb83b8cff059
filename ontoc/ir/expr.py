"""Scalar expressions of the IR: frozen, typed nodes.

Every node has a `dtype`. Operators are `Func` nodes whose `op` is an `Op`;
`OPS` holds what each operator takes and gives, the one place that says so.
The backend has a visitor for every operator (`SIMPLE_OPS` or its own case).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from .node import Node
from .types import BOOL, DType, Kind


class Op(StrEnum):
    """An operator of `Func`. A `StrEnum`: `Op.ADD == "add"`, so a `Func` built from the name gets the member."""

    # arithmetic (SQL semantics: the frontend adds Python's)
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    NEG = "neg"
    MOD = "mod"
    POWER = "power"
    ABS = "abs"
    FLOOR = "floor"
    ROUND = "round"
    GREATEST = "greatest"
    LEAST = "least"
    # comparison and logic
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    NOT_DISTINCT = "not_distinct"
    AND = "and"
    OR = "or"
    NOT = "not"
    IS_NULL = "is_null"
    IS_NOT_NULL = "is_not_null"
    IN = "in"
    COALESCE = "coalesce"
    NULLIF = "nullif"
    BETWEEN = "between"  # a BETWEEN low AND high
    # strings
    CONCAT = "concat"
    UPPER = "upper"
    LOWER = "lower"
    CHAR_LENGTH = "char_length"
    SUBSTRING = "substring"
    POSITION = "position"
    REPLACE = "replace"
    REGEXP_REPLACE = "regexp_replace"
    TRY_CAST = "try_cast"
    # collections and records
    CARDINALITY = "cardinality"
    ARRAY_SORT = "array_sort"
    ARRAY_CONTAINS = "array_contains"
    ROW = "row"
    EMPTY_ARRAY = "empty_array"
    PY_STR = "py_str"  # str() of a float or a datetime, as Python prints it
    PY_ROUND = "py_round"  # round(x, ndigits) as Python rounds
    PY_FLOAT_DIVMOD = "py_float_divmod"  # x // y (floor_div TRUE) or x % y of floats, as Python computes them
    PY_DECIMAL = "py_decimal"  # x + - * / y of Decimals (op a literal), as Python computes them, at scale 10
    REPEAT = "repeat"  # str * int, the count at least 0
    ARRAY_SLICE = "array_slice"  # 1-based, both ends inclusive
    ELEMENT_AT = "element_at"  # array[i], 1-based
    ADD_MILLIS = "add_millis"  # a datetime plus a literal number of milliseconds (an INTERVAL)
    EXTRACT = "extract"  # a calendar field ('YEAR' ... 'SECOND', a literal) of a datetime


@dataclass(frozen=True, slots=True)
class OpSpec:
    """What an operator takes and gives."""

    min_args: int
    max_args: int | None  # None: any number
    result: Kind | None = None  # the kind of every result, where one kind is fixed
    strict: bool = False  # NULL whenever any argument is NULL (in Flink, as ontoc emits it)

    def check(self, op: Op, args: tuple[Expr, ...], dtype: DType) -> None:
        if len(args) < self.min_args or (self.max_args is not None and len(args) > self.max_args):
            raise ValueError(f"{op} takes {self.min_args}..{self.max_args} arguments, got {len(args)}")
        if self.result is not None and dtype.kind is not self.result:
            raise ValueError(f"{op} gives a {self.result}, not a {dtype}")


def _spec(low: int, high: int | None, result: Kind | None = None, strict: bool = False) -> OpSpec:
    return OpSpec(low, high, result, strict)


_B, _I, _S = Kind.BOOL, Kind.INT, Kind.STR

OPS: dict[Op, OpSpec] = {
    Op.ADD: _spec(2, 2, strict=True),
    Op.SUB: _spec(2, 2, strict=True),
    Op.MUL: _spec(2, 2, strict=True),
    Op.DIV: _spec(2, 2, strict=True),
    Op.NEG: _spec(1, 1, strict=True),
    Op.MOD: _spec(2, 2, strict=True),
    Op.POWER: _spec(2, 2, strict=True),
    Op.ABS: _spec(1, 1, strict=True),
    Op.FLOOR: _spec(1, 1, strict=True),
    Op.ROUND: _spec(1, 2, strict=True),
    Op.GREATEST: _spec(2, None),
    Op.LEAST: _spec(2, None),
    Op.EQ: _spec(2, 2, _B, strict=True),
    Op.NE: _spec(2, 2, _B, strict=True),
    Op.LT: _spec(2, 2, _B, strict=True),
    Op.LE: _spec(2, 2, _B, strict=True),
    Op.GT: _spec(2, 2, _B, strict=True),
    Op.GE: _spec(2, 2, _B, strict=True),
    Op.NOT_DISTINCT: _spec(2, 2, _B),
    Op.AND: _spec(2, None, _B),
    Op.OR: _spec(2, None, _B),
    Op.NOT: _spec(1, 1, _B, strict=True),
    Op.IS_NULL: _spec(1, 1, _B),
    Op.IS_NOT_NULL: _spec(1, 1, _B),
    Op.IN: _spec(2, None, _B),
    Op.COALESCE: _spec(2, None),
    Op.NULLIF: _spec(2, 2),
    Op.BETWEEN: _spec(3, 3, _B, strict=True),
    Op.CONCAT: _spec(2, None, _S, strict=True),
    Op.UPPER: _spec(1, 1, _S, strict=True),
    Op.LOWER: _spec(1, 1, _S, strict=True),
    Op.CHAR_LENGTH: _spec(1, 1, _I, strict=True),
    Op.SUBSTRING: _spec(3, 3, _S, strict=True),
    Op.POSITION: _spec(2, 2, _I, strict=True),
    Op.REPLACE: _spec(3, 3, _S, strict=True),
    Op.REGEXP_REPLACE: _spec(3, 3, _S, strict=True),
    Op.TRY_CAST: _spec(1, 1),
    Op.CARDINALITY: _spec(1, 1, _I, strict=True),
    Op.ARRAY_SORT: _spec(2, 2, Kind.LIST),
    Op.ARRAY_CONTAINS: _spec(2, 2, _B),
    Op.ROW: _spec(1, None, Kind.ROW),
    Op.EMPTY_ARRAY: _spec(0, 0, Kind.LIST),
    Op.PY_STR: _spec(1, 1, _S, strict=True),
    Op.PY_ROUND: _spec(2, 2, strict=True),
    Op.PY_FLOAT_DIVMOD: _spec(3, 3, strict=True),
    Op.PY_DECIMAL: _spec(3, 3, Kind.DECIMAL, strict=True),
    Op.REPEAT: _spec(2, 2, _S, strict=True),
    Op.EXTRACT: _spec(2, 2, _I, strict=True),
    Op.ADD_MILLIS: _spec(2, 2, Kind.DATETIME, strict=True),
    Op.ARRAY_SLICE: _spec(3, 3, Kind.LIST, strict=True),
    Op.ELEMENT_AT: _spec(2, 2, strict=True),
}


class Expr(Node):
    """Base of scalar expressions."""

    __slots__ = ()
    dtype: DType

    def children(self) -> tuple[Expr, ...]:
        children: tuple = Node.children(self)  # an expression's children are expressions
        return children

    def walk(self) -> Iterator[Expr]:
        """This node and every node below it, depth first, parents before children."""
        # a stack, not nested generators: `yield from` costs every level of depth per node
        stack: list[Expr] = [self]
        while stack:
            node = stack.pop()
            yield node
            children: tuple = Node.children(node)  # not `node.children()`: one call less per node
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
    """An operator applied to `args`; `op` may be given by name (`"add"`), it is stored as the `Op`."""

    op: Op
    args: tuple[Expr, ...]
    dtype: DType

    def __post_init__(self) -> None:
        if type(self.op) is not Op:
            try:
                object.__setattr__(self, "op", Op(self.op))
            except ValueError:
                raise ValueError(f"unknown operator {self.op!r}") from None
        OPS[self.op].check(self.op, self.args, self.dtype)


@dataclass(frozen=True, slots=True)
class Case(Expr):
    whens: tuple[tuple[Expr, Expr], ...]
    default: Expr
    dtype: DType


@dataclass(frozen=True, slots=True)
class Cast(Expr):
    arg: Expr
    dtype: DType


class Agg(StrEnum):
    """An aggregate function of `AggCall` (a `StrEnum`, like `Op`)."""

    COUNT = "count"  # of rows (no argument)
    COUNT_DISTINCT = "count_distinct"
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    ARRAY_AGG = "array_agg"
    ARRAY_AGG_DISTINCT = "array_agg_distinct"
    UDAF = "udaf"  # a Python aggregate function, registered as `function`


@dataclass(frozen=True, slots=True)
class AggCall(Expr):
    """An aggregate over the rows of a group; only inside `Aggregate`."""

    func: Agg  # may be given by name, like `Func.op`
    arg: Expr | None
    where: Expr | None
    dtype: DType
    function: str | None = None  # the registered name of a Python aggregate function (`Agg.UDAF`)

    def __post_init__(self) -> None:
        if type(self.func) is not Agg:
            try:
                object.__setattr__(self, "func", Agg(self.func))
            except ValueError:
                raise ValueError(f"unknown aggregate {self.func!r}") from None
        if (self.func is Agg.UDAF) != (self.function is not None):
            raise ValueError("a Python aggregate needs its function name, and only it")


@dataclass(frozen=True, slots=True)
class UdfCall(Expr):
    """A call of a generated Python scalar UDF; its result is ROW<ok BOOLEAN, value T>."""

    function: str
    args: tuple[Expr, ...]
    dtype: DType


@dataclass(frozen=True, slots=True)
class FieldAccess(Expr):
    """One field of a ROW-typed expression."""

    arg: Expr
    name: str
    dtype: DType


TRUE = Literal(True, BOOL)
FALSE = Literal(False, BOOL)


def columns_in(expr: Expr) -> Iterator[Column]:
    for node in expr.walk():
        if isinstance(node, Column):
            yield node
