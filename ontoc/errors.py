"""Diagnostics: one format for every error, with the source line and a caret.

Deep code raises `OntocError` with a `Span`; the driver collects all of a run
and renders them at once:

    definitions/shop/views.py:42:9: error: `while` loop is not supported  [unsupported-statement]
       42 |         while self.balance > 0:
          |         ^~~~~
    hint: a getter compiles to one SQL expression; ...
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    file: str
    line: int
    col: int  # 1-based, in characters
    end_col: int | None = None
    source_line: str = field(default="", compare=False)

    @classmethod
    def of(cls, node: ast.AST | None, file: str, lines: list[str]) -> Span:
        line = getattr(node, "lineno", 1)
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        col = _char_col(text, getattr(node, "col_offset", 0))
        end = None
        end_offset = getattr(node, "end_col_offset", None)
        if getattr(node, "end_lineno", None) == line and end_offset is not None:
            end = _char_col(text, end_offset)
        return cls(file, line, col + 1, end + 1 if end is not None else None, text)


def _char_col(text: str, byte_offset: int) -> int:
    """`ast` counts UTF-8 bytes; editors and humans count characters."""
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    span: Span | None
    hint: str | None = None
    severity: str = "error"

    def render(self) -> str:
        if self.span is None:
            head = f"ontoc: {self.severity}: {self.message}  [{self.code}]"
            return head + (f"\nhint: {self.hint}" if self.hint else "")
        s = self.span
        lines = [f"{s.file}:{s.line}:{s.col}: {self.severity}: {self.message}  [{self.code}]"]
        if s.source_line:
            gutter = f"{s.line:>5} | "
            lines.append(gutter + s.source_line.rstrip())
            width = max(1, (s.end_col - s.col) if s.end_col and s.end_col > s.col else 1)
            lines.append(" " * (len(gutter) - 2) + "| " + " " * (s.col - 1) + "^" + "~" * (width - 1))
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        out: dict[str, object] = {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }
        if self.span:
            out.update(file=self.span.file, line=self.span.line, col=self.span.col, end_col=self.span.end_col)
        return out


class OntocError(Exception):
    """One or more diagnostics; raised by the compiler, printed by the CLI."""

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic):
        self.diagnostics = diagnostics if isinstance(diagnostics, list) else [diagnostics]
        super().__init__("\n\n".join(d.render() for d in self.diagnostics))

    def render(self, fmt: str = "full") -> str:
        if fmt == "json":
            return json.dumps([d.to_json() for d in self.diagnostics], indent=2)
        if fmt == "concise":
            return "\n".join(
                f"{d.span.file}:{d.span.line}:{d.span.col}: {d.severity}: {d.message}  [{d.code}]"
                if d.span
                else f"ontoc: {d.severity}: {d.message}  [{d.code}]"
                for d in self.diagnostics
            )
        return str(self)


def error(code: str, message: str, span: Span | None, hint: str | None = None) -> OntocError:
    return OntocError(Diagnostic(code, message, span, hint))
