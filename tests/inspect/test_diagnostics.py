"""Every command reports errors in ontoc's one format, all of a run at once, and as JSON for annotators."""

from __future__ import annotations

import re
import shutil

import pytest

from .conftest import ROOT

HEADER = re.compile(r"^(?P<file>[^\s:]+\.py):(?P<line>\d+):(?P<col>\d+): error: .+  \[(?P<code>[a-z-]+)\]$")


@pytest.fixture
def broken(tmp_path):
    """Two packages: `a` with two getter errors, `b` with a syntax error."""
    root = tmp_path / "defs"
    for name in ("a", "b"):
        shutil.copytree(ROOT / "definitions" / "meeting_room", root / name)
    views = root / "a" / "views.py"
    views.write_text(
        views.read_text()
        .replace("self.store.meeting.location.address", "self.store.meeting.place")
        .replace(
            'return self.store.meeting.status == "in-session"', "while True:\n            pass\n        return True"
        )
    )
    other = root / "b" / "views.py"
    other.write_text(other.read_text().replace("def in_session(self) -> bool:", "def in_session(self) -> bool"))
    return root


COMMANDS = [
    ("compile", ["compile", "{defs}", "-o", "{out}"], "full"),
    ("explain", ["explain", "MeetingSession", "{defs}"], "text"),
    ("validate", ["validate", "{defs}"], "text"),
    ("plan", ["plan", "{defs}", "--against", str(ROOT / "generated")], "text"),
]


def _args(args, broken, tmp_path):
    return [a.format(defs=broken, out=tmp_path / "out") for a in args]


@pytest.mark.parametrize("name,args,fmt", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_one_text_format_with_every_error(name, args, fmt, broken, tmp_path, run):
    result = run(*_args(args, broken, tmp_path), "--format", fmt)
    assert result.code == 2
    err = result.err
    headers = [m for m in (HEADER.match(line) for line in err.splitlines()) if m]
    assert sorted((m["code"], m["file"].rsplit("/", 2)[-2]) for m in headers) == [
        ("syntax-error", "b"),
        ("unknown-field", "a"),
        ("unsupported-statement", "a"),
    ]
    assert err.rstrip().endswith("ontoc: 3 errors")
    # the unknown field: its line under the header, a caret under the column, and a hint
    block = err[err.index("[unknown-field]") :].splitlines()
    assert block[1] == "   26 |         return self.store.meeting.place"
    assert block[2] == "      |                ^~~~~~~~~~~~~~~~~~~~~~~~"
    assert block[3].startswith("hint: ")


def test_the_same_diagnostics_from_every_command(broken, tmp_path, run):
    texts = {name: run(*_args(args, broken, tmp_path), "--format", fmt).err for name, args, fmt in COMMANDS}
    assert len(set(texts.values())) == 1, texts
    docs = {name: run(*_args(args, broken, tmp_path), "--format", "json").diagnostics() for name, args, _ in COMMANDS}
    assert all(d == docs["compile"] for d in docs.values())
    unknown = next(d for d in docs["compile"] if d["code"] == "unknown-field")
    assert (unknown["line"], unknown["col"], unknown["end_col"]) == (26, 16, 40)
    assert unknown["file"].endswith("a/views.py") and unknown["hint"]
