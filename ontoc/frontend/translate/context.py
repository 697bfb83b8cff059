"""The state one view's translation shares, and the seams between its concerns.

`TranslationState` is the base of every concern's mixin (statements, expressions,
operators, builtins, collections, udfs): it holds what the whole view shares (the
schema, the view, its join graph, the getter caches, the UDFs and warnings found
so far) and declares, as abstract methods, each method one concern calls in
another. A concern's module therefore imports this module (and the IR and value
helpers), never a sibling's class: the mixins meet only in `translator.py`. (A
few constants and pure functions are imported one way: expressions.py reads
builtins' STR_METHODS and collections' AGG_BUILTINS, udfs.py uses
collections' list_leaves.)

State that is scoped to part of a translation (the getter or method being
translated, the source file diagnostics point into) is changed only through the
context managers below, so it is restored however the block exits.
"""

from __future__ import annotations

import ast
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TypeGuard

from ontoc.ir.types import Kind

from ...errors import Diagnostic, OntocError, error
from ...ir import build as B
from ...ir import types as T
from ...ir.expr import FALSE, Expr
from ...ir.plan import UdfSpec
from ..schema import MethodDef, Schema, SourceFile, ViewDef
from ..scope import DocNode, QueryScope
from ..values import Coll, CondList, DateVal, DeltaVal, Doc, EmptyList, ListLike, Scalar, Value

SUPPORTED_HINT = (
    "a getter compiles to one SQL expression: use paths, arithmetic, comparisons, "
    "if/else with return, and aggregates over store collections (spec section 3)"
)
STATIC_METHOD_MODES = ("inline", "udf")


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
    """What an expression sees: the join graph it adds to and its local names."""

    scope: QueryScope
    env: dict[str, Value]
    method: MethodDef
    outer: Ctx | None = None  # inside a comprehension's element: the context the comprehension was written in
    hidden: frozenset[str] = frozenset()  # elements of enclosing comprehensions, out of reach here

    def scope_of(self, node: DocNode) -> QueryScope:
        """The join graph a document belongs to: the element's, or the view's (read inside a comprehension)."""
        ctx = self
        while node not in ctx.scope.nodes and ctx.outer is not None:
            ctx = ctx.outer
        return ctx.scope

    def bind(self, **values: Value) -> Ctx:
        return replace(self, env={**self.env, **values})


@dataclass
class GetterOutput:
    name: str
    value: Expr  # NULL where Python raised
    dtype: T.DType
    sort_keys: tuple[str, ...] | None = None  # dict fields (or "" for scalars) a list is sorted by
    reverse: bool = False


