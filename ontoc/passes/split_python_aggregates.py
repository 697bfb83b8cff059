"""Give a collection's Python aggregate functions a subquery of their own when it also has ARRAY_AGG.

Flink refuses at job start, not at planning, a GROUP BY that mixes a Python UDAF with ARRAY_AGG
("ArrayAggFunction is still not supported to be mixed with Python UDAF"). Both are aggregates of the
same rows grouped by the same key, so the Python ones move to a second subquery over the same input,
LEFT JOINed on the same key: every root gets the same values as from one subquery.
"""

from __future__ import annotations

from dataclasses import replace

from ..ir.expr import Agg, Column, Expr
from ..ir.plan import ViewPlan
from ..ir.relations import Aggregate, LeftJoin, Rel
from ..ir.traverse import map_expr, map_rel_exprs, map_rels

FLINK_LISTS = (Agg.ARRAY_AGG, Agg.ARRAY_AGG_DISTINCT)
SUFFIX = "_py"


def _mixes(rel: Aggregate) -> bool:
    funcs = {call.func for _, call in rel.aggregates}
    return Agg.UDAF in funcs and bool(funcs & set(FLINK_LISTS))


def split_python_aggregates(plan: ViewPlan) -> ViewPlan:
    moved: dict[tuple[str, str], str] = {}  # (alias, output) of a Python aggregate -> its new alias

    def split(rel: Rel) -> Rel:
        if not (isinstance(rel, LeftJoin) and isinstance(rel.right, Aggregate) and _mixes(rel.right)):
            return rel
        agg = rel.right
        python = tuple((n, c) for n, c in agg.aggregates if c.func is Agg.UDAF)
        flink = tuple((n, c) for n, c in agg.aggregates if c.func is not Agg.UDAF)
        alias = agg.alias + SUFFIX
        moved.update({(agg.alias, n): alias for n, _ in python})
        condition = map_expr(rel.condition, lambda e: _renamed(e, {(agg.alias, "root_id"): alias}))
        first = replace(rel, right=replace(agg, aggregates=flink))
        return LeftJoin(first, replace(agg, alias=alias, aggregates=python), condition)

    rel = map_rels(plan.rel, split)
    if not moved:
        return plan
    return plan.with_rel(map_rel_exprs(rel, lambda e: _renamed(e, moved)))


def _renamed(e: Expr, moved: dict[tuple[str, str], str]) -> Expr:
    if isinstance(e, Column) and (e.relation, e.name) in moved:
        return Column(moved[(e.relation, e.name)], e.name, e.dtype)
    return e
