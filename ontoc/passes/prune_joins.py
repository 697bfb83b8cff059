"""Drop joins of documents and collections that no remaining expression reads.

The frontend joins a document on first navigation; after folding, a branch
that navigated may be gone (`if False: ... .location.address`), and its join
with it. A join whose alias only its own condition mentions is removed,
repeatedly, so chains of references unwind from the leaves.
"""

from __future__ import annotations

from dataclasses import replace

from ..ir.expr import Column
from ..ir.plan import ViewPlan
from ..ir.relations import Aggregate, Filter, LeftJoin, Project, Rel


def _columns(exprs) -> set[str]:
    return {sub.relation for e in exprs for sub in e.walk() if isinstance(sub, Column)}


def _prune(rel: Rel, needed: set[str]) -> Rel:
    """Remove right sides of left joins whose alias is not in `needed` (recomputed as we go)."""
    if isinstance(rel, LeftJoin):
        right = rel.right
        if right.alias not in needed:
            return _prune(rel.left, needed)
        needed = needed | _columns([rel.condition])
        if isinstance(right, Aggregate):
            right = replace(right, parent=_prune(right.parent, _columns(right.expressions())))
        return replace(rel, left=_prune(rel.left, needed), right=right)
    if isinstance(rel, Filter):
        return replace(rel, parent=_prune(rel.parent, needed | _columns([rel.predicate])))
    return rel


def prune_joins(plan: ViewPlan) -> ViewPlan:
    project: Project = plan.rel
    needed = _columns(project.expressions())
    return plan.with_rel(replace(project, parent=_prune(project.parent, needed)))
