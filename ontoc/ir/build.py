"""Smart constructors for expressions that fold the trivial cases as they build.

The frontend builds many error flags that are constantly FALSE; folding them
here keeps trees small before the passes run.
"""

from __future__ import annotations

from .expr import FALSE, TRUE, Case, Cast, Expr, Func, Literal, Op, Value
from .types import BOOL, INT, NONE, STR, DType


def lit(value: Value, dtype: DType | None = None) -> Literal:
    if dtype is None:
        dtype = {bool: BOOL, int: INT, str: STR, type(None): NONE}.get(type(value))
        if dtype is None:
            from .types import FLOAT

            dtype = FLOAT
    return Literal(value, dtype)


def is_true(e: Expr) -> bool:
    return isinstance(e, Literal) and e.value is True


def is_false(e: Expr) -> bool:
    return isinstance(e, Literal) and e.value is False


def operands(e: Expr, op: Op) -> tuple[Expr, ...]:
    """The operands of `e` if it is an `op` (`Op.AND` / `Op.OR`), else `e` alone."""
    return e.args if isinstance(e, Func) and e.op == op else (e,)


def _flat(op: Op, args: tuple[Expr, ...]) -> list[Expr]:
    return [x for a in args for x in operands(a, op)]


def _contradicts(parts: dict[Expr, None]) -> bool:
    """`x IS NULL` beside `x IS NOT NULL`: never both TRUE, never both FALSE (neither is ever NULL)."""
    return any(
        isinstance(p, Func) and p.op is Op.IS_NULL and Func(Op.IS_NOT_NULL, p.args, BOOL) in parts for p in parts
    )


def _absorb(parts: dict[Expr, None], inner: Op) -> list[Expr]:
    """`p OR (q AND p)` is `p`, `p AND (q OR p)` is `p` (also in SQL's three-valued logic)."""
    return [p for p in parts if not (isinstance(p, Func) and p.op is inner and any(q in parts for q in p.args))]


def _connective(op: Op, args: tuple[Expr, ...], absorbing: Expr, neutral: Expr, inner: Op) -> Expr:
    """`and_` / `or_`: flattened, without neutral elements and repeats (kept in a dict, in order: a
    list's `in` compared whole trees pairwise, cubic for a chain of `a != 0 and a != 1 and ...`)."""
    parts: dict[Expr, None] = {}
    is_absorbing, is_neutral = (is_false, is_true) if op is Op.AND else (is_true, is_false)
    for a in _flat(op, args):
        if is_absorbing(a):
            return absorbing
        if not is_neutral(a):
            parts[a] = None
    if not parts:
        return neutral
    if _contradicts(parts):
        return absorbing
    kept = _absorb(parts, inner)
    return kept[0] if len(kept) == 1 else Func(op, tuple(kept), BOOL)


def and_(*args: Expr) -> Expr:
    return _connective(Op.AND, args, FALSE, TRUE, Op.OR)


def or_(*args: Expr) -> Expr:
    return _connective(Op.OR, args, TRUE, FALSE, Op.AND)


def not_(a: Expr) -> Expr:
    if isinstance(a, Literal) and isinstance(a.value, bool):
        return FALSE if a.value else TRUE
    if isinstance(a, Func) and a.op is Op.NOT:
        return a.args[0]
    if isinstance(a, Func) and a.op is Op.IS_NULL:
        return Func(Op.IS_NOT_NULL, a.args, BOOL)
    if isinstance(a, Func) and a.op is Op.IS_NOT_NULL:
        return Func(Op.IS_NULL, a.args, BOOL)
    return Func(Op.NOT, (a,), BOOL)


def is_null(a: Expr) -> Expr:
    if isinstance(a, Literal):
        return TRUE if a.value is None else FALSE
    return Func(Op.IS_NULL, (a,), BOOL)


def is_not_null(a: Expr) -> Expr:
    return not_(is_null(a))


def safe(a: Expr) -> Expr:
    """A boolean that is FALSE where SQL would give NULL."""
    if isinstance(a, Literal) or (isinstance(a, Func) and a.op in (Op.IS_NULL, Op.IS_NOT_NULL, Op.NOT_DISTINCT)):
        return a
    return Func(Op.COALESCE, (a, FALSE), BOOL)


def func(op: Op | str, *args: Expr, dtype: DType) -> Func:
    return Func(Op(op), tuple(args), dtype)


def case(cond: Expr, then: Expr, otherwise: Expr, dtype: DType) -> Expr:
    if is_true(cond):
        return then
    if is_false(cond):
        return otherwise
    if then == otherwise:
        return then
    if isinstance(otherwise, Case):
        return Case(((cond, then),) + otherwise.whens, otherwise.default, dtype)
    return Case(((cond, then),), otherwise, dtype)


def null_if(cond: Expr, value: Expr) -> Expr:
    """`value`, or NULL where `cond` holds: how an error becomes a None field."""
    if is_false(cond):
        return value
    return case(cond, Literal(None, value.dtype.null()), value, value.dtype.null())


def cast(a: Expr, dtype: DType) -> Expr:
    if a.dtype.kind == dtype.kind:
        return a
    if isinstance(a, Literal) and a.value is None:
        return Literal(None, dtype.null())
    return Cast(a, dtype.null(a.dtype.nullable))
