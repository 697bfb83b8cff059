"""Unsupported code is a compile error with file:line:col, the source line, a caret and a hint.

Each case is a getter body; the marker text says where the caret must point
(the first occurrence of the marker on the line that contains it).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ontoc.errors import OntocError
from ontoc.pipeline import compile_definitions

from ..conftest import DEFINITIONS

VIEW = """\
from ontoc import Store, ViewModel, attrs, many, one

from .models import Meeting, Ticket


class S(Store):
    meeting = one(Meeting)
    tickets = many(Ticket, on="meeting")


class V(ViewModel):
    class Meta:
        topic = "v"
        store = S

{methods}
"""

CASES = [
    # (id, methods source, error code, marker)
    (
        "while-loop",
        """
    @attrs.getter
    def g(self) -> int:
        n = 0
        while n < 3:
            n = 1
        return n
""",
        "unsupported-statement",
        "while n < 3",
    ),
    (
        "try",
        """
    @attrs.getter
    def g(self) -> int:
        try:
            return 1
        except Exception:
            return 2
""",
        "unsupported-statement",
        "try:",
    ),
    (
        "import",
        """
    @attrs.getter
    def g(self) -> int:
        import os
        return 1
""",
        "unsupported-statement",
        "import os",
    ),
    (
        "io-call",
        """
    @attrs.getter
    def g(self) -> str:
        return open("/etc/passwd").read()
""",
        "unknown-function",
        "open(",
    ),
    (
        "print",
        """
    @attrs.getter
    def g(self) -> str:
        print(self.store.meeting.status)
        return "x"
""",
        "mutation",
        "print(",
    ),
    (
        "unknown-function",
        """
    @attrs.getter
    def g(self) -> int:
        return compute(self.store.meeting.status)
""",
        "unknown-function",
        "compute(",
    ),
    (
        "mutation-attribute",
        """
    @attrs.getter
    def g(self) -> str:
        self.store.meeting.status = "closed"
        return "x"
""",
        "mutation",
        "self.store.meeting.status =",
    ),
    (
        "augmented-assignment",
        """
    @attrs.getter
    def g(self) -> int:
        n = 1
        n += 2
        return n
""",
        "mutation",
        "n += 2",
    ),
    (
        "other-loop",
        """
    @attrs.getter
    def g(self) -> int:
        n = 0
        for t in self.store.tickets:
            print(t)
        return n
""",
        "unsupported-loop",
        "print(t)",
    ),
    (
        "loop-over-range",
        """
    @attrs.getter
    def g(self) -> int:
        n = 0
        for i in range(3):
            n += i
        return n
""",
        "unknown-function",
        "range(3)",
    ),
    (
        "getter-cycle",
        """
    @attrs.getter
    def a(self) -> int:
        return self.b + 1

    @attrs.getter
    def b(self) -> int:
        return self.a + 1
""",
        "getter-cycle",
        "def a",
    ),
    (
        "unknown-field",
        """
    @attrs.getter
    def g(self) -> str:
        return self.store.meeting.colour
