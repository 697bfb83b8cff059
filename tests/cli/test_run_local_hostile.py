"""`ontoc run --local` on hostile input: no crash, no valid event lost, every bad line reported.

The input folder mixes valid events with the hostile ones of issue 13 (an int
beyond 64 bits, JSON nested 50,000 deep, a 5,000-digit number, bytes that are
not UTF-8, a datetime past year 9999, NaN and Infinity, lone surrogates, a BOM
at the start of the file and one in the middle). A default of the wrong type
cannot reach the runner: it is a compile error (`default-type`), checked here too.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from ontoc.cli.main import cli
from ontoc.errors import OntocError
from ontoc.events import final_documents, read_events
from ontoc.oracle import import_definitions, view_rows
from ontoc.pipeline import compile_definitions

from ..support.compare import diff_views

MODELS = """
from datetime import datetime
from decimal import Decimal

from ontoc import DomainModel


class Reading(DomainModel):
    class Meta:
        topic = "hostile_readings"

    name: str
    count: int
    value: float
    at: datetime
    amount: Decimal
    level: int = 7
"""

VIEWS = """
from ontoc import Store, ViewModel, attrs, one

from .models import Reading


class ReadingStore(Store):
    reading = one(Reading)


class ReadingView(ViewModel):
    class Meta:
        topic = "hostile_reading_view"
        store = ReadingStore

    @attrs.getter
    def label(self) -> str:
        return self.store.reading.name

    @attrs.getter
    def total(self) -> int:
        return self.store.reading.count + self.store.reading.level

    @attrs.getter
    def scaled(self) -> float:
        return self.store.reading.value * 1e308
"""


def _package(root: Path, models: str = MODELS) -> Path:
    pkg = root / "hostile"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""Hostile input."""\n')
    (pkg / "models.py").write_text(textwrap.dedent(models))
    (pkg / "views.py").write_text(textwrap.dedent(VIEWS))
    return pkg


def _doc(**changes: object) -> dict:
    return {"name": "n", "count": 1, "value": 2.5, "at": "2024-01-01T00:00:00Z", "amount": 12.5, **changes}


def _line(key: str, value_text: str) -> bytes:
    return b'{"key": ' + json.dumps(key).encode() + b', "value": ' + value_text.encode("utf-8", "surrogatepass") + b"}"


def _valid(key: str, **changes: object) -> bytes:
    return _line(key, json.dumps(_doc(**changes)))


def _with(key: str, field: str, raw_json: str) -> bytes:
    """A document whose `field` holds `raw_json` verbatim (text no JSON encoder would write)."""
    doc = json.dumps({k: v for k, v in _doc().items() if k != field})
    return _line(key, doc[:-1] + f', "{field}": {raw_json}}}')


BOM = b"\xef\xbb\xbf"
# (line, valid?) in file order; line 1 starts with the file's BOM
LINES: list[tuple[bytes, bool]] = [
    (BOM + _valid("r1", name="first"), True),
    (_valid("r2", name="second"), True),
    (_with("r1", "count", str(2**64)), False),  # int beyond 64 bits
    (_with("r1", "name", "[" * 50_000 + "]" * 50_000), False),  # nested 50,000 deep
    (_with("r1", "amount", "1" * 5_000), False),  # a 5,000-digit number
    (_valid("r1", name="\u00e9").replace(b"\\u00e9", b"\xff\xfe"), False),  # not UTF-8
    (_valid("r1", at="9999-12-31T23:59:59-01:00"), False),  # year 10000 in UTC
    (_with("r1", "value", "NaN"), False),
    (_with("r1", "value", "Infinity"), False),
    (_with("r1", "value", "-Infinity"), False),
    (_line("r1", json.dumps(_doc(name="\ud800"))), False),  # a lone surrogate, escaped
    (_line("r1", json.dumps(_doc(name="\ud800"), ensure_ascii=False)), False),  # ... and as raw bytes
    (_with("r1", "extra", '"\\udfff"'), False),  # in an undeclared key too
    (BOM + _valid("r3"), False),  # a BOM inside the file is not JSON
    (_valid("r3", name="third", count=-(2**63)), True),
    (_line("r2", "null"), True),  # a delete
    (_valid("r4", name="fourth", count=2**63 - 1 - 7, value=1e308), True),  # scaled is inf
]


def _strict_json(text: str) -> object:
    def refuse(name: str) -> object:
        raise AssertionError(f"bare {name} in the output: {text[:200]}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.flink
def test_hostile_input_is_reported_and_skipped_and_views_match_the_oracle(tmp_path):
    definitions = _package(tmp_path)
    inputs, output = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    (inputs / "hostile_readings.jsonl").write_bytes(b"\n".join(line for line, _ in LINES) + b"\n")

    result = CliRunner().invoke(
        cli, ["run", str(definitions), "--local", "--input", str(inputs), "--output", str(output), "--print"]
    )
    assert result.exit_code == 0, result.output
    bad_lines = [n for n, (_, ok) in enumerate(LINES, start=1) if not ok]
    reported = sorted(
        int(line.split(":")[1])
        for line in result.output.splitlines()
        if "hostile_readings.jsonl:" in line and "skipped invalid event" in line
    )
    assert reported == bad_lines, result.output
    assert f"{len(bad_lines)} invalid event(s) skipped" in result.output

    text = (output / "hostile_reading_view.jsonl").read_text(encoding="utf-8")
    records = [_strict_json(line) for line in text.splitlines()]
    got = {r["key"]: r["value"] for r in records}  # type: ignore[index]
    assert sorted(got) == ["r1", "r3", "r4"]  # r2 deleted; r1 kept its first state
    assert got["r1"]["label"] == "first" and got["r4"]["total"] == 2**63 - 1  # the largest int, exact
    assert got["r4"]["scaled"] == "Infinity"  # 1e308 * 1e308, as Flink's JSON format writes it on the cluster
    for row in got.values():
        row["scaled"] = float(row["scaled"])  # float("Infinity") is inf, as the oracle has it

    compiled = compile_definitions(definitions)
    valid, invalid = read_events(list(compiled.schema.models.values()), inputs)
    assert len(valid) == len(LINES) - len(bad_lines) and len(invalid) == len(bad_lines)
    docs = final_documents(valid)
    classes = import_definitions(compiled.schema)
    forward = view_rows(compiled.schema, classes, docs)["hostile_reading_view"]
    backward = view_rows(compiled.schema, classes, docs, reverse=True)["hostile_reading_view"]
    assert diff_views(got, forward, backward) == []


def test_a_default_of_the_wrong_type_is_a_compile_error(tmp_path):
    for default in ('"oops"', str(2**70)):
        root = tmp_path / default.strip('"')
        root.mkdir()
        with pytest.raises(OntocError, match="default-type"):
            compile_definitions(_package(root, MODELS.replace("level: int = 7", f"level: int = {default}")))
