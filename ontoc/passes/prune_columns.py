"""Read only the columns a view uses: each scan keeps `doc_id` and what is referenced."""

from __future__ import annotations

from dataclasses import replace

from ..ir.plan import ViewPlan
from ..ir.relations import Aggregate, Filter, LeftJoin, Project, Rel, Scan, used_columns


def _rewrite(rel: Rel, used: set[tuple[str, str]]) -> Rel:
    if isinstance(rel, Scan):
        keep = tuple(c for c in rel.columns if c[0] == "doc_id" or (rel.alias, c[0]) in used)
        return replace(rel, columns=keep)
    if isinstance(rel, Aggregate):
        return replace(rel, parent=_rewrite(rel.parent, used))
    if isinstance(rel, LeftJoin):
        return replace(rel, left=_rewrite(rel.left, used), right=_rewrite(rel.right, used))
    if isinstance(rel, (Filter, Project)):
        return replace(rel, parent=_rewrite(rel.parent, used))
    raise TypeError(rel)


def prune_columns(plan: ViewPlan) -> ViewPlan:
    return plan.with_rel(_rewrite(plan.rel, used_columns(plan.rel)))
