"""Scalar builtins and string methods: min/max of values, abs, int, float, bool, str, round,
str.upper/strip/startswith/replace/format..., and `str(v)` as Python prints it.
"""

from __future__ import annotations

import ast
import string
from decimal import Decimal

from ontoc.ir.expr import Op
from ontoc.ir.types import Kind

from ...ir import build as B
from ...ir import types as T
from ...ir.expr import TRUE, Case, Cast, Column, Expr, Literal
from ...ir.relations import text_column
from ..scope import QueryScope
from ..values import Scalar, Value
from . import int64
from .context import Ctx, TranslationState

WHITESPACE = (
    "[\\s\\x{1c}-\\x{1f}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}]"
)
STR_METHODS = ("upper", "lower", "strip", "lstrip", "rstrip", "startswith", "endswith", "replace", "format")


class BuiltinsMixin(TranslationState):
    def concat(self, parts: list[Scalar]) -> Scalar:
        parts = [p for p in parts if not (isinstance(p.expr, Literal) and p.expr.value == "")]
        if not parts:
            return Scalar(B.lit(""))
        if len(parts) == 1:
            return parts[0]
        return Scalar(B.func(Op.CONCAT, *[p.expr for p in parts], dtype=T.STR), B.or_(*[p.err for p in parts]))

    def to_str(self, v: Scalar, node: ast.AST) -> Scalar:
        """`str(v)` as Python formats it."""
        kind = v.dtype.kind
        if kind == "none":
            return Scalar(B.lit("None"), v.err)
        if kind == "str":
            e = v.expr
        elif kind == "int":
            e = B.cast(v.expr, T.STR)
        elif kind == "bool":
            e = B.case(v.expr, B.lit("True"), B.lit("False"), T.STR)
        elif kind == "float":
            e = B.func(Op.PY_STR, v.expr, dtype=T.STR)
        elif kind == "datetime":  # documents hold datetimes in UTC: '2024-01-01 00:00:00+00:00'
            e = B.func(Op.PY_STR, v.expr, dtype=T.STR)
        elif kind == "decimal":
            text = self.decimal_text(v.expr)
            if text is None:
                raise self.fail(
                    "unsupported-format",
                    "formatting a computed Decimal as text is not supported",
                    node,
                    "Python prints a Decimal with the exponent it was written or computed with, which SQL does not "
                    "keep: format a Decimal field or literal (printed as the event wrote it), or str(float(x))",
                )
            e = text
        else:
            raise self.fail("unsupported-format", f"formatting a {v.dtype} as text is not supported", node)
        if v.dtype.nullable:
            e = B.func(Op.COALESCE, e, B.lit("None"), dtype=T.STR)
        return Scalar(e, v.err)

    def decimal_text(self, e: Expr) -> Expr | None:
        """`str()` of a Decimal as Python prints it, where SQL can know its exponent; else None.

        A field's text is the hidden column beside it (`relations.text_column`), which the sources fill
        from the event's number text; a literal's is folded; a choice (`a if c else b`) chooses between them.
        """
        out = T.STR.null(e.dtype.nullable)
        if isinstance(e, Literal) and (e.value is None or isinstance(e.value, (Decimal, int))):
            return Literal(None if e.value is None else str(e.value), out)
        if isinstance(e, Column) and e.dtype.kind == Kind.DECIMAL and self.is_field_column(e):
            return Column(e.relation, text_column(e.name), out)
        if isinstance(e, Cast) and e.arg.dtype.kind in (Kind.DECIMAL, Kind.NONE):
            return self.decimal_text(e.arg)
        if isinstance(e, Cast) and e.arg.dtype.kind == Kind.INT:  # an int chosen beside a Decimal: str(int)
            return B.cast(e.arg, out)
        if isinstance(e, Case):
            whens = [(cond, self.decimal_text(then)) for cond, then in e.whens]
            default = self.decimal_text(e.default)
            if default is None or any(then is None for _, then in whens):
                return None
            return Case(tuple((cond, then) for cond, then in whens if then is not None), default, out)
        return None

    def is_field_column(self, c: Column) -> bool:
        """Whether `c` reads a document's field (a scan), not an aggregate's or a derived row's output."""
        documents: set[str] = set()
        subqueries: set[str] = set()

        def visit(scope: QueryScope) -> None:
            documents.update(n.alias for n in scope.nodes if c.name in n.model.fields)
            for agg in scope.aggregates.values():
                subqueries.add(agg.alias)
                if agg.outer is not None:
                    subqueries.add(agg.outer.alias)
                visit(agg)

        visit(self.scope)
        return c.relation in documents and c.relation not in subqueries

    def str_method(self, s: Scalar, name: str, node: ast.Call, ctx: Ctx) -> Value:
        if node.keywords:
            raise self.fail("unsupported-call", f"keyword arguments of `str.{name}` are not supported", node)
        if name == "format":
            return self.format_call(s, node, ctx)
        args = [self.scalar(self.expr(a, ctx), a) for a in node.args]
        err = B.or_(s.err, self.none_err(s), *[a.err for a in args], *[self.none_err(a) for a in args])
        for a in args:
            if a.dtype.kind != Kind.STR:
                raise self.fail("type-error", f"`str.{name}` takes str arguments, not {a.dtype}", node)
        e = s.expr
        if name in ("upper", "lower") and not args:
            return Scalar(B.func(name, e, dtype=T.STR), err)
        if name in ("strip", "lstrip", "rstrip") and len(args) <= 1:
            if args and not isinstance(args[0].expr, Literal):
                raise self.fail("unsupported-call", f"`str.{name}` needs a literal argument", node)
            given = args[0].expr.value if args and isinstance(args[0].expr, Literal) else ""
            assert isinstance(given, str)  # a str literal: checked above
            chars = WHITESPACE if not args else "[" + "".join("\\" + c if c in "\\]^-[" else c for c in given) + "]"
            if args and given == "":
                return Scalar(e, err)
            pattern = {"strip": f"^{chars}+|{chars}+$", "lstrip": f"^{chars}+", "rstrip": f"{chars}+$"}[name]
            return Scalar(B.func(Op.REGEXP_REPLACE, e, B.lit(pattern), B.lit(""), dtype=T.STR), err)
        if name in ("startswith", "endswith") and len(args) == 1:
            p = args[0].expr
            plen = B.func(Op.CHAR_LENGTH, p, dtype=T.INT)
            slen = B.func(Op.CHAR_LENGTH, e, dtype=T.INT)
            start = (
                B.lit(1)
                if name == "startswith"
                else B.func(Op.ADD, B.func(Op.SUB, slen, plen, dtype=T.INT), B.lit(1), dtype=T.INT)
            )
            piece = B.func(Op.SUBSTRING, e, start, plen, dtype=T.STR)
            fits = B.func(Op.LE, plen, slen, dtype=T.BOOL)
            return Scalar(B.safe(B.and_(fits, B.func(Op.EQ, piece, p, dtype=T.BOOL))), err)
        if name == "replace" and len(args) == 2:
            if isinstance(args[0].expr, Literal) and args[0].expr.value == "":
                raise self.fail("unsupported-call", "`str.replace('', ...)` is not supported", node)
            return Scalar(B.func(Op.REPLACE, e, args[0].expr, args[1].expr, dtype=T.STR), err)
        raise self.fail("unsupported-call", f"`str.{name}` with {len(args)} arguments is not supported", node)

    def format_call(self, template: Scalar, node: ast.Call, ctx: Ctx) -> Scalar:
        if not isinstance(template.expr, Literal):
            raise self.fail("unsupported-format", "`.format` needs a literal template", node)
        args = [self.scalar(self.expr(a, ctx), a) for a in node.args]
        parts, auto = [], 0
        assert isinstance(template.expr.value, str)  # the template is a str
        try:
            pieces = list(string.Formatter().parse(template.expr.value))
        except ValueError as exc:
            raise self.fail("unsupported-format", f"bad format string: {exc}", node) from None
        for text, field_name, spec, conversion in pieces:
            if text:
                parts.append(Scalar(B.lit(text)))
            if field_name is None:
                continue
            if spec or conversion not in (None, "s"):
                raise self.fail("unsupported-format", "format specs and conversions are not supported", node)
            if field_name == "":
                index, auto = auto, auto + 1
            elif field_name.isdigit():
                index = int(field_name)
            else:
                raise self.fail("unsupported-format", "only `{}` and `{0}` placeholders are supported", node)
            if index >= len(args):
                return Scalar(Literal(None, T.STR), TRUE)  # IndexError in Python
            parts.append(self.to_str(args[index], node))
        return self.concat(parts)

    def call_builtin(self, name: str, args: list[Scalar], node: ast.AST) -> Scalar:
        err = B.or_(*[a.err for a in args])
        if name in ("min", "max") and len(args) >= 2:
            dtype = args[0].dtype
            for a in args[1:]:
                joined = (
                    T.numeric_join(dtype, a.dtype)
                    if dtype.is_numeric and a.dtype.is_numeric
                    else (dtype if dtype.kind == a.dtype.kind else None)
                )
                if joined is None:
                    raise self.fail("type-error", f"`{name}` of values of different types", node)
                dtype = joined
            dtype = dtype.null(False)
            err = B.or_(err, *[self.none_err(a) for a in args])
            return Scalar(
                B.func(
                    Op.LEAST if name == "min" else "greatest", *[self.num(a.expr, dtype) for a in args], dtype=dtype
                ),
                err,
            )
        if name == "bool" and len(args) == 1:
            return self.truthy(args[0], None, node)
        if name == "str" and len(args) == 1:
            return self.to_str(args[0], node)
        if name == "round" and len(args) == 2:
            return self.round_to(args[0], args[1], err, node)
        if len(args) != 1:
            raise self.fail("bad-call", f"`{name}()` with {len(args)} arguments is not supported", node)
        v = args[0]
        err = B.or_(err, self.none_err(v))
        kind = v.dtype.kind
        if name == "abs" and v.dtype.is_numeric:
            e = self.num(v.expr, T.INT) if kind == "bool" else v.expr
            if e.dtype.kind == Kind.INT:
                err = B.or_(err, int64.negate_overflow(e))
            return Scalar(B.func(Op.ABS, e, dtype=e.dtype.null(False)), err)
        if name == "int":
            if kind in ("int", "bool"):
                return Scalar(self.num(v.expr, T.INT), err)
            if kind in ("float", "decimal"):
                # CAST truncates toward zero, as int() does; NaN, infinities and |x| >= 2**63 raise or leave 64 bits
                return Scalar(B.cast(v.expr, T.INT), B.or_(err, int64.to_int_fails(v.expr)))
        if name == "float":
            if kind in ("int", "bool", "float", "decimal"):
                return Scalar(self.num(v.expr, T.FLOAT), err)
        if name == "round" and kind in ("int", "bool") and len(args) == 1:
            return Scalar(self.num(v.expr, T.INT), err)
        if name == "round" and kind == "float":
            return Scalar(self.round_half_even(v.expr), B.or_(err, int64.to_int_fails(v.expr)))
        if name == "round" and kind == "decimal":  # to an int, ties to even
            rounded = B.func(Op.PY_ROUND, v.expr, B.lit(0), dtype=T.DECIMAL)
            # Python's int is unbounded: past BIGINT the field is None (as for round(x, ndigits)), not a wrap
            outside = B.or_(
                B.func(Op.LT, rounded, Literal(Decimal(-(2**63)), T.DECIMAL), dtype=T.BOOL),
                B.func(Op.GT, rounded, Literal(Decimal(2**63 - 1), T.DECIMAL), dtype=T.BOOL),
            )
            return Scalar(B.cast(rounded, T.INT), B.or_(err, outside))
        raise self.fail("type-error", f"`{name}()` of {v.dtype} is not supported", node)

    def round_to(self, v: Scalar, ndigits: Scalar, err: Expr, node: ast.AST) -> Scalar:
        """`round(x, ndigits)`: Python's rounding of the exact value, ties to even (ONTOC_PY_ROUND, our JVM
        function: Flink's ROUND rounds half up, and a double through its shortest decimal text)."""
        if ndigits.dtype.kind not in ("int", "bool"):
            raise self.fail("type-error", f"`round()` needs an int number of digits, not {ndigits.dtype}", node)
        if ndigits.dtype.nullable:
            raise self.fail(
                "unsupported-call",
                "`round(x, ndigits)` with an `ndigits` that may be None",
                node,
                "round(x, None) is round(x), an int: make ndigits an int that is never None",
            )
        kind = v.dtype.kind
        if kind not in ("int", "bool", "float", "decimal"):
            raise self.fail("type-error", f"`round()` of {v.dtype} is not supported", node)
        if (
            kind in ("int", "bool")
            and isinstance(ndigits.expr, Literal)
            and isinstance(ndigits.expr.value, int)
            and ndigits.expr.value >= 0
        ):
            return Scalar(self.num(v.expr, T.INT), B.or_(err, self.none_err(v)))  # an int is whole already
        x = self.num(v.expr, T.INT) if kind == "bool" else v.expr
        dtype = {"float": T.FLOAT, "decimal": T.DECIMAL}.get(kind, T.INT)
        rounded = B.func(Op.PY_ROUND, x, self.num(ndigits.expr, T.INT), dtype=dtype)
        # NULL where Python raises (and where x is None): an overflow, past Decimal's 28 digits, past BIGINT;
        # so Python never sees None from it (the type is not nullable), the error flag says where it raised
        return Scalar(rounded, B.or_(err, B.is_null(rounded)))

    @staticmethod
    def round_half_even(x: Expr) -> Expr:
        """Python's round(x): to the nearest int, ties to even (SQL rounds ties away from zero)."""
        low = B.func(Op.FLOOR, x, dtype=T.FLOAT)
        frac = B.func(Op.SUB, x, low, dtype=T.FLOAT)
        half = B.func(Op.EQ, frac, Literal(0.5, T.FLOAT), dtype=T.BOOL)
        low_even = B.func(Op.EQ, B.func(Op.MOD, B.cast(low, T.INT), B.lit(2), dtype=T.INT), B.lit(0), dtype=T.BOOL)
        up = B.func(Op.ADD, low, Literal(1.0, T.FLOAT), dtype=T.FLOAT)
        nearest = B.case(B.func(Op.LT, frac, Literal(0.5, T.FLOAT), dtype=T.BOOL), low, up, T.FLOAT)
        return B.cast(B.case(half, B.case(low_even, low, up, T.FLOAT), nearest, T.FLOAT), T.INT)
