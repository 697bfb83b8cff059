"""Fold operators whose operands are known: logic, comparisons of literals, CASE on a literal."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, cast

from ..ir import build as B
from ..ir.expr import Case, Expr, Func, Literal, Op
from ..ir.plan import ViewPlan
from ..ir.traverse import map_rel_exprs, replaced

COMPARE: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}


def fold(e: Expr) -> Expr:
    """`e` folded; `e` itself when nothing folds (unchanged nodes are kept, not rebuilt)."""
    if isinstance(e, Func):
        if e.op in (Op.AND, Op.OR):
            return _same(e, B.and_(*e.args) if e.op is Op.AND else B.or_(*e.args))
        if e.op is Op.NOT:
            return _same(e, B.not_(e.args[0]))
        if e.op in (Op.IS_NULL, Op.IS_NOT_NULL) and isinstance(e.args[0], Literal):
            return B.is_null(e.args[0]) if e.op is Op.IS_NULL else B.is_not_null(e.args[0])
        if e.op is Op.COALESCE:
            args = list(e.args)
            while len(args) > 1 and isinstance(args[0], Literal) and args[0].value is None:
                args.pop(0)
            if isinstance(args[0], Literal) or len(args) == 1:
                return args[0]
            return e if len(args) == len(e.args) else Func(Op.COALESCE, tuple(args), e.dtype)
        compare = COMPARE.get(e.op)
        if compare is not None and all(isinstance(a, Literal) and a.value is not None for a in e.args):
            a, b = (cast(Literal, x).value for x in e.args)
            if type(a) is type(b):
                return B.lit(compare(a, b))
    if isinstance(e, Case):
        whens: list[tuple[Expr, Expr]] = []
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
    if (
        isinstance(new, Func)
        and new.op is old.op
        and len(new.args) == len(old.args)
        and not replaced(new.args, old.args)
    ):
        return old
    return new


def fold_constants(plan: ViewPlan) -> ViewPlan:
    """Fold every expression of the plan.

    >>> from ontoc.ir.dump import expr_text
    >>> from ontoc.ir.types import BOOL, INT
    >>> expr_text(fold(Func("lt", (B.lit(1), B.lit(2)), BOOL)))
    'True'
    >>> expr_text(fold(Func("coalesce", (B.lit(None), B.lit(3), B.lit(4)), INT)))
    '3'
    >>> expr_text(fold(B.case(B.lit(False), B.lit("a"), B.lit("b"), B.lit("").dtype)))
    "'b'"
    """
    return plan.with_rel(map_rel_exprs(plan.rel, fold))
