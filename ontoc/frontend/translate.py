"""Translate getter bodies (Python `ast`) into IR expressions over a join graph.

The translator evaluates a getter symbolically: statements become a tree of
branches ending in returns, expressions become `values.*` objects carrying a
SQL expression and the condition under which Python would raise. Python's
semantics for each operation live in one method here, so SQL's differences
(NULL logic, `//` and `%` on negatives, truthiness, division by zero) are
handled in one place.
"""

from __future__ import annotations

import ast
import string
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from ..errors import Diagnostic, OntocError, error
from ..ir import build as B
from ..ir import types as T
from ..ir.expr import FALSE, TRUE, AggCall, Expr, FieldAccess, Literal, UdfCall
from ..ir.plan import UdfParam, UdfSpec
from .schema import MethodDef, Schema, ViewDef, dotted, parse_annotation
from .scope import DocNode, QueryScope
from .udf_code import udf_code_fingerprint
from .values import (
    Coll,
    CondList,
    DictVal,
    Doc,
    EmptyList,
    LambdaVal,
    ListLike,
    ManyVal,
    Scalar,
    SelfRef,
    StoreRef,
    TupleVal,
    Value,
)

SUPPORTED_HINT = (
    "a getter compiles to one SQL expression: use paths, arithmetic, comparisons, "
    "if/else with return, and aggregates over store collections (spec section 3)"
)
WHITESPACE = (
    "[\\s\\x{1c}-\\x{1f}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}]"
)
STR_METHODS = ("upper", "lower", "strip", "lstrip", "rstrip", "startswith", "endswith", "replace", "format")
AGG_BUILTINS = ("len", "sum", "min", "max", "any", "all", "sorted")


@dataclass
class Ret:
    value: Value
    err: Expr  # statements before the return that raised


@dataclass
class Branch:
    cond: Scalar  # truthiness, never NULL, with its error
    then: Ret | Branch
    otherwise: Ret | Branch


@dataclass
class Ctx:
    scope: QueryScope
    env: dict[str, Value]
    method: MethodDef
    element: bool = False  # inside a comprehension over a `many` collection

    def bind(self, **values: Value) -> Ctx:
        return replace(self, env={**self.env, **values})


@dataclass
class GetterOutput:
    name: str
    value: Expr  # NULL where Python raised
    dtype: T.DType
    sort_keys: tuple[str, ...] | None = None  # dict fields (or "" for scalars) a list is sorted by
    reverse: bool = False


STATIC_METHOD_MODES = ("inline", "udf")


