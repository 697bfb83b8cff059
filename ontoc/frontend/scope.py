"""The join graph a view builds while its getters are translated.

A `QueryScope` is one FROM clause: the view's main query (root document,
references, lookups and aggregate subqueries) or the inside of one aggregate
subquery (the `many` element and the references it navigates). Documents are
joined on first navigation; the passes later drop what turns out unused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ontoc.ir.expr import Op

from ..ir import build as B
from ..ir import types as T
from ..ir.expr import TRUE, AggCall, Column, Expr
from ..ir.relations import Aggregate, Derived, InnerJoin, LeftJoin, Rel, Scan, text_column
from .schema import MAX_IDENTIFIER, EntryDef, ModelDef

_MAX_ALIAS = MAX_IDENTIFIER - 8  # room for the `_<n>` that tells equal aliases apart, and `_agg`


@dataclass(eq=False)
class DocNode:
    alias: str
    model: ModelDef
    parent: DocNode | None = None
    via: str | None = None  # reference field of the parent
    key: Expr | None = None  # lookup key of a `one(..., key=...)` entry
    children: dict[str, DocNode] = field(default_factory=dict)

    def column(self, name: str) -> Column:
        if name == "doc_id":
            return Column(self.alias, "doc_id", T.STR)
        return Column(self.alias, name, self.model.fields[name].dtype)

    @property
    def exists(self) -> Expr:
        """Whether the document is there: always for the root and `many` elements."""
        if self.parent is None and self.key is None:
            return TRUE
        return B.is_not_null(Column(self.alias, "doc_id", T.STR))

    def scan(self) -> Scan:
        """Every field, and the text of every `Decimal` field (`prune_columns` keeps what the view reads)."""
        columns = (("doc_id", T.STR),) + tuple((f.name, f.dtype) for f in self.model.fields.values())
        columns += tuple(
            (text_column(f.name), T.STR.null(f.dtype.nullable))
            for f in self.model.fields.values()
            if f.dtype.kind == "decimal"
        )
        return Scan(self.model.topic, self.model.name, self.alias, columns)


class QueryScope:
    def __init__(self, root: DocNode):
        self.root = root
        self.nodes: list[DocNode] = [root]
        self.aggregates: dict[str, AggScope] = {}
        self._aliases = {root.alias}

    def fresh_alias(self, base: str) -> str:
        """An alias unused in this scope, short enough for Flink (a path of long names is shortened)."""
        if len(base) > _MAX_ALIAS:
            base = base[: _MAX_ALIAS - 17] + "_" + hashlib.sha256(base.encode("utf-8")).hexdigest()[:16]
        alias, n = base, 1
        while alias in self._aliases:
            n += 1
            alias = f"{base}_{n}"
        self._aliases.add(alias)
        return alias

    def navigate(self, node: DocNode, ref_field: str, target: ModelDef) -> DocNode:
        child = node.children.get(ref_field)
        if child is None:
            child = DocNode(self.fresh_alias(f"{node.alias}__{ref_field}"), target, node, ref_field)
            node.children[ref_field] = child
            self.nodes.append(child)
        return child

    def lookup(self, name: str, model: ModelDef, key: Expr) -> DocNode:
        node = DocNode(self.fresh_alias(name), model, key=key)
        self.nodes.append(node)
        return node

    def aggregate(self, entry: EntryDef, models: dict[str, ModelDef]) -> AggScope:
        scope = self.aggregates.get(entry.name)
        if scope is None:
            alias = self.fresh_alias(f"{entry.name}_agg")
            scope = AggScope(alias, entry, DocNode(entry.name, models[entry.model]))
            scope.root_key = scope.key(models)
            self.aggregates[entry.name] = scope
        return scope

    def correlated(self, base: AggScope, reads: set[str]) -> AggScope:
        """A subquery over `base`'s collection whose elements read values of the view's row (aliases `reads`).

        It shares `base`'s documents (aliases are local to a subquery) and sees the
        aggregates made before it. One such subquery per collection serves every
        correlated use whose values read only aggregates made before it.
        """
        order = [a.alias for a in self.aggregates.values()]
        needs = max((order.index(a) + 1 for a in reads if a in order), default=0)
        for scope in self.aggregates.values():
            if scope.root is base.root and scope.outer is not None and scope.outer.aggregates >= needs:
                return scope
        scope = AggScope(self.fresh_alias(f"{base.entry.name}_agg"), base.entry, base.root, base.root_key)
        scope.nodes, scope._aliases = base.nodes, base._aliases
        scope.outer = OuterRow(scope.fresh_alias(f"{base.entry.name}_outer"), self, len(self.aggregates))
        self.aggregates[scope.alias] = scope
        return scope

    def relation(self, aggregates: int | None = None, reads: set[tuple[str, str]] | None = None) -> Rel:
        """The FROM clause: the root scan, then every join in creation order.

        A derived row's FROM clause (`OuterRow`) takes the first `aggregates` only, each with just the
        outputs it `reads`: an output it does not read would change its row at every change of it.
        """
        rel: Rel = self.root.scan()
        for node in self.nodes[1:]:
            if node.key is not None:
                on = B.func(Op.EQ, node.column("doc_id"), node.key, dtype=T.BOOL)
            else:
                assert node.parent is not None and node.via is not None  # every node but the root hangs off a field
                on = B.func(Op.EQ, node.column("doc_id"), node.parent.column(node.via), dtype=T.BOOL)
            rel = LeftJoin(rel, node.scan(), on)
        for agg in list(self.aggregates.values())[:aggregates]:
            on = B.func(Op.EQ, Column(agg.alias, "root_id", T.STR), self.root.column("doc_id"), dtype=T.BOOL)
            rel = LeftJoin(rel, agg.relation(reads=reads), on)
        return rel


class AggScope(QueryScope):
    """One `many` collection: its element scope and the aggregates read from it."""

    def __init__(self, alias: str, entry: EntryDef, element: DocNode, key: Column | None = None):
        super().__init__(element)
        self.alias = alias
        self.entry = entry
        self.calls: dict[AggCall, str] = {}
        self.outer: OuterRow | None = None
        self.root_key = key  # set by `QueryScope.aggregate` (`key`)

    def add(self, call: AggCall) -> Column:
        name = self.calls.get(call)
        if name is None:
            name = f"agg_{len(self.calls)}"
            self.calls[call] = name
        return Column(self.alias, name, call.dtype)

    def key(self, models: dict[str, ModelDef]) -> Column:
        """The root id an element belongs to: its `on` reference, or the last one of the `on` path's documents.

        An element whose path crosses a missing document has no root (NULL): it is in no collection.
        """
        assert self.entry.on is not None
        *hops, last = self.entry.on.split(".")
        node = self.root
        for hop in hops:
            node = self.navigate(node, hop, models[node.model.fields[hop].ref or ""])
        return node.column(last)

    def relation(self, aggregates: int | None = None, reads: set[tuple[str, str]] | None = None) -> Aggregate:
        aggs = tuple((name, call) for call, name in self.calls.items() if reads is None or (self.alias, name) in reads)
        key = self.root_key
        assert key is not None
        rel = super().relation()
        if self.outer is not None and self.outer.columns:
            # INNER: an element without its root's row has a root id no root has (or none), so its group is
            # joined into no view row; a LEFT JOIN would aggregate it anyway, and retract its NULL-padded
            # rows when the root arrives
            outer = self.outer
            on = B.func(Op.EQ, Column(outer.alias, "root_id", T.STR), key, dtype=T.BOOL)
            rel = InnerJoin(rel, outer.relation(), on)
        return Aggregate(rel, self.alias, key, aggs)


class OuterRow:
    """The values of the view's row that a correlated collection's elements read, by root id.

    Each is an expression over the view's FROM clause as it was when the
    collection was iterated (its documents and the aggregates made before):
    `Derived(SELECT root.doc_id, <expr>... FROM <that clause>)`.
    """

    def __init__(self, alias: str, view: QueryScope, aggregates: int):
        self.alias = alias
        self.view = view
        self.aggregates = aggregates
        self.columns: dict[Expr, str] = {}

    def add(self, e: Expr) -> Column:
        name = self.columns.get(e)
        if name is None:
            name = f"v_{len(self.columns)}"
            self.columns[e] = name
        return Column(self.alias, name, e.dtype)

    def relation(self) -> Derived:
        columns = tuple((name, e) for e, name in self.columns.items())
        reads = {(c.relation, c.name) for e in self.columns for c in e.walk() if isinstance(c, Column)}
        return Derived(self.view.relation(self.aggregates, reads), self.alias, self.view.root.column("doc_id"), columns)
