"""Python's operators as SQL: arithmetic, comparisons, `and`/`or`/`not`, `in`, truthiness.

Each operator's Python semantics live in one method here, so SQL's differences
(NULL logic, `//` and `%` on negatives, division by zero, truthiness of
numbers and strings) are handled in one place.
"""

from __future__ import annotations

import ast
import operator
from decimal import Decimal

from ontoc.ir.expr import Op
from ontoc.ir.types import Kind

from ...ir import build as B
from ...ir import types as T
from ...ir.expr import FALSE, TRUE, Expr, Func, Literal
from ..values import DateVal, DeltaVal, DictVal, Doc, ManyVal, Scalar, TupleVal, Value
from . import int64
from .context import Ctx, TranslationState

COMPARE_OPS = {ast.Lt: Op.LT, ast.LtE: Op.LE, ast.Gt: Op.GT, ast.GtE: Op.GE}


class OperatorsMixin(TranslationState):
    def expr_BoolOp(self, node: ast.BoolOp, ctx: Ctx) -> Value:
        is_and = isinstance(node.op, ast.And)
        values = [self.expr(operand, ctx) for operand in node.values]
        scalars = [v for v in values if isinstance(v, Scalar) and v.dtype == T.BOOL]
        if len(scalars) == len(values):
            return self.bool_chain(is_and, scalars)
        result = values[0]
        for value in values[1:]:
            result = self.bool_op(is_and, result, value, ctx, node)
        return result

    @staticmethod
    def bool_chain(is_and: bool, operands: list[Scalar]) -> Scalar:
        """`a and b and ...` of bools that are never None, as one n-ary SQL AND / OR (folding pairwise
        rebuilt the growing chain per operand: cubic in a long `a != 0 and a != 1 and ...`).

        Operand k raises when it is evaluated, i.e. when every operand before it let the chain go on;
        a flag already raised by an earlier operand adds nothing (`e OR (p AND e)` is `e`)."""
        goes_on: list[Expr] = []
        raised: dict[Expr, None] = {}
        terms = []
        for v in operands:
            if not B.is_false(v.err) and v.err not in raised:
                raised[v.err] = None
                terms.append(B.and_(*goes_on, v.err))
            goes_on.append(v.expr if is_and else B.not_(v.expr))
        exprs = [v.expr for v in operands]
        return Scalar(B.and_(*exprs) if is_and else B.or_(*exprs), B.or_(*terms))

    def bool_op(self, is_and: bool, a: Value, b: Value, ctx: Ctx, node: ast.AST) -> Value:
        """`a and b` is b where a is truthy, else a; `a or b` the other way round."""
        ta = self.truthy(a, ctx, node)
        pick_b = ta.expr if is_and else B.not_(ta.expr)
        err = B.or_(ta.err, B.and_(pick_b, self.value_err(b)))
        if isinstance(a, Doc) or (isinstance(a, Scalar) and a.dtype.kind == Kind.NONE):
            # a falsy document or None is None: the result is b's type, NULL where a is picked
            b = self.scalar(b, node)
            return Scalar(B.case(pick_b, b.expr, Literal(None, b.dtype.null()), b.dtype.null()), err)
        a, b = self.scalar(a, node), self.scalar(b, node)
        if b.dtype.kind == Kind.NONE:
            return Scalar(B.case(pick_b, Literal(None, a.dtype.null()), a.expr, a.dtype.null()), err)
        if a.dtype == T.BOOL and b.dtype == T.BOOL:
            # neither is None where it does not raise: SQL's AND / OR are Python's and / or (and cheaper
            # for Flink than the CASE; bench/, part 1)
            return Scalar(B.and_(a.expr, b.expr) if is_and else B.or_(a.expr, b.expr), err)
        dtype = T.unify(a.dtype, b.dtype)
        if dtype is None:
            raise self.fail(
                "type-mismatch",
                f"`{'and' if is_and else 'or'}` of {a.dtype} and {b.dtype}",
                node,
                "both operands must have the same type unless the result is only tested for truth",
            )
        return Scalar(B.case(pick_b, B.cast(b.expr, dtype), B.cast(a.expr, dtype), dtype), err)

    def truth(self, node: ast.expr, ctx: Ctx) -> Scalar:
        """The truth value of an expression; `a or b` / `a and b` under a test need no common type
        (`bool(s.name != "John" or s.scholarship)`): only their truth values are combined."""
        if not isinstance(node, ast.BoolOp):
            return self.truthy(self.expr(node, ctx), ctx, node)
        is_and = isinstance(node.op, ast.And)
        result = self.truth(node.values[0], ctx)
        for operand in node.values[1:]:
            t = self.truth(operand, ctx)
            goes_on = result.expr if is_and else B.not_(result.expr)  # Python evaluates b only then
            err = B.or_(result.err, B.and_(goes_on, t.err))
            result = Scalar(B.and_(result.expr, t.expr) if is_and else B.or_(result.expr, t.expr), err)
        return result

    def truthy(self, value: Value, ctx: Ctx | None, node: ast.AST | None) -> Scalar:
        """Python's truth value as a never-NULL SQL boolean."""
        if isinstance(value, Doc):
            return Scalar(value.node.exists, value.err)
        if self.is_list(value) or isinstance(value, ManyVal):
            n = self.count(self.as_list(value, node))
            return Scalar(B.func(Op.GT, n.expr, B.lit(0), dtype=T.BOOL), n.err)
        if isinstance(value, DictVal):
            return Scalar(B.lit(bool(value.items)))
        v = self.scalar(value, node)
        e, kind = v.expr, v.dtype.kind
        if kind == "none":
            return Scalar(FALSE, v.err)
        if kind == "bool":
            t = e
        elif kind in ("int", "float", "decimal"):
            t = B.func(
                "ne", e, Literal(0, v.dtype.null(False)) if kind != "float" else Literal(0.0, T.FLOAT), dtype=T.BOOL
            )
        elif kind == "str":
            t = B.func(Op.NE, e, B.lit(""), dtype=T.BOOL)  # not CHAR_LENGTH(e) > 0: Flink would count characters
        elif kind == "list":
            t = B.func(Op.GT, B.func(Op.CARDINALITY, e, dtype=T.INT), B.lit(0), dtype=T.BOOL)
        elif kind == "datetime":
            t = TRUE
        else:
            raise self.fail("unsupported-truthiness", f"truth value of {v.dtype} is not supported", node)
        return Scalar(B.safe(t) if v.dtype.nullable else t, v.err)

    def expr_UnaryOp(self, node: ast.UnaryOp, ctx: Ctx) -> Value:
        constant = node.operand
        if (
            isinstance(node.op, ast.USub)
            and isinstance(constant, ast.Constant)
            and type(constant.value) is int
            and int64.fits(-constant.value)
        ):
            # `-9223372036854775808` is one literal to the reader, though Python negates 2**63
            # (a literal beyond 64 bits either way is refused where the constant is read)
            return Scalar(Literal(-constant.value, T.INT))
        if isinstance(node.op, ast.Not):
            t = self.truth(node.operand, ctx)
            return Scalar(B.not_(t.expr), t.err)
        operand = self.expr(node.operand, ctx)
        v = self.scalar(operand, node)
        if not v.dtype.is_numeric or v.dtype.kind == Kind.NONE:
            raise self.fail("type-error", f"unary operator on {v.dtype}", node)
        err = B.or_(v.err, B.is_null(v.expr) if v.dtype.nullable else FALSE)
        e = B.cast(v.expr, T.INT) if v.dtype.kind == Kind.BOOL else v.expr
        if isinstance(node.op, ast.UAdd):
            return Scalar(e, err)
        if isinstance(node.op, ast.USub):
            if isinstance(e, Literal):
                assert isinstance(e.value, (int, float, Decimal))  # the operand is numeric
                if isinstance(e.value, int) and not int64.fits(-e.value):
                    return int64.OVERFLOWED
                return Scalar(Literal(-e.value, e.dtype), err)
            if e.dtype.kind == Kind.INT:
                err = B.or_(err, int64.negate_overflow(e))
            return Scalar(B.func(Op.NEG, e, dtype=e.dtype), err)
        raise self.fail("unsupported-operator", "operator `~` is not supported", node)

    def expr_BinOp(self, node: ast.BinOp, ctx: Ctx) -> Value:
        a = self.scalar(self.expr(node.left, ctx), node.left)
        b = self.scalar(self.expr(node.right, ctx), node.right)
        if isinstance(node.op, ast.Sub) and a.dtype.kind == Kind.DATETIME and b.dtype.kind == Kind.DATETIME:
            return DeltaVal(later=a, earlier=b)  # a timedelta: only compared (temporal.py)
        return self.binop(node.op, a, b, node)

    def binop(self, op: ast.operator, a: Scalar, b: Scalar, node: ast.AST) -> Scalar:
        err = B.or_(a.err, b.err, self.none_err(a), self.none_err(b))
        if a.dtype.kind == Kind.NONE or b.dtype.kind == Kind.NONE:
            return Scalar(Literal(None, T.NONE), TRUE)  # None + x raises in Python
        if isinstance(op, ast.Add) and a.dtype.kind == Kind.STR and b.dtype.kind == Kind.STR:
            return Scalar(B.func(Op.CONCAT, a.expr, b.expr, dtype=T.STR), err)
        if isinstance(op, ast.Mult) and Kind.STR in (a.dtype.kind, b.dtype.kind):
            return self.repeat(a, b, err, node)
        if isinstance(op, ast.Mod) and a.dtype.kind == Kind.STR:
            raise self.fail(
                "unsupported-operator", "`%` string formatting is not supported", node, "use an f-string or str.format"
            )
        dtype = T.numeric_join(a.dtype, b.dtype)
        if dtype is None:
            raise self.fail(
                "type-error", f"unsupported operand types for {type(op).__name__}: {a.dtype} and {b.dtype}", node
            )
        x, y = self.num(a.expr, dtype), self.num(b.expr, dtype)
        if isinstance(op, (ast.Add, ast.Sub, ast.Mult)):
            name = {ast.Add: Op.ADD, ast.Sub: Op.SUB, ast.Mult: Op.MUL}[type(op)]
            if dtype.kind == Kind.INT:
                return self.int_arith(name, x, y, err)
            if dtype.kind == Kind.DECIMAL:
                return self.decimal_arith({Op.ADD: "+", Op.SUB: "-", Op.MUL: "*"}[name], x, y, err)
            return Scalar(B.func(name, x, y, dtype=dtype), err)
        zero = B.safe(
            B.func(Op.EQ, y, Literal(0, dtype) if dtype.kind != Kind.FLOAT else Literal(0.0, T.FLOAT), dtype=T.BOOL)
        )
        y_safe = B.func(
            Op.NULLIF, y, Literal(0, dtype) if dtype.kind != Kind.FLOAT else Literal(0.0, T.FLOAT), dtype=dtype
        )
        if isinstance(op, ast.Div):
            if dtype.kind == Kind.DECIMAL:
                return self.decimal_arith("/", x, y_safe, B.or_(err, zero))
            return Scalar(B.func(Op.DIV, B.cast(x, T.FLOAT), B.cast(y_safe, T.FLOAT), dtype=T.FLOAT), B.or_(err, zero))
        if isinstance(op, (ast.FloorDiv, ast.Mod)):
            if dtype.kind == Kind.INT:
                return self.int_floor_div_mod(isinstance(op, ast.Mod), x, y, y_safe, B.or_(err, zero))
            floor_div = isinstance(op, ast.FloorDiv)
            if dtype.kind == Kind.DECIMAL:
                # a Decimal's `%` keeps the dividend's sign and its `//` truncates (Python's decimal module,
                # unlike its floats): SQL's MOD of DECIMALs, and the exact integral quotient (x - MOD) / y
                rem = B.func(Op.MOD, x, y_safe, dtype=dtype)
                if not floor_div:
                    return Scalar(rem, B.or_(err, zero))
                # an integer up to the digits Flink's DECIMAL arithmetic rounds away: ROUND makes it exact
                quotient = B.func(Op.DIV, B.func(Op.SUB, x, rem, dtype=dtype), y_safe, dtype=dtype)
                return Scalar(B.func(Op.ROUND, quotient, Literal(0, T.INT), dtype=dtype), B.or_(err, zero))
            return Scalar(
                B.func(Op.PY_FLOAT_DIVMOD, x, y_safe, Literal(floor_div, T.BOOL), dtype=dtype), B.or_(err, zero)
            )
        if isinstance(op, ast.Pow):
            return self.power(x, y, dtype, err, node)
        raise self.fail("unsupported-operator", f"operator `{type(op).__name__}` is not supported", node)

    @staticmethod
    def decimal_arith(op: str, x: Expr, y: Expr, err: Expr) -> Scalar:
        """`+ - * /` of Decimals to Python's 28 digits, carried to 10 after the point (Flink's own operators
        keep 6 for a product or a quotient of two DECIMAL(38, 10)); None past what DECIMAL(38, 10) carries
        (NULL from the function where neither operand is: a zero divisor is flagged by the caller)."""
        result = B.func(Op.PY_DECIMAL, x, y, Literal(op, T.STR), dtype=T.DECIMAL)
        # an operand's NULL (None, an inner operation's overflow) makes the result NULL: its own test is redundant
        implied = {B.is_null(x), B.is_null(y)}
        terms = err.args if isinstance(err, Func) and err.op is Op.OR else (err,)
        return Scalar(result, B.or_(*[t for t in terms if t not in implied], B.is_null(result)))

    def repeat(self, a: Scalar, b: Scalar, err: Expr, node: ast.AST) -> Scalar:
        """`"x" * n` and `n * "x"`: n copies, none for n <= 0."""
        text, n = (a, b) if a.dtype.kind == Kind.STR else (b, a)
        if n.dtype.kind not in (Kind.INT, Kind.BOOL):
            raise self.fail("type-error", f"can't multiply sequence by non-int of type '{n.dtype}'", node)
        # REPEAT takes a 32-bit count; a longer text could not be held anyway
        count = B.func(
            Op.LEAST,
            B.func(Op.GREATEST, self.num(n.expr, T.INT), B.lit(0), dtype=T.INT),
            B.lit(2**31 - 1),
            dtype=T.INT,
        )
        return Scalar(B.func(Op.REPEAT, text.expr, count, dtype=T.STR), err)

    def int_arith(self, op: Op, x: Expr, y: Expr, err: Expr) -> Scalar:
        """`+ - *` of ints: exact, so None where the result leaves 64 bits (int64.py); literals fold here."""
        if isinstance(x, Literal) and isinstance(y, Literal) and x.value is not None and y.value is not None:
            exact = {Op.ADD: operator.add, Op.SUB: operator.sub, Op.MUL: operator.mul}[op](x.value, y.value)
            return Scalar(Literal(exact, T.INT), err) if int64.fits(exact) else int64.OVERFLOWED
        return Scalar(B.func(op, x, y, dtype=T.INT), B.or_(err, int64.arith_overflow(op, x, y)))

    def int_floor_div_mod(self, is_mod: bool, x: Expr, y: Expr, y_safe: Expr, err: Expr) -> Scalar:
        """Python's `//` and `%` of ints: SQL's `/` and MOD truncate toward zero, Python's floor; the
        correction is a CASE, not `MOD(MOD(x, y) + y, y)`, whose `+ y` can leave 64 bits."""
        if isinstance(y, Literal) and y.value:
            y_safe = y  # a divisor known not to be zero needs no NULLIF
        rem = B.func(Op.MOD, x, y_safe, dtype=T.INT)
        zero = Literal(0, T.INT)
        if isinstance(y_safe, Literal) and isinstance(y_safe.value, int):
            # the remainder's sign differs from a known divisor's: one comparison
            floors: Expr = B.func(Op.GT if y_safe.value < 0 else Op.LT, rem, zero, dtype=T.BOOL)
        else:
            signs_differ = B.func(
                Op.NE,
                B.func(Op.LT, rem, zero, dtype=T.BOOL),
                B.func(Op.LT, y_safe, zero, dtype=T.BOOL),
                dtype=T.BOOL,
            )
            floors = B.and_(B.func(Op.NE, rem, zero, dtype=T.BOOL), signs_differ)
        if is_mod:
            return Scalar(B.case(floors, B.func(Op.ADD, rem, y_safe, dtype=T.INT), rem, T.INT), err)
        quotient = B.func(Op.DIV, x, y_safe, dtype=T.INT)
        floor = B.case(floors, B.func(Op.SUB, quotient, Literal(1, T.INT), dtype=T.INT), quotient, T.INT)
        return Scalar(floor, B.or_(err, int64.floor_div_overflow(x, y)))

    def power(self, x: Expr, y: Expr, dtype: T.DType, err: Expr, node: ast.AST) -> Scalar:
        if dtype.kind == Kind.INT:
            if isinstance(x, Literal) and isinstance(x.value, int) and isinstance(y, Literal):
                if isinstance(y.value, int) and y.value >= 0:  # a constant: folded exactly
                    exact = x.value ** min(y.value, 64) if abs(x.value) > 1 else x.value**y.value
                    return Scalar(Literal(exact, T.INT), err) if int64.fits(exact) else int64.OVERFLOWED
            if isinstance(y, Literal) and isinstance(y.value, int) and 0 <= y.value <= 8:
                out: Expr = Literal(1, T.INT)
                for _ in range(y.value):
                    out = x if isinstance(out, Literal) else B.func(Op.MUL, out, x, dtype=T.INT)
                return Scalar(out, B.or_(err, int64.power_overflow(x, y.value)))
            raise self.fail(
                "unsupported-operator",
                "`int ** int` needs a literal exponent from 0 to 8",
                node,
                "Python's result type depends on the exponent's sign; use float(x) ** y",
            )
        if dtype.kind != Kind.FLOAT:
            raise self.fail("unsupported-operator", f"`**` on {dtype} is not supported", node)
        zero = Literal(0.0, T.FLOAT)
        bad = B.or_(
            B.safe(B.and_(B.func(Op.EQ, x, zero, dtype=T.BOOL), B.func(Op.LT, y, zero, dtype=T.BOOL))),
            B.safe(
                B.and_(
                    B.func(Op.LT, x, zero, dtype=T.BOOL),
                    B.func(Op.NE, y, B.func(Op.FLOOR, y, dtype=T.FLOAT), dtype=T.BOOL),
                )
            ),
        )
        return Scalar(B.func(Op.POWER, x, y, dtype=T.FLOAT), B.or_(err, bad))

    def expr_Compare(self, node: ast.Compare, ctx: Ctx) -> Value:
        parts: list[Expr] = []
        err: Expr = FALSE
        left = self.expr(node.left, ctx)
        for op, right_node in zip(node.ops, node.comparators, strict=False):
            if isinstance(op, (ast.In, ast.NotIn)) and isinstance(right_node, (ast.Tuple, ast.List, ast.Set)):
                items = [self.expr(e, ctx) for e in right_node.elts]
                if isinstance(left, Doc) or any(isinstance(i, Doc) for i in items):
                    found = self.doc_membership(left, items, node)
                    c = found if isinstance(op, ast.In) else Scalar(B.not_(found.expr), found.err)
                    parts.append(c.expr)
                    err = B.or_(err, B.and_(*parts[:-1], c.err)) if len(parts) > 1 else c.err
                    if right_node is not node.comparators[-1]:
                        raise self.fail(
                            "unsupported-operator",
                            "a display of documents can only end a comparison chain",
                            right_node,
                            "split the chain with `and`",
                        )
                    continue
            right = self.expr(right_node, ctx)
            c = self.compare(op, left, right, node, ctx)
            parts.append(c.expr)
            # chained comparisons stop at the first false one
            err = B.or_(err, B.and_(*parts[:-1], c.err)) if len(parts) > 1 else c.err
            left = right
        return Scalar(B.and_(*parts), err)

    def compare(self, op: ast.cmpop, a: Value, b: Value, node: ast.AST, ctx: Ctx | None) -> Scalar:
        if isinstance(a, DeltaVal) or isinstance(b, DeltaVal):
            return self.compare_delta(op, a, b, node)
        if isinstance(a, DateVal) or isinstance(b, DateVal):
            return self.compare_dates(op, a, b, node)
        if isinstance(a, Doc) or isinstance(b, Doc):
            if isinstance(op, (ast.Eq, ast.NotEq, ast.Is, ast.IsNot)):
                same = self.doc_equals(a, b, node)
                return same if isinstance(op, (ast.Eq, ast.Is)) else Scalar(B.not_(same.expr), same.err)
        if isinstance(op, (ast.Is, ast.IsNot)):
            if not (isinstance(b, Scalar) and b.dtype.kind == Kind.NONE):
                raise self.fail("unsupported-operator", "`is` is only supported as `is None` / `is not None`", node)
            test: Expr
            if isinstance(a, Doc):
                test, err = B.not_(a.node.exists), a.err
            else:
                a = self.scalar(a, node)
                test, err = B.is_null(a.expr) if a.dtype.nullable else FALSE, a.err
            return Scalar(test if isinstance(op, ast.Is) else B.not_(test), err)
        if isinstance(op, (ast.In, ast.NotIn)):
            found = self.membership(a, b, node)
            return found if isinstance(op, ast.In) else Scalar(B.not_(found.expr), found.err)
        if isinstance(a, Doc) or isinstance(b, Doc):
            raise self.fail(
                "document-value",
                "documents have no order",
                node,
                "compare them with == / != / is / in, or compare one of their fields",
            )
        a, b = self.scalar(a, node), self.scalar(b, node)
        err = B.or_(a.err, b.err)
        ka, kb = a.dtype.kind, b.dtype.kind
        if isinstance(op, (ast.Eq, ast.NotEq)):
            eq = self.equals(a, b, node)
            return Scalar(eq if isinstance(op, ast.Eq) else B.not_(eq), err)
        if ka == "none" or kb == "none":
            return Scalar(FALSE, TRUE)
        comparable = (a.dtype.is_numeric and b.dtype.is_numeric and {ka, kb} != {"decimal", "float"}) or ka == kb
        if not comparable or ka in ("list", "row"):
            raise self.fail("type-error", f"`{type(op).__name__}` between {a.dtype} and {b.dtype}", node)
        name = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}[type(op)]
        x, y = a.expr, b.expr
        err = B.or_(err, self.none_err(a), self.none_err(b))
        if ka == kb == Kind.FLOAT and x == y:
            reflexive = self.not_nan(x) if isinstance(op, (ast.LtE, ast.GtE)) else FALSE
            return Scalar(B.safe(reflexive) if a.dtype.nullable else reflexive, err)
        if {ka, kb} == {Kind.INT, Kind.FLOAT}:
            i, f = (x, y) if ka == Kind.INT else (y, x)
            exact = int64.int_float_compare(COMPARE_OPS[type(op)], i, f, int_left=ka == Kind.INT)
            return Scalar(B.safe(exact) if a.dtype.nullable or b.dtype.nullable else exact, err)
        if a.dtype.is_numeric and ka != kb:
            joined = T.numeric_join(a.dtype, b.dtype)
            assert joined is not None  # both numeric, not decimal with float
            x, y = self.num(x, joined), self.num(y, joined)
        return Scalar(
            B.safe(B.func(name, x, y, dtype=T.BOOL))
            if a.dtype.nullable or b.dtype.nullable
            else B.func(name, x, y, dtype=T.BOOL),
            err,
        )

    def doc_equals(self, a: Value, b: Value, node: ast.AST) -> Scalar:
        """Python's `==` / `is` with a document: one object per live document, so equal when both are the
        same document of the same model, or both None; a document never equals a value."""
        err = B.or_(self.value_err(a), self.value_err(b))
        docs = [v for v in (a, b) if isinstance(v, Doc)]
        others = [v for v in (a, b) if not isinstance(v, Doc)]
        if others:
            other = self.scalar(others[0], node)
            if other.dtype.kind == Kind.NONE:
                return Scalar(B.not_(docs[0].node.exists), err)
            # a document is never a str, int, ...; only where both are None are they equal
            missing = B.and_(B.not_(docs[0].node.exists), B.is_null(other.expr) if other.dtype.nullable else FALSE)
            return Scalar(missing, err)
        x, y = docs
        if x.node.model.name != y.node.model.name:
            return Scalar(B.and_(B.not_(x.node.exists), B.not_(y.node.exists)), err)
        # a missing document's doc_id column is NULL: IS NOT DISTINCT FROM is Python's `None == None`
        same = B.func(Op.NOT_DISTINCT, x.node.column("doc_id"), y.node.column("doc_id"), dtype=T.BOOL)
        return Scalar(same, err)

    def equals(self, a: Scalar, b: Scalar, node: ast.AST) -> Expr:
        """Python `==`: None equals only None; values of unrelated types are unequal."""
        ka, kb = a.dtype.kind, b.dtype.kind
        if ka == "none" and kb == "none":
            return TRUE
        if ka == "none" or kb == "none":
            other = b if ka == "none" else a
            return B.is_null(other.expr) if other.dtype.nullable else FALSE
        x, y = a.expr, b.expr
        if ka == kb == Kind.FLOAT and x == y:
            return B.or_(B.is_null(x), B.safe(self.not_nan(x))) if a.dtype.nullable else self.not_nan(x)
        if {ka, kb} == {Kind.INT, Kind.FLOAT}:
            i, f = (x, y) if ka == Kind.INT else (y, x)
            exact = int64.int_float_compare(Op.EQ, i, f, int_left=True)
            if a.dtype.nullable or b.dtype.nullable:
                return B.or_(B.and_(B.is_null(x), B.is_null(y)), B.safe(exact))
            return exact
        if a.dtype.is_numeric and b.dtype.is_numeric:
            joined = T.numeric_join(a.dtype, b.dtype)
            if joined is None:
                raise self.fail("type-error", f"`==` between {a.dtype} and {b.dtype}", node)
            x, y = self.num(x, joined), self.num(y, joined)
        elif ka != kb:
            return FALSE
        if ka in ("list", "row"):
            raise self.fail("type-error", "comparing lists or dicts with `==` is not supported", node)
        if a.dtype.nullable or b.dtype.nullable:
            return B.func(Op.NOT_DISTINCT, x, y, dtype=T.BOOL)
        return B.func(Op.EQ, x, y, dtype=T.BOOL)

    def doc_membership(self, a: Value, items: list[Value], node: ast.AST) -> Scalar:
        """`doc in (d1, d2, None)`: the display is built first (each item may raise), then compared."""
        tests = [self.doc_equals(a, item, node) for item in items]
        err = B.or_(self.value_err(a), *[self.value_err(i) for i in items])
        return Scalar(B.or_(*[t.expr for t in tests]) if tests else FALSE, err)

    @staticmethod
    def not_nan(x: Expr) -> Expr:
        """`x == x` of a float: False for NaN alone. Not SQL's `x = x`, which the planner simplifies to TRUE
        (`x IS NOT NULL`) whatever x is, nor `x <= +inf`, whose negation it turns into `x > +inf`: the
        text, which the planner does not reason about (only for a float compared with itself)."""
        return B.func(Op.NE, B.cast(x, T.STR), B.lit("NaN"), dtype=T.BOOL)

    def membership(self, a: Value, b: Value, node: ast.AST) -> Scalar:
        if isinstance(b, TupleVal):
            a = self.scalar(a, node)
            tests = [self.equals(a, item, node) for item in b.items]
            return Scalar(
                B.or_(*[B.safe(t) for t in tests]) if tests else FALSE, B.or_(a.err, *[i.err for i in b.items])
            )
        if isinstance(b, Scalar) and b.dtype.kind == Kind.STR:
            a = self.scalar(a, node)
            if a.dtype.kind != Kind.STR:
                raise self.fail("type-error", f"`in <str>` needs a str on the left, not {a.dtype}", node)
            pos = B.func(Op.POSITION, a.expr, b.expr, dtype=T.INT)
            return Scalar(
                B.safe(B.func(Op.GT, pos, B.lit(0), dtype=T.BOOL)),
                B.or_(a.err, b.err, self.none_err(a), self.none_err(b)),
            )
        if isinstance(b, Scalar) and b.dtype.kind == Kind.LIST:
            a = self.scalar(a, node)
            assert b.dtype.elem is not None  # a list type has one
            if T.unify(a.dtype.null(False), b.dtype.elem) is None:
                raise self.fail("type-error", f"`in` of {a.dtype} in {b.dtype}", node)
            contains = B.func(Op.ARRAY_CONTAINS, b.expr, a.expr, dtype=T.BOOL)
            return Scalar(B.safe(contains), B.or_(a.err, b.err, self.none_err(b)))
        if self.is_list(b) or isinstance(b, ManyVal):
            a = self.scalar(a, node)
            coll = self.as_list(b, node)
            return self.aggregate_any(
                coll, lambda elem: self.equals(a, self.scalar(elem, node), node), node, extra_err=a.err
            )
        raise self.fail("unsupported-operator", "`in` needs a literal tuple/list/set, a string or a collection", node)
