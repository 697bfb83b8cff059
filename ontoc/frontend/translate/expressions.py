"""Expression dispatch and the expressions that are not operators, builtins or collections.

`expr` dispatches an `ast` node to `expr_<NodeType>` (whichever mixin defines it):
names, attributes (self, the store, document fields), constants, conditional
expressions, f-strings, tuple/list/set/dict displays, subscripts and slices of
strings, and the routing of calls to builtins, string methods, aggregates and
static methods.
"""

from __future__ import annotations

import ast

from ontoc.ir.expr import Op
from ontoc.ir.types import Kind

from ...ir import build as B
from ...ir import types as T
from ...ir.expr import FALSE, TRUE, Expr, FieldAccess, Literal
from ..schema import MethodDef, dotted
from ..values import (
    Coll,
    CondList,
    DictVal,
    Doc,
    EmptyList,
    LambdaVal,
    Scalar,
    SelfRef,
    StoreRef,
    TupleVal,
    UtcVal,
    Value,
)
from .builtins import STR_METHODS
from .collections import AGG_BUILTINS, list_leaves
from .context import Branch, Ctx, Ret, TranslationState
from .temporal import DATETIME_PARTS, UTC_NAMES


class ExpressionsMixin(TranslationState):
    def scalar(self, value: Value, node: ast.AST | None) -> Scalar:
        if isinstance(value, Scalar):
            return value
        if isinstance(value, Doc):
            raise self.fail(
                "document-value",
                "a whole document cannot be used as a value here",
                node,
                "read one of its fields, e.g. `.doc_id`",
            )
        raise self.fail(
            "not-a-scalar",
            "a single value is needed here, not a collection",
            node,
            "aggregate the collection with len/sum/min/max/any/all",
        )

    def expr(self, node: ast.expr, ctx: Ctx) -> Value:
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            raise self.fail("unsupported-expression", f"`{type(node).__name__}` expressions are not supported", node)
        return method(node, ctx)

    def expr_Constant(self, node: ast.Constant, ctx: Ctx) -> Value:
        v = node.value
        if type(v) is int and not -(2**63) <= v < 2**63:
            raise self.fail(
                "int-literal-range",
                f"integer literal {v} does not fit a signed 64-bit integer",
                node,
                'view fields and SQL hold 64-bit integers; use a float or a Decimal("...") literal',
            )
        if v is None or isinstance(v, (bool, int, str)):
            return Scalar(B.lit(v))
        if isinstance(v, float):
            return Scalar(Literal(v, T.FLOAT))
        raise self.fail("unsupported-literal", f"literal {v!r} is not supported", node)

    def expr_Name(self, node: ast.Name, ctx: Ctx) -> Value:
        if node.id in ctx.hidden:
            raise self.correlated(node)
        if node.id in ctx.env:
            return ctx.env[node.id]
        if node.id == "self":
            return SelfRef()
        if node.id in ("True", "False", "None"):
            return Scalar(B.lit({"True": True, "False": False, "None": None}[node.id]))
        if self.qualified_name(node) in UTC_NAMES:  # `from datetime import UTC`
            return UtcVal()
        raise self.fail(
            "unknown-name",
            f"name `{node.id}` is not defined here",
            node,
            "getters may use self, locals, parameters of lambdas and comprehensions",
        )

    @staticmethod
    def shadowed(node: ast.Attribute, ctx: Ctx) -> bool:
        """Whether the first name of `a.b.c` is a local, not the module `qualified_name` resolves it to."""
        root: ast.expr = node
        while isinstance(root, ast.Attribute):
            root = root.value
        return isinstance(root, ast.Name) and root.id in ctx.env

    def expr_Attribute(self, node: ast.Attribute, ctx: Ctx) -> Value:
        if isinstance(node.value, ast.Name) and node.value.id == self.view.name:
            return self.method_ref(node.attr, node)
        if self.qualified_name(node) in UTC_NAMES and not self.shadowed(node, ctx):
            return UtcVal()
        base = self.expr(node.value, ctx)
        attr = node.attr
        if isinstance(base, SelfRef):
            if attr == "store":
                return StoreRef()
            if attr in self.view.methods:
                method = self.view.methods[attr]
                if method.kind in ("getter", "where"):
                    return self.read_getter(attr)
                if method.kind == "property":
                    return self.property_value(method, node)
                return self.method_ref(attr, node)
            raise self.fail("unknown-attribute", f"`{self.view.name}` has no getter or property `{attr}`", node)
        if isinstance(base, StoreRef):
            entries = self.view.store.entries
            if attr not in entries or (base.visible is not None and attr not in base.visible):
                raise self.fail(
                    "unknown-entry",
                    f"store `{self.view.store.name}` has no entry `{attr}` here",
                    node,
                    "a key lambda sees only the entries declared above it",
                )
            return self.store_entry(attr, node)
        if isinstance(base, Doc):
            return self.doc_attribute(base, attr, node, ctx)
        if isinstance(base, Scalar) and base.dtype.kind == Kind.NONE:
            return Scalar(Literal(None, T.NONE), TRUE)
        if isinstance(base, Scalar) and base.dtype.kind == Kind.DATETIME and attr in DATETIME_PARTS:
            return self.datetime_part(base, attr, node)
        raise self.fail("unsupported-attribute", f"attribute `.{attr}` is not supported here", node)

    def doc_attribute(self, doc: Doc, attr: str, node: ast.AST, ctx: Ctx) -> Value:
        model = doc.node.model
        err = B.or_(doc.err, B.not_(doc.node.exists))
        if attr == "doc_id":
            return Scalar(doc.node.column("doc_id"), err)
        f = model.fields.get(attr)
        if f is None:
            raise self.fail(
                "unknown-field",
                f"`{model.name}` has no field `{attr}`",
                node,
                "fields: " + ", ".join(["doc_id"] + list(model.fields)),
            )
        if f.ref:
            child = ctx.scope_of(doc.node).navigate(doc.node, attr, self.schema.models[f.ref])
            return Doc(child, err)
        return Scalar(doc.node.column(attr), err)

    def property_value(self, method: MethodDef, node: ast.AST) -> Value:
        if method.name in self.stack:
            raise self.cycle(self.stack[self.stack.index(method.name) :])
        with self.entered(method.name):
            value, err = self.method_result(method, self.ctx(method))
        return self.with_err(value, err)

    def with_err(self, value: Value, err: Expr) -> Value:
        if B.is_false(err):
            return value
        if isinstance(value, Scalar):
            return Scalar(value.expr, B.or_(err, value.err))
        if isinstance(value, Doc):
            return Doc(value.node, B.or_(err, value.err))
        if isinstance(value, Coll):
            return value.but(none_err=B.or_(value.none_err, err))
        if isinstance(value, (EmptyList, CondList)):
            return CondList(TRUE, value, value, err)
        return value

    def method_ref(self, name: str, node: ast.AST) -> Value:
        method = self.view.methods.get(name)
        if method is None or method.kind not in ("staticmethod", "classmethod"):
            raise self.fail("unknown-attribute", f"`{self.view.name}.{name}` is not a static or class method", node)
        return LambdaVal(method.node, {"__method__": method})

    def expr_IfExp(self, node: ast.IfExp, ctx: Ctx) -> Value:
        cond = self.truth(node.test, ctx)
        tree = Branch(cond, Ret(self.expr(node.body, ctx), FALSE), Ret(self.expr(node.orelse, ctx), FALSE))
        value, err = self.merge(tree, node)
        return self.with_err(value, err)

    def expr_JoinedStr(self, node: ast.JoinedStr, ctx: Ctx) -> Value:
        parts: list[Scalar] = []
        for piece in node.values:
            if isinstance(piece, ast.Constant):
                assert isinstance(piece.value, str)  # an f-string's literal text
                parts.append(Scalar(B.lit(piece.value)))
            else:
                assert isinstance(piece, ast.FormattedValue)  # the only other part of an f-string
                if piece.format_spec is not None or piece.conversion not in (-1, ord("s")):
                    raise self.fail(
                        "unsupported-format",
                        "format specs and !r/!a in f-strings are not supported",
                        piece,
                        "format the value with str(), round() or int() first",
                    )
                parts.append(self.to_str(self.scalar(self.expr(piece.value, ctx), piece.value), piece.value))
        return self.concat(parts)

    def expr_Tuple(self, node: ast.Tuple | ast.List | ast.Set, ctx: Ctx) -> Value:
        return TupleVal(tuple(self.scalar(self.expr(e, ctx), e) for e in node.elts))

    def expr_List(self, node: ast.List, ctx: Ctx) -> Value:
        if not node.elts:
            return EmptyList()
        return self.expr_Tuple(node, ctx)

    def expr_Set(self, node: ast.Set, ctx: Ctx) -> Value:
        return self.expr_Tuple(node, ctx)

    def expr_Dict(self, node: ast.Dict, ctx: Ctx) -> Value:
        items = []
        for k, v in zip(node.keys, node.values, strict=False):
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                raise self.fail("unsupported-dict", "dict keys must be string literals", k or node)
            value = self.expr(v, ctx)
            if isinstance(value, Doc):
                raise self.fail(
                    "document-value",
                    "a document cannot be a dict value",
                    v,
                    "put one of its fields, e.g. `.doc_id`, in the dict",
                )
            items.append((k.value, self.scalar(value, v)))
        if len({k for k, _ in items}) != len(items):
            raise self.fail("unsupported-dict", "duplicate dict key", node)
        return DictVal(tuple(items))

    def expr_Subscript(self, node: ast.Subscript, ctx: Ctx) -> Value:
        base = self.expr(node.value, ctx)
        if isinstance(base, DictVal):
            key = node.slice
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise self.fail("unsupported-subscript", "dicts are read with a string literal key", key)
            item = base.get(key.value)
            if item is None:
                raise self.fail(
                    "unknown-key",
                    f"the dict has no key {key.value!r}",
                    key,
                    "keys: " + ", ".join(k for k, _ in base.items),
                )
            return item
        if self.is_list(base) or (isinstance(base, Scalar) and base.dtype.kind == Kind.LIST):
            return self.list_subscript(base, node, ctx)
        value = self.scalar(base, node.value)
        if value.dtype.kind != Kind.STR:
            raise self.fail("unsupported-subscript", f"subscripts of {value.dtype} are not supported", node)
        if isinstance(node.slice, ast.Slice):
            return self.slice(value, node.slice, ctx)
        return self.index(value, self.scalar(self.expr(node.slice, ctx), node.slice), node)

    def slice(self, s: Scalar, sl: ast.Slice, ctx: Ctx) -> Scalar:
        if sl.step is not None:
            raise self.fail("unsupported-subscript", "slices with a step are not supported", sl.step)
        length = B.func(Op.CHAR_LENGTH, s.expr, dtype=T.INT)
        err = B.or_(s.err, self.none_err(s))
        bounds: list[Expr] = []
        for bound, default in ((sl.lower, B.lit(0)), (sl.upper, length)):
            if bound is None:
                bounds.append(default)
                continue
            b = self.scalar(self.expr(bound, ctx), bound)
            if b.dtype.kind not in ("int", "bool"):
                raise self.fail("type-error", "slice bounds must be ints", bound)
            err = B.or_(err, b.err, self.none_err(b))
            bounds.append(self.clamp(b.expr, length))
        start, stop = bounds
        count = B.func(Op.GREATEST, B.func(Op.SUB, stop, start, dtype=T.INT), B.lit(0), dtype=T.INT)
        return Scalar(
            B.func(Op.SUBSTRING, s.expr, B.func(Op.ADD, start, B.lit(1), dtype=T.INT), count, dtype=T.STR), err
        )

    def list_subscript(self, base: Value, node: ast.Subscript, ctx: Ctx) -> Value:
        """`xs[i]` and `xs[a:b]` of a sorted list (or a list field): its ARRAY with Python's indexes.

        A list built over a `many` collection without `sorted` has no order (spec section 4: a
        multiset), so which element an index picks is not defined: refused.
        """
        if isinstance(base, Scalar):
            arr, err = base.expr, B.or_(base.err, self.none_err(base))
        else:
            assert self.is_list(base)  # the caller checked
            leaves = list_leaves(base)
            if any(leaf.sort_keys is None for leaf in leaves):
                raise self.fail(
                    "unordered-index",
                    "a list built over a store collection has no order, so its elements have no index",
                    node,
                    "sort it first: sorted(..., key=...)[0], or aggregate it with min()/max()",
                )
            arr, err, _, _ = self.materialize(base, node, None)
        assert arr.dtype.elem is not None
        # a list's length is its COUNT column, not the CARDINALITY of its sorted ARRAY (sorted once only)
        length = B.func(Op.CARDINALITY, arr, dtype=T.INT) if isinstance(base, Scalar) else self.count(base).expr
        if isinstance(node.slice, ast.Slice):
            if node.slice.step is not None:
                raise self.fail("unsupported-subscript", "slices with a step are not supported", node.slice.step)
            bounds: list[Expr] = []
            for bound, default in ((node.slice.lower, B.lit(0)), (node.slice.upper, length)):
                if bound is None:
                    bounds.append(default)
                    continue
                b = self.scalar(self.expr(bound, ctx), bound)
                if b.dtype.kind not in (Kind.INT, Kind.BOOL):
                    raise self.fail("type-error", "slice indices must be integers or None", bound)
                err = B.or_(err, b.err, self.none_err(b))
                bounds.append(self.clamp(self.num(b.expr, T.INT), length))
            start, stop = bounds
            # ARRAY_SLICE's offsets are 1-based and inclusive; an empty slice is the empty array
            first = (
                B.lit(start.value + 1)
                if isinstance(start, Literal) and isinstance(start.value, int)
                else B.func(Op.ADD, start, B.lit(1), dtype=T.INT)
            )
            part = B.func(Op.ARRAY_SLICE, arr, first, stop, dtype=arr.dtype)
            nonempty = B.func(Op.GT, stop, start, dtype=T.BOOL)
            return Scalar(B.case(nonempty, part, B.func(Op.EMPTY_ARRAY, dtype=arr.dtype), arr.dtype), err)
        i = self.scalar(self.expr(node.slice, ctx), node.slice)
        if i.dtype.kind not in (Kind.INT, Kind.BOOL):
            raise self.fail("type-error", f"list indices must be integers, not {i.dtype}", node.slice)
        index = self.num(i.expr, T.INT)
        pos: Expr
        if isinstance(index, Literal) and isinstance(index.value, int):
            pos = index if index.value >= 0 else B.func(Op.ADD, length, index, dtype=T.INT)
        else:
            pos = B.case(
                B.func(Op.LT, index, B.lit(0), dtype=T.BOOL), B.func(Op.ADD, length, index, dtype=T.INT), index, T.INT
            )
        out_of_range = B.safe(
            B.or_(B.func(Op.LT, pos, B.lit(0), dtype=T.BOOL), B.func(Op.GE, pos, length, dtype=T.BOOL))
        )
        err = B.or_(err, i.err, self.none_err(i), out_of_range)
        elem_type = arr.dtype.elem
        one_based = (
            B.lit(pos.value + 1)
            if isinstance(pos, Literal) and isinstance(pos.value, int)
            else B.func(Op.ADD, pos, B.lit(1), dtype=T.INT)
        )
        item = B.func(Op.ELEMENT_AT, arr, one_based, dtype=elem_type)
        if elem_type.kind == Kind.ROW:
            return DictVal(tuple((name, Scalar(FieldAccess(item, name, t), err)) for name, t in elem_type.fields))
        return Scalar(item, err)

    @staticmethod
    def clamp(i: Expr, length: Expr) -> Expr:
        """A slice bound as Python normalises it: negatives count from the end, clamped to [0, len]."""
        if isinstance(i, Literal) and isinstance(i.value, int) and i.value >= 0:
            return B.func(Op.LEAST, i, length, dtype=T.INT)
        neg = B.func(Op.GREATEST, B.func(Op.ADD, length, i, dtype=T.INT), B.lit(0), dtype=T.INT)
        if isinstance(i, Literal):
            return neg
        return B.case(B.func(Op.LT, i, B.lit(0), dtype=T.BOOL), neg, B.func(Op.LEAST, i, length, dtype=T.INT), T.INT)

    def index(self, s: Scalar, i: Scalar, node: ast.AST) -> Scalar:
        if i.dtype.kind not in ("int", "bool"):
            raise self.fail("type-error", "string indices must be ints", node)
        length = B.func(Op.CHAR_LENGTH, s.expr, dtype=T.INT)
        pos = B.case(
            B.func(Op.LT, i.expr, B.lit(0), dtype=T.BOOL), B.func(Op.ADD, length, i.expr, dtype=T.INT), i.expr, T.INT
        )
        out_of_range = B.safe(
            B.or_(B.func(Op.LT, pos, B.lit(0), dtype=T.BOOL), B.func(Op.GE, pos, length, dtype=T.BOOL))
        )
        err = B.or_(s.err, i.err, self.none_err(s), self.none_err(i), out_of_range)
        return Scalar(
            B.func(Op.SUBSTRING, s.expr, B.func(Op.ADD, pos, B.lit(1), dtype=T.INT), B.lit(1), dtype=T.STR), err
        )

    def expr_Call(self, node: ast.Call, ctx: Ctx) -> Value:
        qualified = self.qualified_name(node.func)
        literal = self.library_literal(qualified, node, ctx) if qualified else None
        if literal is not None:
            return literal
        if isinstance(node.func, ast.Attribute):
            target = (
                self.expr(node.func.value, ctx)
                if not (isinstance(node.func.value, ast.Name) and node.func.value.id == self.view.name)
                else SelfRef()
            )
            if isinstance(target, SelfRef):
                return self.call_method(node.func.attr, node, ctx)
            if isinstance(target, Scalar) and target.dtype.kind == Kind.DATETIME and node.func.attr == "date":
                if node.args or node.keywords:
                    raise self.fail("bad-call", "`.date()` takes no arguments", node)
                return self.date_of(target)
            if isinstance(target, Scalar) and target.dtype.kind == Kind.STR and node.func.attr in STR_METHODS:
                return self.str_method(target, node.func.attr, node, ctx)
            raise self.fail(
                "unknown-function",
                f"method `.{node.func.attr}()` is not supported here",
                node,
                "supported string methods: " + ", ".join(STR_METHODS),
            )
        name = dotted(node.func)
        if name in AGG_BUILTINS:
            return self.call_aggregate_builtin(name, node, ctx)
        if name == "bool" and len(node.args) == 1 and not node.keywords:
            return self.truth(node.args[0], ctx)  # also of a collection: whether it has elements
        if name in ("abs", "round", "min", "max", "int", "float", "str", "bool"):
            if any(k.arg != "default" for k in node.keywords) or node.keywords and name not in ("min", "max"):
                raise self.fail("unsupported-call", f"keyword arguments of `{name}()` are not supported", node)
            args = [self.scalar(self.expr(a, ctx), a) for a in node.args]
            return self.call_builtin(name, args, node)
        if isinstance(node.func, ast.Lambda):
            raise self.fail("unsupported-call", "calling a lambda is not supported", node)
        raise self.fail(
            "unknown-function",
            f"call of unknown function `{name or '...'}`",
            node,
            "only builtins abs round min max int float str bool len sum any all sorted, string "
            "methods, and static methods of the view can be called",
        )
