"""Rewrites of view plans, one module each, applied in the order of `PASSES`."""

from __future__ import annotations

from ..ir.plan import ViewPlan
from .drop_missing_guards import drop_missing_guards
from .fold_constants import fold_constants
from .prune_aggregates import prune_aggregates
from .prune_columns import prune_columns
from .prune_joins import prune_joins
from .share_aggregate_filter import share_aggregate_filter
from .split_python_aggregates import split_python_aggregates

PASSES = (
    fold_constants,
    drop_missing_guards,
    prune_aggregates,
    split_python_aggregates,
    share_aggregate_filter,
    prune_joins,
    prune_columns,
)


def optimize(plan: ViewPlan) -> ViewPlan:
    for rewrite in PASSES:
        plan = rewrite(plan)
    return plan
