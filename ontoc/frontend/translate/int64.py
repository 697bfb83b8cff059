"""Python's unbounded integers on Flink's BIGINT: where an exact result leaves 64 bits, an error flag.

Flink's BIGINT arithmetic wraps silently (`2**62 * 4` is 0); spec section 4 makes such a getter None.
Each function here gives the error flag of one operation, as cheap as it can be exact:
- nothing where the operands' known ranges prove the result fits (literals, lengths, counts);
- a comparison of the other operand with two bounds computed here, where one operand is a literal
  (`x + 1` fails only where `x > 2**63 - 2`): plain BIGINT comparisons;
- else the exact result in DECIMAL, tested against the range (NULL, a DECIMAL overflow, counts as out).
"""

from __future__ import annotations

from decimal import Decimal

from ...ir import build as B
from ...ir import types as T
from ...ir.expr import FALSE, TRUE, Case, Cast, Expr, Func, Literal, Op
from ..values import Scalar

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_SMALL = (0, 2**31 - 1)  # a length or a count: Flink's INT results widened
_LENGTHS = (Op.CHAR_LENGTH, Op.CARDINALITY, Op.POSITION)


OVERFLOWED = Scalar(Literal(None, T.INT.null()), TRUE)  # a constant whose exact value leaves 64 bits: raises


DECIMAL_BOUNDS = (Literal(Decimal(INT64_MIN), T.DECIMAL), Literal(Decimal(INT64_MAX), T.DECIMAL))


