"""`ontoc run --local`'s sources (`runtime/embedded/line_sources.py`): Flink reads the input files, validates
every line with ONTOC_VALIDATE_LINE and keeps the last valid event per key; invalid lines come back as
file:line.

One Flink job runs the shared table of good and bad records (tests/fixtures/events/records.json, the one
test_native_validator.py runs through the Python rules and the JVM functions) as lines of input files, and
the file edge cases beside them: a byte-order mark, CRLF and blank lines, lines that are not UTF-8, the same
invalid line twice, lines of megabytes, a last line without a newline, a missing file and an empty one.
Every verdict is compared with the Python rules (`events.parse_line`), every invalid line's number with
its place in the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from test_native_validator import TABLE, TOPICS, python_line_verdict, raw

from ontoc.event_validation import DELETE, INVALID, UPSERT, FieldSpec, TopicSpec
from ontoc.events import UTF8_BOM, InvalidEvent
from ontoc.frontend.schema import FieldDef
from ontoc.ir.types import DType
from ontoc.jvm.functions import ensure_functions_jar, register_functions
from ontoc.runtime.embedded import line_sources
from ontoc.runtime.embedded.runner import ViewQuery, run_job

pytestmark = pytest.mark.flink

HUGE = 3_000_000  # characters of a string field: lines of megabytes, longer than any buffer of the reader


@dataclass
class Model:
    topic: str
    fields: dict[str, FieldDef]
    columns: list[tuple[str, DType]]


def _spec(m: Model) -> TopicSpec:
    fields = tuple(FieldSpec(f.name, f.dtype, f.has_default, f.default) for f in m.fields.values())
    return TopicSpec(m.topic, fields, tuple(m.columns))


def _edge_model(topic: str) -> Model:
    fields = {
        "s": FieldDef("s", DType("str", False), None, False),
        "i": FieldDef("i", DType("int", False), None, False),
    }
    return Model(topic, fields, [("s", DType("str", False)), ("i", DType("int", False))])


def _event(key: str, value: object) -> bytes:
    return json.dumps({"key": key, "value": value}).encode()


EDGE_LINES: list[bytes] = [  # (line 1 starts with the byte-order mark)
    _event("a", {"s": "x", "i": 1}) + b"\r",  # 1 valid, CRLF
    b"\r",  # 2 blank (CRLF)
    b"   \t",  # 3 blank
    _event("b", {"s": "y", "i": 2}),  # 4
    b'\xff\xfe{"key": "c", "value": null}',  # 5 not UTF-8
    _event("a", {"s": "x2", "i": 3}) + b"\r",  # 6 update
    _event("b", None),  # 7 delete
    _event("a", {"s": "bad", "i": "no"}),  # 8 invalid: a keeps x2
    _event("a", {"s": "bad", "i": "no"}),  # 9 the same invalid line again
    _event("h", {"s": "x" * HUGE, "i": 4}),  # 10 huge, valid
    _event("h2", {"s": "é" * HUGE, "i": "bad"}),  # 11 huge, invalid (its reported text is cut)
    UTF8_BOM + _event("d", {"s": "z", "i": 5}),  # 12 a byte-order mark not at the start: not JSON
    b"",  # 13 empty
    _event("c", {"s": "z", "i": 6}),  # 14 the last line, without a newline
]
EDGE_STATE = {"a": {"s": "x2", "i": 3}, "h": {"s": "x" * HUGE, "i": 4}, "c": {"s": "z", "i": 6}}
EDGE_INVALID = [5, 8, 9, 11, 12]


def _table_files(folder: Path) -> tuple[dict[str, list[tuple[int, dict, bytes]]], dict[str, Model]]:
    """The table's records of the job's topics as `<topic>.jsonl`, each with a key of its own."""
    models = {t: Model(t, TOPICS[t].fields, TOPICS[t].columns) for t in TOPICS}
    lines: dict[str, list[tuple[int, dict, bytes]]] = {}
    for n, r in enumerate(TABLE["records"]):
        if r["topic"] not in TOPICS:
            continue
        key = json.dumps(f"r{n}:" + r["key"]).encode() if isinstance(r["key"], str) else b"null"
        value = raw(r["value"])
        line = b'{"key": ' + key + b', "value": ' + (b"null" if value is None else value) + b"}"
        if b"\n" in line:  # a record with a newline in its whitespace is two lines of a file, not one event
            continue
        lines.setdefault(r["topic"], []).append((n, r, line))
    for topic, rows in lines.items():
        (folder / f"{topic}.jsonl").write_bytes(b"\n".join(line for _, _, line in rows) + b"\n")
    return lines, models


def _same(got: object, want: object, dtype: DType) -> bool:
    if want is None or got is None:
        return want is None and got is None
    if dtype.kind == "list":
        assert dtype.elem is not None and isinstance(got, list) and isinstance(want, list)
        return len(got) == len(want) and all(_same(g, w, dtype.elem) for g, w in zip(got, want, strict=True))
    if dtype.kind == "decimal":  # DECIMAL(38, 10): the CAST rounds what Python keeps exactly
        assert isinstance(want, Decimal)
        return abs(Decimal(str(got)) - want) <= Decimal("1e-10")
    if dtype.kind == "datetime":
        assert isinstance(got, str)
        return datetime.fromisoformat(got) == want
    return type(got) is type(want) and got == want


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One job over the table's files, the edge-case file, a missing file and an empty one."""
    folder = tmp_path_factory.mktemp("in")
    scratch = tmp_path_factory.mktemp("scratch")
    table, models = _table_files(folder)
    for topic in ("edge", "missing", "empty"):
        models[topic] = _edge_model(topic)
    (folder / "edge.jsonl").write_bytes(UTF8_BOM + b"\n".join(EDGE_LINES))
    (folder / "empty.jsonl").write_bytes(b"")
    specs = [_spec(m) for m in models.values()]
    files = line_sources.input_files(list(models), folder, scratch)
    jar = ensure_functions_jar(progress=lambda _m: None)
    invalid_dir = str(scratch / "invalid")

    def prepare(_env, t_env, stmt_set, _out):
        register_functions(t_env, jar)
        line_sources.register(t_env, stmt_set, specs, set(models), files, invalid_dir)
        return "the files"

    views = [
        ViewQuery(
            m.topic, "SELECT " + ", ".join(["`doc_id`", *(f"`{c}`" for c, _ in m.columns)]) + f" FROM `{m.topic}`"
        )
        for m in models.values()
    ]
    state = run_job(prepare, views, work_dir=str(scratch / "views"))
    invalid, blank = line_sources.invalid_lines(files, models, invalid_dir)
    return folder, table, models, state, invalid, blank


