"""Static and class methods run by Flink as Python UDFs.

A static method whose body does not translate to SQL (or every one, with
`static_methods="udf"`) becomes a scalar UDF; a class method over a generator
becomes an aggregate UDF. Packaging one reads the file system: the Python module
name of the view's file (`module_name`) and the fingerprint of the code the UDF
runs (udf_code.py).
"""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

from ontoc.ir.expr import Agg, Op
from ontoc.ir.types import Kind

from ...errors import Diagnostic, OntocError, error
from ...ir import build as B
from ...ir import types as T
from ...ir.expr import FALSE, AggCall, Cast, Expr, FieldAccess, Literal, UdfCall
from ...ir.plan import UdfParam, UdfSpec
from ..schema import MethodDef, ModelDef, ViewDef, parse_annotation
from ..scope import DocNode
from ..udf_code import udf_code_fingerprint
from ..values import Coll, DictVal, Doc, EmptyList, Scalar, Value
from .collections import list_leaves
from .context import Ctx, TranslationState


class UdfsMixin(TranslationState):
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
        defaults = method.node.args.defaults  # the last len(defaults) parameters
        if not len(params) - len(defaults) <= len(node.args) <= len(params) or method.node.args.vararg:
            raise self.fail("bad-call", f"`{name}` takes {len(params)} positional arguments", node)
        args = {p: self.expr(a, ctx) for p, a in zip(params, node.args, strict=False)}
        for param, default in zip(params[len(params) - len(defaults) :], defaults, strict=True):
            if param not in args:
                args[param] = self.default_argument(method, default)
        if name in self.stack:
            raise self.fail("getter-cycle", f"static method `{name}` calls itself", node, "recursion is not supported")
        inlined: Value | None
        registered, warned = dict(self.udfs), len(self.warnings)
        try:
            with self.entered(name):
                value, err = self.method_result(method, replace(ctx, env=args, method=method))
                # Python evaluates every argument before the call: one that raises makes the call raise,
                # whether or not the body reads it
                inlined = self.with_err(value, B.or_(*(self.value_err(v) for v in args.values()), err))
        except OntocError as exc:
            if any(d.code == "unsupported-udf" for d in exc.diagnostics):
                raise
            inlined = None  # not translatable: it runs as a Python UDF
        if inlined is not None and self.static_methods == "inline":
            return inlined
        # the body runs in Python, the static methods it calls too: the UDFs and warnings the attempt to
        # translate it gave for those calls are undone
        self.udfs.clear()
        self.udfs.update(registered)
        del self.warnings[warned:]
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
        inferred = inlined.dtype if isinstance(inlined, Scalar) and inlined.dtype.kind != Kind.NONE else None
        return self.scalar_udf(method, args, node, ctx, inferred)

    def default_argument(self, method: MethodDef, default: ast.expr) -> Value:
        """A default parameter value: a literal (Python evaluates it once, where the method is defined)."""
        literal = default.operand if isinstance(default, ast.UnaryOp) else default
        if not isinstance(literal, ast.Constant):
            raise self.fail(
                "unsupported-call",
                "a default argument that is not a literal is not supported",
                default,
                "give the argument at every call, or make the default a literal",
            )
        return self.expr(default, self.ctx(method))

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
        flat: list[Expr] = []  # the arguments of a batched call: documents and dicts as their scalar columns
        for param, value in args.items():
            if isinstance(value, Scalar):
                params.append(UdfParam(param, "scalar", value.dtype.null()))
                exprs.append(value.expr)
                flat.append(value.expr)
                errs.append(value.err)
            elif isinstance(value, Doc):
                reads, opaque = document_reads(method.node, param, value.node.model, self.schema.models, self.view)
                if opaque is not None:
                    where, user, name = opaque
                    raise self.fail(
                        "unsupported-udf",
                        f"`{user}` uses the document `{name}` other than by reading its fields by name",
                        where,
                        f"read the fields as attributes (`{name}.<field>`), or pass the document to a static method "
                        "of the view or a function of its module that does: a Python UDF gets only the fields read "
                        "by name, so `getattr`, `vars` or passing the document elsewhere would see less than Python "
                        "does",
                    )
                row, columns = self.doc_rows(value.node, reads, ctx)
                params.append(UdfParam(param, "doc", row.dtype))
                exprs.append(row)
                flat.extend(columns)
                errs.append(value.err)
            elif isinstance(value, DictVal):
                row = B.func(
                    "row",
                    *[v.expr for _, v in value.items],
                    dtype=T.row_of(tuple((k, v.dtype) for k, v in value.items)),
                )
                params.append(UdfParam(param, "dict", row.dtype))
                exprs.append(row)
                flat.extend(v.expr for _, v in value.items)
                errs.extend(v.err for _, v in value.items)
            else:
                raise self.fail(
                    "unsupported-udf",
                    f"argument `{param}` of `{method.name}` is a collection",
                    node,
                    "pass scalars, documents or dicts to static methods",
                )
        batched = batchable(result, params)
        spec = UdfSpec(
            self.udf_name(method),
            "scalar",
            self.view.name,
            method.name,
            self.module_name(),
            tuple(params),
            result,
            self.code_fingerprint(method),
            batched,
        )
        self.register_udf(spec, node)
        if not batched:
            call = UdfCall(spec.function, tuple(exprs), T.row_of((("ok", T.BOOL), ("value", result))))
            failed = B.not_(B.safe(FieldAccess(call, "ok", T.BOOL)))
            return Scalar(FieldAccess(call, "value", result), B.or_(*errs, failed))
        call = UdfCall(spec.function, tuple(carried(e) for e in flat), batched_result_type(result))
        failed = B.not_(B.safe(FieldAccess(call, "ok", T.BOOL)))
        returned: Expr = FieldAccess(call, "value", result)
        if result.kind is Kind.FLOAT:  # a NaN result travels as a flag: Arrow's conversion from pandas nulls NaN
            nan = B.safe(FieldAccess(call, "nan", T.BOOL))
            returned = B.case(nan, Literal(float("nan"), T.FLOAT), returned, result)
        return Scalar(returned, B.or_(*errs, failed))

    def doc_rows(self, node: DocNode, paths: dict, ctx: Ctx) -> tuple[Expr, list[Expr]]:
        """The document's ROW with its references' ROWs nested, and the same as scalar columns: first its
        presence column (NULL exactly where the document is missing), then its other fields, then each
        reference's columns, depth first, in field order. A batched UDF gets the columns: PyFlink's pandas
        UDFs take no ROW inside a ROW, and a ROW argument costs a struct column on both sides of the Arrow
        batch (bench part 2: 2x the JVM's and pandas' work per call of the scalar columns).

        The presence column is the `doc_id` where the method reads it, else a field it reads that a present
        document never holds null (spec 1: not `| None`, not a reference): then no `doc_id` travels, and
        the worker's memo shares an outcome between documents with the same values (bench part 2)."""
        own = sorted(name for name in paths if name != "doc_id")
        presence = "doc_id" if "doc_id" in paths else next((n for n in own if self.never_null(node, n)), "doc_id")
        values: list[Expr] = []
        fields: list[tuple[str, T.DType]] = []
        columns, references = [], []
        for name in [presence, *[n for n in own if n != presence]]:
            f = node.model.fields.get(name)
            if name == "doc_id":
                value: Expr = node.column("doc_id")
            elif f is None:
                raise error("unknown-field", f"`{node.model.name}` has no field `{name}`", None)
            elif f.ref:
                child = ctx.scope_of(node).navigate(node, name, self.schema.models[f.ref])
                value, child_columns = self.doc_rows(child, paths[name] or {}, ctx)
                references.extend(child_columns)
            else:
                value = node.column(name)
            if name == presence:  # NULL where the document is missing, whatever the column holds there
                missing = Literal(None, value.dtype.null())
                columns.append(B.case(B.not_(node.exists), missing, value, value.dtype.null()))
            elif f is not None and f.ref is None:
                columns.append(value)  # read only where the presence column says the document is present
            values.append(value)
            fields.append((name, value.dtype))

        row_type = T.row_of(tuple(fields), nullable=True)
        row = B.case(B.not_(node.exists), Literal(None, row_type), B.func(Op.ROW, *values, dtype=row_type), row_type)
        return row, [*columns, *references]

    @staticmethod
    def never_null(node: DocNode, name: str) -> bool:
        """Whether a present document always holds a value in field `name` (spec 1: a field not declared
        `| None` is never null in a valid event, and a default, which applies where it is missing, is not
        None)."""
        f = node.model.fields.get(name)
        return f is not None and f.ref is None and not f.dtype.nullable and not (f.has_default and f.default is None)

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

        def leaf(c: Coll | EmptyList) -> Scalar:
            err: Expr
            if isinstance(c, EmptyList):
                call: Expr = empty
                err = FALSE
            else:
                elem = c.elem
                assert not isinstance(elem, Doc)  # whole documents are refused above
                arg = (
                    elem.expr
                    if isinstance(elem, Scalar)
                    else B.func(Op.ROW, *[v.expr for _, v in elem.items], dtype=elem_type)
                )
                col = c.agg.add(
                    AggCall(Agg.UDAF, arg, None if B.is_true(c.include) else c.include, row_type, spec.function)
                )
                # no element at all: the group is missing and Python sees an empty list
                call = B.func(Op.COALESCE, col, empty, dtype=row_type)
                err = self.coll_err(c)
            failed = B.not_(B.safe(FieldAccess(call, "ok", T.BOOL)))
            return Scalar(FieldAccess(call, "value", result), B.or_(err, failed))

        return self.fold(coll, leaf, node)


