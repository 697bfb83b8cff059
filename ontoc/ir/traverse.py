"""Children-first rewriting of expression and relation trees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from .expr import AggCall, Case, Cast, Expr, FieldAccess, Func, UdfCall
from .relations import Aggregate, Filter, LeftJoin, Project, Rel, Scan

ExprFn = Callable[[Expr], Expr]


def map_expr(e: Expr, fn: ExprFn) -> Expr:
    """Rebuild `e` with `fn` applied to every node, children first (unchanged subtrees are kept, not copied).

    Nodes are rebuilt by their constructors, not `dataclasses.replace` (a third of a pass's time).
    """
    cls = type(e)
    if cls is Func or cls is UdfCall:
        args = e.args
        new = tuple([map_expr(a, fn) for a in args])
        if replaced(new, args):
            e = Func(e.op, new, e.dtype) if cls is Func else UdfCall(e.function, new, e.dtype)
    elif cls is Case:
        whens = tuple([(map_expr(c, fn), map_expr(v, fn)) for c, v in e.whens])
        default = map_expr(e.default, fn)
        if default is not e.default or any(replaced(new, old) for new, old in zip(whens, e.whens, strict=False)):
            e = Case(whens, default, e.dtype)
    elif cls is Cast or cls is FieldAccess:
        arg = map_expr(e.arg, fn)
        if arg is not e.arg:
            e = Cast(arg, e.dtype) if cls is Cast else FieldAccess(arg, e.name, e.dtype)
    elif cls is AggCall:
        arg = None if e.arg is None else map_expr(e.arg, fn)
        where = None if e.where is None else map_expr(e.where, fn)
        if arg is not e.arg or where is not e.where:
            e = AggCall(e.func, arg, where, e.dtype, e.function)
    return fn(e)


def replaced(new: tuple, old: tuple) -> bool:
    """Whether a rebuilt tuple of nodes holds another object anywhere the old one did."""
    for a, b in zip(new, old, strict=False):
        if a is not b:
            return True
    return False


def map_rel_exprs(rel: Rel, fn: ExprFn) -> Rel:
    """Apply `map_expr(_, fn)` to every expression of every node of `rel`."""
    if isinstance(rel, Scan):
        return rel
    if isinstance(rel, Aggregate):
        return replace(
            rel,
            parent=map_rel_exprs(rel.parent, fn),
            key=map_expr(rel.key, fn),
            aggregates=tuple((n, map_expr(a, fn)) for n, a in rel.aggregates),
            where=None if rel.where is None else map_expr(rel.where, fn),
        )
    if isinstance(rel, LeftJoin):
        return replace(
            rel,
            left=map_rel_exprs(rel.left, fn),
            right=map_rel_exprs(rel.right, fn),
            condition=map_expr(rel.condition, fn),
        )
    if isinstance(rel, Filter):
        return replace(rel, parent=map_rel_exprs(rel.parent, fn), predicate=map_expr(rel.predicate, fn))
    if isinstance(rel, Project):
        return replace(
            rel,
            parent=map_rel_exprs(rel.parent, fn),
            key=map_expr(rel.key, fn),
            fields=tuple((n, map_expr(e, fn)) for n, e in rel.fields),
        )
    raise TypeError(rel)


def map_rel_children(rel: Rel, fn: Callable[[Rel], Rel]) -> Rel:
    """`rel` with `fn` applied to each of its input relations (not recursively: `fn` decides)."""
    if isinstance(rel, Scan):
        return rel
    if isinstance(rel, LeftJoin):
        return replace(rel, left=fn(rel.left), right=fn(rel.right))
    if isinstance(rel, (Aggregate, Filter, Project)):
        return replace(rel, parent=fn(rel.parent))
    raise TypeError(rel)