def fits(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


def known_range(e: Expr) -> tuple[int, int] | None:
    """Bounds of an int expression's value where they are known without data, else None."""
    if isinstance(e, Literal) and isinstance(e.value, int):
        return (int(e.value), int(e.value))
    if isinstance(e, Cast) and e.arg.dtype.kind is T.Kind.BOOL:
        return (0, 1)
    if isinstance(e, Func) and e.op in _LENGTHS:
        return _SMALL
    if isinstance(e, Func) and e.op is Op.COALESCE:
        ranges = [known_range(a) for a in e.args]
        if all(r is not None for r in ranges):
            return (min(r[0] for r in ranges if r), max(r[1] for r in ranges if r))
    if isinstance(e, Case):  # the floor corrections of `//` and `%`, and ifs
        ranges = [known_range(v) for _, v in e.whens] + [known_range(e.default)]
        if all(r is not None for r in ranges):
            return (min(r[0] for r in ranges if r), max(r[1] for r in ranges if r))
    if isinstance(e, Func) and e.op in (Op.MOD, Op.DIV) and isinstance(e.args[1], Literal):
        divisor = e.args[1].value
        if isinstance(divisor, int) and not isinstance(divisor, bool) and abs(divisor) >= 2:
            bound = abs(divisor) - 1 if e.op is Op.MOD else 2**63 // abs(divisor)
            return (-bound, bound)
    if isinstance(e, Func) and e.op in (Op.ADD, Op.SUB, Op.MUL) and len(e.args) == 2:
        rx, ry = known_range(e.args[0]), known_range(e.args[1])
        if rx is not None and ry is not None:
            low, high = _apply(e.op, rx, ry)
            return (low, high) if fits(low) and fits(high) else None
    return None


def _apply(op: Op, rx: tuple[int, int], ry: tuple[int, int]) -> tuple[int, int]:
    if op is Op.ADD:
        return (rx[0] + ry[0], rx[1] + ry[1])
    if op is Op.SUB:
        return (rx[0] - ry[1], rx[1] - ry[0])
    corners = [a * b for a in rx for b in ry]
    return (min(corners), max(corners))


def _outside(x: Expr, low: int, high: int) -> Expr:
    """`x` below `low` or above `high` (only the bounds that exclude a 64-bit value are tested)."""
    if low > high:
        return B.is_not_null(x)  # no value of x fits: Python's result never does
    low, high = max(low, INT64_MIN), min(high, INT64_MAX)
    if low > INT64_MIN and high < INT64_MAX:  # one reading of x, not two
        inside = B.func(Op.BETWEEN, x, Literal(low, T.INT), Literal(high, T.INT), dtype=T.BOOL)
        return B.not_(B.func(Op.COALESCE, inside, TRUE, dtype=T.BOOL))
    if low > INT64_MIN:
        return B.safe(B.func(Op.LT, x, Literal(low, T.INT), dtype=T.BOOL))
    if high < INT64_MAX:
        return B.safe(B.func(Op.GT, x, Literal(high, T.INT), dtype=T.BOOL))
    return FALSE


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _operand_bounds(op: Op, c: int, literal_left: bool) -> tuple[int, int]:
    """The values of the other operand for which `other op c` (or `c op other`) fits 64 bits."""
    if op is Op.ADD:
        return (INT64_MIN - c, INT64_MAX - c)
    if op is Op.SUB:
        return (c - INT64_MAX, c - INT64_MIN) if literal_left else (INT64_MIN + c, INT64_MAX + c)
    if c == 0:
        return (INT64_MIN, INT64_MAX)
    if c > 0:
        return (_ceil_div(INT64_MIN, c), INT64_MAX // c)
    return (_ceil_div(INT64_MAX, c), INT64_MIN // c)


def arith_overflow(op: Op, x: Expr, y: Expr) -> Expr:
    """Where `x op y` (ADD, SUB or MUL of two ints) does not fit 64 bits."""
    rx, ry = known_range(x), known_range(y)
    if rx is not None and ry is not None:
        low, high = _apply(op, rx, ry)
        if fits(low) and fits(high):
            return FALSE
    if ry is not None and ry[0] == ry[1]:
        return _outside(x, *_operand_bounds(op, ry[0], literal_left=False))
    if rx is not None and rx[0] == rx[1]:
        return _outside(y, *_operand_bounds(op, rx[0], literal_left=True))
    exact = B.func(op, B.cast(x, T.DECIMAL), B.cast(y, T.DECIMAL), dtype=T.DECIMAL)
    return in_range_fails(exact)


def in_range_fails(exact: Expr) -> Expr:
    """Where an exact (DECIMAL) integer is outside 64 bits; NULL (a DECIMAL overflow) counts as outside."""
    inside = B.func(Op.BETWEEN, exact, *DECIMAL_BOUNDS, dtype=T.BOOL)
    return B.not_(B.safe(inside))


def negate_overflow(x: Expr) -> Expr:
    """`-x` and `abs(x)` do not fit for the smallest int alone."""
    r = known_range(x)
    if r is not None and r[0] > INT64_MIN:
        return FALSE
    return B.safe(B.func(Op.EQ, x, Literal(INT64_MIN, T.INT), dtype=T.BOOL))


def floor_div_overflow(x: Expr, y: Expr) -> Expr:
    """`x // y` does not fit for the smallest int divided by -1 alone."""
    rx, ry = known_range(x), known_range(y)
    if (rx is not None and rx[0] > INT64_MIN) or (ry is not None and not ry[0] <= -1 <= ry[1]):
        return FALSE
    return B.safe(
        B.and_(
            B.func(Op.EQ, x, Literal(INT64_MIN, T.INT), dtype=T.BOOL),
            B.func(Op.EQ, y, Literal(-1, T.INT), dtype=T.BOOL),
        )
    )


def power_bounds(exponent: int) -> tuple[int, int]:
    """The bases whose `base ** exponent` fits 64 bits (exponent >= 1)."""
    high = int(round(INT64_MAX ** (1 / exponent)))
    while high**exponent > INT64_MAX:
        high -= 1
    while (high + 1) ** exponent <= INT64_MAX:
        high += 1
    low = -high
    while (low - 1) ** exponent >= INT64_MIN and ((low - 1) ** exponent <= INT64_MAX):
        low -= 1
    return (low, high)


def power_overflow(x: Expr, exponent: int) -> Expr:
    if exponent <= 1:
        return FALSE
    low, high = power_bounds(exponent)
    r = known_range(x)
    if r is not None and low <= r[0] and r[1] <= high:
        return FALSE
    return _outside(x, low, high)


def to_int_fails(x: Expr) -> Expr:
    """Where `int(x)` / `round(x)` of a float or Decimal raises or leaves 64 bits: NaN, infinities, |x| >= 2**63.

    NaN fails every comparison, so `NOT (x >= -2**63 AND x < 2**63)` holds for it."""
    if x.dtype.kind is T.Kind.FLOAT:
        low: Literal = Literal(float(INT64_MIN), T.FLOAT)
        high = Literal(float(2**63), T.FLOAT)
        inside = B.and_(B.func(Op.GE, x, low, dtype=T.BOOL), B.func(Op.LT, x, high, dtype=T.BOOL))
    else:
        inside = B.and_(
            B.func(Op.GT, x, Literal(Decimal(INT64_MIN - 1), T.DECIMAL), dtype=T.BOOL),
            B.func(Op.LT, x, Literal(Decimal(2**63), T.DECIMAL), dtype=T.BOOL),
        )
    return B.not_(B.safe(inside))


_FLIPPED = {Op.LT: Op.GT, Op.LE: Op.GE, Op.GT: Op.LT, Op.GE: Op.LE, Op.EQ: Op.EQ}


def int_float_compare(op: Op, i: Expr, f: Expr, int_left: bool) -> Expr:
    """`i op f` of an int and a float, exact as Python compares them (Flink would round `i` to a DOUBLE:
    `2**53 + 1 == 2.0**53` would hold). Where the rounded int differs from `f`, that order is the exact one;
    where they are equal, `f` is a whole number and the ints compare (2**63 itself is past every int).
    NaN is unequal and unordered (IEEE, as Python)."""
    if not int_left:
        op = _FLIPPED[op]
    rounded = B.cast(i, T.FLOAT)
    r = known_range(i)
    if r is not None and -(2**53) <= r[0] and r[1] <= 2**53:  # an exact DOUBLE: SQL's comparison is exact
        return B.func(op, rounded, f, dtype=T.BOOL)
    two63 = Literal(float(2**63), T.FLOAT)
    if op is Op.EQ:
        return B.and_(
            B.func(Op.EQ, rounded, f, dtype=T.BOOL),
            B.func(Op.LT, f, two63, dtype=T.BOOL),
            B.func(Op.EQ, B.cast(f, T.INT), i, dtype=T.BOOL),
        )
    whole = B.case(
        B.func(Op.GE, f, two63, dtype=T.BOOL),
        B.lit(op in (Op.LT, Op.LE)),
        B.func(op, i, B.cast(f, T.INT), dtype=T.BOOL),
        T.BOOL,
    )
    return B.case(B.func(Op.NE, rounded, f, dtype=T.BOOL), B.func(op, rounded, f, dtype=T.BOOL), whole, T.BOOL)