def document_reads(
    function: ast.FunctionDef,
    param: str,
    model: ModelDef,
    models: dict,
    view: ViewDef,
    active: frozenset[tuple[ast.FunctionDef, str]] = frozenset(),
) -> tuple[dict, tuple[ast.AST, str, str] | None]:
    """The fields a static method reads from the document `param`, as a tree of attribute paths
    (`user.team.name` -> {"team": {"name": {}}}), with those of the functions it passes the document, or a
    document it references, on to (`View.helper(order)`, `helper(order)`: see `_callee`), and the first
    place it uses one otherwise than to read a field by name, test it against None, test its truth or pass
    it on so, with the function and parameter where it stands: the UDF gets only the fields read by name,
    where plain Python has the whole document, so anywhere else the two would differ."""
    tree: dict = {}
    active = active | {(function, param)}
    parents = {child: node for node in ast.walk(function) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(function):
        if not (isinstance(node, ast.Name) and node.id == param and isinstance(node.ctx, ast.Load)):
            continue
        current: ast.expr = node
        current_model, chain = model, []
        passed: dict = {}  # what a function it is passed to reads
        while True:  # up the attribute chain while it names documents
            parent = parents.get(current)
            if isinstance(parent, ast.Attribute) and parent.value is current:
                f = current_model.fields.get(parent.attr)
                chain.append(parent.attr)
                if f is None or f.ref is None:
                    break  # a field's value, the doc_id (or an unknown field, refused when the columns are built)
                current, current_model = parent, models[f.ref]
                continue
            if _tests_document(parent, current, parents):
                break
            call = parents.get(parent) if isinstance(parent, ast.keyword) else parent
            callee = _callee(call, current, view, function)
            if callee is None:
                return tree, (current, function.name, param)
            if callee not in active:  # in it: recursion, whose reads are being collected further out
                passed, opaque = document_reads(*callee, current_model, models, view, active)
                if opaque is not None:
                    return tree, opaque
            break
        level = tree
        for attr in chain:
            level = level.setdefault(attr, {})
        _merge(level, passed)
    return tree, None


def _callee(
    call: ast.AST | None, argument: ast.expr, view: ViewDef, caller: ast.FunctionDef
) -> tuple[ast.FunctionDef, str] | None:
    """(function, parameter) where `call` calls a function whose body ontoc reads, with `argument` bound to
    that named parameter: one of the view's static methods (`View.method(...)`) or a function defined once,
    undecorated, at the top of the view's module and not shadowed in the caller (`helper(...)`)."""
    if not isinstance(call, ast.Call):
        return None
    function: ast.FunctionDef | None = None
    if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
        method = view.methods.get(call.func.attr) if call.func.value.id == view.name else None
        if method is not None and method.kind == "staticmethod":
            function = method.node
    elif isinstance(call.func, ast.Name) and call.func.id not in _local_names(caller):
        bound = view.src.bindings.get(call.func.id, [])
        if len(bound) == 1 and isinstance(bound[0], ast.FunctionDef) and not bound[0].decorator_list:
            function = bound[0]
    if function is None:
        return None
    params = [a.arg for a in function.args.posonlyargs + function.args.args]
    if argument in call.args:
        index = call.args.index(argument)
        if any(isinstance(a, ast.Starred) for a in call.args[:index]) or index >= len(params):
            return None
        return function, params[index]
    for keyword in call.keywords:
        if keyword.value is argument and keyword.arg is not None:
            named = [*params, *(a.arg for a in function.args.kwonlyargs)]
            return (function, keyword.arg) if keyword.arg in named else None
    return None


def _local_names(function: ast.FunctionDef) -> set[str]:
    """Names a function binds itself (parameters, assignments, imports, nested definitions)."""
    args = function.args
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node is not function:
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _merge(into: dict, reads: dict) -> None:
    for name, below in reads.items():
        _merge(into.setdefault(name, {}), below)


def _tests_document(parent: ast.AST | None, node: ast.AST, parents: dict) -> bool:
    """Whether `node` (a document) is only compared with None or tested for truth where it stands."""
    if isinstance(parent, ast.Compare):
        operands = [parent.left, *parent.comparators]
        return all(isinstance(op, ast.Is | ast.IsNot) for op in parent.ops) and all(
            o is node or (isinstance(o, ast.Constant) and o.value is None) for o in operands
        )
    if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not):
        return True
    if isinstance(parent, ast.BoolOp):
        # `doc and x` is x, or the document where it is None: only its truth is used; otherwise the BoolOp's
        # value may be the document itself, fine only where that value is tested in turn
        if isinstance(parent.op, ast.And) and parent.values[-1] is not node:
            return True
        return _tests_document(parents.get(parent), parent, parents)
    if isinstance(parent, ast.If | ast.While | ast.IfExp | ast.Assert):
        return parent.test is node
    if isinstance(parent, ast.comprehension):
        return node in parent.ifs
    return False


