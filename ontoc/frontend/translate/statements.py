"""Statements of a getter body: a branch tree ending in returns, folded into one value.

`run` walks a body symbolically (an `if` forks the tree, an assignment binds a
local, a `for` accumulation loop becomes aggregates), `merge` folds the tree
into one value with the condition under which Python would have raised.
Expressions are reached through the seams of `context.TranslationState`.
"""

from __future__ import annotations

import ast

from ontoc.ir.types import Kind

from ...errors import OntocError
from ...ir import build as B
from ...ir import types as T
from ...ir.expr import FALSE, Expr, Literal
from ..values import Coll, CondList, Doc, EmptyList, Scalar, Value
from .context import SUPPORTED_HINT, Branch, Ctx, Ret, TranslationState


class StatementsMixin(TranslationState):
    def run(self, stmts: list[ast.stmt], ctx: Ctx, err: Expr) -> Ret | Branch:
        for i, stmt in enumerate(stmts):
            rest = stmts[i + 1 :]
            if isinstance(stmt, ast.Return):
                value = self.expr(stmt.value, ctx) if stmt.value is not None else Scalar(Literal(None, T.NONE))
                return Ret(value, err)
            if isinstance(stmt, ast.If):
                cond = self.truth(stmt.test, ctx)
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
            and other.dtype.kind == Kind.NONE
            or self.is_list(other)
            and isinstance(then, Scalar)
            and then.dtype.kind == Kind.NONE
        ):
            raise self.fail(
                "type-mismatch",
                "a getter returns a list on one path and None on another",
                node,
                "return [] instead of None",
            )
        raise self.fail("type-mismatch", "the branches of this getter return values of different kinds", node)

    def value_err(self, value: Value) -> Expr:
        if isinstance(value, (Scalar, Doc)):
            return value.err
        if self.is_list(value):
            return self.list_error(value)
        return FALSE

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
                        and isinstance(value.func, ast.Name)
                        and value.func.id in ("max", "min")
                        and len(value.args) == 2
                        and not value.keywords
                        and isinstance(value.args[0], ast.Name)
                        and value.args[0].id == var
                    ):
                        updates.append((var, value.func.id, value.args[1], conds))
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
        err: Expr = FALSE
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
                    def leaf(c: Coll | EmptyList, kind: str = kind, before: Scalar = before) -> Scalar:
                        return self.fold_leaf(kind, c, before, loop)

                    best = self.fold(coll, leaf, loop)
                    after = self.call_builtin(kind, [before, best], loop)
            err = B.or_(err, self.value_err(after))
            ctx = ctx.bind(**{var: after})
        return ctx, err
