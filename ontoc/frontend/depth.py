"""How deep a view's expressions nest once the methods they read are inlined, and the limit on it.

The compiler walks expression trees recursively (translation, passes, SQL
generation), so a tree deeper than Python's stack allows cannot be compiled.
Getters, properties and static methods read through `self.` are inlined, so a
chain of properties nests as deep as one long expression. The depth is
measured here on the ASTs, without recursion, so that a tree too deep is a
located error before any stage recurses into it.
"""

from __future__ import annotations

import ast

from ..errors import Diagnostic
from .schema import Schema, ViewDef

# Expression levels a view may nest, inlined methods included. Measured: one level
# costs the compiler at most about 6 Python frames (a sum, a chain of properties),
# so it needs a recursion limit of about 6 * MAX_DEPTH; the pipeline sets RECURSION_LIMIT.
MAX_DEPTH = 1000
RECURSION_LIMIT = 10_000

HINT = (
    "getters, properties and static methods read through `self.` are inlined into one SQL expression; "
    "fold long sums or conditions over a collection (`sum(...)`, `any(...)`) or shorten the chain"
)


def check_depth(schema: Schema) -> list[Diagnostic]:
    """A `too-deep` error for each view method whose inlined expression nests beyond MAX_DEPTH."""
    out = []
    for view in schema.views.values():
        depths = method_depths(view)
        for name, (depth, node) in depths.items():
            if depth > MAX_DEPTH and view.methods[name].kind in ("getter", "where"):
                out.append(too_deep(view, node, depth))
    return out


def too_deep(view: ViewDef, node: ast.AST, depth: int | None) -> Diagnostic:
    measured = f"nests {depth} levels deep" if depth is not None else "nests too deep to compile"
    return Diagnostic(
        "too-deep",
        f"this expression {measured} once the methods it reads are inlined; the limit is {MAX_DEPTH}",
        view.src.span(node),
        HINT,
    )


def deepest(view: ViewDef) -> tuple[int, ast.AST] | None:
    """The depth and the node of the deepest expression of a view's getters (or None if it has none)."""
    depths = [d for name, d in method_depths(view).items() if view.methods[name].kind in ("getter", "where")]
    return max(depths, key=lambda d: d[0]) if depths else None


def method_depths(view: ViewDef) -> dict[str, tuple[int, ast.AST]]:
    """Per method: the depth of its deepest expression with the methods it reads inlined, and that
    expression (the outermost one: where a reader of the error starts). Methods are measured callees
    first; a cycle (an error reported elsewhere) counts as no depth."""
    walked = {name: _walk(view, m.node) for name, m in view.methods.items()}
    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    for start in view.methods:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(walked[start][1]))]
        while stack:
            name, todo = stack[-1]
            callee = next((c for _, _, c in todo if c not in state), None)
            if callee is None:
                stack.pop()
                state[name] = 2
                order.append(name)
            else:
                state[callee] = 1
                stack.append((callee, iter(walked[callee][1])))
    depths: dict[str, tuple[int, ast.AST]] = {}
    for name in order:
        best, reads = walked[name]
        for level, top, callee in reads:
            if callee in depths and level + depths[callee][0] > best[0]:
                best = (level + depths[callee][0], top)
        depths[name] = best
    return depths


def _walk(view: ViewDef, method: ast.FunctionDef) -> tuple[tuple[int, ast.AST], list[tuple[int, ast.AST, str]]]:
    """One walk of a method, without recursion: its deepest expression (depth, outermost expression), and
    each read of another method through `self.` / `cls.` / `View.` (depth there, outermost expression, name)."""
    receivers = {"self", "cls", view.name}
    best: tuple[int, ast.AST] = (0, method)
    reads: list[tuple[int, ast.AST, str]] = []
    stack: list[tuple[ast.AST, int, ast.AST | None]] = [(method, 0, None)]
    while stack:
        node, level, top = stack.pop()
        if isinstance(node, ast.expr):
            level += 1
            top = top or node
            if level > best[0]:
                best = (level, top)
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in receivers
                and node.attr in view.methods
            ):
                reads.append((level, top, node.attr))
        stack.extend((child, level, top) for child in ast.iter_child_nodes(node))
    return best, reads