class TranslationState(ABC):
    """One view's translation: shared state, helpers every concern uses, and the seams."""

    def __init__(self, schema: Schema, view: ViewDef, static_methods: str = "inline"):
        if static_methods not in STATIC_METHOD_MODES:
            raise ValueError(f"static_methods must be one of {STATIC_METHOD_MODES}")
        self.static_methods = static_methods
        self.udfs: dict[str, UdfSpec] = {}
        self.udf_code: dict[str, str] = {}  # method name -> fingerprint of the code it runs
        self.warnings: list[Diagnostic] = []
        self.schema = schema
        self.view = view
        self.src: SourceFile = view.src  # the file diagnostics point into (scoped: `reading`)
        store = view.store
        self.root_model = schema.models[store.root.model]
        self.scope = QueryScope(DocNode(store.root.name, self.root_model))
        self.entries: dict[str, Value] = {store.root.name: Doc(self.scope.root)}
        self.clean: dict[str, Value] = {}  # getter -> value as other getters see it
        self.results: dict[str, tuple[Value, Expr]] = {}
        self.stack: list[str] = []  # getters and methods being translated, outermost first (scoped: `entered`)
        self.diagnostics: list[Diagnostic] = []
        # the comprehensions whose elements are being translated (and their collections' elements), innermost last
        self.iterating: list[tuple[ast.AST, DocNode]] = []

    @contextmanager
    def entered(self, name: str) -> Iterator[None]:
        """`name` is being translated for the block: cycle checks and messages see it on the stack.

        It starts outside any comprehension: a getter's value is cached and read from anywhere.
        """
        self.stack.append(name)
        saved, self.iterating = self.iterating, []
        try:
            yield
        finally:
            self.stack.pop()
            self.iterating = saved

    @contextmanager
    def reading(self, src: SourceFile) -> Iterator[None]:
        """Diagnostics of the block point into `src` (a store's key lambdas live in the store's file)."""
        saved, self.src = self.src, src
        try:
            yield
        finally:
            self.src = saved

    def ctx(self, method: MethodDef) -> Ctx:
        return Ctx(self.scope, {}, method)

    def fail(self, code: str, msg: str, node: ast.AST | None, hint: str | None = SUPPORTED_HINT) -> OntocError:
        return error(code, msg, self.src.span(node), hint)

    def current_name(self) -> str:
        return self.stack[-1] if self.stack else self.view.name

    def correlated(self, node: ast.AST) -> OntocError:
        return self.fail(
            "correlated-collection",
            "an aggregate of a second list inside a comprehension (a nested comprehension, `x in <list>`) "
            "cannot read the comprehension's element",
            node,
            "the inner aggregate may read the root, its references, getters and locals, not the element; "
            "to relate two collections, filter each by values of the view row (e.g. a getter)",
        )

    @staticmethod
    def is_list(value: Value) -> TypeGuard[ListLike]:
        return isinstance(value, (Coll, EmptyList, CondList))

    @staticmethod
    def num(e: Expr, dtype: T.DType) -> Expr:
        return B.cast(e, dtype) if e.dtype.kind != dtype.kind else e

    @staticmethod
    def none_err(v: Scalar) -> Expr:
        """Python raises TypeError when None meets an arithmetic operator."""
        return B.is_null(v.expr) if v.dtype.nullable and v.dtype.kind != Kind.NONE else FALSE

    # ----- seams: implemented by one concern, called by others ---------------------------------

    # getters (translator.py)
    @abstractmethod
    def store_entry(self, name: str, node: ast.AST) -> Value: ...

    @abstractmethod
    def method_result(self, method: MethodDef, ctx: Ctx) -> tuple[Value, Expr]: ...

    @abstractmethod
    def cycle(self, members: list[str]) -> OntocError: ...

    @abstractmethod
    def read_getter(self, name: str) -> Value: ...

    # statements.py
    @abstractmethod
    def run(self, stmts: list[ast.stmt], ctx: Ctx, err: Expr) -> Ret | Branch: ...

    @abstractmethod
    def merge(self, tree: Ret | Branch, node: ast.AST) -> tuple[Value, Expr]: ...

    @abstractmethod
    def value_err(self, value: Value) -> Expr: ...

    # expressions.py
    @abstractmethod
    def expr(self, node: ast.expr, ctx: Ctx) -> Value: ...

    @abstractmethod
    def scalar(self, value: Value, node: ast.AST | None) -> Scalar: ...

    @abstractmethod
    def with_err(self, value: Value, err: Expr) -> Value: ...

    # operators.py
    @abstractmethod
    def truthy(self, value: Value, ctx: Ctx | None, node: ast.AST | None) -> Scalar: ...

    @abstractmethod
    def truth(self, node: ast.expr, ctx: Ctx) -> Scalar: ...

    @abstractmethod
    def binop(self, op: ast.operator, a: Scalar, b: Scalar, node: ast.AST) -> Scalar: ...

    # temporal.py
    @abstractmethod
    def qualified_name(self, node: ast.AST) -> str | None: ...

    @abstractmethod
    def library_literal(self, name: str, node: ast.Call, ctx: Ctx) -> Scalar | DeltaVal | DateVal | None: ...

    @abstractmethod
    def date_of(self, v: Scalar) -> DateVal: ...

    @abstractmethod
    def compare_dates(self, op: ast.cmpop, a: Value, b: Value, node: ast.AST) -> Scalar: ...

    @abstractmethod
    def compare_delta(self, op: ast.cmpop, a: Value, b: Value, node: ast.AST) -> Scalar: ...

    @abstractmethod
    def compare(self, op: ast.cmpop, a: Value, b: Value, node: ast.AST, ctx: Ctx | None) -> Scalar: ...

    @abstractmethod
    def datetime_part(self, v: Scalar, attr: str, node: ast.AST | None) -> Scalar: ...

    # builtins.py
    @abstractmethod
    def concat(self, parts: list[Scalar]) -> Scalar: ...

    @abstractmethod
    def to_str(self, v: Scalar, node: ast.AST) -> Scalar: ...

    @abstractmethod
    def str_method(self, s: Scalar, name: str, node: ast.Call, ctx: Ctx) -> Value: ...

    @abstractmethod
    def call_builtin(self, name: str, args: list[Scalar], node: ast.AST) -> Scalar: ...

    # collections.py
    @abstractmethod
    def as_list(self, value: Value, node: ast.AST | None) -> ListLike: ...

    @abstractmethod
    def comprehend(
        self, source: Value, var: str, conds: list[ast.expr], elt: ast.expr | None, ctx: Ctx, node: ast.AST
    ) -> ListLike: ...

    @abstractmethod
    def call_aggregate_builtin(self, name: str, node: ast.Call, ctx: Ctx) -> Value: ...

    @abstractmethod
    def aggregate_call(self, name: str, coll: ListLike, default: Scalar | None, node: ast.AST) -> Scalar: ...

    @abstractmethod
    def aggregate_any(
        self, coll: ListLike, test: Callable[[Value], Expr], node: ast.AST, extra_err: Expr = FALSE
    ) -> Scalar: ...

    @abstractmethod
    def fold(self, coll: ListLike, leaf: Callable[[Coll | EmptyList], Scalar], node: ast.AST | None) -> Scalar: ...

    @abstractmethod
    def fold_leaf(self, name: str, c: Coll | EmptyList, default: Scalar | None, node: ast.AST) -> Scalar: ...

    @abstractmethod
    def count(self, coll: ListLike) -> Scalar: ...

    @abstractmethod
    def coll_err(self, c: Coll) -> Expr: ...

    @abstractmethod
    def list_error(self, value: ListLike) -> Expr: ...

    @abstractmethod
    def materialize(
        self, value: ListLike, node: ast.AST, declared: T.DType | str | None
    ) -> tuple[Expr, Expr, tuple[str, ...] | None, bool]: ...

    # udfs.py
    @abstractmethod
    def call_method(self, name: str, node: ast.Call, ctx: Ctx) -> Value: ...
