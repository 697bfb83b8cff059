"""Drop aggregate (and derived) outputs that no expression of the view reads any more.

Together with the frontend, which registers each distinct aggregate call once
per `many` collection, this keeps one subquery per collection with exactly the
aggregates the view needs.
"""

from __future__ import annotations

from dataclasses import replace

from ..ir.plan import ViewPlan
from ..ir.relations import Aggregate, Derived, Rel, used_columns
from ..ir.traverse import map_rels


def prune_aggregates(plan: ViewPlan) -> ViewPlan:
    # aggregate calls read only their subquery's aliases, so every use of an
    # aggregate's output column comes from outside its subquery
    used = used_columns(plan.rel)

    def prune(rel: Rel) -> Rel:
        if isinstance(rel, Aggregate):
            return replace(rel, aggregates=tuple((n, a) for n, a in rel.aggregates if (rel.alias, n) in used))
        if isinstance(rel, Derived):
            return replace(rel, columns=tuple((n, e) for n, e in rel.columns if (rel.alias, n) in used))
        return rel

    return plan.with_rel(map_rels(plan.rel, prune))