def _reported(invalid: list[InvalidEvent], path: Path) -> dict[int, str]:
    return {bad.line: bad.reason for bad in invalid if bad.file == str(path)}


def _same_reason(jvm: str, py: str | None) -> bool:
    return jvm == py or (jvm.startswith("not JSON (") and (py or "").startswith("not JSON ("))


def test_the_table_runs_through_run_local_as_the_python_rules_say(run):
    folder, table, models, state, invalid, _blank = run
    kinds = set()
    for topic, rows in table.items():
        reported = _reported(invalid, folder / f"{topic}.jsonl")
        for number, (_n, r, line) in enumerate(rows, start=1):
            verdict = python_line_verdict(topic, line)
            kinds.add(verdict.kind)
            if verdict.kind == INVALID:
                assert number in reported, (r["note"], verdict.reason)
                assert _same_reason(reported.pop(number), verdict.reason), r["note"]
            elif verdict.kind == DELETE:
                assert verdict.doc_id not in state[topic], r["note"]
            else:
                assert verdict.document is not None
                row = state[topic][verdict.doc_id]
                for name, dtype in models[topic].columns:
                    assert _same(row[name], verdict.document[name], dtype), (r["note"], name, row[name])
        assert not reported, f"reported lines that are valid: {reported}"
    assert kinds == {UPSERT, DELETE, INVALID}
    assert sum(len(state[t]) for t in table) == sum(
        1 for t, rows in table.items() for _n, _r, line in rows if python_line_verdict(t, line).kind == UPSERT
    )


def test_file_edges_keep_the_last_valid_event_per_key_and_report_file_and_line(run):
    folder, _table, models, state, invalid, blank = run
    assert state["edge"] == {k: {"doc_id": k, **v} for k, v in EDGE_STATE.items()}
    reported = _reported(invalid, folder / "edge.jsonl")
    assert sorted(reported) == EDGE_INVALID
    assert reported[5].startswith("not UTF-8"), reported[5]
    assert reported[8] == reported[9] == "field `i` should be int, got a string"
    assert reported[11] == "field `i` should be int, got a string"
    assert reported[12].startswith("not JSON ("), reported[12]
    assert blank == 3  # lines 2, 3 and 13: skipped, not reported
    assert state["missing"] == {} and state["empty"] == {}
    assert all(str(folder / t) not in bad.file for bad in invalid for t in ("missing", "empty"))
    assert str(invalid[0]).startswith(f"{invalid[0].file}:{invalid[0].line}: skipped invalid event: ")


def test_lines_are_counted_as_flink_reads_them(tmp_path):
    for text, n in ((b"", 0), (b"a", 1), (b"a\n", 1), (b"a\nb", 2), (b"\n\n", 2), (b"a\r\nb\r\n", 2)):
        path = tmp_path / "t.jsonl"
        path.write_bytes(text)
        assert line_sources.count_lines([line_sources.InputFile("t", path, path)]) == n, text
