"""Column-level lineage of a view: which source topics and fields each output reads.

A pure analysis of the final (optimized) `ViewPlan`. Every `Column` an
output expression mentions is resolved to the scan it names; a column of a
joined document also reads the join that found the document (the reference
field of its parent, or a lookup key), and an aggregate output reads its
aggregate call's argument and FILTER inside the collection's subquery plus
the collection's reference to the root. Reads carry a role:

- `value`: the output's expression (or an aggregate call feeding it) reads it;
- `join`: it locates a document or a collection the value comes from
  (join conditions, the `many(..., on=...)` field, the root's `doc_id`).

Each read has a path in the definitions' terms: `store.meeting.location.address`
for a reference, `store.tickets[].user.first_name` inside a `many` collection.
Paths are rebuilt from the join conditions, not from alias names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .expr import AggCall, Column, Expr, Func, Op
from .plan import ViewPlan
from .relations import Aggregate, Derived, Filter, Join, Rel, Scan, text_field

VALUE = "value"
JOIN = "join"


@dataclass(frozen=True, slots=True, order=True)
class Read:
    topic: str  # source topic (the domain model's table)
    field: str  # column of that topic (`doc_id` is the record key)
    path: str  # where the definitions reach it: store.meeting.location.address
    role: str  # value | join
    model: str = ""

    @property
    def name(self) -> str:
        return f"{self.topic}.{self.field}"

    def to_json(self) -> dict:
        return {"topic": self.topic, "model": self.model, "field": self.field, "path": self.path, "role": self.role}


@dataclass(frozen=True, slots=True)
class OutputLineage:
    name: str  # field name, `doc_id` for the key, `where` for the filter
    reads: tuple[Read, ...]

    def sources(self, include_doc_id: bool = True) -> dict[str, list[str]]:
        """topic -> sorted field names read (any role)."""
        out: dict[str, set[str]] = {}
        for r in self.reads:
            if include_doc_id or r.field != "doc_id":
                out.setdefault(r.topic, set()).add(r.field)
        return {t: sorted(fs) for t, fs in sorted(out.items())}

    def names(self, role: str | None = None) -> list[str]:
        """Sorted `topic.field` names, optionally of one role."""
        return sorted({r.name for r in self.reads if role is None or r.role == role})

    def to_json(self) -> dict:
        return {"name": self.name, "sources": self.sources(), "reads": [r.to_json() for r in self.reads]}


@dataclass(frozen=True, slots=True)
class ViewLineage:
    view: str
    topic: str
    key: OutputLineage
    fields: tuple[OutputLineage, ...]
    filter: OutputLineage | None

    def field(self, name: str) -> OutputLineage:
        return next(f for f in self.fields if f.name == name)

    def sources(self) -> dict[str, list[str]]:
        """Everything the view reads, per topic."""
        out: dict[str, set[str]] = {}
        for o in (self.key, *self.fields, *([self.filter] if self.filter else [])):
            for topic, names in o.sources().items():
                out.setdefault(topic, set()).update(names)
        return {t: sorted(fs) for t, fs in sorted(out.items())}

    def to_json(self) -> dict:
        return {
            "key": self.key.to_json(),
            "fields": [f.to_json() for f in self.fields],
            "filter": self.filter.to_json() if self.filter else None,
        }


class _Scope:
    """The aliases of one FROM clause (the view's, or the inside of one aggregate) and how each was joined."""

    def __init__(self, rel: Rel, outer: _Scope | None = None, element_of: str | None = None):
        self.scans: dict[str, Scan] = {}
        self.aggregates: dict[str, Aggregate] = {}
        self.derived: dict[str, Derived] = {}  # a correlated collection's row of the view
        self.conditions: dict[str, Expr] = {}  # alias -> the condition of the join that brought it in
        self.root: str | None = None
        self.element_of = element_of  # for an aggregate's scope: the collection's element alias
        self.outer = outer
        self._collect(rel)
        self._paths: dict[str, str] = {}
        self.inner: dict[str, _Scope] = {
            a: _Scope(agg.parent, self, element_of=a) for a, agg in self.aggregates.items()
        }
        self.inner.update({a: _Scope(d.parent, self) for a, d in self.derived.items()})

    def _collect(self, rel: Rel) -> None:
        if isinstance(rel, Scan):
            self.scans[rel.alias] = rel
            if self.root is None:
                self.root = rel.alias
        elif isinstance(rel, Aggregate):  # a subquery: its inside is its own scope
            self.aggregates[rel.alias] = rel
        elif isinstance(rel, Derived):
            self.derived[rel.alias] = rel
        else:
            for child in rel.inputs():
                self._collect(child)
            if isinstance(rel, Join):
                self.conditions[rel.right.alias] = rel.condition

    def path(self, alias: str) -> str:
        """The document an alias stands for, in the definitions' terms."""
        if alias not in self._paths:
            self._paths[alias] = self._path(alias)
        return self._paths[alias]

    def _path(self, alias: str) -> str:
        if alias == self.root:
            return f"store.{alias}[]" if self.element_of else f"store.{alias}"
        cond = self.conditions.get(alias)
        if isinstance(cond, Func) and cond.op is Op.EQ and len(cond.args) == 2:
            mine, other = cond.args
            # a reference: `child.doc_id = parent.<ref field>`; a keyed lookup (`one(Model, key=...)`)
            # can have the same shape when its key is a plain field, so the alias the frontend gives a
            # navigated reference (`<parent>__<field>`) tells the two apart
            if (
                isinstance(mine, Column)
                and mine.relation == alias
                and mine.name == "doc_id"
                and isinstance(other, Column)
                and other.relation in self.scans
                and other.relation != alias
                and re.fullmatch(re.escape(f"{other.relation}__{other.name}") + r"(_\d+)?", alias)
            ):
                return f"{self.path(other.relation)}.{other.name}"
        return f"store.{alias}"


class _Resolver:
    def __init__(self, plan: ViewPlan):
        self.top = _Scope(plan.rel)

    def expr(self, e: Expr | None, scope: _Scope, role: str, out: set[Read], seen: set) -> None:
        if e is None:
            return
        for node in e.walk():
            if isinstance(node, Column):
                self.column(node, scope, role, out, seen)

    def column(self, c: Column, scope: _Scope, role: str, out: set[Read], seen: set) -> None:
        key = (id(scope), c.relation, c.name, role)
        if key in seen:
            return
        seen.add(key)
        if c.relation in scope.scans:
            scan = scope.scans[c.relation]
            name = text_field(c.name) or c.name  # the text of a Decimal field reads that field
            out.add(Read(scan.table, name, f"{scope.path(c.relation)}.{name}", role, scan.model))
            self.joined(c.relation, scope, out, seen)
        elif c.relation in scope.aggregates:
            agg, inner = scope.aggregates[c.relation], scope.inner[c.relation]
            if c.name == "root_id":
                self.expr(agg.key, inner, JOIN, out, seen)
            else:
                call: AggCall | None = dict(agg.aggregates).get(c.name)
                if call is not None:
                    for part in call.children():
                        self.expr(part, inner, role, out, seen)
                self.expr(agg.where, inner, role, out, seen)
                self.expr(agg.key, inner, JOIN, out, seen)
            self.joined(c.relation, scope, out, seen)
        elif c.relation in scope.derived:
            derived, inner = scope.derived[c.relation], scope.inner[c.relation]
            self.expr(
                dict(derived.columns).get(c.name, derived.key), inner, role if c.name != "root_id" else JOIN, out, seen
            )
            self.joined(c.relation, scope, out, seen)
        else:
            raise KeyError(f"column {c.relation}.{c.name} names no relation of its query")

    def joined(self, alias: str, scope: _Scope, out: set[Read], seen: set) -> None:
        """Reads of the join that brought `alias` into its scope (nothing for a scope's root)."""
        cond = scope.conditions.get(alias)
        if cond is not None:
            self.expr(cond, scope, JOIN, out, seen)

    def output(self, name: str, e: Expr | None) -> OutputLineage:
        reads: set[Read] = set()
        self.expr(e, self.top, VALUE, reads, set())
        return OutputLineage(name, tuple(sorted(reads, key=lambda r: (r.path, r.role))))


def lineage(plan: ViewPlan) -> ViewLineage:
    """Lineage of the key, every field and the filter of `plan` (run it on the optimized plan)."""
    project = plan.rel
    resolver = _Resolver(plan)
    where = project.parent.predicate if isinstance(project.parent, Filter) else None
    return ViewLineage(
        plan.view,
        plan.topic,
        resolver.output("doc_id", project.key),
        tuple(resolver.output(name, e) for name, e in project.fields),
        resolver.output("where", where) if where is not None else None,
    )
