"""ONTOC_VALIDATE_EVENT judges a Kafka record exactly as `ontoc run --local` judges the same event.

The cluster's validator (`event_validator.check_event`) and the local runner
(`events.parse_line`) share `events.validate`; these tests pin that they
agree on the verdict, the reason and the values, for hypothesis-drawn
values of every model of every definitions package.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ontoc.backend.flink.ddl import merged_sources
from ontoc.backend.flink.job import topic_specs
from ontoc.event_validation import DELETE, INVALID, UPSERT, FieldSpec, TopicSpec
from ontoc.events import Invalid, parse_line
from ontoc.ir import types as T
from ontoc.runtime.workers.event_validator import EventValidator, check_event, result_type
from tests.support.strategies import EventStrategies

PACKAGES = ["meeting_room", "shop", "library", "sensors"]

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.sampled_from(["in-session", "1", "true", "2024-01-02T03:04:05Z"]),
)
JSON_VALUES = st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=3))


def _cases(compiled_packages):
    for name in PACKAGES:
        compiled = compiled_packages[name]
        models = {m.topic: m for m in compiled.schema.models.values()}
        for spec in topic_specs(merged_sources(compiled.plans), compiled.schema.models):
            yield name, compiled, models[spec.topic], spec


def _agree(model, spec: TopicSpec, value_text: str) -> None:
    kind, reason, encoded = check_event(spec, "doc-1", value_text)
    line = f'{{"key": "doc-1", "value": {value_text}}}'
    try:
        event = parse_line(model, line, "x.jsonl", 1)
    except Invalid as exc:
        assert kind == INVALID, value_text
        # JSON errors are reported at the place they occur: in the line, or in the record's value
        if not (reason.startswith("not JSON") and str(exc).startswith("not JSON")):
            assert reason == str(exc), value_text
        return
    if event.document is None:
        assert kind == DELETE, value_text
        return
    assert kind == UPSERT and reason is None, (value_text, reason)
    for (column, dtype), got in zip(spec.columns, encoded, strict=False):
        want = event.document[column]
        if dtype.kind == "decimal" and want is not None:
            want = format(want, "f")
        elif dtype.kind == "datetime" and want is not None:
            want = want.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        assert got == want, (column, value_text)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_cluster_and_local_validation_agree(compiled_packages, data):
    for _name, compiled, model, spec in _cases(compiled_packages):
        names = list(model.fields) + ["undeclared"]
        # a valid document, then one with random fields removed, added or of random types
        doc = data.draw(EventStrategies(compiled.schema).document("p:", model))
        _agree(model, spec, json.dumps(doc))
        broken = dict(doc)
        for field in data.draw(st.lists(st.sampled_from(names), max_size=3, unique=True)):
            if data.draw(st.booleans()):
                broken.pop(field, None)
            else:
                broken[field] = data.draw(JSON_VALUES)
        _agree(model, spec, json.dumps(broken))


@pytest.mark.parametrize("text", ["null", "not json", "[1, 2]", '"text"', "12", "{", "{}", '{"a": NaN}'])
def test_not_an_object(compiled_packages, text):
    for _name, _compiled, model, spec in _cases(compiled_packages):
        _agree(model, spec, text)


def test_kafka_only_cases():
    spec = TopicSpec("t", (FieldSpec("n", T.INT, False), FieldSpec("s", T.STR, False)), (("n", T.INT), ("s", T.STR)))
    assert check_event(spec, "k", None) == (DELETE, None, None)  # a tombstone
    assert check_event(spec, "k", "null") == (DELETE, None, None)  # the JSON text null, too
    assert check_event(spec, None, '{"n": 1, "s": "x"}')[0:2] == (
        INVALID,
        "the record has no key (the key is the document's doc_id)",
    )
    assert check_event(None, "k", "{}")[0] == INVALID
    # what Flink could not carry is invalid too (the local runner, without Flink types, accepts it)
    assert check_event(spec, "k", json.dumps({"n": 2**63, "s": "x"}))[:2] == (
        INVALID,
        "field `n` is out of the 64-bit integer range: 9223372036854775808",
    )
    assert check_event(spec, "k", '{"n": 1, "s": "\\ud800"}')[0] == INVALID
    assert check_event(spec, "k", '{"n": 1, "s": "x", "extra": [1]}') == (UPSERT, None, (1, "x"))


def test_decimal_and_datetime_travel_as_exact_text():
    spec = TopicSpec(
        "t",
        (FieldSpec("d", T.DECIMAL, False), FieldSpec("at", T.DATETIME, False)),
        (("d", T.DECIMAL), ("at", T.DATETIME)),
    )
    kind, _, encoded = check_event(spec, "k", '{"d": 12.3400, "at": "2024-01-02T03:04:05+02:00"}')
    assert kind == UPSERT and encoded == ("12.3400", "2024-01-02 01:04:05.000000")
    assert Decimal(encoded[0]) == Decimal("12.34")
    assert datetime.fromisoformat(encoded[1]) == datetime(2024, 1, 2, 1, 4, 5)


def test_udf_rows_and_counter():
    spec = TopicSpec("t", (FieldSpec("n", T.INT, False),), (("n", T.INT),))
    other = TopicSpec("u", (FieldSpec("b", T.BOOL, True, False),), ())
    udf = EventValidator([spec, other])

    class Counter:
        n = 0

        def inc(self):
            self.n += 1

    class Group:
        def counter(self, name):
            assert name == "ontoc_invalid_events"
            return counter

    class Context:
        def get_metric_group(self):
            return Group()

    counter = Counter()
    udf.open(Context())
    ok = udf.eval("t", 0, 5, "k", '{"n": 3}')
    assert (ok[0], ok[1], ok[2]) == ("t", UPSERT, None) and ok[6][0] == 3 and ok[7] is None
    only_doc_id = udf.eval("u", 0, 6, "k", "{}")  # a view that reads no column of u
    assert only_doc_id[1] == UPSERT and only_doc_id[7][0] is True
    bad = udf.eval("t", 2, 9, "k", '{"n": "3"}')
    assert tuple(bad[1:6]) == (INVALID, 'field `n` should be int, got str "3"', 2, 9, '{"n": "3"}')
    assert udf.eval("t", 0, 10, "k", None)[1] == DELETE
    assert counter.n == 1
    assert [f.name for f in result_type([spec, other]).fields][-2:] == ["t_t", "t_u"]
