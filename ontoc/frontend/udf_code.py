"""What a Python UDF runs, as a fingerprint: the code `ontoc plan` must notice changing.

A static or class method that runs as a UDF is imported from the definitions
on the Python workers, so a change to its body changes no emitted SQL; the
manifest records this fingerprint per UDF instead. It hashes the syntax tree
(not the text: comments and layout do not count) of the method, of the view's
other methods and class attributes it uses (`View.helper(...)`, `cls.SCALE`),
and of the module's top-level statements binding the names it uses (functions,
classes, assignments, imports, and the `if`/`try` blocks around them),
transitively. Code in other modules (what an import brings in) is not read.
"""

from __future__ import annotations

import ast
import hashlib

from .schema import MethodDef, SourceFile, ViewDef, module_bindings


def udf_code_fingerprint(method: MethodDef, view: ViewDef, src: SourceFile) -> str:
    members = module_bindings(view.node.body)  # the class body: methods and class attributes
    parts: list[str] = []
    seen: set[tuple[str, str]] = set()
    todo: list[tuple[str, str, list[ast.AST]]] = [("member", method.name, [method.node])]
    while todo:
        kind, name, nodes = todo.pop()
        if (kind, name) in seen:
            continue
        seen.add((kind, name))
        parts.append(f"{kind} {name}: " + "; ".join(ast.dump(n) for n in nodes))
        for node in nodes:
            for ref_kind, ref in _references(node, view.name):
                bindings = members if ref_kind == "member" else src.bindings
                if ref in bindings:
                    todo.append((ref_kind, ref, list(bindings[ref])))
    return hashlib.sha256("\n".join(sorted(parts)).encode("utf-8")).hexdigest()


def _references(node: ast.AST, class_name: str):
    """Names `node` reads: ("member", m) for `View.m` / `cls.m` / `self.m`, ("global", n) for a bare name."""
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.value, ast.Name)
            and sub.value.id in (class_name, "cls", "self")
        ):
            yield "member", sub.attr
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id != class_name:
            yield "global", sub.id  # the view's own class: only the members named above count
