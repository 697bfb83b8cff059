"""Validation of change events (spec section 1): what is invalid is skipped with a reason."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ontoc.events import (
    DELETE,
    INVALID,
    UPSERT,
    Invalid,
    check_record,
    final_documents,
    parse_line,
    read_events,
    validate,
    validator_spec,
)
from ontoc.frontend.schema import FieldDef, load_schema
from ontoc.ir import types as T

from ..conftest import ROOT

SCHEMA = load_schema(ROOT / "tests" / "fixtures" / "constructs")
PERSON = SCHEMA.models["Person"]
PROJECT = SCHEMA.models["Project"]


def parse(model, text):
    return parse_line(model, text, "f.jsonl", 1)


def test_defaults_apply_and_unknown_keys_are_ignored():
    e = parse(PERSON, '{"key": "p", "value": {"name": "a", "age": 3, "score": 1, "team": null, "x": 1}}')
    assert e.document == {"name": "a", "nick": None, "age": 3, "score": 1.0, "active": True, "team": None}


def test_a_null_value_is_a_delete():
    assert parse(PERSON, '{"key": "p", "value": null}').document is None


@pytest.mark.parametrize(
    "text,reason",
    [
        ("not json", "not JSON"),
        ('["key", "value"]', "an event is"),
        ('{"key": 1, "value": {}}', "an event is"),
        ('{"key": "p"}', "an event is"),
        ('{"key": "p", "value": 3}', "JSON object or null"),
        ('{"key": "p", "value": {"age": 3, "score": 1.0, "team": null}}', "`name` is missing"),
        ('{"key": "p", "value": {"name": null, "age": 3, "score": 1.0, "team": null}}', "not declared `| None`"),
        ('{"key": "p", "value": {"name": "a", "age": 3.0, "score": 1.0, "team": null}}', "`age` should be int"),
        ('{"key": "p", "value": {"name": "a", "age": true, "score": 1.0, "team": null}}', "`age` should be int"),
        ('{"key": "p", "value": {"name": "a", "age": 3, "score": "1", "team": null}}', "`score` should be float"),
        ('{"key": "p", "value": {"name": "a", "age": 3, "score": 1.0, "team": 7}}', "`team` should be str"),
    ],
)
def test_invalid_events(text, reason):
    with pytest.raises(Invalid, match=reason.replace("|", r"\|")):
        parse(PERSON, text)


def test_datetimes_decimals_and_lists():
    e = parse(
        PROJECT,
        '{"key": "x", "value": {"title": "t", "owner": null, "budget": 1, "start": "2024-01-01T01:00:00+01:00",'
        ' "fee": 12.50, "tags": ["a"]}}',
    )
    assert e.document["start"].isoformat() == "2024-01-01T00:00:00+00:00"
    assert e.document["fee"] == Decimal("12.50") and e.document["tags"] == ["a"]
    with pytest.raises(Invalid, match="ISO 8601"):
        parse(PROJECT, '{"key": "x", "value": {"title": "t", "owner": null, "budget": 1, "start": "soon"}}')
    with pytest.raises(Invalid, match=r"`tags`\[1\] should be str"):
        parse(
            PROJECT,
            '{"key": "x", "value": {"title": "t", "owner": null, "budget": 1, "start": "2024-01-01",'
            ' "tags": ["a", 2]}}',
        )


def test_replay_keeps_the_last_state_and_deletes():
    events = [
        parse(PERSON, t)
        for t in (
            '{"key": "p", "value": {"name": "a", "age": 3, "score": 1, "team": null}}',
            '{"key": "q", "value": {"name": "b", "age": 4, "score": 1, "team": null}}',
            '{"key": "p", "value": {"name": "c", "age": 5, "score": 1, "team": null}}',
            '{"key": "q", "value": null}',
        )
    ]
    docs = final_documents(events)["c_people"]
    assert list(docs) == ["p"] and docs["p"]["name"] == "c"


# --------------------------------------------------------------------------
# Hostile input (issue 13): each bad line is one invalid event, the valid ones around it are kept

VALID = '{"key": "p%d", "value": {"name": "a", "age": 3, "score": 1, "team": null}}'
HOSTILE_LINES = {
    "int beyond 64 bits": b'{"key": "x", "value": {"name": "a", "age": 9223372036854775808, "score": 1, "team": null}}',
    "nested 50,000 deep": b'{"key": "x", "value": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "5,000-digit number": b'{"key": "x", "value": {"name": "a", "age": '
    + b"9" * 5000
    + b', "score": 1, "team": null}}',
    "not UTF-8": b'{"key": "x", "value": {"name": "\xff", "age": 3, "score": 1, "team": null}}',
    "NaN": b'{"key": "x", "value": {"name": "a", "age": 3, "score": NaN, "team": null}}',
    "Infinity": b'{"key": "x", "value": {"name": "a", "age": 3, "score": -Infinity, "team": null}}',
    "float overflow": b'{"key": "x", "value": {"name": "a", "age": 3, "score": 1e999, "team": null}}',
    "lone surrogate": b'{"key": "x", "value": {"name": "\\ud800", "age": 3, "score": 1, "team": null}}',
    "lone surrogate in the key": b'{"key": "\\udc00", "value": null}',
    "BOM not at the start of the file": b"\xef\xbb\xbf" + (VALID % 0).encode(),
}


def test_hostile_lines_are_invalid_events_and_the_valid_ones_are_kept(tmp_path):
    lines = [(VALID % 0).encode()]  # after the file's BOM
    for line in HOSTILE_LINES.values():
        lines += [line, (VALID % (len(lines) + 1)).encode()]
    (tmp_path / "c_people.jsonl").write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    events, invalid = read_events([PERSON], tmp_path)
    assert [e.doc_id for e in events] == [f"p{i}" for i in range(0, len(lines), 2)]
    assert [bad.line for bad in invalid] == list(range(2, 2 * len(HOSTILE_LINES) + 1, 2))
    assert all(bad.file.endswith("c_people.jsonl") for bad in invalid)
    reasons = dict(zip(HOSTILE_LINES, (bad.reason for bad in invalid), strict=True))
    assert "64-bit" in reasons["int beyond 64 bits"] and "not UTF-8" in reasons["not UTF-8"]
    assert "nested deeper than" in reasons["nested 50,000 deep"] and "surrogate" in reasons["lone surrogate"]
    assert "longer than 1000" in reasons["5,000-digit number"] and "not a JSON number" in reasons["NaN"]


def test_a_bom_is_stripped_only_at_the_start_of_a_file(tmp_path):
    (tmp_path / "c_people.jsonl").write_bytes(b"\xef\xbb\xbf" + (VALID % 1).encode() + b"\r\n\r\n")
    events, invalid = read_events([PERSON], tmp_path)
    assert [e.doc_id for e in events] == ["p1"] and invalid == []


@pytest.mark.parametrize(
    "start,reason",
    [
        ("0001-01-01T00:00:00+00:01", "out of the datetime range"),
        ("9999-12-31T23:59:59-00:01", "out of the datetime range"),
        ("0000-01-01", "not a valid datetime"),
        ("2024-13-01", "not a valid datetime"),
        ("2024-01-01T00:00:00+24:00", "offset out of range"),
        ("2024-W01-1", "not an ISO 8601 datetime"),
    ],
)
def test_datetimes_out_of_range_are_invalid(start, reason):
    text = json.dumps({"key": "x", "value": {"title": "t", "owner": None, "budget": 1, "start": start}})
    with pytest.raises(Invalid, match=reason):
        parse(PROJECT, text)


def test_datetimes_in_range_are_utc():
    for start, utc in [
        ("0001-01-01T00:00:00-00:01", "0001-01-01T00:01:00+00:00"),
        ("9999-12-31T23:59:59.9999999", "9999-12-31T23:59:59.999999+00:00"),
        ("2024-01-01 10:00:00,5+0530", "2024-01-01T04:30:00.500000+00:00"),
    ]:
        text = json.dumps({"key": "x", "value": {"title": "t", "owner": None, "budget": 1, "start": start}})
        assert parse(PROJECT, text).document["start"].isoformat() == utc


class _Model:
    def __init__(self, *fields: FieldDef) -> None:
        self.fields = {f.name: f for f in fields}


@dataclass(frozen=True)
class _Topic:
    topic: str
    fields: tuple[FieldDef, ...]
    columns: tuple[tuple[str, T.DType], ...] = ()


@pytest.mark.parametrize(
    "default,dtype,reason",
    [
        ("oops", T.INT, "should be int, got a string"),
        (2**64, T.INT, "out of the 64-bit integer range"),
        (b"raw", T.STR, "not a JSON value"),
        ({1, 2}, T.list_of(T.INT), "not a JSON value"),
        (float("inf"), T.FLOAT, "not a JSON value"),
        ("2024-02-30", T.DATETIME, "not a valid datetime"),
    ],
)
def test_a_missing_field_whose_default_is_invalid_makes_the_event_invalid(default, dtype, reason):
    model = _Model(FieldDef("x", dtype, None, True, default), FieldDef("y", T.STR, None, False))
    with pytest.raises(Invalid, match=f"field `x` is missing and its default is not valid: .*{reason}"):
        validate(model, {"y": "a"})
    # the JVM validator gets the same reason in its spec, instead of the default
    field = json.loads(validator_spec([_Topic("t", tuple(model.fields.values()))]))["topics"][0]["fields"][0]
    assert "default" not in field and reason in field["default_error"]


def test_valid_defaults_are_read_as_the_event_would_hold_them():
    model = _Model(
        FieldDef("fee", T.DECIMAL, None, True, 0.1),
        FieldDef("at", T.DATETIME, None, True, "2024-01-01T01:00:00+01:00"),
        FieldDef("tags", T.list_of(T.STR), None, True, ("a",)),
    )
    doc = validate(model, {})
    assert doc["fee"] == Decimal("0.1") and doc["at"].isoformat() == "2024-01-01T00:00:00+00:00"
    assert doc["tags"] == ["a"]


# --------------------------------------------------------------------------
# Fuzz: the reader and the validator never raise; every line is exactly one valid or invalid event

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.decimals(allow_nan=False),
    st.text(max_size=6),
    st.sampled_from(["2024-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "\ud800", "a\udfffb"]),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
_PERSON_VALUES = st.dictionaries(st.sampled_from([*PERSON.fields, "other"]), _JSON, max_size=7)


@st.composite
def _lines(draw) -> bytes:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.binary(max_size=60)).replace(b"\n", b" ")
    value = draw(st.one_of(st.none(), _PERSON_VALUES, _JSON))
    key = draw(st.one_of(st.text(max_size=4), _SCALARS))
    text = json.dumps({"key": key, "value": value}, default=str).encode("utf-8", "surrogatepass")
    if choice == 3 and text:
        data = bytearray(text)
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        text = bytes(data)
    return text.replace(b"\n", b" ")


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines=st.lists(_lines(), max_size=8), bom=st.booleans())
def test_fuzz_every_line_is_one_valid_or_invalid_event(tmp_path_factory, lines, bom):
    folder = tmp_path_factory.mktemp("events")
    (folder / "c_people.jsonl").write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines))
    events, invalid = read_events([PERSON], folder)
    effective = [lines[0] if bom else lines[0].removeprefix(b"\xef\xbb\xbf"), *lines[1:]] if lines else []
    expected = [n for n, line in enumerate(effective, start=1) if line.strip()]
    assert sorted([e.line for e in events] + [bad.line for bad in invalid]) == expected
    assert not {e.line for e in events} & {bad.line for bad in invalid}


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    key=st.one_of(st.none(), st.binary(max_size=6)),
    value=st.one_of(
        st.none(),
        st.binary(max_size=60),
        _PERSON_VALUES.map(lambda v: json.dumps(v, default=str).encode("utf-8", "surrogatepass")),
    ),
)
def test_fuzz_check_record_never_raises(key, value):
    verdict = check_record(PERSON, key, value)
    assert verdict.kind in (UPSERT, DELETE, INVALID)
    assert (verdict.reason is None) == (verdict.kind != INVALID)
    assert (verdict.document is not None) == (verdict.kind == UPSERT)
