"""Dates and decimals from Python's standard library: `datetime.datetime(...)` and
`decimal.Decimal("1.25")` literals, and the calendar fields of a datetime (`.year` ... `.second`).

Names are resolved through the module's own imports (`import datetime`, `from datetime import
datetime, timezone`, `from decimal import Decimal as D`), so a literal means what Python would call.
"""

from __future__ import annotations

import ast
import datetime as dt
import operator
from decimal import Decimal, InvalidOperation

from ontoc.ir.expr import Op
from ontoc.ir.types import Kind

from ...ir import build as B
from ...ir import types as T
from ...ir.expr import Literal
from ..values import DateVal, DeltaVal, Scalar, UtcVal, Value
from .context import Ctx, TranslationState

# documents hold datetimes in UTC and the jobs' session time zone is UTC: EXTRACT reads them as Python does
DATETIME_PARTS = {
    "year": "YEAR",
    "month": "MONTH",
    "day": "DAY",
    "hour": "HOUR",
    "minute": "MINUTE",
    "second": "SECOND",
}
UTC_NAMES = ("datetime.timezone.utc", "datetime.UTC")
TIMEDELTA_ARGS = ("days", "seconds", "microseconds", "milliseconds", "minutes", "hours", "weeks")
COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
EQUALITY = (ast.Eq, ast.NotEq, ast.Is, ast.IsNot)
FLIPPED = {ast.Eq: ast.Eq, ast.NotEq: ast.NotEq, ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE}
DATETIME_ARGS = ("year", "month", "day", "hour", "minute", "second", "microsecond")