""",
        "unknown-field",
        "self.store.meeting.colour",
    ),
    (
        "classmethod-over-documents",
        """
    @attrs.getter
    def g(self) -> float | None:
        return self.median(t for t in self.store.tickets)

    @classmethod
    def median(cls, values) -> float | None:
        xs = sorted(values)
        return xs[len(xs) // 2] if xs else None
""",
        "unsupported-udf",
        "(t for t in self.store.tickets)",
    ),
    (
        "udf-without-annotation",
        """
    @attrs.getter
    def g(self) -> str:
        return self.shout(self.store.meeting.status)

    @staticmethod
    def shout(text):
        while text:
            return text
        return text
""",
        "missing-annotation",
        "self.shout(",
    ),
    (
        "format-spec",
        """
    @attrs.getter
    def g(self) -> str:
        return f"{self.store.meeting.location.latitude:.2f}"
""",
        "unsupported-format",
        'f"{self.store.meeting.location.latitude:.2f}"',
    ),
    (
        "correlated-collection",
        """
    @attrs.getter
    def g(self) -> int:
        return len([t for t in self.store.tickets if t.role == self.store.meeting.status])
""",
        "correlated-collection",
        "self.store.meeting.status",
    ),
    (
        "nested-comprehension",
        """
    @attrs.getter
    def g(self) -> int:
        return len([1 for t in self.store.tickets for u in self.store.tickets])
""",
        "unsupported-comprehension",
        "[1 for t in",
    ),
    (
        "lambda-call",
        """
    @attrs.getter
    def g(self) -> int:
        return (lambda x: x)(1)
""",
        "unsupported-call",
        "(lambda x: x)(1)",
    ),
    (
        "round-digits-may-be-none",
        """
    @attrs.getter
    def g(self) -> float:
        return round(1.5, 2 if self.store.meeting.status else None)
""",
        "unsupported-call",
        "round(1.5",
    ),
    (
        "return-type",
        """
    @attrs.getter
    def g(self) -> int:
        return self.store.meeting.status
""",
        "return-type",
        "int",
    ),
    (
        "mixed-branches",
        """
    @attrs.getter
    def g(self) -> str:
        if self.store.meeting.status:
            return "a"
        return 1
""",
        "type-mismatch",
        "def g",
    ),
    (
        "len-of-generator",
        """
    @attrs.getter
    def g(self) -> int:
        return len(t.role for t in self.store.tickets)
""",
        "always-raises",
        "len(t.role",
    ),
]


def write_package(tmp_path: Path, methods: str) -> Path:
    package = tmp_path / "defs"
    package.mkdir()
    shutil.copy(DEFINITIONS / "meeting_room" / "models.py", package / "models.py")
    (package / "__init__.py").write_text("")
    (package / "views.py").write_text(VIEW.format(methods=textwrap.indent(textwrap.dedent(methods), "    ")))
    return package


@pytest.mark.parametrize("methods,code,marker", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_unsupported_code_is_a_located_error(tmp_path, methods, code, marker):
    package = write_package(tmp_path, methods)
    with pytest.raises(OntocError) as caught:
        compile_definitions(package)
    diagnostics = caught.value.diagnostics
    assert [d.code for d in diagnostics] == [code], caught.value
    d = diagnostics[0]
    lines = (package / "views.py").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if marker in text)
    assert d.span.file.endswith("views.py")
    assert (d.span.line, d.span.col) == (line, lines[line - 1].index(marker) + 1), caught.value
    rendered = d.render()
    assert rendered.startswith(f"{d.span.file}:{line}:{d.span.col}: error: ")
    assert rendered.splitlines()[1].endswith(lines[line - 1].rstrip())
    caret_line = rendered.splitlines()[2]
    assert caret_line.index("^") - caret_line.index("|") - 2 == d.span.col - 1
    assert "\nhint: " in rendered


def test_all_errors_of_a_run_are_reported_together(tmp_path):
    package = write_package(tmp_path, CASES[0][1] + CASES[5][1].replace("def g", "def h"))
    with pytest.raises(OntocError) as caught:
        compile_definitions(package)
    assert [d.code for d in caught.value.diagnostics] == ["unsupported-statement", "unknown-function"]


def test_cli_exits_2_with_the_message_and_no_traceback(tmp_path):
    package = write_package(tmp_path, CASES[0][1])
    proc = subprocess.run(
        [sys.executable, "-m", "ontoc.cli", "compile", str(package), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "views.py" in proc.stderr and "while n < 3" in proc.stderr and "^" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_json_diagnostics(tmp_path):
    import json

    package = write_package(tmp_path, CASES[0][1])
    proc = subprocess.run(
        [sys.executable, "-m", "ontoc.cli", "compile", str(package), "--format", "json"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    [item] = json.loads(proc.stderr)
    assert item["code"] == "unsupported-statement" and item["line"] > 0 and item["col"] > 0 and item["hint"]


def test_warning_for_a_python_udf_where_native_sql_was_possible(tmp_path):
    import json

    from ontoc.pipeline import compile_definitions as compile_package

    assert compile_package(DEFINITIONS / "meeting_room").warnings == []
    [warning] = compile_package(DEFINITIONS / "meeting_room", static_methods="udf").warnings
    assert (warning.severity, warning.code) == ("warning", "udf-could-be-native")
    assert warning.span.file.endswith("views.py") and "display_name" in warning.message
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ontoc.cli",
            "compile",
            str(DEFINITIONS / "meeting_room"),
            "-o",
            str(tmp_path),
            "--static-methods",
            "udf",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0
    assert [w["code"] for w in json.loads(proc.stderr)] == ["udf-could-be-native"]
