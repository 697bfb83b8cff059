"""Read only the columns a view uses: each scan keeps `doc_id` and what is referenced."""

from __future__ import annotations

from dataclasses import replace

from ..ir.plan import ViewPlan
from ..ir.relations import Rel, Scan, used_columns
from ..ir.traverse import map_rels


def prune_columns(plan: ViewPlan) -> ViewPlan:
    used = used_columns(plan.rel)

    def prune(rel: Rel) -> Rel:
        if isinstance(rel, Scan):
            return replace(rel, columns=tuple(c for c in rel.columns if c[0] == "doc_id" or (rel.alias, c[0]) in used))
        return rel

    return plan.with_rel(map_rels(plan.rel, prune))
