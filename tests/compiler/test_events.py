"""Validation of change events (spec section 1): what is invalid is skipped with a reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ontoc.events import Invalid, final_documents, parse_line
from ontoc.frontend.schema import load_schema

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