class TemporalMixin(TranslationState):
    def qualified_name(self, node: ast.AST) -> str | None:
        """`datetime.timezone.utc` as Python resolves it here: the first name through the module's imports."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.insert(0, node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        bound = self.src.bindings.get(node.id, [])
        if len(bound) != 1 or not isinstance(bound[0], (ast.Import, ast.ImportFrom)):
            return None
        stmt = bound[0]
        for alias in stmt.names:
            if (alias.asname or alias.name.split(".")[0]) != node.id:
                continue
            if isinstance(stmt, ast.Import):
                origin = alias.name if alias.asname else node.id
            elif stmt.module and not stmt.level:
                origin = f"{stmt.module}.{alias.name}"
            else:
                return None
            return ".".join([origin, *parts])
        return None

    def library_literal(self, name: str, node: ast.Call, ctx: Ctx) -> Scalar | DeltaVal | DateVal | None:
        """A `datetime.datetime(...)` or `decimal.Decimal(...)` call of literals, as a SQL literal."""
        if name == "decimal.Decimal":
            if len(node.args) != 1 or node.keywords or not isinstance(node.args[0], ast.Constant):
                raise self.fail("unsupported-literal", "`Decimal()` needs one literal argument", node)
            text = node.args[0].value
            if not isinstance(text, (str, int)) or isinstance(text, bool):
                raise self.fail(
                    "unsupported-literal",
                    "`Decimal()` of a float keeps the float's binary digits",
                    node,
                    'write the number as text: Decimal("1.25")',
                )
            try:
                value = Decimal(text)
            except InvalidOperation:
                raise self.fail("unsupported-literal", f"invalid Decimal literal {text!r}", node) from None
            if not value.is_finite():
                raise self.fail("unsupported-literal", "a Decimal that is not finite is not supported", node)
            return Scalar(Literal(value, T.DECIMAL))
        if name == "datetime.datetime":
            return Scalar(Literal(self.datetime_literal(node, ctx), T.DATETIME))
        if name == "datetime.date":
            values = [self.int_constant(a) for a in node.args]
            if len(values) != 3 or node.keywords:
                raise self.fail("bad-call", "`date()` takes year, month and day", node)
            try:
                day = dt.date(*values)
            except ValueError as exc:
                raise self.fail("unsupported-literal", f"invalid date: {exc}", node) from None
            return DateVal(Scalar(B.lit(day.year * 10000 + day.month * 100 + day.day)))
        if name == "datetime.timedelta":
            return DeltaVal(fixed=self.timedelta_literal(node))
        return None

    def timedelta_literal(self, node: ast.Call) -> dt.timedelta:
        values: dict[str, float] = {}
        for param, arg in zip(TIMEDELTA_ARGS, node.args, strict=False):
            values[param] = self.number_constant(arg)
        if len(node.args) > len(TIMEDELTA_ARGS):
            raise self.fail("bad-call", "`timedelta()` with too many arguments", node)
        for keyword in node.keywords:
            if keyword.arg not in TIMEDELTA_ARGS or keyword.arg in values:
                raise self.fail("bad-call", f"`timedelta()` argument `{keyword.arg}` is not supported", keyword)
            values[keyword.arg] = self.number_constant(keyword.value)
        try:
            delta = dt.timedelta(**values)
        except (OverflowError, TypeError) as exc:
            raise self.fail("unsupported-literal", f"invalid timedelta: {exc}", node) from None
        if delta % dt.timedelta(milliseconds=1) or abs(delta) >= dt.timedelta(days=1000):
            raise self.fail(
                "unsupported-literal",
                "a timedelta literal must be whole milliseconds, under 1000 days",
                node,
                "Flink's day-time intervals hold milliseconds and at most 999 days",
            )
        return delta

    def number_constant(self, node: ast.expr) -> float:
        literal = node.operand if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) else node
        if isinstance(literal, ast.Constant) and isinstance(literal.value, (int, float)):
            if not isinstance(literal.value, bool):
                return -literal.value if literal is not node else literal.value
        raise self.fail("unsupported-literal", "timedelta literals take number literals", node)

    def date_of(self, v: Scalar) -> DateVal:
        """`dt.date()`: the UTC calendar day (documents hold UTC), as the int yyyymmdd."""
        year, month, day = (self.datetime_part(v, attr, None) for attr in ("year", "month", "day"))
        key = B.func(
            Op.ADD,
            B.func(
                Op.ADD,
                B.func(Op.MUL, year.expr, B.lit(10000), dtype=T.INT),
                B.func(Op.MUL, month.expr, B.lit(100), dtype=T.INT),
                dtype=T.INT,
            ),
            day.expr,
            dtype=T.INT,  # never None where `v.date()` does not raise
        )
        return DateVal(Scalar(key, year.err))

    def compare_dates(self, op: ast.cmpop, a: Value, b: Value, node: ast.AST) -> Scalar:
        """Dates compare as their yyyymmdd keys; with None only by `==` / `!=` / `is` (order raises)."""
        sides: list[Value] = []
        for v in (a, b):
            if isinstance(v, DateVal):
                sides.append(v.key)
            elif isinstance(v, Scalar) and v.dtype.kind == Kind.NONE and type(op) in EQUALITY:
                sides.append(v)
            else:
                raise self.fail(
                    "type-error",
                    "a date compares only with another date (`.date()` or `datetime.date(...)`) or None",
                    node,
                    "compare `x.date()` with `y.date()`, or datetimes with datetimes",
                )
        return self.compare(op, sides[0], sides[1], node, None)

    def compare_delta(self, op: ast.cmpop, a: Value, b: Value, node: ast.AST) -> Scalar:
        """`a - b < timedelta(...)` as `a < b + INTERVAL ...`: exact, and SQL never holds a duration."""
        if isinstance(a, DeltaVal) and isinstance(b, DeltaVal) and a.fixed is not None and b.fixed is not None:
            return Scalar(B.lit(bool(COMPARE[type(op)](a.fixed, b.fixed))))
        if isinstance(b, DeltaVal) and b.fixed is None and isinstance(a, DeltaVal) and a.fixed is not None:
            a, b, op = b, a, FLIPPED[type(op)]()
        if not (
            isinstance(a, DeltaVal)
            and a.later is not None
            and a.earlier is not None
            and isinstance(b, DeltaVal)
            and b.fixed is not None
            and type(op) in COMPARE
        ):
            raise self.fail(
                "unsupported-operator",
                "a difference of datetimes can only be compared with a `datetime.timedelta(...)` literal",
                node,
                "e.g. `a - b >= datetime.timedelta(days=1)`",
            )
        millis = b.fixed // dt.timedelta(milliseconds=1)
        earlier = a.earlier
        shifted = B.func(Op.ADD_MILLIS, earlier.expr, B.lit(millis), dtype=earlier.dtype)
        result = self.compare(op, a.later, Scalar(shifted, earlier.err), node, None)
        # `None - x` raises before the comparison
        return Scalar(result.expr, B.or_(result.err, self.none_err(a.later), self.none_err(earlier)))

    def datetime_literal(self, node: ast.Call, ctx: Ctx) -> dt.datetime:
        values: dict[str, int] = {}
        for param, arg in zip(DATETIME_ARGS, node.args, strict=False):
            values[param] = self.int_constant(arg)
        if len(node.args) > len(DATETIME_ARGS):
            raise self.fail("bad-call", "`datetime()` with too many arguments", node)
        aware = False
        for keyword in node.keywords:
            if keyword.arg == "tzinfo":
                local = isinstance(keyword.value, ast.Name) and keyword.value.id in ctx.env  # `tz = timezone.utc`
                utc = isinstance(self.expr(keyword.value, ctx), UtcVal) if local else None
                if not utc and (local or self.qualified_name(keyword.value) not in UTC_NAMES):
                    raise self.fail(
                        "unsupported-literal",
                        "only `tzinfo=datetime.timezone.utc` is supported",
                        keyword.value,
                        "documents hold datetimes in UTC; write the literal in UTC",
                    )
                aware = True
            elif keyword.arg in DATETIME_ARGS and keyword.arg not in values:
                values[keyword.arg] = self.int_constant(keyword.value)
            else:
                raise self.fail("bad-call", f"`datetime()` argument `{keyword.arg}` is not supported", keyword)
        if not aware:
            raise self.fail(
                "naive-datetime",
                "a datetime without a time zone cannot be compared with the documents' datetimes",
                node,
                "documents hold aware datetimes in UTC (Python raises TypeError comparing naive and aware "
                "ones): add `tzinfo=datetime.timezone.utc`",
            )
        try:
            return dt.datetime(**values, tzinfo=dt.UTC)
        except (TypeError, ValueError) as exc:
            raise self.fail("unsupported-literal", f"invalid datetime: {exc}", node) from None

    def int_constant(self, node: ast.expr) -> int:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        raise self.fail("unsupported-literal", "datetime literals take int literals", node)

    def datetime_part(self, v: Scalar, attr: str, node: ast.AST | None) -> Scalar:
        """`.year` ... `.second` of a datetime: an int (reading it from None raises)."""
        part = B.func(Op.EXTRACT, B.lit(DATETIME_PARTS[attr]), v.expr, dtype=T.INT)
        return Scalar(part, B.or_(v.err, self.none_err(v)))
