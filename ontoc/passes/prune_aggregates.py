"""Drop aggregate outputs that no expression of the view reads any more.

Together with the frontend, which registers each distinct aggregate call once
per `many` collection, this keeps one subquery per collection with exactly the
aggregates the view needs.
"""

from __future__ import annotations

from dataclasses import replace

from ..ir.plan import ViewPlan
from ..ir.relations import Aggregate, Filter, LeftJoin, Project, Rel, used_columns


def _rewrite(rel: Rel, used: set[tuple[str, str]]) -> Rel:
    if isinstance(rel, Aggregate):
        return replace(rel, aggregates=tuple((n, a) for n, a in rel.aggregates if (rel.alias, n) in used))
    if isinstance(rel, LeftJoin):
        return replace(rel, left=_rewrite(rel.left, used), right=_rewrite(rel.right, used))
    if isinstance(rel, (Filter, Project)):
        return replace(rel, parent=_rewrite(rel.parent, used))
    return rel


def prune_aggregates(plan: ViewPlan) -> ViewPlan:
    # aggregate calls read only their subquery's aliases, so every use of an
    # aggregate's output column comes from outside its subquery
    return plan.with_rel(_rewrite(plan.rel, used_columns(plan.rel)))
