"""Move the filter every aggregate of a collection shares into the subquery's WHERE.

`[t.user for t in self.store.tickets if t.attendance]` next to `sum(... if t.attendance)`
compiles to aggregates that each say `FILTER (WHERE attendance AND ...)`. With the
shared part as the subquery's WHERE, Flink filters rows once, before the joins
inside the subquery and the aggregation, and keeps no state for rows no aggregate
reads (bench/, part 1: 1.15x on the meeting room).

The one difference: a group none of whose rows pass disappears instead of
aggregating nothing. Its columns then come out of the LEFT JOIN as NULL, the
value every aggregate but COUNT gives for no rows, and the frontend reads
counts through `COALESCE(count, 0)` because a root without any element has no
group either (`frontend/translate.py`, `agg_col`). So the pass only fires when
every COUNT of the aggregate is read that way.
"""

from __future__ import annotations

from dataclasses import replace

from ..ir import build as B
from ..ir.expr import Agg, Column, Expr, Func, Literal, Op
from ..ir.plan import ViewPlan
from ..ir.relations import Aggregate, Rel
from ..ir.traverse import map_rel_children

COUNTS = (Agg.COUNT, Agg.COUNT_DISTINCT)


def _conjuncts(e: Expr | None) -> tuple[Expr, ...]:
    return () if e is None else B.operands(e, Op.AND)


def _counts_read_as_zero(plan: ViewPlan, agg: Aggregate) -> bool:
    """Every column of a COUNT of `agg` is read only as `COALESCE(column, 0)`."""
    counts = {name for name, call in agg.aggregates if call.func in COUNTS}

    def count(e: Expr) -> bool:
        return isinstance(e, Column) and e.relation == agg.alias and e.name in counts

    def bare(e: Expr) -> bool:
        if (
            isinstance(e, Func)
            and e.op is Op.COALESCE
            and len(e.args) == 2
            and count(e.args[0])
            and isinstance(e.args[1], Literal)
            and e.args[1].value == 0
        ):
            return False
        return count(e) or any(bare(child) for child in e.children())

    return not counts or not any(bare(e) for node in plan.rel.walk() for e in node.expressions())


def _share(agg: Aggregate) -> Aggregate:
    calls = [call for _, call in agg.aggregates]
    if not calls or any(call.where is None for call in calls):
        return agg
    shared = [c for c in _conjuncts(calls[0].where) if all(c in _conjuncts(call.where) for call in calls[1:])]
    if not shared:
        return agg
    rest = [(name, replace(call, where=_without(call.where, shared))) for name, call in agg.aggregates]
    where = B.and_(*([agg.where] if agg.where is not None else []), *shared)
    return replace(agg, aggregates=tuple(rest), where=where)


def _without(where: Expr | None, shared: list[Expr]) -> Expr | None:
    left = [c for c in _conjuncts(where) if c not in shared]
    return B.and_(*left) if left else None


def share_aggregate_filter(plan: ViewPlan) -> ViewPlan:
    def rewrite(rel: Rel) -> Rel:
        rel = map_rel_children(rel, rewrite)
        if isinstance(rel, Aggregate):
            shared = _share(rel)
            if shared is not rel and _counts_read_as_zero(plan, rel):
                return shared
        return rel

    return plan.with_rel(rewrite(plan.rel))
