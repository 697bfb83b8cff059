"""Dates and decimals from Python's standard library: `datetime.datetime(...)` and
`decimal.Decimal("1.25")` literals, and the calendar fields of a datetime (`.year` ... `.second`).

Names are resolved through the module's own imports (`import datetime`, `from datetime import
datetime, timezone`, `from decimal import Decimal as D`), so a literal means what Python would call.
"""

from __future__ import annotations

import ast
import datetime as dt
from decimal import Decimal, InvalidOperation

from ontoc.ir.expr import Op
from ontoc.ir.types import Kind

from ...ir import build as B
from ...ir import types as T
from ...ir.expr import Literal
from ..values import Scalar
from .context import TranslationState

# documents hold datetimes in UTC and the jobs' session time zone is UTC: EXTRACT reads them as Python does
DATETIME_PARTS = {"year": "YEAR", "month": "MONTH", "day": "DAY", "hour": "HOUR", "minute": "MINUTE", "second": "SECOND"}
UTC_NAMES = ("datetime.timezone.utc", "datetime.UTC")
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

    def library_literal(self, name: str, node: ast.Call) -> Scalar | None:
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
            return Scalar(Literal(self.datetime_literal(node), T.DATETIME))
        return None

    def datetime_literal(self, node: ast.Call) -> dt.datetime:
        values: dict[str, int] = {}
        for param, arg in zip(DATETIME_ARGS, node.args, strict=False):
            values[param] = self.int_constant(arg)
        if len(node.args) > len(DATETIME_ARGS):
            raise self.fail("bad-call", "`datetime()` with too many arguments", node)
        aware = False
        for keyword in node.keywords:
            if keyword.arg == "tzinfo":
                if self.qualified_name(keyword.value) not in UTC_NAMES:
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
            return dt.datetime(**values, tzinfo=dt.UTC)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise self.fail("unsupported-literal", f"invalid datetime: {exc}", node) from None

    def int_constant(self, node: ast.expr) -> int:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        raise self.fail("unsupported-literal", "datetime literals take int literals", node)

    def datetime_part(self, v: Scalar, attr: str, node: ast.AST) -> Scalar:
        """`.year` ... `.second` of a datetime: an int (reading it from None raises)."""
        part = B.func(Op.EXTRACT, B.lit(DATETIME_PARTS[attr]), v.expr, dtype=T.INT)
        return Scalar(part, B.or_(v.err, self.none_err(v)))
