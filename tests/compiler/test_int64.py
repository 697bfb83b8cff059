"""The bounds of int64.py are exact: a value just inside fits, one just outside does not (Python decides)."""

from __future__ import annotations

import pytest

from ontoc.frontend.translate import int64
from ontoc.frontend.translate.int64 import INT64_MAX, INT64_MIN
from ontoc.ir.expr import Op

LITERALS = [0, 1, -1, 2, -2, 3, -3, 7, 1000, -1000, 2**31, 2**62, -(2**62), INT64_MAX, INT64_MIN]
APPLY = {Op.ADD: lambda a, b: a + b, Op.SUB: lambda a, b: a - b, Op.MUL: lambda a, b: a * b}


@pytest.mark.parametrize("op", list(APPLY))
@pytest.mark.parametrize("c", LITERALS)
@pytest.mark.parametrize("literal_left", [False, True])
def test_operand_bounds_are_exact(op, c, literal_left):
    low, high = int64._operand_bounds(op, c, literal_left)

    def fits(x: int) -> bool:
        return int64.fits(APPLY[op](c, x) if literal_left else APPLY[op](x, c))

    low, high = max(low, INT64_MIN), min(high, INT64_MAX)
    for x in {low, high, INT64_MIN, INT64_MAX, 0}:
        if low <= x <= high:
            assert fits(x), (x, low, high)
    if low > INT64_MIN:
        assert not fits(low - 1)
    if high < INT64_MAX:
        assert not fits(high + 1)


@pytest.mark.parametrize("exponent", range(2, 9))
def test_power_bounds_are_exact(exponent):
    low, high = int64.power_bounds(exponent)
    assert int64.fits(low**exponent) and int64.fits(high**exponent)
    assert not int64.fits((low - 1) ** exponent) and not int64.fits((high + 1) ** exponent)
