"""Fold operators whose operands are known: logic, comparisons of literals, CASE on a literal."""

from __future__ import annotations

from ..ir import build as B
from ..ir.expr import Case, Expr, Func, Literal
from ..ir.plan import ViewPlan
from ..ir.traverse import map_rel_exprs, replaced

COMPARE = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


def fold(e: Expr) -> Expr:
    """`e` folded; `e` itself when nothing folds (unchanged nodes are kept, not rebuilt)."""
    if isinstance(e, Func):
        if e.op in ("and", "or"):
            return _same(e, B.and_(*e.args) if e.op == "and" else B.or_(*e.args))
        if e.op == "not":
            return _same(e, B.not_(e.args[0]))
        if e.op in ("is_null", "is_not_null") and isinstance(e.args[0], Literal):
            return B.is_null(e.args[0]) if e.op == "is_null" else B.is_not_null(e.args[0])
        if e.op == "coalesce":
            args = list(e.args)
            while len(args) > 1 and isinstance(args[0], Literal) and args[0].value is None:
                args.pop(0)
            if isinstance(args[0], Literal) or len(args) == 1:
                return args[0]
            return e if len(args) == len(e.args) else Func("coalesce", tuple(args), e.dtype)
        if e.op in COMPARE and all(isinstance(a, Literal) and a.value is not None for a in e.args):
            a, b = (x.value for x in e.args)
            if type(a) is type(b):
                return B.lit(COMPARE[e.op](a, b))
    if isinstance(e, Case):
        whens = []
        for cond, value in e.whens:
            if B.is_false(cond):
                continue
            if B.is_true(cond):
                return Case(tuple(whens), value, e.dtype) if whens else value
            whens.append((cond, value))
        if not whens:
            return e.default
        if all(v == e.default for _, v in whens):
            return e.default
        return e if len(whens) == len(e.whens) else Case(tuple(whens), e.default, e.dtype)
    return e


def _same(old: Func, new: Expr) -> Expr:
    """`old` if `new` is the same operation over the same operand objects, else `new`."""
    same_shape = isinstance(new, Func) and new.op == old.op and len(new.args) == len(old.args)
    if same_shape and not replaced(new.args, old.args):
        return old
    return new


def fold_constants(plan: ViewPlan) -> ViewPlan:
    """>>> fold(B.and_(B.lit(True), B.lit(1 > 0)))  # doctest: +ELLIPSIS
    Literal(value=True, ...)
    """
    return plan.with_rel(map_rel_exprs(plan.rel, lambda e: fold(e)))