class ViewTranslator:
    def __init__(self, schema: Schema, view: ViewDef, static_methods: str = "inline"):
        if static_methods not in STATIC_METHOD_MODES:
            raise ValueError(f"static_methods must be one of {STATIC_METHOD_MODES}")
        self.static_methods = static_methods
        self.udfs: dict[str, UdfSpec] = {}
        self.udf_code: dict[str, str] = {}  # method name -> fingerprint of the code it runs
        self.warnings: list[Diagnostic] = []
        self.schema = schema
        self.view = view
        self.src = view.src
        store = view.store
        self.root_model = schema.models[store.root.model]
        self.scope = QueryScope(DocNode(store.root.name, self.root_model))
        self.entries: dict[str, Value] = {store.root.name: Doc(self.scope.root)}
        self.clean: dict[str, Value] = {}  # getter -> value as other getters see it
        self.results: dict[str, tuple[Value, Expr]] = {}
        self.stack: list[str] = []
        self.diagnostics = []

    # ----- entry points -------------------------------------------------

    def translate(self) -> tuple[list[GetterOutput], Expr | None]:
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

    def ctx(self, method: MethodDef) -> Ctx:
        return Ctx(self.scope, {}, method)

    def fail(self, code: str, msg: str, node: ast.AST, hint: str | None = SUPPORTED_HINT) -> OntocError:
        return error(code, msg, self.src.span(node), hint)

    def store_entry(self, name: str, node: ast.AST) -> Value:
        if name in self.entries:
            return self.entries[name]
        entry = self.view.store.entries[name]
        if entry.kind == "many":
            value = ManyVal(entry)
        else:
            store_src = self.view.store.src
            ctx = Ctx(
                self.scope,
                {
                    entry.key_param: StoreRef(
                        tuple(self.view.store.entries)[: list(self.view.store.entries).index(name)]
                    )
                },
                MethodDef(name, "key", entry.node),
            )
            saved, self.src = self.src, store_src
            try:
                key = self.scalar(self.expr(entry.key, ctx), entry.key)
            finally:
                self.src = saved
            if key.dtype.kind != "str":
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

    # ----- getters ----------------------------------------------------------

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
        self.stack.append(name)
        try:
            method = self.view.methods[name]
            if method.node.args.args[1:] or method.node.args.vararg or method.node.args.kwonlyargs:
                raise self.fail(
                    "getter-arguments",
                    f"getter `{name}` takes arguments besides self",
                    method.node,
                    "getters and properties take only `self`",
                )
            result = self.method_result(method, self.ctx(method))
        finally:
            self.stack.pop()
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
            if declared is not None and declared != "list":
                if declared.kind == "float" and expr.dtype.kind in ("int", "bool"):
                    expr = B.cast(expr, T.FLOAT.null(expr.dtype.nullable))
                elif expr.dtype.kind != "none" and declared.kind != expr.dtype.kind:
                    raise self.fail(
                        "return-type",
                        f"getter `{name}` is declared `-> {declared}` but returns {expr.dtype}",
                        node.returns,
                        "fix the annotation or the expression",
                    )
                if expr.dtype.kind == "none":
                    expr = Literal(None, declared.null())
            elif expr.dtype.kind == "none":
                raise self.fail(
                    "return-type",
                    f"getter `{name}` always returns None; annotate its type",
                    node,
                    "add a return annotation such as `-> str | None`",
                )
            return GetterOutput(name, B.null_if(B.or_(err, value.err), expr), expr.dtype.null())
        raise self.fail(
            "unsupported-value",
            f"getter `{name}` returns a {type(value).__name__.lower()}, which has no SQL type",
            node,
            "return a scalar, or a list of scalars or dicts built over a store collection",
        )

    def declared_type(self, ann: ast.expr):
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

    # ----- statements -------------------------------------------------------

    def run(self, stmts: list[ast.stmt], ctx: Ctx, err: Expr) -> Ret | Branch:
        for i, stmt in enumerate(stmts):
            rest = stmts[i + 1 :]
            if isinstance(stmt, ast.Return):
                value = self.expr(stmt.value, ctx) if stmt.value is not None else Scalar(Literal(None, T.NONE))
                return Ret(value, err)
            if isinstance(stmt, ast.If):
                cond = self.truthy(self.expr(stmt.test, ctx), ctx, stmt.test)
                err_before = B.or_(err, cond.err)
                return Branch(
                    Scalar(cond.expr, err_before),
                    self.run(stmt.body + rest, ctx, err_before),
                    self.run(stmt.orelse + rest, ctx, err_before),
                )
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                value = self.expr(stmt.value, ctx)
                err = B.or_(err, self.value_err(value))
                ctx = ctx.bind(**{stmt.targets[0].id: value})
                continue
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                value = self.expr(stmt.value, ctx)
                err = B.or_(err, self.value_err(value))
                ctx = ctx.bind(**{stmt.target.id: value})
                continue
            if isinstance(stmt, ast.For):
                ctx, loop_err = self.accumulation_loop(stmt, ctx)
                err = B.or_(err, loop_err)
                continue
            if isinstance(stmt, ast.Pass):
                continue
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue
            raise self.unsupported_statement(stmt)
        return Ret(Scalar(Literal(None, T.NONE)), err)

    def unsupported_statement(self, stmt: ast.stmt) -> OntocError:
        names = {
            ast.While: ("`while` loop", "unsupported-statement"),
            ast.Try: ("`try`", "unsupported-statement"),
            ast.Import: ("import", "unsupported-statement"),
            ast.ImportFrom: ("import", "unsupported-statement"),
            ast.With: ("`with`", "unsupported-statement"),
            ast.Raise: ("`raise`", "unsupported-statement"),
            ast.AugAssign: ("augmented assignment outside an accumulation loop", "mutation"),
            ast.Delete: ("`del`", "mutation"),
            ast.Global: ("`global`", "unsupported-statement"),
            ast.Nonlocal: ("`nonlocal`", "unsupported-statement"),
            ast.FunctionDef: ("nested function", "unsupported-statement"),
            ast.ClassDef: ("nested class", "unsupported-statement"),
        }
        what, code = names.get(type(stmt), (f"`{type(stmt).__name__}` statement", "unsupported-statement"))
        if isinstance(stmt, ast.Assign):
            what, code = "assignment to something other than a local name", "mutation"
        if isinstance(stmt, ast.Expr):
            what, code = "expression statement (a call for its side effect)", "mutation"
        hint = SUPPORTED_HINT
        if isinstance(stmt, ast.While):
            hint = (
                "a getter compiles to one SQL expression; fold a collection with an aggregate such as "
                "`sum(t.x for t in self.store.tickets)` or a `for` accumulation loop"
            )
        return self.fail(code, f"{what} in `{self.current_name()}` is not supported", stmt, hint)

    def current_name(self) -> str:
        return self.stack[-1] if self.stack else self.view.name

    def merge(self, tree: Ret | Branch, node: ast.AST) -> tuple[Value, Expr]:
        """Fold a branch tree into one value and the error of reaching it."""
        if isinstance(tree, Ret):
            return tree.value, tree.err
        then, then_err = self.merge(tree.then, node)
        other, other_err = self.merge(tree.otherwise, node)
        c = tree.cond.expr
        err = B.or_(tree.cond.err, B.and_(c, then_err), B.and_(B.not_(c), other_err))
        if self.is_list(then) and self.is_list(other):
            return CondList(c, then, other), err
        if isinstance(then, Scalar) and isinstance(other, Scalar):
            dtype = T.unify(then.dtype, other.dtype)
            if dtype is None:
                raise self.fail(
                    "type-mismatch",
                    f"branches return {then.dtype} and {other.dtype}",
                    node,
                    "every return of a getter must give the same type (or None)",
                )
            value = B.case(c, B.cast(then.expr, dtype), B.cast(other.expr, dtype), dtype)
            err = B.or_(err, B.and_(c, then.err), B.and_(B.not_(c), other.err))
            return Scalar(value, FALSE), err
        if (
            self.is_list(then)
            and isinstance(other, Scalar)
            and other.dtype.kind == "none"
            or self.is_list(other)
            and isinstance(then, Scalar)
            and then.dtype.kind == "none"
        ):
            raise self.fail(
                "type-mismatch",
                "a getter returns a list on one path and None on another",
                node,
                "return [] instead of None",
            )
        raise self.fail("type-mismatch", "the branches of this getter return values of different kinds", node)

    @staticmethod
    def is_list(value: Value) -> bool:
        return isinstance(value, (Coll, EmptyList, CondList))

    def value_err(self, value: Value) -> Expr:
        if isinstance(value, (Scalar, Doc)):
            return value.err
        if self.is_list(value):
            return self.list_error(value)
        return FALSE

    # ----- accumulation loops ------------------------------------------------

    def accumulation_loop(self, loop: ast.For, ctx: Ctx) -> tuple[Ctx, Expr]:
        """`for x in coll: [if c:] acc += e / acc.append(e) / acc = max(acc, e)` as aggregates."""
        if loop.orelse or not isinstance(loop.target, ast.Name):
            raise self.fail("unsupported-loop", "only `for <name> in <collection>:` loops are supported", loop)
        updates: list[tuple[str, str, ast.expr, list[ast.expr]]] = []  # (var, kind, expr, conditions)

        def scan(stmts: list[ast.stmt], conds: list[ast.expr]) -> None:
            for stmt in stmts:
                if isinstance(stmt, ast.If) and not stmt.orelse:
                    scan(stmt.body, conds + [stmt.test])
                elif isinstance(stmt, ast.If):
                    scan(stmt.body, conds + [stmt.test])
                    scan(stmt.orelse, conds + [ast.copy_location(ast.UnaryOp(ast.Not(), stmt.test), stmt.test)])
                elif (
                    isinstance(stmt, ast.AugAssign)
                    and isinstance(stmt.target, ast.Name)
                    and isinstance(stmt.op, (ast.Add, ast.Sub))
                ):
                    updates.append(
                        (stmt.target.id, "sum" if isinstance(stmt.op, ast.Add) else "sub", stmt.value, conds)
                    )
                elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                    var, value = stmt.targets[0].id, stmt.value
                    if (
                        isinstance(value, ast.BinOp)
                        and isinstance(value.op, ast.Add)
                        and isinstance(value.left, ast.Name)
                        and value.left.id == var
                    ):
                        updates.append((var, "sum", value.right, conds))
                    elif (
                        isinstance(value, ast.Call)
                        and dotted(value.func) in ("max", "min")
                        and len(value.args) == 2
                        and not value.keywords
                        and isinstance(value.args[0], ast.Name)
                        and value.args[0].id == var
                    ):
                        updates.append((var, dotted(value.func), value.args[1], conds))
                    else:
                        raise self.fail(
                            "unsupported-loop",
                            f"loop body assigns `{var}` in a way that is not an accumulation",
                            stmt,
                            "accumulate with `x += e`, `x = x + e`, `x = max(x, e)`, `x = min(x, e)` or `xs.append(e)`",
                        )
                elif (
                    isinstance(stmt, ast.Expr)
                    and isinstance(stmt.value, ast.Call)
                    and isinstance(stmt.value.func, ast.Attribute)
                    and stmt.value.func.attr == "append"
                    and isinstance(stmt.value.func.value, ast.Name)
                    and len(stmt.value.args) == 1
                ):
                    updates.append((stmt.value.func.value.id, "append", stmt.value.args[0], conds))
                elif isinstance(stmt, ast.Pass):
                    continue
                else:
                    raise self.fail(
                        "unsupported-loop",
                        "a `for` loop body may only fold into local variables",
                        stmt,
                        "accumulate with `x += e`, `x = x + e`, `x = max(x, e)`, "
                        "`x = min(x, e)` or `xs.append(e)`, possibly under `if`",
                    )

        scan(loop.body, [])
        if not updates:
            raise self.fail("unsupported-loop", "this loop folds into no variable", loop)
        err = FALSE
        source = self.expr(loop.iter, ctx)
        for var, kind, value_node, conds in updates:
            if var not in ctx.env:
                raise self.fail(
                    "unsupported-loop",
                    f"`{var}` must be set just before the loop",
                    loop,
                    f"e.g. `{var} = 0` or `{var} = []` before `for`",
                )
            coll = self.comprehend(source, loop.target.id, conds, value_node, ctx, loop)
            before = ctx.env[var]
            if kind == "append":
                if not isinstance(before, EmptyList):
                    raise self.fail("unsupported-loop", f"`{var}` must start as `[]` to be appended to", loop)
                after: Value = coll
            else:
                before = self.scalar(before, loop)
                if kind in ("sum", "sub"):
                    total = self.aggregate_call("sum", coll, None, loop)
                    after = self.binop(ast.Add() if kind == "sum" else ast.Sub(), before, total, loop)
                else:
                    # max(acc, max(xs, default=acc)): the accumulator itself when nothing is folded
                    best = self.fold(
                        coll, lambda c, kind=kind, before=before: self.fold_leaf(kind, c, before, loop), loop
                    )
                    after = self.call_builtin(kind, [before, best], loop)
            err = B.or_(err, self.value_err(after))
            ctx = ctx.bind(**{var: after})
        return ctx, err

    # ----- expressions ------------------------------------------------------

    def scalar(self, value: Value, node: ast.AST) -> Scalar:
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
        if v is None or isinstance(v, (bool, int, str)):
            return Scalar(B.lit(v))
        if isinstance(v, float):
            return Scalar(Literal(v, T.FLOAT))
        raise self.fail("unsupported-literal", f"literal {v!r} is not supported", node)

    def expr_Name(self, node: ast.Name, ctx: Ctx) -> Value:
        if node.id in ctx.env:
            return ctx.env[node.id]
        if node.id == "self":
            return SelfRef()
        if node.id in ("True", "False", "None"):
            return Scalar(B.lit({"True": True, "False": False, "None": None}[node.id]))
        raise self.fail(
            "unknown-name",
            f"name `{node.id}` is not defined here",
            node,
            "getters may use self, locals, parameters of lambdas and comprehensions",
        )

    def expr_Attribute(self, node: ast.Attribute, ctx: Ctx) -> Value:
        if isinstance(node.value, ast.Name) and node.value.id == self.view.name:
            return self.method_ref(node.attr, node)
        base = self.expr(node.value, ctx)
        attr = node.attr
        if isinstance(base, SelfRef):
            if attr == "store":
                if ctx.element:
                    raise self.correlated(node)
                return StoreRef()
            if attr in self.view.methods:
                method = self.view.methods[attr]
                if ctx.element and method.kind in ("getter", "property", "where"):
                    raise self.correlated(node)
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
        if isinstance(base, Scalar) and base.dtype.kind == "none":
            return Scalar(Literal(None, T.NONE), TRUE)
        raise self.fail("unsupported-attribute", f"attribute `.{attr}` is not supported here", node)

    def correlated(self, node: ast.AST) -> OntocError:
        return self.fail(
            "correlated-collection",
            "inside a comprehension over a store collection only the element (and static methods) can be used",
            node,
            "compute the other value in a separate getter and combine the results there",
        )

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
            child = ctx.scope.navigate(doc.node, attr, self.schema.models[f.ref])
            return Doc(child, err)
        return Scalar(doc.node.column(attr), err)

    def property_value(self, method: MethodDef, node: ast.AST) -> Value:
        if method.name in self.stack:
            raise self.cycle(self.stack[self.stack.index(method.name) :])
        self.stack.append(method.name)
        try:
            value, err = self.method_result(method, self.ctx(method))
        finally:
            self.stack.pop()
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

    def expr_BoolOp(self, node: ast.BoolOp, ctx: Ctx) -> Value:
        result = self.expr(node.values[0], ctx)
        for operand in node.values[1:]:
            result = self.bool_op(isinstance(node.op, ast.And), result, self.expr(operand, ctx), ctx, node)
        return result

    def bool_op(self, is_and: bool, a: Value, b: Value, ctx: Ctx, node: ast.AST) -> Value:
        """`a and b` is b where a is truthy, else a; `a or b` the other way round."""
        ta = self.truthy(a, ctx, node)
        pick_b = ta.expr if is_and else B.not_(ta.expr)
        err = B.or_(ta.err, B.and_(pick_b, self.value_err(b)))
        if isinstance(a, Doc) or (isinstance(a, Scalar) and a.dtype.kind == "none"):
            # a falsy document or None is None: the result is b's type, NULL where a is picked
            b = self.scalar(b, node)
            return Scalar(B.case(pick_b, b.expr, Literal(None, b.dtype.null()), b.dtype.null()), err)
        a, b = self.scalar(a, node), self.scalar(b, node)
        if b.dtype.kind == "none":
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

    def truthy(self, value: Value, ctx: Ctx, node: ast.AST | None) -> Scalar:
        """Python's truth value as a never-NULL SQL boolean."""
        if isinstance(value, Doc):
            return Scalar(value.node.exists, value.err)
        if self.is_list(value) or isinstance(value, ManyVal):
            n = self.count(self.as_list(value, node))
            return Scalar(B.func("gt", n.expr, B.lit(0), dtype=T.BOOL), n.err)
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
            t = B.func("ne", e, B.lit(""), dtype=T.BOOL)  # not CHAR_LENGTH(e) > 0: Flink would count characters
        elif kind == "list":
            t = B.func("gt", B.func("cardinality", e, dtype=T.INT), B.lit(0), dtype=T.BOOL)
        elif kind == "datetime":
            t = TRUE
        else:
            raise self.fail("unsupported-truthiness", f"truth value of {v.dtype} is not supported", node)
        return Scalar(B.safe(t) if v.dtype.nullable else t, v.err)

    def expr_UnaryOp(self, node: ast.UnaryOp, ctx: Ctx) -> Value:
        operand = self.expr(node.operand, ctx)
        if isinstance(node.op, ast.Not):
            t = self.truthy(operand, ctx, node.operand)
            return Scalar(B.not_(t.expr), t.err)
        v = self.scalar(operand, node)
        if not v.dtype.is_numeric or v.dtype.kind == "none":
            raise self.fail("type-error", f"unary operator on {v.dtype}", node)
        err = B.or_(v.err, B.is_null(v.expr) if v.dtype.nullable else FALSE)
        e = B.cast(v.expr, T.INT) if v.dtype.kind == "bool" else v.expr
        if isinstance(node.op, ast.UAdd):
            return Scalar(e, err)
        if isinstance(node.op, ast.USub):
            if isinstance(e, Literal):
                return Scalar(Literal(-e.value, e.dtype), err)
            return Scalar(B.func("neg", e, dtype=e.dtype), err)
        raise self.fail("unsupported-operator", "operator `~` is not supported", node)

    def expr_BinOp(self, node: ast.BinOp, ctx: Ctx) -> Value:
        a = self.scalar(self.expr(node.left, ctx), node.left)
        b = self.scalar(self.expr(node.right, ctx), node.right)
        return self.binop(node.op, a, b, node)

    def binop(self, op: ast.operator, a: Scalar, b: Scalar, node: ast.AST) -> Scalar:
        err = B.or_(a.err, b.err, self.none_err(a), self.none_err(b))
        if a.dtype.kind == "none" or b.dtype.kind == "none":
            return Scalar(Literal(None, T.NONE), TRUE)  # None + x raises in Python
        if isinstance(op, ast.Add) and a.dtype.kind == "str" and b.dtype.kind == "str":
            return Scalar(B.func("concat", a.expr, b.expr, dtype=T.STR), err)
        if isinstance(op, ast.Mod) and a.dtype.kind == "str":
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
            name = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul"}[type(op)]
            return Scalar(B.func(name, x, y, dtype=dtype), err)
        zero = B.safe(
            B.func("eq", y, Literal(0, dtype) if dtype.kind != "float" else Literal(0.0, T.FLOAT), dtype=T.BOOL)
        )
        y_safe = B.func("nullif", y, Literal(0, dtype) if dtype.kind != "float" else Literal(0.0, T.FLOAT), dtype=dtype)
        if isinstance(op, ast.Div):
            out = T.DECIMAL if dtype.kind == "decimal" else T.FLOAT
            return Scalar(B.func("div", B.cast(x, out), B.cast(y_safe, out), dtype=out), B.or_(err, zero))
        if isinstance(op, (ast.FloorDiv, ast.Mod)):
            if dtype.kind == "int":
                # Python's modulo takes the sign of the divisor; SQL's MOD that of the dividend
                mod = B.func(
                    "mod",
                    B.func("add", B.func("mod", x, y_safe, dtype=dtype), y_safe, dtype=dtype),
                    y_safe,
                    dtype=dtype,
                )
                if isinstance(op, ast.Mod):
                    return Scalar(mod, B.or_(err, zero))
                return Scalar(B.func("div", B.func("sub", x, mod, dtype=dtype), y_safe, dtype=dtype), B.or_(err, zero))
            floor = B.func("floor", B.func("div", x, y_safe, dtype=dtype), dtype=dtype)
            if isinstance(op, ast.FloorDiv):
                return Scalar(floor, B.or_(err, zero))
            return Scalar(B.func("sub", x, B.func("mul", y_safe, floor, dtype=dtype), dtype=dtype), B.or_(err, zero))
        if isinstance(op, ast.Pow):
            return self.power(x, y, dtype, err, node)
        raise self.fail("unsupported-operator", f"operator `{type(op).__name__}` is not supported", node)

    def power(self, x: Expr, y: Expr, dtype: T.DType, err: Expr, node: ast.AST) -> Scalar:
        if dtype.kind == "int":
            if isinstance(y, Literal) and isinstance(y.value, int) and 0 <= y.value <= 8:
                out: Expr = Literal(1, T.INT)
                for _ in range(y.value):
                    out = x if isinstance(out, Literal) else B.func("mul", out, x, dtype=T.INT)
                return Scalar(out, err)
            raise self.fail(
                "unsupported-operator",
                "`int ** int` needs a literal exponent from 0 to 8",
                node,
                "Python's result type depends on the exponent's sign; use float(x) ** y",
            )
        if dtype.kind != "float":
            raise self.fail("unsupported-operator", f"`**` on {dtype} is not supported", node)
        zero = Literal(0.0, T.FLOAT)
        bad = B.or_(
            B.safe(B.and_(B.func("eq", x, zero, dtype=T.BOOL), B.func("lt", y, zero, dtype=T.BOOL))),
            B.safe(
                B.and_(
                    B.func("lt", x, zero, dtype=T.BOOL),
                    B.func("ne", y, B.func("floor", y, dtype=T.FLOAT), dtype=T.BOOL),
                )
            ),
        )
        return Scalar(B.func("power", x, y, dtype=T.FLOAT), B.or_(err, bad))

    @staticmethod
    def num(e: Expr, dtype: T.DType) -> Expr:
        return B.cast(e, dtype) if e.dtype.kind != dtype.kind else e

    @staticmethod
    def none_err(v: Scalar) -> Expr:
        """Python raises TypeError when None meets an arithmetic operator."""
        return B.is_null(v.expr) if v.dtype.nullable and v.dtype.kind != "none" else FALSE

    def expr_Compare(self, node: ast.Compare, ctx: Ctx) -> Value:
        parts, err = [], FALSE
        left = self.expr(node.left, ctx)
        for op, right_node in zip(node.ops, node.comparators, strict=False):
            right = self.expr(right_node, ctx)
            c = self.compare(op, left, right, node, ctx)
            parts.append(c.expr)
            # chained comparisons stop at the first false one
            err = B.or_(err, B.and_(*parts[:-1], c.err)) if len(parts) > 1 else c.err
            left = right
        return Scalar(B.and_(*parts), err)

    def compare(self, op: ast.cmpop, a: Value, b: Value, node: ast.AST, ctx: Ctx) -> Scalar:
        if isinstance(op, (ast.Is, ast.IsNot)):
            if not (isinstance(b, Scalar) and b.dtype.kind == "none"):
                raise self.fail("unsupported-operator", "`is` is only supported as `is None` / `is not None`", node)
            if isinstance(a, Doc):
                test, err = B.not_(a.node.exists), a.err
            else:
                a = self.scalar(a, node)
                test, err = B.is_null(a.expr) if a.dtype.nullable else FALSE, a.err
            return Scalar(test if isinstance(op, ast.Is) else B.not_(test), err)
        if isinstance(op, (ast.In, ast.NotIn)):
            test = self.membership(a, b, node)
            return test if isinstance(op, ast.In) else Scalar(B.not_(test.expr), test.err)
        if isinstance(a, Doc) or isinstance(b, Doc):
            raise self.fail("document-value", "documents cannot be compared; compare their `.doc_id`", node)
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
        if a.dtype.is_numeric and ka != kb:
            joined = T.numeric_join(a.dtype, b.dtype)
            x, y = self.num(x, joined), self.num(y, joined)
        err = B.or_(err, self.none_err(a), self.none_err(b))
        return Scalar(
            B.safe(B.func(name, x, y, dtype=T.BOOL))
            if a.dtype.nullable or b.dtype.nullable
            else B.func(name, x, y, dtype=T.BOOL),
            err,
        )

    def equals(self, a: Scalar, b: Scalar, node: ast.AST) -> Expr:
        """Python `==`: None equals only None; values of unrelated types are unequal."""
        ka, kb = a.dtype.kind, b.dtype.kind
        if ka == "none" and kb == "none":
            return TRUE
        if ka == "none" or kb == "none":
            other = b if ka == "none" else a
            return B.is_null(other.expr) if other.dtype.nullable else FALSE
        x, y = a.expr, b.expr
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
            return B.func("not_distinct", x, y, dtype=T.BOOL)
        return B.func("eq", x, y, dtype=T.BOOL)

    def membership(self, a: Value, b: Value, node: ast.AST) -> Scalar:
        if isinstance(b, TupleVal):
            a = self.scalar(a, node)
            tests = [self.equals(a, item, node) for item in b.items]
            return Scalar(
                B.or_(*[B.safe(t) for t in tests]) if tests else FALSE, B.or_(a.err, *[i.err for i in b.items])
            )
        if isinstance(b, Scalar) and b.dtype.kind == "str":
            a = self.scalar(a, node)
            if a.dtype.kind != "str":
                raise self.fail("type-error", f"`in <str>` needs a str on the left, not {a.dtype}", node)
            pos = B.func("position", a.expr, b.expr, dtype=T.INT)
            return Scalar(
                B.safe(B.func("gt", pos, B.lit(0), dtype=T.BOOL)),
                B.or_(a.err, b.err, self.none_err(a), self.none_err(b)),
            )
        if isinstance(b, Scalar) and b.dtype.kind == "list":
            a = self.scalar(a, node)
            if T.unify(a.dtype.null(False), b.dtype.elem) is None:
                raise self.fail("type-error", f"`in` of {a.dtype} in {b.dtype}", node)
            contains = B.func("array_contains", b.expr, a.expr, dtype=T.BOOL)
            return Scalar(B.safe(contains), B.or_(a.err, b.err, self.none_err(b)))
        if self.is_list(b) or isinstance(b, ManyVal):
            a = self.scalar(a, node)
            coll = self.as_list(b, node)
            return self.aggregate_any(
                coll, lambda elem: self.equals(a, self.scalar(elem, node), node), node, extra_err=a.err
            )
        raise self.fail("unsupported-operator", "`in` needs a literal tuple/list/set, a string or a collection", node)

    def expr_IfExp(self, node: ast.IfExp, ctx: Ctx) -> Value:
        cond = self.truthy(self.expr(node.test, ctx), ctx, node.test)
        tree = Branch(cond, Ret(self.expr(node.body, ctx), FALSE), Ret(self.expr(node.orelse, ctx), FALSE))
        value, err = self.merge(tree, node)
        return self.with_err(value, err)

    def expr_JoinedStr(self, node: ast.JoinedStr, ctx: Ctx) -> Value:
        parts: list[Scalar] = []
        for piece in node.values:
            if isinstance(piece, ast.Constant):
                parts.append(Scalar(B.lit(piece.value)))
            else:
                if piece.format_spec is not None or piece.conversion not in (-1, ord("s")):
                    raise self.fail(
                        "unsupported-format",
                        "format specs and !r/!a in f-strings are not supported",
                        piece,
                        "format the value with str(), round() or int() first",
                    )
                parts.append(self.to_str(self.scalar(self.expr(piece.value, ctx), piece.value), piece.value))
        return self.concat(parts)

    def concat(self, parts: list[Scalar]) -> Scalar:
        parts = [p for p in parts if not (isinstance(p.expr, Literal) and p.expr.value == "")]
        if not parts:
            return Scalar(B.lit(""))
        if len(parts) == 1:
            return parts[0]
        return Scalar(B.func("concat", *[p.expr for p in parts], dtype=T.STR), B.or_(*[p.err for p in parts]))

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
            e = B.func("py_str", v.expr, dtype=T.STR)
        elif kind == "datetime":  # documents hold datetimes in UTC: '2024-01-01 00:00:00+00:00'
            e = B.func("py_str", v.expr, dtype=T.STR)
        else:
            raise self.fail(
                "unsupported-format",
                f"formatting a {v.dtype} as text is not supported",
                node,
                "SQL cannot know the digits Python would print for a Decimal (Flink keeps a fixed "
                "scale, not the exponent it was written with); format an int, float, datetime or str",
            )
        if v.dtype.nullable:
            e = B.func("coalesce", e, B.lit("None"), dtype=T.STR)
        return Scalar(e, v.err)

    def expr_Tuple(self, node: ast.Tuple, ctx: Ctx) -> Value:
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
        value = self.scalar(base, node.value)
        if value.dtype.kind != "str":
            raise self.fail("unsupported-subscript", f"subscripts of {value.dtype} are not supported", node)
        if isinstance(node.slice, ast.Slice):
            return self.slice(value, node.slice, ctx)
        return self.index(value, self.scalar(self.expr(node.slice, ctx), node.slice), node)

    def slice(self, s: Scalar, sl: ast.Slice, ctx: Ctx) -> Scalar:
        if sl.step is not None:
            raise self.fail("unsupported-subscript", "slices with a step are not supported", sl.step)
        length = B.func("char_length", s.expr, dtype=T.INT)
        err = B.or_(s.err, self.none_err(s))
        bounds = []
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
        count = B.func("greatest", B.func("sub", stop, start, dtype=T.INT), B.lit(0), dtype=T.INT)
        return Scalar(B.func("substring", s.expr, B.func("add", start, B.lit(1), dtype=T.INT), count, dtype=T.STR), err)

    @staticmethod
    def clamp(i: Expr, length: Expr) -> Expr:
        """A slice bound as Python normalises it: negatives count from the end, clamped to [0, len]."""
        if isinstance(i, Literal) and i.value >= 0:
            return B.func("least", i, length, dtype=T.INT)
        neg = B.func("greatest", B.func("add", length, i, dtype=T.INT), B.lit(0), dtype=T.INT)
        if isinstance(i, Literal):
            return neg
        return B.case(B.func("lt", i, B.lit(0), dtype=T.BOOL), neg, B.func("least", i, length, dtype=T.INT), T.INT)

    def index(self, s: Scalar, i: Scalar, node: ast.AST) -> Scalar:
        if i.dtype.kind not in ("int", "bool"):
            raise self.fail("type-error", "string indices must be ints", node)
        length = B.func("char_length", s.expr, dtype=T.INT)
        pos = B.case(
            B.func("lt", i.expr, B.lit(0), dtype=T.BOOL), B.func("add", length, i.expr, dtype=T.INT), i.expr, T.INT
        )
        out_of_range = B.safe(B.or_(B.func("lt", pos, B.lit(0), dtype=T.BOOL), B.func("ge", pos, length, dtype=T.BOOL)))
        err = B.or_(s.err, i.err, self.none_err(s), self.none_err(i), out_of_range)
        return Scalar(
            B.func("substring", s.expr, B.func("add", pos, B.lit(1), dtype=T.INT), B.lit(1), dtype=T.STR), err
        )

    # ----- calls ---------------------------------------------------------------

    def expr_Call(self, node: ast.Call, ctx: Ctx) -> Value:
        if isinstance(node.func, ast.Attribute):
            target = (
                self.expr(node.func.value, ctx)
                if not (isinstance(node.func.value, ast.Name) and node.func.value.id == self.view.name)
                else SelfRef()
            )
            if isinstance(target, SelfRef):
                return self.call_method(node.func.attr, node, ctx)
            if isinstance(target, Scalar) and target.dtype.kind == "str" and node.func.attr in STR_METHODS:
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

    def call_method(self, name: str, node: ast.Call, ctx: Ctx) -> Value:
        method = self.view.methods.get(name)
        if method is None:
            raise self.fail("unknown-function", f"`{self.view.name}` has no method `{name}`", node)
        if method.kind == "classmethod":
            return self.aggregate_udf(method, node, ctx)
        if method.kind != "staticmethod":
            raise self.fail(
                "unsupported-call",
                f"`{name}` is a {method.kind}, not a static method; read getters and properties without calling them",
                node,
            )
        if node.keywords:
            raise self.fail("unsupported-call", "keyword arguments to static methods are not supported", node)
        params = [a.arg for a in method.node.args.args]
        if len(params) != len(node.args) or method.node.args.vararg or method.node.args.defaults:
            raise self.fail("bad-call", f"`{name}` takes {len(params)} positional arguments", node)
        args = {p: self.expr(a, ctx) for p, a in zip(params, node.args, strict=False)}
        if name in self.stack:
            raise self.fail("getter-cycle", f"static method `{name}` calls itself", node, "recursion is not supported")
        self.stack.append(name)
        try:
            value, err = self.method_result(method, replace(ctx, env=args, method=method))
            # Python evaluates every argument before the call: one that raises makes the call raise,
            # whether or not the body reads it
            inlined = self.with_err(value, B.or_(*(self.value_err(v) for v in args.values()), err))
        except OntocError as exc:
            if any(d.code == "unsupported-udf" for d in exc.diagnostics):
                raise
            inlined = None  # not translatable: it runs as a Python UDF
        finally:
            self.stack.pop()
        if inlined is not None and self.static_methods == "inline":
            return inlined
        if inlined is not None:
            self.warnings.append(
                Diagnostic(
                    "udf-could-be-native",
                    f"`{name}` runs as a Python UDF although its body translates to SQL",
                    self.src.span(node),
                    "compile with --static-methods inline (the default) to run it as native SQL",
                    severity="warning",
                )
            )
        inferred = inlined.dtype if isinstance(inlined, Scalar) and inlined.dtype.kind != "none" else None
        return self.scalar_udf(method, args, node, ctx, inferred)

    def udf_result_type(self, method: MethodDef, inferred: T.DType | None, node: ast.AST) -> T.DType:
        if method.node.returns is not None:
            dtype, ref = parse_annotation(method.node.returns, set())
            if dtype is not None and not ref:
                return dtype.null()
            raise self.fail(
                "unsupported-annotation",
                f"the return annotation of `{method.name}` has no SQL type",
                method.node.returns,
                "use str, int, float, bool, datetime, Decimal or list[T], optionally `| None`",
            )
        if inferred is not None:
            return inferred.null()
        raise self.fail(
            "missing-annotation",
            f"`{method.name}` runs as a Python function and its result type cannot be inferred",
            node,
            f"annotate it: `def {method.name}(...) -> str:`",
        )

    def code_fingerprint(self, method: MethodDef) -> str:
        """What a UDF of `method` runs (udf_code.py), once per method however many calls."""
        known = self.udf_code.get(method.name)
        if known is None:
            known = self.udf_code[method.name] = udf_code_fingerprint(method, self.view, self.view.src)
        return known

    def register_udf(self, spec: UdfSpec, node: ast.AST) -> None:
        known = self.udfs.get(spec.function)
        if known is not None and known != spec:
            raise self.fail(
                "udf-signature",
                f"`{spec.method}` is called with different argument types",
                node,
                "call it with the same kinds of arguments everywhere",
            )
        self.udfs[spec.function] = spec

    def udf_name(self, method: MethodDef) -> str:
        return f"ontoc__{self.view.name.lower()}__{method.name.lower()}"

    def scalar_udf(
        self, method: MethodDef, args: dict[str, Value], node: ast.Call, ctx: Ctx, inferred: T.DType | None
    ) -> Scalar:
        """A static method run by Flink as a Python UDF, with whole documents passed as ROWs."""
        result = self.udf_result_type(method, inferred, node)
        params, exprs, errs = [], [], []
        for param, value in args.items():
            if isinstance(value, Scalar):
                params.append(UdfParam(param, "scalar", value.dtype.null()))
                exprs.append(value.expr)
                errs.append(value.err)
            elif isinstance(value, Doc):
                row = self.doc_row(value.node, read_paths(method.node, param), ctx)
                params.append(UdfParam(param, "doc", row.dtype))
                exprs.append(row)
                errs.append(value.err)
            elif isinstance(value, DictVal):
                row = B.func(
                    "row",
                    *[v.expr for _, v in value.items],
                    dtype=T.row_of(tuple((k, v.dtype) for k, v in value.items)),
                )
                params.append(UdfParam(param, "dict", row.dtype))
                exprs.append(row)
                errs.extend(v.err for _, v in value.items)
            else:
                raise self.fail(
                    "unsupported-udf",
                    f"argument `{param}` of `{method.name}` is a collection",
                    node,
                    "pass scalars, documents or dicts to static methods",
                )
        spec = UdfSpec(
            self.udf_name(method),
            "scalar",
            self.view.name,
            method.name,
            self.module_name(),
            tuple(params),
            result,
            self.code_fingerprint(method),
        )
        self.register_udf(spec, node)
        call = UdfCall(spec.function, tuple(exprs), T.row_of((("ok", T.BOOL), ("value", result))))
        failed = B.not_(B.safe(FieldAccess(call, "ok", T.BOOL)))
        return Scalar(FieldAccess(call, "value", result), B.or_(*errs, failed))

    def doc_row(self, node: DocNode, paths: dict, ctx: Ctx) -> Expr:
        """The fields of a document a Python function reads, as a ROW (NULL when the document is missing)."""
        values, fields = [node.column("doc_id")], [("doc_id", T.STR)]
        for name in sorted(paths):
            if name == "doc_id":
                continue
            f = node.model.fields.get(name)
            if f is None:
                raise error("unknown-field", f"`{node.model.name}` has no field `{name}`", None)
            if f.ref:
                child = ctx.scope.navigate(node, name, self.schema.models[f.ref])
                value = self.doc_row(child, paths[name] or {}, ctx)
            else:
                value = node.column(name)
            values.append(value)
            fields.append((name, value.dtype))
        row_type = T.row_of(tuple(fields), nullable=True)
        row = B.func("row", *values, dtype=row_type)
        return B.case(B.not_(node.exists), Literal(None, row_type), row, row_type)

    def module_name(self) -> str:
        path = Path(self.src.absolute)
        parts = [path.stem] if path.stem != "__init__" else []
        folder = path.parent
        while (folder / "__init__.py").exists():
            parts.insert(0, folder.name)
            folder = folder.parent
        return ".".join(parts)

    def aggregate_udf(self, method: MethodDef, node: ast.Call, ctx: Ctx) -> Scalar:
        """A class method over a generator of a `many` collection, run as a Python aggregate function."""
        if len(node.args) != 1 or node.keywords or len(method.node.args.args) != 2:
            raise self.fail(
                "bad-call",
                f"`{method.name}` must take one iterable, e.g. `self.{method.name}(b.price for b in self.store.bids)`",
                node,
            )
        coll = self.as_list(self.expr(node.args[0], ctx), node.args[0])
        result = self.udf_result_type(method, None, node)
        leaves = list_leaves(coll)
        if not leaves:
            raise self.fail("unsupported-udf", f"`{method.name}` is only ever given an empty list", node)
        first = leaves[0].elem
        if isinstance(first, Scalar):
            kind, elem_type = "scalar", first.dtype.null()
        elif isinstance(first, DictVal):
            kind, elem_type = "dict", T.row_of(tuple((k, v.dtype) for k, v in first.items))
        else:
            raise self.fail(
                "unsupported-udf",
                f"`{method.name}` gets whole documents",
                node.args[0],
                f"pass their fields, e.g. `self.{method.name}(b.price for b in ...)`",
            )
        spec = UdfSpec(
            self.udf_name(method),
            "aggregate",
            self.view.name,
            method.name,
            self.module_name(),
            (UdfParam(method.node.args.args[1].arg, kind, elem_type),),
            result,
            self.code_fingerprint(method),
        )
        self.register_udf(spec, node)
        row_type = T.row_of((("ok", T.BOOL), ("value", result)))
        empty = UdfCall(spec.function + "__empty", (), row_type)

        def leaf(c):
            if isinstance(c, EmptyList):
                call: Expr = empty
                err = FALSE
            else:
                elem = c.elem
                arg = (
                    elem.expr
                    if isinstance(elem, Scalar)
                    else B.func("row", *[v.expr for _, v in elem.items], dtype=elem_type)
                )
                col = c.agg.add(
                    AggCall("udaf", arg, None if B.is_true(c.include) else c.include, row_type, spec.function)
                )
                # no element at all: the group is missing and Python sees an empty list
                call = B.func("coalesce", col, empty, dtype=row_type)
                err = self.coll_err(c)
            failed = B.not_(B.safe(FieldAccess(call, "ok", T.BOOL)))
            return Scalar(FieldAccess(call, "value", result), B.or_(err, failed))

        return self.fold(coll, leaf, node)

    def str_method(self, s: Scalar, name: str, node: ast.Call, ctx: Ctx) -> Value:
        if node.keywords:
            raise self.fail("unsupported-call", f"keyword arguments of `str.{name}` are not supported", node)
        if name == "format":
            return self.format_call(s, node, ctx)
        args = [self.scalar(self.expr(a, ctx), a) for a in node.args]
        err = B.or_(s.err, self.none_err(s), *[a.err for a in args], *[self.none_err(a) for a in args])
        for a in args:
            if a.dtype.kind != "str":
                raise self.fail("type-error", f"`str.{name}` takes str arguments, not {a.dtype}", node)
        e = s.expr
        if name in ("upper", "lower") and not args:
            return Scalar(B.func(name, e, dtype=T.STR), err)
        if name in ("strip", "lstrip", "rstrip") and len(args) <= 1:
            if args and not isinstance(args[0].expr, Literal):
                raise self.fail("unsupported-call", f"`str.{name}` needs a literal argument", node)
            chars = (
                WHITESPACE
                if not args
                else "[" + "".join("\\" + c if c in "\\]^-[" else c for c in args[0].expr.value) + "]"
            )
            if args and args[0].expr.value == "":
                return Scalar(e, err)
            pattern = {"strip": f"^{chars}+|{chars}+$", "lstrip": f"^{chars}+", "rstrip": f"{chars}+$"}[name]
            return Scalar(B.func("regexp_replace", e, B.lit(pattern), B.lit(""), dtype=T.STR), err)
        if name in ("startswith", "endswith") and len(args) == 1:
            p = args[0].expr
            plen = B.func("char_length", p, dtype=T.INT)
            slen = B.func("char_length", e, dtype=T.INT)
            start = (
                B.lit(1)
                if name == "startswith"
                else B.func("add", B.func("sub", slen, plen, dtype=T.INT), B.lit(1), dtype=T.INT)
            )
            piece = B.func("substring", e, start, plen, dtype=T.STR)
            fits = B.func("le", plen, slen, dtype=T.BOOL)
            return Scalar(B.safe(B.and_(fits, B.func("eq", piece, p, dtype=T.BOOL))), err)
        if name == "replace" and len(args) == 2:
            if isinstance(args[0].expr, Literal) and args[0].expr.value == "":
                raise self.fail("unsupported-call", "`str.replace('', ...)` is not supported", node)
            return Scalar(B.func("replace", e, args[0].expr, args[1].expr, dtype=T.STR), err)
        raise self.fail("unsupported-call", f"`str.{name}` with {len(args)} arguments is not supported", node)

    def format_call(self, template: Scalar, node: ast.Call, ctx: Ctx) -> Scalar:
        if not isinstance(template.expr, Literal):
            raise self.fail("unsupported-format", "`.format` needs a literal template", node)
        args = [self.scalar(self.expr(a, ctx), a) for a in node.args]
        parts, auto = [], 0
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
                dtype = (
                    T.numeric_join(dtype, a.dtype)
                    if dtype.is_numeric and a.dtype.is_numeric
                    else (dtype if dtype.kind == a.dtype.kind else None)
                )
                if dtype is None:
                    raise self.fail("type-error", f"`{name}` of values of different types", node)
            dtype = dtype.null(False)
            err = B.or_(err, *[self.none_err(a) for a in args])
            return Scalar(
                B.func("least" if name == "min" else "greatest", *[self.num(a.expr, dtype) for a in args], dtype=dtype),
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
            return Scalar(B.func("abs", e, dtype=e.dtype.null(False)), err)
        if name == "int":
            if kind in ("int", "bool"):
                return Scalar(self.num(v.expr, T.INT), err)
            if kind in ("float", "decimal"):
                # CAST truncates toward zero, as int() does
                return Scalar(B.cast(v.expr, T.INT), err)
        if name == "float":
            if kind in ("int", "bool", "float", "decimal"):
                return Scalar(self.num(v.expr, T.FLOAT), err)
        if name == "round" and kind in ("int", "bool") and len(args) == 1:
            return Scalar(self.num(v.expr, T.INT), err)
        if name == "round" and kind == "float":
            return Scalar(self.round_half_even(v.expr), err)
        if name == "round" and kind == "decimal":  # to an int, ties to even
            rounded = B.func("py_round", v.expr, B.lit(0), dtype=T.DECIMAL)
            # Python's int is unbounded: past BIGINT the field is None (as for round(x, ndigits)), not a wrap
            outside = B.or_(
                B.func("lt", rounded, Literal(Decimal(-(2**63)), T.DECIMAL), dtype=T.BOOL),
                B.func("gt", rounded, Literal(Decimal(2**63 - 1), T.DECIMAL), dtype=T.BOOL),
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
        if kind in ("int", "bool") and isinstance(ndigits.expr, Literal) and ndigits.expr.value >= 0:
            return Scalar(self.num(v.expr, T.INT), B.or_(err, self.none_err(v)))  # an int is whole already
        x = self.num(v.expr, T.INT) if kind == "bool" else v.expr
        dtype = {"float": T.FLOAT, "decimal": T.DECIMAL}.get(kind, T.INT)
        rounded = B.func("py_round", x, self.num(ndigits.expr, T.INT), dtype=dtype)
        # NULL where Python raises (and where x is None): an overflow, past Decimal's 28 digits, past BIGINT;
        # so Python never sees None from it (the type is not nullable), the error flag says where it raised
        return Scalar(rounded, B.or_(err, B.is_null(rounded)))

    @staticmethod
    def round_half_even(x: Expr) -> Expr:
        """Python's round(x): to the nearest int, ties to even (SQL rounds ties away from zero)."""
        low = B.func("floor", x, dtype=T.FLOAT)
        frac = B.func("sub", x, low, dtype=T.FLOAT)
        half = B.func("eq", frac, Literal(0.5, T.FLOAT), dtype=T.BOOL)
        low_even = B.func("eq", B.func("mod", B.cast(low, T.INT), B.lit(2), dtype=T.INT), B.lit(0), dtype=T.BOOL)
        up = B.func("add", low, Literal(1.0, T.FLOAT), dtype=T.FLOAT)
        nearest = B.case(B.func("lt", frac, Literal(0.5, T.FLOAT), dtype=T.BOOL), low, up, T.FLOAT)
        return B.cast(B.case(half, B.case(low_even, low, up, T.FLOAT), nearest, T.FLOAT), T.INT)

    # ----- collections ---------------------------------------------------------

    def expr_ListComp(self, node: ast.ListComp, ctx: Ctx) -> Value:
        return self.comprehension(node, ctx, distinct=False)

    def expr_GeneratorExp(self, node: ast.GeneratorExp, ctx: Ctx) -> Value:
        return self.comprehension(node, ctx, distinct=False)

    def expr_SetComp(self, node: ast.SetComp, ctx: Ctx) -> Value:
        return self.comprehension(node, ctx, distinct=True)

    def expr_Lambda(self, node: ast.Lambda, ctx: Ctx) -> Value:
        return LambdaVal(node, dict(ctx.env))

    def comprehension(self, node, ctx: Ctx, distinct: bool) -> Value:
        if len(node.generators) != 1:
            raise self.fail(
                "unsupported-comprehension",
                "nested comprehensions are not supported",
                node,
                "iterate one store collection per comprehension",
            )
        gen = node.generators[0]
        if gen.is_async or not isinstance(gen.target, ast.Name):
            raise self.fail("unsupported-comprehension", "comprehension target must be a single name", gen.target)
        source = self.expr(gen.iter, ctx)
        coll = self.comprehend(source, gen.target.id, gen.ifs, node.elt, ctx, gen.iter)
        if distinct:
            if not isinstance(coll, Coll) or not isinstance(coll.elem, Scalar):
                raise self.fail("unsupported-comprehension", "set comprehensions must hold scalars", node)
            coll = coll.but(distinct=True)
        return coll

    def as_list(self, value: Value, node: ast.AST) -> ListLike:
        if isinstance(value, ManyVal):
            scope = self.scope.aggregate(value.entry, self.schema.models[value.entry.model])
            return Coll(scope, TRUE, Doc(scope.root))
        if self.is_list(value):
            return value
        raise self.fail(
            "not-a-collection",
            "this is not a store collection or a list built from one",
            node,
            "iterate `self.store.<many entry>` or a getter that returns a list built from one",
        )

    def comprehend(
        self, source: Value, var: str, conds: list[ast.expr], elt: ast.expr | None, ctx: Ctx, node: ast.AST
    ) -> ListLike:
        """Apply `[elt for var in source if conds]` to a list value, branch by branch."""
        if ctx.element:
            raise self.fail("unsupported-comprehension", "comprehensions inside comprehensions are not supported", node)
        source = self.as_list(source, node)
        if isinstance(source, EmptyList):
            return source
        if isinstance(source, CondList):
            return CondList(
                source.cond,
                self.comprehend(source.then, var, conds, elt, ctx, node),
                self.comprehend(source.otherwise, var, conds, elt, ctx, node),
                source.err,
            )
        inner = Ctx(source.agg, {**ctx.env, var: source.elem}, ctx.method, element=True)
        include, elem_err = source.include, source.elem_err
        for cond in conds:
            t = self.truthy(self.expr(cond, inner), inner, cond)
            elem_err = B.or_(elem_err, B.and_(include, t.err))
            include = B.and_(include, t.expr)
        elem: Value = source.elem
        if elt is not None:
            elem = self.expr(elt, inner)
            if not isinstance(elem, (Scalar, DictVal, Doc)):
                raise self.fail("unsupported-comprehension", "elements must be scalars, dicts or documents", elt)
            elem_err = B.or_(elem_err, B.and_(include, self.elem_err(elem)))
            elem = self.strip(elem)
        coll = Coll(source.agg, include, elem, elem_err, source.none_err, source.sort_keys, source.reverse)
        self.check_uncorrelated(coll, node)
        return coll

    def check_uncorrelated(self, coll: Coll, node: ast.AST) -> None:
        """An aggregate subquery sees only its element's documents, not the view's."""
        exprs = [coll.include, coll.elem_err] + (
            [v.expr for _, v in coll.elem.items]
            if isinstance(coll.elem, DictVal)
            else [coll.elem.expr]
            if isinstance(coll.elem, Scalar)
            else []
        )
        inner = {n.alias for n in coll.agg.nodes}
        for e in exprs:
            for sub in e.walk():
                if hasattr(sub, "relation") and sub.relation not in inner:
                    raise self.correlated(node)

    def elem_err(self, elem: Value) -> Expr:
        if isinstance(elem, DictVal):
            return B.or_(*[v.err for _, v in elem.items])
        return elem.err

    @staticmethod
    def strip(elem: Value) -> Value:
        if isinstance(elem, Scalar):
            return Scalar(elem.expr)
        if isinstance(elem, DictVal):
            return DictVal(tuple((k, Scalar(v.expr)) for k, v in elem.items))
        return Doc(elem.node)

    def call_aggregate_builtin(self, name: str, node: ast.Call, ctx: Ctx) -> Value:
        if not node.args:
            raise self.fail("bad-call", f"`{name}()` needs an argument", node)
        keywords = {k.arg: k.value for k in node.keywords}
        first = self.expr(node.args[0], ctx)
        if name == "len" and isinstance(first, Scalar) and first.dtype.kind == "list":
            return Scalar(B.func("cardinality", first.expr, dtype=T.INT), B.or_(first.err, self.none_err(first)))
        if name == "len" and isinstance(first, Scalar):
            if first.dtype.kind != "str":
                raise self.fail("type-error", f"`len()` of {first.dtype}", node)
            return Scalar(B.func("char_length", first.expr, dtype=T.INT), B.or_(first.err, self.none_err(first)))
        if name in ("min", "max") and (len(node.args) > 1 or isinstance(first, (Scalar, TupleVal))):
            if isinstance(first, TupleVal) and len(node.args) == 1:
                return self.call_builtin(name, list(first.items), node)
            args = [self.scalar(self.expr(a, ctx), a) for a in node.args]
            return self.call_builtin(name, args, node)
        coll = self.as_list(first, node.args[0])
        if name == "sorted":
            if len(node.args) != 1 or set(keywords) - {"key", "reverse"}:
                raise self.fail("bad-call", "`sorted()` takes an iterable, key= and reverse=", node)
            return self.sort(coll, keywords.get("key"), keywords.get("reverse"), ctx, node)
        allowed = {"default"} if name in ("min", "max") else set()
        if len(node.args) != 1 or set(keywords) - allowed:
            raise self.fail("bad-call", f"`{name}()` with these arguments is not supported", node)
        default = None
        if "default" in keywords:
            default = self.scalar(self.expr(keywords["default"], ctx), keywords["default"])
        return self.aggregate_call(name, coll, default, node)

    def aggregate_call(self, name: str, coll: ListLike, default: Scalar | None, node: ast.AST) -> Scalar:
        if name == "len":
            return self.count(coll)
        if name == "any":
            return self.aggregate_any(coll, lambda elem: self.truthy(elem, None, node).expr, node)
        if name == "all":
            inverse = self.aggregate_any(coll, lambda elem: B.not_(self.truthy(elem, None, node).expr), node)
            return Scalar(B.not_(inverse.expr), inverse.err)
        return self.fold(coll, lambda c: self.fold_leaf(name, c, default, node), node)

    def fold(self, coll: ListLike, leaf, node: ast.AST) -> Scalar:
        """Apply an aggregate to every branch of a list value."""
        if isinstance(coll, CondList):
            a, b = self.fold(coll.then, leaf, node), self.fold(coll.otherwise, leaf, node)
            dtype = T.unify(a.dtype, b.dtype) or a.dtype
            return Scalar(
                B.case(coll.cond, B.cast(a.expr, dtype), B.cast(b.expr, dtype), dtype),
                B.or_(coll.err, B.and_(coll.cond, a.err), B.and_(B.not_(coll.cond), b.err)),
            )
        return leaf(coll)

    def count(self, coll: ListLike) -> Scalar:
        def leaf(c):
            if isinstance(c, EmptyList):
                return Scalar(B.lit(0))
            if c.distinct:
                n = self.agg_col(c, "count_distinct", c.elem.expr, c.include, T.INT)
                if c.elem.dtype.nullable:  # a set keeps one None, COUNT(DISTINCT) none
                    nulls = self.agg_col(c, "count", None, B.and_(c.include, B.is_null(c.elem.expr)), T.INT)
                    n = B.func(
                        "add",
                        n,
                        B.case(B.func("gt", nulls, B.lit(0), dtype=T.BOOL), B.lit(1), B.lit(0), T.INT),
                        dtype=T.INT,
                    )
            else:
                n = self.agg_col(c, "count", None, c.include, T.INT)
            return Scalar(n, self.coll_err(c))

        return self.fold(coll, leaf, None)

    def agg_col(self, c: Coll, func: str, arg: Expr | None, where: Expr | None, dtype: T.DType) -> Expr:
        """An aggregate of the collection's subquery, as a column of the view query (0 for counts of nothing)."""
        where = None if B.is_true(where) else where
        col = c.agg.add(AggCall(func, arg, where, dtype.null()))
        if func in ("count", "count_distinct"):
            return B.func("coalesce", col, B.lit(0), dtype=T.INT)
        return col

    def coll_err(self, c: Coll) -> Expr:
        if B.is_false(c.elem_err):
            return c.none_err
        bad = self.agg_col(c, "count", None, c.elem_err, T.INT)
        return B.or_(c.none_err, B.func("gt", bad, B.lit(0), dtype=T.BOOL))

    def list_error(self, value: ListLike) -> Expr:
        if isinstance(value, EmptyList):
            return FALSE
        if isinstance(value, CondList):
            return B.or_(
                value.err,
                B.and_(value.cond, self.list_error(value.then)),
                B.and_(B.not_(value.cond), self.list_error(value.otherwise)),
            )
        err = self.coll_err(value)
        if value.sort_keys:
            err = B.or_(err, self.sort_err(value))
        return err

    def sort_err(self, c: Coll) -> Expr:
        """Python cannot order None against anything: sorting two or more elements with a None key raises."""
        nullable = [k for k in c.sort_keys if k.dtype.nullable]
        if not nullable:
            return FALSE
        nulls = self.agg_col(c, "count", None, B.and_(c.include, B.or_(*[B.is_null(k) for k in nullable])), T.INT)
        total = self.agg_col(c, "count", None, c.include, T.INT)
        return B.and_(B.func("gt", nulls, B.lit(0), dtype=T.BOOL), B.func("gt", total, B.lit(1), dtype=T.BOOL))

    def aggregate_any(self, coll: ListLike, test, node: ast.AST, extra_err: Expr = FALSE) -> Scalar:
        def leaf(c):
            if isinstance(c, EmptyList):
                return Scalar(FALSE, extra_err)
            elem = c.elem
            hits = self.agg_col(c, "count", None, B.and_(c.include, B.safe(test(elem))), T.INT)
            return Scalar(B.func("gt", hits, B.lit(0), dtype=T.BOOL), B.or_(extra_err, self.coll_err(c)))

        return self.fold(coll, leaf, node)

    def fold_leaf(self, name: str, c: ListLike, default: Scalar | None, node: ast.AST) -> Scalar:
        if isinstance(c, EmptyList):
            if name == "sum":
                return Scalar(B.lit(0))
            if default is not None:
                return default
            return Scalar(Literal(None, T.NONE), TRUE)  # min()/max() of nothing raises
        elem = c.elem
        if not isinstance(elem, Scalar):
            raise self.fail("type-error", f"`{name}()` needs scalar elements", node)
        kind = elem.dtype.kind
        if name == "sum":
            if not elem.dtype.is_numeric:
                raise self.fail("type-error", f"`sum()` of {elem.dtype}", node)
            dtype = T.INT if kind == "bool" else elem.dtype.null(False)
            arg = self.num(elem.expr, dtype)
            total = self.agg_col(c, "sum", arg, c.include, dtype)
            zero = Literal(0, dtype) if dtype.kind != "float" else Literal(0.0, T.FLOAT)
            nulls = FALSE
            if elem.dtype.nullable:
                nulls = B.func(
                    "gt",
                    self.agg_col(c, "count", None, B.and_(c.include, B.is_null(elem.expr)), T.INT),
                    B.lit(0),
                    dtype=T.BOOL,
                )
            return Scalar(B.func("coalesce", total, zero, dtype=dtype), B.or_(self.coll_err(c), nulls))
        if name in ("min", "max"):
            if kind in ("list", "row", "none"):
                raise self.fail("type-error", f"`{name}()` of {elem.dtype}", node)
            dtype = elem.dtype.null(False)
            best = self.agg_col(c, name, elem.expr, c.include, dtype)
            n = self.agg_col(c, "count", None, c.include, T.INT)
            empty = B.func("eq", n, B.lit(0), dtype=T.BOOL)
            err = B.or_(self.coll_err(c), self.sort_err(c.but(sort_keys=(elem.expr,))))
            if default is None:
                return Scalar(best, B.or_(err, empty))
            out = T.unify(dtype, default.dtype) or dtype
            return Scalar(
                B.case(empty, B.cast(default.expr, out), B.cast(best, out), out.null()),
                B.or_(err, B.and_(empty, default.err)),
            )
        raise self.fail("unsupported-call", f"`{name}()` is not supported", node)

    def sort(self, coll: ListLike, key: ast.expr | None, reverse: ast.expr | None, ctx: Ctx, node: ast.AST):
        descending = False
        if reverse is not None:
            if not (isinstance(reverse, ast.Constant) and isinstance(reverse.value, bool)):
                raise self.fail("unsupported-sort", "`reverse=` must be True or False", reverse)
            descending = reverse.value
        if isinstance(coll, EmptyList):
            return coll
        if isinstance(coll, CondList):
            return CondList(
                coll.cond,
                self.sort(coll.then, key, reverse, ctx, node),
                self.sort(coll.otherwise, key, reverse, ctx, node),
                coll.err,
            )
        elem = coll.elem
        if key is None:
            if not isinstance(elem, Scalar):
                raise self.fail(
                    "unsupported-sort", "dicts cannot be sorted without `key=`", node, 'e.g. key=lambda d: d["name"]'
                )
            keys = (elem.expr,)
        else:
            if not (isinstance(key, ast.Lambda) and len(key.args.args) == 1):
                raise self.fail("unsupported-sort", "`key=` must be a lambda of one argument", key)
            inner = Ctx(coll.agg, {**ctx.env, key.args.args[0].arg: elem}, ctx.method, element=True)
            k = self.expr(key.body, inner)
            parts = k.items if isinstance(k, TupleVal) else (self.scalar(k, key.body),)
            keys = tuple(p.expr for p in parts)
            if any(not B.is_false(p.err) for p in parts):
                raise self.fail("unsupported-sort", "this sort key may raise; sort by plain fields", key.body)
        self.sort_fields(elem, keys, key or node)
        return coll.but(sort_keys=keys, reverse=descending)

    def sort_fields(self, elem: Value, keys: tuple[Expr, ...], node: ast.AST) -> tuple[str, ...]:
        """The dict fields (or the scalar itself, as "") that the sort keys are; others cannot be emitted."""
        if isinstance(elem, Scalar):
            if keys != (elem.expr,):
                raise self.fail(
                    "unsupported-sort",
                    "a list of scalars can only be sorted by the values themselves",
                    node,
                    "drop `key=`, or sort a list of dicts by one of their fields",
                )
            return ("",)
        if isinstance(elem, DictVal):
            by_expr = {}
            for k, v in elem.items:
                by_expr.setdefault(v.expr, k)
            names = []
            for k in keys:
                if k not in by_expr:
                    raise self.fail(
                        "unsupported-sort",
                        "sort keys must be fields of the dict elements",
                        node,
                        'add the key as a field of the dict and sort by `d["<field>"]`',
                    )
                names.append(by_expr[k])
            return tuple(names)
        raise self.fail("unsupported-sort", "only lists of scalars or dicts can be sorted", node)

    def materialize(self, value: ListLike, node: ast.AST, declared) -> tuple[Expr, Expr, tuple | None, bool]:
        """A list value as one ARRAY expression of the view query, with its error flag."""
        leaves = list_leaves(value)
        if not leaves:
            raise self.fail(
                "return-type",
                "this getter returns only empty lists; its element type is unknown",
                node,
                "build the list over a store collection",
            )
        elem_type = self.elem_type(leaves[0], node)
        for leaf in leaves[1:]:
            if self.elem_type(leaf, node) != elem_type:
                raise self.fail("type-mismatch", "the lists this getter returns have different element types", node)
        sorts = {(leaf.sort_keys is not None, leaf.reverse) for leaf in leaves}
        sort_names = None
        if leaves[0].sort_keys:
            sort_names = self.sort_fields(leaves[0].elem, leaves[0].sort_keys, node)
        array_type = T.list_of(elem_type)

        def build(v) -> tuple[Expr, Expr]:
            if isinstance(v, EmptyList):
                return B.func("empty_array", dtype=array_type), FALSE
            if isinstance(v, CondList):
                a, ea = build(v.then)
                b, eb = build(v.otherwise)
                return (B.case(v.cond, a, b, array_type), B.or_(v.err, B.and_(v.cond, ea), B.and_(B.not_(v.cond), eb)))
            elem = self.elem_expr(v, elem_type)
            func = "array_agg_distinct" if v.distinct else "array_agg"
            arr = v.agg.add(AggCall(func, elem, None if B.is_true(v.include) else v.include, array_type.null()))
            out = B.func("coalesce", arr, B.func("empty_array", dtype=array_type), dtype=array_type)
            if v.sort_keys:
                out = B.func("array_sort", out, B.lit(not v.reverse), dtype=array_type)
            return out, self.list_error(v)

        if len(sorts) > 1:
            raise self.fail("unsupported-sort", "lists on different paths are sorted differently", node)
        expr, err = build(value)
        return expr, err, sort_names, leaves[0].reverse

    def elem_type(self, c: Coll, node: ast.AST) -> T.DType:
        if isinstance(c.elem, Scalar):
            if c.elem.dtype.kind in ("none", "list", "row"):
                raise self.fail("unsupported-comprehension", f"lists of {c.elem.dtype} are not supported", node)
            return c.elem.dtype
        if isinstance(c.elem, DictVal):
            fields = [(k, v.dtype.null(v.dtype.nullable)) for k, v in self.ordered_items(c)]
            for k, t in fields:
                if t.kind in ("none", "list", "row"):
                    raise self.fail(
                        "unsupported-comprehension",
                        f"dict field {k!r} has type {t}, which is not supported inside a list",
                        node,
                    )
            return T.row_of(tuple(fields))
        raise self.fail(
            "document-value", "a list of documents cannot be a view field", node, "build dicts of their fields instead"
        )

    def ordered_items(self, c: Coll) -> list[tuple[str, Scalar]]:
        """Dict fields in SQL ROW order: sort keys first, so ARRAY_SORT orders by them."""
        items = list(c.elem.items)
        if not c.sort_keys:
            return items
        first = []
        for k in c.sort_keys:
            for name, v in items:
                if v.expr == k and (name, v) not in first:
                    first.append((name, v))
                    break
        return first + [i for i in items if i not in first]

    def elem_expr(self, c: Coll, elem_type: T.DType) -> Expr:
        if isinstance(c.elem, Scalar):
            return c.elem.expr
        return B.func("row", *[v.expr for _, v in self.ordered_items(c)], dtype=elem_type)


def read_paths(function: ast.FunctionDef, param: str) -> dict:
    """The attribute paths a function body reads from a parameter: `user.team.name` -> {"team": {"name": {}}}."""
    tree: dict = {}
    for node in ast.walk(function):
        chain = []
        while isinstance(node, ast.Attribute):
            chain.append(node.attr)
            node = node.value
        if chain and isinstance(node, ast.Name) and node.id == param:
            level = tree
            for attr in reversed(chain):
                level = level.setdefault(attr, {})
    return tree


def list_leaves(value: ListLike) -> list[Coll]:
    """The collections a list value may be, across its branches (empty lists left out)."""
    if isinstance(value, CondList):
        return list_leaves(value.then) + list_leaves(value.otherwise)
    return [value] if isinstance(value, Coll) else []
