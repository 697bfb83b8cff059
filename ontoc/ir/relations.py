"""Relational IR: scans, left joins, aggregations, filters and the view projection.

A view compiles to `Project(Filter?(joins...))`: the root scan, LEFT JOINs of
referenced documents, and LEFT JOINs of one `Aggregate` per `many` collection.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .expr import AggCall, Column, Expr
from .types import DType


class Rel:
    """Base of relations."""

    def inputs(self) -> tuple[Rel, ...]:
        return ()

    def walk(self) -> Iterator[Rel]:
        """This relation and every one below it, depth first, parents before inputs."""
        stack: list[Rel] = [self]
        while stack:
            rel = stack.pop()
            yield rel
            stack.extend(reversed(rel.inputs()))

    def expressions(self) -> tuple[Expr, ...]:
        """The expressions this node evaluates itself (not its inputs')."""
        return ()


@dataclass(frozen=True, slots=True)
class Scan(Rel):
    """Read `columns` of the source table of a domain model, as `alias`."""

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

    def inputs(self) -> tuple[Rel, ...]:
        return (self.parent,)

    def expressions(self) -> tuple[Expr, ...]:
        return (self.key,) + tuple(a for _, a in self.aggregates) + ((self.where,) if self.where is not None else ())


@dataclass(frozen=True, slots=True)
class LeftJoin(Rel):
    left: Rel
    right: Scan | Aggregate
    condition: Expr

    def inputs(self) -> tuple[Rel, ...]:
        return (self.left, self.right)

    def expressions(self) -> tuple[Expr, ...]:
        return (self.condition,)


@dataclass(frozen=True, slots=True)
class Filter(Rel):
    parent: Rel
    predicate: Expr

    def inputs(self) -> tuple[Rel, ...]:
        return (self.parent,)

    def expressions(self) -> tuple[Expr, ...]:
        return (self.predicate,)


@dataclass(frozen=True, slots=True)
class Project(Rel):
    """The view's row: its key column and one expression per public field."""

    parent: Rel
    key: Column
    fields: tuple[tuple[str, Expr], ...]

    def inputs(self) -> tuple[Rel, ...]:
        return (self.parent,)

    def expressions(self) -> tuple[Expr, ...]:
        return (self.key,) + tuple(e for _, e in self.fields)


def aliases(rel: Rel) -> tuple[str, ...]:
    """Aliases visible in the FROM clause that `rel` forms (not inside aggregates)."""
    if isinstance(rel, (Scan, Aggregate)):
        return (rel.alias,)
    if isinstance(rel, LeftJoin):
        return aliases(rel.left) + aliases(rel.right)
    if isinstance(rel, (Filter, Project)):
        return aliases(rel.parent)
    raise TypeError(rel)


def used_columns(rel: Rel) -> set[tuple[str, str]]:
    """(alias, column) pairs that any expression in `rel` reads."""
    used: set[tuple[str, str]] = set()
    for node in rel.walk():
        for expr in node.expressions():
            for sub in expr.walk():
                if isinstance(sub, Column):
                    used.add((sub.relation, sub.name))
    return used
