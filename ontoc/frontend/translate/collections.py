"""Lists over store collections: comprehensions, aggregates, sorting and materializing.

A list value is a `Coll` (a filtered, mapped aggregate subquery of the join
graph), an `EmptyList`, or a `CondList` choosing between two by a condition;
every aggregate is applied branch by branch (`fold`) and becomes a column of the
collection's subquery (`agg_col`).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import replace

from ontoc.ir.expr import Agg, Op
from ontoc.ir.types import Kind

from ...ir import build as B
from ...ir import types as T
from ...ir.expr import FALSE, TRUE, AggCall, Column, Expr, Literal
from ...ir.traverse import map_expr
from ..values import Coll, CondList, DictVal, Doc, EmptyList, LambdaVal, ListLike, ManyVal, Scalar, TupleVal, Value
from . import int64
from .context import Ctx, TranslationState

AGG_BUILTINS = ("len", "sum", "min", "max", "any", "all", "sorted")


class CollectionsMixin(TranslationState):
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

    def as_list(self, value: Value, node: ast.AST | None) -> ListLike:
        if isinstance(value, ManyVal):
            scope = self.scope.aggregate(value.entry, self.schema.models)
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
        if ctx.outer is not None:
            # inside an element: this one runs once per view row, over the view's join graph, and
            # the enclosing comprehensions' elements are out of its reach
            hidden = ctx.hidden | (set(ctx.env) - set(ctx.outer.env))
            ctx = replace(ctx.outer, hidden=frozenset(hidden))
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
        inner = Ctx(source.agg, {**ctx.env, var: source.elem}, ctx.method, outer=ctx, hidden=ctx.hidden - {var})
        include, elem_err = source.include, source.elem_err
        elem = source.elem
        self.iterating.append((node, source.agg.root))
        try:
            for cond in conds:
                t = self.truth(cond, inner)
                elem_err = B.or_(elem_err, B.and_(include, t.err))
                include = B.and_(include, t.expr)
            if elt is not None:
                value = self.expr(elt, inner)
                if not isinstance(value, (Scalar, DictVal, Doc)):
                    raise self.fail("unsupported-comprehension", "elements must be scalars, dicts or documents", elt)
                elem_err = B.or_(elem_err, B.and_(include, self.elem_err(value)))
                elem = self.strip(value)
        finally:
            self.iterating.pop()
        coll = Coll(source.agg, include, elem, elem_err, source.none_err, source.sort_keys, source.reverse)
        return self.correlate(coll, node)

    def correlate(self, coll: Coll, node: ast.AST) -> Coll:
        """Elements that read values of the view's row get a subquery of their own with those values joined in.

        Each largest part of an element-level expression that reads only the view's
        FROM clause (root, references, lookups, aggregates made before) becomes a
        column of the subquery's `Derived` row, keyed by the root's id. The error
        flags move with the expressions, so a value that raises (`self.avg` that is
        None, a missing `self.store.auction.seller`) raises per element, as Python's
        filter does: never for a collection without elements.
        """
        old = coll.agg.outer
        if old is not None:  # already correlated: its values go back to the view's expressions, to be placed again
            back: dict[Expr, Expr] = {Column(old.alias, name, e.dtype): e for e, name in old.columns.items()}
            coll = map_elements(coll, lambda e: map_expr(e, lambda x: back.get(x, x)))
        inner = {n.alias for n in coll.agg.nodes}
        view = {n.alias for n in self.scope.nodes} | {a.alias for a in self.scope.aggregates.values()}
        reads = {c.relation for e in element_exprs(coll) for c in e.walk() if isinstance(c, Column)}
        if reads - inner - view:
            raise self.correlated(node)
        if not reads & view:
            return coll
        scope = self.scope.correlated(coll.agg, reads & view)
        outer = scope.outer
        assert outer is not None

        def lift(e: Expr) -> Expr:
            relations = {c.relation for c in e.walk() if isinstance(c, Column)}
            if not relations & view:
                return e
            if relations <= view:
                return outer.add(e)
            return e.with_children([lift(c) for c in e.children()])

        return map_elements(coll, lift).but(agg=scope)

    def elem_err(self, elem: Scalar | DictVal | Doc) -> Expr:
        if isinstance(elem, DictVal):
            return B.or_(*[v.err for _, v in elem.items])
        return elem.err

    @staticmethod
    def strip(elem: Scalar | DictVal | Doc) -> Scalar | DictVal | Doc:
        if isinstance(elem, Scalar):
            return Scalar(elem.expr)
        if isinstance(elem, DictVal):
            return DictVal(tuple((k, Scalar(v.expr)) for k, v in elem.items))
        return Doc(elem.node)

    def call_aggregate_builtin(self, name: str, node: ast.Call, ctx: Ctx) -> Value:
        if not node.args:
            raise self.fail("bad-call", f"`{name}()` needs an argument", node)
        keywords = {k.arg: k.value for k in node.keywords}
        if name == "len" and isinstance(node.args[0], ast.GeneratorExp):
            raise self.fail(
                "always-raises",
                "`len()` of a generator raises TypeError in Python for every input",
                node,
                "count with a list comprehension, `len([... for ...])`, or `sum(1 for ...)`",
            )
        first = self.expr(node.args[0], ctx)
        if name == "len" and isinstance(first, Scalar) and first.dtype.kind == Kind.LIST:
            return Scalar(B.func(Op.CARDINALITY, first.expr, dtype=T.INT), B.or_(first.err, self.none_err(first)))
        if name == "len" and isinstance(first, Scalar):
            if first.dtype.kind != Kind.STR:
                raise self.fail("type-error", f"`len()` of {first.dtype}", node)
            return Scalar(B.func(Op.CHAR_LENGTH, first.expr, dtype=T.INT), B.or_(first.err, self.none_err(first)))
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

    def fold(self, coll: ListLike, leaf: Callable[[Coll | EmptyList], Scalar], node: ast.AST | None) -> Scalar:
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
        def leaf(c: Coll | EmptyList) -> Scalar:
            if isinstance(c, EmptyList):
                return Scalar(B.lit(0))
            if c.distinct:
                assert isinstance(c.elem, Scalar)  # set comprehensions hold scalars (comprehension checks it)
                n = self.agg_col(c, "count_distinct", c.elem.expr, c.include, T.INT)
                if c.elem.dtype.nullable:  # a set keeps one None, COUNT(DISTINCT) none
                    nulls = self.agg_col(c, "count", None, B.and_(c.include, B.is_null(c.elem.expr)), T.INT)
                    n = B.func(
                        "add",
                        n,
                        B.case(B.func(Op.GT, nulls, B.lit(0), dtype=T.BOOL), B.lit(1), B.lit(0), T.INT),
                        dtype=T.INT,
                    )
            else:
                n = self.agg_col(c, "count", None, c.include, T.INT)
            return Scalar(n, self.coll_err(c))

        return self.fold(coll, leaf, None)

    def agg_col(self, c: Coll, func: str, arg: Expr | None, where: Expr | None, dtype: T.DType) -> Expr:
        """An aggregate of the collection's subquery, as a column of the view query (0 for counts of nothing)."""
        where = None if where is None or B.is_true(where) else where
        call = AggCall(Agg(func), arg, where, dtype.null())
        inside = {n.alias for n in c.agg.nodes} | ({c.agg.outer.alias} if c.agg.outer else set())
        if any(isinstance(x, Column) and x.relation not in inside for x in call.walk()):
            # an aggregate of another list that reads the element being iterated (`b.x in self.other_list`)
            raise self.correlated(
                self.iterating[-1][0] if self.iterating else self.view.methods[self.current_name()].node
            )
        col = c.agg.add(call)
        if func in ("count", "count_distinct"):
            return B.func(Op.COALESCE, col, B.lit(0), dtype=T.INT)
        return col

    def coll_err(self, c: Coll) -> Expr:
        if B.is_false(c.elem_err):
            return c.none_err
        bad = self.agg_col(c, "count", None, c.elem_err, T.INT)
        return B.or_(c.none_err, B.func(Op.GT, bad, B.lit(0), dtype=T.BOOL))

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
        nullable = [k for k in c.sort_keys or () if k.dtype.nullable]
        if not nullable:
            return FALSE
        nulls = self.agg_col(c, "count", None, B.and_(c.include, B.or_(*[B.is_null(k) for k in nullable])), T.INT)
        total = self.agg_col(c, "count", None, c.include, T.INT)
        return B.and_(B.func(Op.GT, nulls, B.lit(0), dtype=T.BOOL), B.func(Op.GT, total, B.lit(1), dtype=T.BOOL))

    def aggregate_any(
        self, coll: ListLike, test: Callable[[Value], Expr], node: ast.AST, extra_err: Expr = FALSE
    ) -> Scalar:
        def leaf(c: Coll | EmptyList) -> Scalar:
            if isinstance(c, EmptyList):
                return Scalar(FALSE, extra_err)
            elem = c.elem
            hit = c.but(include=B.and_(c.include, B.safe(test(elem))))
            if isinstance(elem, Scalar) and self.tests_other_values(test, elem, node):
                # `x in self.names`: the list's elements are compared with a value of the view's row
                hit = self.correlate(hit, node)
            hits = self.agg_col(hit, "count", None, hit.include, T.INT)
            return Scalar(B.func(Op.GT, hits, B.lit(0), dtype=T.BOOL), B.or_(extra_err, self.coll_err(c)))

        return self.fold(coll, leaf, node)

    def tests_other_values(self, test: Callable[[Value], Expr], elem: Scalar, node: ast.AST) -> bool:
        """Whether a test of a list's elements reads values besides the element itself.

        Those must be the view row's (correlated then): an element of a comprehension being
        translated around it (`[t for t in ... if t.role in self.roles]`) has the same aliases
        as the list's own documents when both range over one collection, so it is refused
        here, where it can still be told apart.
        """
        probe = Column("<element>", "value", elem.dtype)
        others = {x.relation for x in test(Scalar(probe)).walk() if isinstance(x, Column)} - {probe.relation}
        if not others:
            return False
        view = {n.alias for n in self.scope.nodes} | {a.alias for a in self.scope.aggregates.values()}
        if others - view:
            raise self.correlated(node)
        return True

    def fold_leaf(self, name: str, c: Coll | EmptyList, default: Scalar | None, node: ast.AST) -> Scalar:
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
            nulls: Expr = FALSE
            if elem.dtype.nullable:
                nulls = B.func(
                    "gt",
                    self.agg_col(c, "count", None, B.and_(c.include, B.is_null(elem.expr)), T.INT),
                    B.lit(0),
                    dtype=T.BOOL,
                )
            if kind == Kind.INT:  # a sum of bools is a count: it fits
                return self.int_sum(c, arg, B.or_(self.coll_err(c), nulls))
            total = self.agg_col(c, "sum", arg, c.include, dtype)
            zero = Literal(0, dtype) if dtype.kind != Kind.FLOAT else Literal(0.0, T.FLOAT)
            return Scalar(B.func(Op.COALESCE, total, zero, dtype=dtype), B.or_(self.coll_err(c), nulls))
        if name in ("min", "max"):
            if kind in ("list", "row", "none"):
                raise self.fail("type-error", f"`{name}()` of {elem.dtype}", node)
            dtype = elem.dtype.null(False)
            best = self.agg_col(c, name, elem.expr, c.include, dtype)
            empty: Expr = FALSE
            if not (B.is_true(c.include) and any(c.agg.root is root for _, root in self.iterating)):
                # (inside an element of this very collection, unfiltered it holds at least that element)
                n = self.agg_col(c, "count", None, c.include, T.INT)
                empty = B.func(Op.EQ, n, B.lit(0), dtype=T.BOOL)
            err = B.or_(self.coll_err(c), self.sort_err(c.but(sort_keys=(elem.expr,))))
            if default is None:
                return Scalar(best, B.or_(err, empty))
            out = T.unify(dtype, default.dtype) or dtype
            return Scalar(
                B.case(empty, B.cast(default.expr, out), B.cast(best, out), out.null()),
                B.or_(err, B.and_(empty, default.err)),
            )
        raise self.fail("unsupported-call", f"`{name}()` is not supported", node)

    def int_sum(self, c: Coll, arg: Expr, err: Expr) -> Scalar:
        """`sum()` of ints: Flink's BIGINT SUM wraps, so the sum is exact in DECIMAL and None outside 64 bits.

        A sum of 1s (`n += 1` in an accumulation loop, `sum(1 for ...)`) is a count, which always fits.
        """
        if isinstance(arg, Literal) and type(arg.value) is int and arg.value == 1:
            return Scalar(self.agg_col(c, "count", None, c.include, T.INT), err)
        total = self.agg_col(c, "sum", B.cast(arg, T.DECIMAL), c.include, T.DECIMAL)
        outside = B.safe(B.not_(B.func(Op.BETWEEN, total, *int64.DECIMAL_BOUNDS, dtype=T.BOOL)))
        value = B.func(Op.COALESCE, B.cast(total, T.INT), Literal(0, T.INT), dtype=T.INT)
        return Scalar(value, B.or_(err, outside))

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
            keys: tuple[Expr, ...] = (elem.expr,)
        else:
            if not (isinstance(key, ast.Lambda) and len(key.args.args) == 1):
                raise self.fail("unsupported-sort", "`key=` must be a lambda of one argument", key)
            inner = Ctx(coll.agg, {**ctx.env, key.args.args[0].arg: elem}, ctx.method, outer=ctx.outer or ctx)
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
            by_expr: dict[Expr, str] = {}
            for name, v in elem.items:
                by_expr.setdefault(v.expr, name)
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

    def materialize(
        self, value: ListLike, node: ast.AST, declared: T.DType | str | None
    ) -> tuple[Expr, Expr, tuple[str, ...] | None, bool]:
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
                return B.func(Op.EMPTY_ARRAY, dtype=array_type), FALSE
            if isinstance(v, CondList):
                a, ea = build(v.then)
                b, eb = build(v.otherwise)
                return (B.case(v.cond, a, b, array_type), B.or_(v.err, B.and_(v.cond, ea), B.and_(B.not_(v.cond), eb)))
            elem = self.elem_expr(v, elem_type)
            func = "array_agg_distinct" if v.distinct else "array_agg"
            arr = v.agg.add(AggCall(Agg(func), elem, None if B.is_true(v.include) else v.include, array_type.null()))
            out = B.func(Op.COALESCE, arr, B.func(Op.EMPTY_ARRAY, dtype=array_type), dtype=array_type)
            if v.sort_keys:
                out = B.func(Op.ARRAY_SORT, out, B.lit(not v.reverse), dtype=array_type)
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
        assert isinstance(c.elem, DictVal)  # only lists of dicts have fields
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
        return B.func(Op.ROW, *[v.expr for _, v in self.ordered_items(c)], dtype=elem_type)


