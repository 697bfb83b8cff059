"""Children-first rewriting of expression and relation trees, through the nodes' generic children."""

from __future__ import annotations

from collections.abc import Callable

from .expr import Expr
from .relations import Rel

ExprFn = Callable[[Expr], Expr]
RelFn = Callable[[Rel], Rel]


def map_expr(e: Expr, fn: ExprFn) -> Expr:
    """Rebuild `e` with `fn` applied to every node, children first (unchanged subtrees are kept, not copied)."""
    children = e.children()
    if children:
        e = e.with_children([map_expr(c, fn) for c in children])
    return fn(e)


def replaced(new: tuple, old: tuple) -> bool:
    """Whether a rebuilt tuple of nodes holds another object anywhere the old one did."""
    for a, b in zip(new, old, strict=False):
        if a is not b:
            return True
    return False


def map_rel_exprs(rel: Rel, fn: ExprFn) -> Rel:
    """Apply `map_expr(_, fn)` to every expression of every node of `rel`."""
    return rel.map(lambda r: map_rel_exprs(r, fn), lambda e: map_expr(e, fn))


def map_rel_children(rel: Rel, fn: RelFn) -> Rel:
    """`rel` with `fn` applied to each of its input relations (not recursively: `fn` decides)."""
    return rel.map(fn, lambda e: e)


def map_rels(rel: Rel, fn: RelFn) -> Rel:
    """Rebuild `rel` with `fn` applied to every relation node, inputs first (expressions untouched)."""
    return fn(map_rel_children(rel, lambda r: map_rels(r, fn)))
