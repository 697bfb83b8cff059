"""Drop joins of documents and collections that no remaining expression reads.

The frontend joins a document on first navigation; after folding, a branch
that navigated may be gone (`if False: ... .location.address`), and its join
with it. A join whose alias only its own condition mentions is removed,
repeatedly, so chains of references unwind from the leaves.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..ir.expr import Column, Expr
from ..ir.plan import ViewPlan
from ..ir.relations import Aggregate, Derived, Join, Rel


def _columns(exprs: Iterable[Expr]) -> set[str]:
    return {sub.relation for e in exprs for sub in e.walk() if isinstance(sub, Column)}


def _prune(rel: Rel, needed: set[str]) -> Rel:
    """Remove right sides of joins whose alias is not in `needed` (recomputed as we go).

    An aggregate (or a derived row) is a subquery: what its inside needs is what its own expressions read.
    An inner join (a correlated collection's derived row) only drops elements that belong to no view row,
    so without it the view is the same.
    """
    if isinstance(rel, Join):
        if rel.right.alias not in needed:
            return _prune(rel.left, needed)
    if isinstance(rel, (Aggregate, Derived)):
        needed = set()
    needed = needed | _columns(rel.expressions())
    return rel.map(lambda r: _prune(r, needed), lambda e: e)


def prune_joins(plan: ViewPlan) -> ViewPlan:
    return plan.with_rel(_prune(plan.rel, set()))
