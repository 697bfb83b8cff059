"""Compile a definitions folder package by package, and locate views and getters in their source."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import Diagnostic, OntocError, Span
from ..frontend.schema import ViewDef
from ..pipeline import Compiled, compile_definitions, definition_packages


@dataclass
class Package:
    name: str  # "" when DEFINITIONS is itself one package
    path: Path
    compiled: Compiled


def compile_packages(definitions: Path) -> tuple[list[Package], list[Diagnostic]]:
    """Every package that compiles, and every diagnostic of those that do not (all of them, not the first)."""
    packages, diagnostics = [], []
    found = definition_packages(definitions)
    if not found:
        diagnostics.append(
            Diagnostic(
                "no-definitions",
                f"no definitions packages under {definitions}",
                None,
                "point at a folder of .py files, or a folder of such folders",
            )
        )
    for name, path in found:
        try:
            packages.append(Package(name, path, compile_definitions(path)))
        except OntocError as exc:
            diagnostics.extend(exc.diagnostics)
    return packages, diagnostics


def _keyword_span(view: ViewDef, node, keyword: str, name: str) -> Span:
    span = view.src.span(node)
    text = span.source_line
    at = text.find(f"{keyword} {name}")
    if at < 0:
        return span
    return Span(span.file, span.line, at + 1, at + 1 + len(f"{keyword} {name}"), text)


def method_span(view: ViewDef, method: str) -> Span:
    """`def <method>` of a view's getter or `@attrs.where` method."""
    return _keyword_span(view, view.methods[method].node, "def", method)


def view_span(view: ViewDef) -> Span:
    return _keyword_span(view, view.node, "class", view.name)


def location(span: Span) -> dict:
    return {"file": span.file, "line": span.line, "col": span.col}
