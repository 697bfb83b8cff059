"""Relational IR: scans, left joins, aggregations, filters and the view projection.

A view compiles to `Project(Filter?(joins...))`: the root scan, LEFT JOINs of
referenced documents, and LEFT JOINs of one `Aggregate` per `many` collection
(a correlated collection's `Aggregate` INNER JOINs a `Derived` row of the view inside).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import cast

from .expr import AggCall, Column, Expr
from .node import Node
from .types import DType


class Rel(Node):
    """Base of relations. Their children (`Node.children`) are their inputs and their expressions."""

    __slots__ = ()

    def inputs(self) -> tuple[Rel, ...]:
        """The relations this one reads, in field order."""
        return tuple([c for c in self.children() if isinstance(c, Rel)])

    def walk(self) -> Iterator[Rel]:
        """This relation and every one below it, depth first, parents before inputs."""
        stack: list[Rel] = [self]
        while stack:
            rel = stack.pop()
            yield rel
            stack.extend(reversed(rel.inputs()))

    def expressions(self) -> tuple[Expr, ...]:
        """The expressions this node evaluates itself (not its inputs'), in field order."""
        return tuple([c for c in self.children() if isinstance(c, Expr)])

    def map(self, on_input: Callable[[Rel], Rel], on_expr: Callable[[Expr], Expr]) -> Rel:
        """This node with `on_input` applied to each input and `on_expr` to each expression (not recursively)."""
        return self.with_children(
            [on_input(c) if isinstance(c, Rel) else on_expr(cast(Expr, c)) for c in self.children()]
        )


TEXT_SUFFIX = "#text"  # not part of an identifier: no field can be named like a text column


def text_column(field: str) -> str:
    """The hidden column beside a `Decimal` field: its value as Python prints it (`str(Decimal(<JSON text>))`).

    Flink parses the field into DECIMAL(38, 10), which drops the exponent Python keeps (`1.50`, `1E+3`);
    the sources fill this column from the event's own number text, for the views that format the field.
    """
    return field + TEXT_SUFFIX


def text_field(column: str) -> str | None:
    """The `Decimal` field whose text `column` holds, or None for an ordinary column."""
    return column[: -len(TEXT_SUFFIX)] if column.endswith(TEXT_SUFFIX) else None


@dataclass(frozen=True, slots=True)
class Scan(Rel):
    """Read `columns` of the source table of a domain model, as `alias` (with the text columns of its decimals)."""

    table: str
    model: str
    alias: str
    columns: tuple[tuple[str, DType], ...]


@dataclass(frozen=True, slots=True)
class Aggregate(Rel):
    """`SELECT key AS root_id, aggs... FROM parent [WHERE where] GROUP BY key`, as `alias`.

    `where` holds the filter every aggregate shared (`passes/share_aggregate_filter.py`).
    """

    parent: Rel
    alias: str
    key: Expr
    aggregates: tuple[tuple[str, AggCall], ...]
    where: Expr | None = None


@dataclass(frozen=True, slots=True)
class Derived(Rel):
    """`SELECT key AS root_id, columns... FROM parent`, as `alias`: one row per root document.

    The values of the view's row that a correlated collection's elements read
    (`b.price >= self.store.auction.initial_bid`), joined into the collection's
    aggregate subquery on the root's id.
    """

    parent: Rel
    alias: str
    key: Expr
    columns: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True, slots=True)
class Join(Rel):
    """`left JOIN right ON condition`; which rows of `left` without a match stay is the subclass's (`LeftJoin`,
    `InnerJoin`)."""

    left: Rel
    right: Scan | Aggregate | Derived
    condition: Expr


@dataclass(frozen=True, slots=True)
class LeftJoin(Join):
    """A LEFT JOIN: a row of `left` without a match stays, with the right side's columns NULL."""


@dataclass(frozen=True, slots=True)
class InnerJoin(Join):
    """An INNER JOIN: a row of `left` without a match is dropped.

    Only where those rows could never reach the view: a correlated collection's
    elements joined to the `Derived` row of their root (`frontend/scope.py`).
    """


@dataclass(frozen=True, slots=True)
class Filter(Rel):
    parent: Rel
    predicate: Expr


@dataclass(frozen=True, slots=True)
class Project(Rel):
    """The view's row: its key column and one expression per public field."""

    parent: Rel
    key: Column
    fields: tuple[tuple[str, Expr], ...]


def aliases(rel: Rel) -> tuple[str, ...]:
    """Aliases visible in the FROM clause that `rel` forms (not inside aggregates)."""
    if isinstance(rel, (Scan, Aggregate, Derived)):  # aliased: a table or a subquery
        return (rel.alias,)
    return tuple(a for child in rel.inputs() for a in aliases(child))


def used_columns(rel: Rel) -> set[tuple[str, str]]:
    """(alias, column) pairs that any expression in `rel` reads."""
    used: set[tuple[str, str]] = set()
    for node in rel.walk():
        for expr in node.expressions():
            for sub in expr.walk():
                if isinstance(sub, Column):
                    used.add((sub.relation, sub.name))
    return used
