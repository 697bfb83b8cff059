"""The translator of one view: the concern mixins composed, and the getters.

`ViewTranslator` inherits every concern (each a mixin over
`context.TranslationState`); what is left here is the view level: translating
each getter once (cached, with cycle detection), what other getters see of it,
its output type, and the store's entries.
"""

from __future__ import annotations

import ast

from ontoc.ir.types import Kind

from ...errors import OntocError, error
from ...ir import build as B
from ...ir import types as T
from ...ir.expr import FALSE, TRUE, Expr, Literal
from ..schema import MethodDef, dotted, parse_annotation
from ..values import (
    Coll,
    CondList,
    DictVal,
    Doc,
    EmptyList,
    LambdaVal,
    ListLike,
    ManyVal,
    Scalar,
    StoreRef,
    TupleVal,
    Value,
)
from .builtins import BuiltinsMixin
from .collections import CollectionsMixin
from .context import Ctx, GetterOutput
from .expressions import ExpressionsMixin
from .operators import OperatorsMixin
from .statements import StatementsMixin
from .temporal import TemporalMixin
from .udfs import UdfsMixin


class ViewTranslator(
    StatementsMixin,
    ExpressionsMixin,
    OperatorsMixin,
    BuiltinsMixin,
    CollectionsMixin,
    UdfsMixin,
    TemporalMixin,
):
    """Translates one view's getters (and its `where`) into IR over the view's join graph."""

    def translate(self) -> tuple[list[GetterOutput], Expr | None]:
        """Every getter's output and the view's filter; all problems of the view are raised together."""
        outputs = []
        for name in self.view.getters:
            try:
                outputs.append(self.output(name))
            except OntocError as exc:
                # a getter that reads a failing one fails the same way: report each problem once
                self.diagnostics.extend(d for d in exc.diagnostics if d not in self.diagnostics)
        where = None
        if self.view.where:
            try:
                value, err = self.getter_value(self.view.where)
                cond = self.truthy(value, self.ctx(self.view.methods[self.view.where]), None)
                where = B.and_(B.not_(B.or_(err, cond.err)), cond.expr)
            except OntocError as exc:
                self.diagnostics.extend(exc.diagnostics)
        if self.diagnostics:
            raise OntocError(self.diagnostics)
        return outputs, where

    def store_entry(self, name: str, node: ast.AST) -> Value:
        if name in self.entries:
            return self.entries[name]
        entry = self.view.store.entries[name]
        value: Value
        if entry.kind == "many":
            value = ManyVal(entry)
        else:
            assert entry.key is not None and entry.key_param is not None  # a `one` entry (the root is in entries)
            store_src = self.view.store.src
            ctx = Ctx(
                self.scope,
                {
                    entry.key_param: StoreRef(
                        tuple(self.view.store.entries)[: list(self.view.store.entries).index(name)]
                    )
                },
                MethodDef(name, "key", entry.node),  # type: ignore[arg-type]  # names the entry: its node is never read
            )
            with self.reading(store_src):
                key = self.scalar(self.expr(entry.key, ctx), entry.key)
            if key.dtype.kind != Kind.STR:
                raise error(
                    "bad-key",
                    f"key of `{name}` must be a str (a doc_id), not {key.dtype}",
                    store_src.span(entry.key),
                    "e.g. key=lambda s: s.meeting.organizer_id",
                )
            key_expr = B.null_if(key.err, key.expr)
            value = Doc(self.scope.lookup(name, self.schema.models[entry.model], key_expr))
        self.entries[name] = value
        return value

    def method_result(self, method: MethodDef, ctx: Ctx) -> tuple[Value, Expr]:
        body = method.node.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body = body[1:]
        tree = self.run(body, ctx, FALSE)
        return self.merge(tree, method.node)

    def getter_value(self, name: str) -> tuple[Value, Expr]:
        """The getter's value and the condition under which it raised."""
        if name in self.results:
            return self.results[name]
        if name in self.stack:
            raise self.cycle(self.stack[self.stack.index(name) :])
        with self.entered(name):
            method = self.view.methods[name]
            if method.node.args.args[1:] or method.node.args.vararg or method.node.args.kwonlyargs:
                raise self.fail(
                    "getter-arguments",
                    f"getter `{name}` takes arguments besides self",
                    method.node,
                    "getters and properties take only `self`",
                )
            result = self.method_result(method, self.ctx(method))
        self.results[name] = result
        return result

    def cycle(self, members: list[str]) -> OntocError:
        """One diagnostic per cycle, however it was entered: it starts at the first declared member."""
        order = list(self.view.methods)
        start = min(range(len(members)), key=lambda i: order.index(members[i]))
        members = members[start:] + members[:start]
        path = " -> ".join(members + [members[0]])
        return self.fail(
            "getter-cycle",
            f"getters read each other in a cycle: {path}",
            self.view.methods[members[0]].node,
            "a getter may read other getters only if no getter ends up reading itself",
        )

    def read_getter(self, name: str) -> Value:
        """`self.<getter>` seen from another getter: None where it raised."""
        if name not in self.clean:
            value, err = self.getter_value(name)
            self.clean[name] = self.cleaned(value, err, self.view.methods[name].node)
        return self.clean[name]

    def cleaned(self, value: Value, err: Expr, node: ast.AST) -> Value:
        if isinstance(value, Scalar):
            return (
                Scalar(B.null_if(B.or_(err, value.err), value.expr), FALSE)
                if not B.is_false(B.or_(err, value.err))
                else value
            )
        if isinstance(value, (Coll, EmptyList, CondList)):
            total = B.or_(err, self.list_error(value))
            return self.strip_errors(value, total)
        if isinstance(value, Doc):
            return value
        raise self.fail("unsupported-value", "this getter's value cannot be read by other getters", node)

    def strip_errors(self, value: ListLike, none_err: Expr) -> ListLike:
        if isinstance(value, Coll):
            return value.but(elem_err=FALSE, none_err=none_err)
        if isinstance(value, CondList):
            return CondList(
                value.cond, self.strip_errors(value.then, FALSE), self.strip_errors(value.otherwise, FALSE), none_err
            )
        return value if B.is_false(none_err) else CondList(TRUE, value, value, none_err)

    def output(self, name: str) -> GetterOutput:
        method = self.view.methods[name]
        value, err = self.getter_value(name)
        node = method.node
        declared = None
        if node.returns is not None:
            declared = self.declared_type(node.returns)
        if isinstance(value, (Coll, EmptyList, CondList)):
            expr, list_err, keys, reverse = self.materialize(value, node, declared)
            return GetterOutput(name, B.null_if(B.or_(err, list_err), expr), expr.dtype.null(), keys, reverse)
        if isinstance(value, Scalar):
            expr = value.expr
            if isinstance(declared, T.DType):
                if declared.kind == Kind.FLOAT and expr.dtype.kind in ("int", "bool"):
                    expr = B.cast(expr, T.FLOAT.null(expr.dtype.nullable))
                elif expr.dtype.kind != Kind.NONE and declared.kind != expr.dtype.kind:
                    raise self.fail(
                        "return-type",
                        f"getter `{name}` is declared `-> {declared}` but returns {expr.dtype}",
                        node.returns,
                        "fix the annotation or the expression",
                    )
                if expr.dtype.kind == Kind.NONE:
                    expr = Literal(None, declared.null())
            elif expr.dtype.kind == Kind.NONE:
                raise self.fail(
                    "return-type",
                    f"getter `{name}` always returns None; annotate its type",
                    node,
                    "add a return annotation such as `-> str | None`",
                )
            return GetterOutput(name, B.null_if(B.or_(err, value.err), expr), expr.dtype.null())
        raise self.fail(
            "unsupported-value",
            f"getter `{name}` returns a {python_type_name(value)}, which has no SQL type",
            node,
            "return a scalar, or a list of scalars or dicts built over a store collection",
        )

    def declared_type(self, ann: ast.expr) -> T.DType | str | None:
        if isinstance(ann, ast.Subscript) and dotted(ann.value) == "list":
            return "list"
        if dotted(ann) in ("list", "dict"):
            return "list" if dotted(ann) == "list" else None
        dtype, ref = parse_annotation(ann, set())
        if dtype is None or ref:
            raise self.fail(
                "unsupported-annotation",
                "unsupported return annotation",
                ann,
                "use str, int, float, bool, datetime, Decimal, list[...], optionally `| None`",
            )
        return dtype


def python_type_name(value: Value) -> str:
    """The Python type a translator value stands for, as an error message names it."""
    names = {TupleVal: "tuple", DictVal: "dict", LambdaVal: "function", ManyVal: "store collection"}
    return names.get(type(value), type(value).__name__.lower())