def element_exprs(c: Coll) -> list[Expr]:
    """The expressions of a collection evaluated per element (inside its subquery)."""
    elem = c.elem
    values = (
        [v.expr for _, v in elem.items]
        if isinstance(elem, DictVal)
        else [elem.expr]
        if isinstance(elem, Scalar)
        else []
    )
    return [c.include, c.elem_err, *values, *(c.sort_keys or ())]


def map_elements(c: Coll, fn: Callable[[Expr], Expr]) -> Coll:
    """`c` with `fn` applied to each of its element-level expressions."""
    elem = c.elem
    if isinstance(elem, DictVal):
        elem = DictVal(tuple((k, Scalar(fn(v.expr), fn(v.err))) for k, v in elem.items))
    elif isinstance(elem, Scalar):
        elem = Scalar(fn(elem.expr), fn(elem.err))
    keys = None if c.sort_keys is None else tuple(fn(k) for k in c.sort_keys)
    return c.but(include=fn(c.include), elem_err=fn(c.elem_err), elem=elem, sort_keys=keys)


def list_leaves(value: ListLike) -> list[Coll]:
    """The collections a list value may be, across its branches (empty lists left out)."""
    if isinstance(value, CondList):
        return list_leaves(value.then) + list_leaves(value.otherwise)
    return [value] if isinstance(value, Coll) else []