BATCHED_SCALARS = frozenset({Kind.STR, Kind.INT, Kind.FLOAT, Kind.BOOL, Kind.DECIMAL, Kind.NONE})
BATCHED_RESULTS = frozenset({Kind.STR, Kind.INT, Kind.FLOAT, Kind.BOOL})  # a Decimal is rounded by Flink, not Arrow


def batchable(result: T.DType, params: list[UdfParam]) -> bool:
    """Whether a scalar UDF runs vectorized (Arrow batches, PyFlink's pandas UDFs) with its values exactly
    as the row-at-a-time function gets them (`ontoc.runtime.workers.udfs` undoes the carriers and builds a
    document's or a dict's value, references nested, from its scalar columns). Lists, datetimes, Decimal
    results and methods without arguments stay row at a time."""

    def exact(t: T.DType, rows: bool) -> bool:
        if t.kind is Kind.ROW:
            return rows and all(exact(f, rows) for _, f in t.fields)
        return t.kind in BATCHED_SCALARS

    # a pandas UDF learns a batch's length from its arguments: one without any stays row at a time
    return (
        bool(params)
        and result.kind in BATCHED_RESULTS
        and all(
            exact(p.dtype, p.kind == "doc") if p.kind != "dict" else all(exact(f, False) for _, f in p.dtype.fields)
            for p in params
        )
    )


def carrier(t: T.DType) -> T.DType:
    """The type a batched (scalar) argument travels as. pandas makes an int64 column with a NULL float64 and a
    float NULL NaN: a BIGINT travels as DECIMAL (a Decimal or None), a DOUBLE as its text (Java's
    shortest round-trip form, "NaN" and "Infinity" included), each exact."""
    carried = {Kind.INT: T.DECIMAL, Kind.FLOAT: T.STR}.get(t.kind)
    return t if carried is None else carried.null(t.nullable)


def carried(e: Expr) -> Expr:
    dtype = carrier(e.dtype)
    return e if dtype == e.dtype else Cast(e, dtype)


def batched_result_type(result: T.DType) -> T.DType:
    fields = (("ok", T.BOOL), ("value", result))
    return T.row_of(fields + ((("nan", T.BOOL),) if result.kind is Kind.FLOAT else ()))
