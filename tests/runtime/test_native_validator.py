"""ONTOC_VALIDATE_EVENT (the JVM validator, jvm/functions) judges every record as `ontoc.events` does.

The shared table tests/fixtures/events/records.json (good records of every
field type, bad ones, and the hostile ones of issue 13) runs through both
the Python rules (`events.check_record`) and the JVM function on the embedded
Flink, in one query: the kinds must equal the table's and each other's, the
reasons must be equal (except the JSON parsers' own wording), and an upsert's
typed columns must be equal. Random bytes and random JSON-like records must
never fail the query and get the Python verdict too.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ontoc.events import DELETE, INVALID, UPSERT, Invalid, Verdict, check_record, parse_line, validator_spec
from ontoc.frontend.schema import FieldDef
from ontoc.ir.relations import text_column
from ontoc.ir.types import DType
from ontoc.jvm.functions import FUNCTIONS, ensure_functions_jar, register_functions

pytestmark = pytest.mark.flink

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "records.json"
FUNCTION = "ONTOC_VALIDATE_EVENT"
LINE_FUNCTION = "ONTOC_VALIDATE_LINE"
MAX_INVALID_VALUE_CHARS = 10_000


def _dtype(j: dict) -> DType:
    return DType(j["kind"], j["nullable"], _dtype(j["elem"]) if "elem" in j else None)


class Topic:
    """A source topic as `events.validator_spec` and `events.check_record` read it."""

    def __init__(self, j: dict) -> None:
        self.topic = j["topic"]
        self.fields = {
            f["name"]: FieldDef(f["name"], _dtype(f["type"]), None, f.get("has_default", False), f.get("default"))
            for f in j["fields"]
        }
        self.columns = [(c, self.fields[c].dtype) for c in j["columns"]]


TABLE = json.loads(FIXTURE.read_text(encoding="utf-8"))
TOPICS = {t.topic: t for t in map(Topic, TABLE["models"])}


class _SpecTopic:
    def __init__(self, t: Topic) -> None:
        self.topic, self.fields, self.columns = t.topic, tuple(t.fields.values()), tuple(t.columns)


SPEC = validator_spec([_SpecTopic(t) for t in TOPICS.values()])


def raw(v: object) -> bytes | None:
    """A key or value of the table as the record's bytes."""
    if v is None:
        return None
    if isinstance(v, str):
        return v.encode("utf-8")
    assert isinstance(v, dict)
    if "base64" in v:
        return base64.b64decode(v["base64"])
    return "".join(text * times for text, times in v["concat"]).encode("utf-8")


def python_verdict(topic: str, key: bytes | None, value: bytes | None) -> Verdict:
    if topic in TOPICS:
        return check_record(TOPICS[topic], key, value)
    verdict = check_record(TOPICS["bare"], key, None)  # the key is judged first, as the JVM does
    if verdict.kind == INVALID:
        return verdict
    return Verdict(INVALID, "the record's topic is not a source of this job", verdict.doc_id, None)


def _report_text(data: bytes | None) -> str | None:
    """An invalid record's bytes as the report shows them (the JVM's lenient decoding, for UTF-8 input)."""
    if data is None:
        return None
    text = data.decode("utf-8")
    return text if len(text) <= MAX_INVALID_VALUE_CHARS else text[:MAX_INVALID_VALUE_CHARS] + "..."


def _utf8(data: bytes | None) -> bool:
    try:
        return data is None or bool(data.decode("utf-8")) or True
    except UnicodeDecodeError:
        return False


def test_every_job_registers_the_validators():
    """Jobs create every function of `FUNCTIONS` (`register_functions`, `CREATE_FUNCTIONS_SQL`)."""
    assert FUNCTIONS[FUNCTION] == "dev.ontoc.flink.ValidateEvent"
    assert FUNCTIONS[LINE_FUNCTION] == "dev.ontoc.flink.ValidateLine"


@pytest.fixture(scope="module")
def t_env():
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("parallelism.default", "1")
    env.get_config().set("collect-sink.batch-size.max", "64mb")  # the 10 MB records come back whole
    register_functions(env, ensure_functions_jar(progress=lambda _m: None))  # the validators among them
    return env


def _source(t_env, records: list[tuple[str, bytes | None, bytes | None]]):
    from pyflink.table import DataTypes

    schema = DataTypes.ROW(
        [
            DataTypes.FIELD("n", DataTypes.INT()),
            DataTypes.FIELD("topic", DataTypes.STRING()),
            DataTypes.FIELD("k", DataTypes.BYTES()),
            DataTypes.FIELD("v", DataTypes.BYTES()),
        ]
    )

    def binary(data: bytes | None) -> bytearray | None:  # PyFlink takes BYTES as bytearray
        return None if data is None else bytearray(data)

    return t_env.from_elements([(i, t, binary(k), binary(v)) for i, (t, k, v) in enumerate(records)], schema)


def call_sql(spec: str = SPEC) -> str:
    literal = spec.replace("'", "''")
    return f"{FUNCTION}('{literal}', topic, CAST(n AS INT), CAST(n * 10 AS BIGINT), k, v)"


def run_jvm(t_env, records: list[tuple[str, bytes | None, bytes | None]], call: str | None = None) -> list[dict]:
    """The function's result row for each record, in order: one streaming query."""
    t_env.create_temporary_view("records", _source(t_env, records))
    try:
        # as JSON text: PyFlink's collect() cannot unpickle an empty string nested in a ROW
        table = t_env.sql_query(f"SELECT n, JSON_STRING({call or call_sql()}) AS r FROM records")
        with table.execute().collect() as rows:
            out = {row[0]: json.loads(row[1]) for row in rows}
    finally:
        t_env.drop_temporary_view("records")
    assert sorted(out) == list(range(len(records)))
    return [out[i] for i in range(len(records))]


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def assert_same_value(jvm: object, py: object, dtype: DType, where: str) -> None:
    if py is None or jvm is None:
        assert jvm is None and py is None, where
    elif dtype.kind == "list":
        assert isinstance(jvm, list) and isinstance(py, list) and len(jvm) == len(py), where
        for i, (j, p) in enumerate(zip(jvm, py, strict=True)):
            assert dtype.elem is not None
            assert_same_value(j, p, dtype.elem, f"{where}[{i}]")
    elif dtype.kind == "decimal":
        assert isinstance(jvm, str) and Decimal(jvm) == py, where
    elif dtype.kind == "datetime":
        assert isinstance(py, datetime) and jvm == _utc_text(py), where
    else:
        assert type(jvm) is type(py) and jvm == py, where


def assert_agree(topic: str, key: bytes | None, value: bytes | None, jvm, where: str) -> Verdict:
    """The JVM row and the Python verdict on one Kafka record say the same."""
    return assert_same_verdict(topic, python_verdict(topic, key, value), jvm, where, key, value)


def assert_same_verdict(topic: str, py: Verdict, jvm: dict, where: str, key: bytes | None, value: bytes | None):
    """`key` and `value`: the bytes an invalid event's report shows."""
    assert jvm["topic"] == topic, where
    assert jvm["kind"] == py.kind, (where, jvm["reason"], py.reason)
    if not (jvm["reason"] or "").startswith("not JSON (") or not (py.reason or "").startswith("not JSON ("):
        assert jvm["reason"] == py.reason, where
    slots = [f"t_{t}" for t in TOPICS]
    if py.kind == INVALID:
        # undecodable bytes become U+FFFD in the report (how many per bad sequence is the JVM's choice)
        if _utf8(value):
            assert jvm["value"] == _report_text(value), where
        if _utf8(key):
            assert jvm["doc_id"] == _report_text(key), where
        assert all(jvm[s] is None for s in slots), where
        return py
    assert jvm["doc_id"] == py.doc_id and jvm["reason"] is None and jvm["value"] is None, where
    assert jvm["partition"] is None and jvm["offset"] is None, where
    if py.kind == DELETE:
        assert all(jvm[s] is None for s in slots), where
        return py
    spec = TOPICS[topic]
    assert all(jvm[s] is None for s in slots if s != f"t_{topic}"), where
    row = jvm[f"t_{topic}"]
    assert py.document is not None
    if not spec.columns:
        assert row["_present"] is True, where
    for name, dtype in spec.columns:
        assert_same_value(row[name], py.document[name], dtype, f"{where}: column {name}")
    return py


def line_of(r: dict) -> bytes:
    """A record of the table as a line of an input file (a key that is not text becomes null)."""
    key = json.dumps(r["key"]).encode() if isinstance(r["key"], str) else b"null"
    value = raw(r["value"])
    return b'{"key": ' + key + b', "value": ' + (b"null" if value is None else value) + b"}"


def python_line_verdict(topic: str, line: bytes) -> Verdict:
    try:
        if topic not in TOPICS:
            raise Invalid("the file's topic is not a source of this job")
        event = parse_line(TOPICS[topic], line, "f.jsonl", 1)
    except Invalid as exc:
        return Verdict(INVALID, str(exc), None, None)
    return Verdict(DELETE if event.document is None else UPSERT, None, event.doc_id, event.document)


def test_python_rules_give_the_tables_kinds():
    for r in TABLE["records"]:
        verdict = python_verdict(r["topic"], raw(r["key"]), raw(r["value"]))
        assert verdict.kind == r["kind"], (r["note"], verdict.reason)


def test_the_table_covers_every_kind_and_field_type():
    kinds = {r["kind"] for r in TABLE["records"]}
    assert kinds == {UPSERT, DELETE, INVALID}
    types = {f.dtype.kind for t in TOPICS.values() for f in t.fields.values()}
    assert types >= {"str", "int", "float", "bool", "decimal", "datetime", "list"}


def test_the_jvm_function_judges_the_table_as_python_does(t_env):
    records = [(r["topic"], raw(r["key"]), raw(r["value"])) for r in TABLE["records"]]
    rows = run_jvm(t_env, records)
    for r, (topic, key, value), jvm in zip(TABLE["records"], records, rows, strict=True):
        assert jvm["kind"] == r["kind"], (r["note"], jvm["reason"])
        assert_agree(topic, key, value, jvm, r["note"])
    for n, jvm in enumerate(rows):  # the record's partition and offset, for the invalid-events topic
        if jvm["kind"] == INVALID:
            assert (jvm["partition"], jvm["offset"]) == (n, n * 10)


def test_the_line_function_judges_the_table_as_the_local_reader_does(t_env):
    """ONTOC_VALIDATE_LINE: the same records as lines of an input file, against `events.parse_line`."""
    lines = [line_of(r) for r in TABLE["records"]]
    literal = SPEC.replace("'", "''")
    rows = run_jvm(
        t_env,
        [(r["topic"], None, line) for r, line in zip(TABLE["records"], lines, strict=True)],
        f"{LINE_FUNCTION}('{literal}', topic, v)",
    )
    kinds = set()
    for r, line, jvm in zip(TABLE["records"], lines, rows, strict=True):
        topic = r["topic"]
        verdict = assert_same_verdict(topic, python_line_verdict(topic, line), jvm, r["note"], None, line)
        kinds.add(verdict.kind)
    assert kinds == {UPSERT, DELETE, INVALID}


def test_the_result_type_follows_the_spec(t_env):
    t_env.create_temporary_view("records", _source(t_env, []))
    try:
        table = t_env.sql_query(f"SELECT {call_sql()} AS r FROM records")
        text = table._j_table.getResolvedSchema().getColumn("r").get().getDataType().toString()
    finally:
        t_env.drop_temporary_view("records")
    assert text.startswith(
        "ROW<`topic` STRING, `kind` STRING, `reason` STRING, `partition` INT, `offset` BIGINT, "
        "`doc_id` STRING, `value` STRING, `t_everything` ROW<`s` STRING, `i` BIGINT, `f` DOUBLE, `b` BOOLEAN, "
        "`d` STRING, `t` STRING"
    ), text
    assert "`li` ARRAY<BIGINT>" in text and "`t_defaults` ROW<`name` STRING>" in text
    assert "`t_bare` ROW<`_present` BOOLEAN>" in text


def test_a_spec_that_is_not_a_literal_or_not_a_spec_is_refused(t_env):
    from py4j.protocol import Py4JJavaError
    from pyflink.util.exceptions import TableException

    t_env.create_temporary_view("records", _source(t_env, []))
    try:
        with pytest.raises((Py4JJavaError, TableException), match="Literal expected"):
            t_env.sql_query(f"SELECT {FUNCTION}(topic, topic, 1, 1, k, v) FROM records")
        with pytest.raises((Py4JJavaError, TableException), match="not a validator spec"):
            t_env.sql_query("SELECT " + call_sql(json.dumps({"topics": 3})) + " FROM records")
    finally:
        t_env.drop_temporary_view("records")


def test_the_call_is_evaluated_once_per_record(t_env):
    """Non-deterministic: the planner keeps one call under every field read (one count per invalid record)."""
    t_env.create_temporary_view("records", _source(t_env, []))
    try:
        plan = t_env.explain_sql(
            f"SELECT r.kind, r.reason, r.t_everything.s, r.t_everything.i FROM (SELECT {call_sql()} AS r FROM records)"
        )
    finally:
        t_env.drop_temporary_view("records")
    optimized = plan.split("== Optimized Execution Plan ==")[1]
    assert optimized.count(f"{FUNCTION}(") == 1, optimized


def test_one_call_serves_every_consumer_of_the_events_view(t_env):
    """As in a submitted job: per-topic views and the invalid-events sink all read one validated view."""
    t_env.create_temporary_view("records", _source(t_env, []))
    t_env.execute_sql(f"CREATE TEMPORARY VIEW checked AS SELECT n, {call_sql()} AS v FROM records")
    for name, columns in (("docs", "doc_id STRING, s STRING, i BIGINT"), ("bad", "reason STRING, val STRING")):
        t_env.execute_sql(f"CREATE TEMPORARY TABLE {name} ({columns}) WITH ('connector' = 'blackhole')")
    try:
        statements = t_env.create_statement_set()
        statements.add_insert_sql(
            "INSERT INTO docs SELECT v.doc_id, v.t_everything.s, v.t_everything.i FROM checked "
            "WHERE v.topic = 'everything' AND v.kind = 'upsert'"
        )
        statements.add_insert_sql("INSERT INTO bad SELECT v.reason, v.`value` FROM checked WHERE v.kind = 'invalid'")
        plan = statements.explain()
    finally:
        for name in ("docs", "bad"):
            t_env.execute_sql(f"DROP TEMPORARY TABLE {name}")
        t_env.execute_sql("DROP TEMPORARY VIEW checked")
        t_env.drop_temporary_view("records")
    optimized = plan.split("== Optimized Execution Plan ==")[1]
    assert optimized.count(f"{FUNCTION}(") == 1, optimized


# --------------------------------------------------------------------------
# Fuzz: random bytes and random JSON-like records, one query per batch

_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.decimals(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(["2024-01-01T00:00:00Z", "0001-01-01", "9999-12-31T23:59:59-00:01", "\ud800", "1"]),
)
_VALUES = st.recursive(_ANY, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
_FIELD_NAMES = st.sampled_from([*TOPICS["everything"].fields, "extra"])


@st.composite
def json_like(draw) -> bytes:
    doc = draw(st.dictionaries(_FIELD_NAMES, _VALUES, max_size=10))
    text = json.dumps(doc, default=str)  # NaN and Infinity included: Python writes them
    if draw(st.booleans()):
        data = bytearray(text.encode("utf-8", "surrogatepass"))
        for _ in range(draw(st.integers(1, 3))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    return text.encode("utf-8", "surrogatepass")


RECORDS = st.tuples(
    st.sampled_from([*TOPICS, "unknown"]),
    st.one_of(st.none(), st.binary(max_size=6)),
    st.one_of(st.none(), st.binary(max_size=40), json_like()),
)


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(RECORDS, min_size=150, max_size=150))
def test_random_records_never_fail_the_query_and_agree(t_env, batch):
    rows = run_jvm(t_env, batch)
    for (topic, key, value), jvm in zip(batch, rows, strict=True):
        assert_agree(topic, key, value, jvm, repr((topic, key, value[:200] if value else value)))


def test_many_distinct_keys_never_fail_a_valid_event(t_env):
    """The byte reader keeps a table of the field names it has seen (Jackson's canonical names): events with
    80,000 distinct ignored keys fill it past its limit, and each is still judged as Python judges it."""
    import random

    rnd = random.Random(15)
    records = []
    for n in range(40):
        names = {"".join(rnd.choices("abcdefghijklmnopqrstuvwxyzé😀", k=rnd.randint(1, 12))) for _ in range(2_000)}
        names -= set(TOPICS["everything"].fields)  # undeclared keys only
        doc = {name: rnd.choice([1, "x", None, [1.5]]) for name in names} | json.loads(
            raw(TABLE["records"][0]["value"])
        )
        if n % 10 == 9:
            doc["i"] = "not an int"
        records.append(("everything", f"k{n}".encode(), json.dumps(doc, ensure_ascii=n % 2 == 0).encode()))
    rows = run_jvm(t_env, records)
    kinds = [
        assert_agree(topic, key, value, jvm, f"record {n}").kind
        for n, ((topic, key, value), jvm) in enumerate(zip(records, rows, strict=True))
    ]
    assert kinds.count(UPSERT) == 36 and kinds.count(INVALID) == 4


# --------------------------------------------------------------------------
# The text of a Decimal field (`relations.text_column`): Python's str(Decimal(<the event's number text>))

_TEXT_FIELDS = {
    "d": FieldDef("d", DType("decimal"), None, False, None),
    "dn": FieldDef("dn", DType("decimal", True), None, True, None),
    "dint": FieldDef("dint", DType("decimal"), None, True, 5),
    "dfrac": FieldDef("dfrac", DType("decimal"), None, True, 0.10),
}


class _TextTopic:
    topic = "texts"
    fields = _TEXT_FIELDS
    columns = (
        ("d", DType("decimal")),
        *((text_column(n), DType("str", f.dtype.nullable)) for n, f in _TEXT_FIELDS.items()),
    )


class _TextSpecTopic(_TextTopic):
    fields = tuple(_TEXT_FIELDS.values())  # type: ignore[assignment]


_TEXT_SPEC = validator_spec([_TextSpecTopic()])
_NUMBER_TEXT = st.builds(
    lambda sign, whole, frac, exp: sign + whole + frac + exp,
    st.sampled_from(["", "-"]),
    st.one_of(st.just("0"), st.from_regex(r"[1-9][0-9]{0,29}", fullmatch=True)),
    st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,14}", fullmatch=True), st.sampled_from([".0", ".00", ".50"])),
    st.one_of(
        st.just(""), st.from_regex(r"[eE][-+]?[0-9]{1,4}", fullmatch=True), st.sampled_from(["e0", "E-7", "e+3"])
    ),
)
_EDGE_TEXTS = [
    "1.50",
    "1e3",
    "0.0000001",
    "0.000001",
    "-0.0",
    "-0",
    "5",
    "0E-8",
    "-0e+2",
    "1.0E-7",
    "123.4560e-2",
    "1E+27",
]


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
@given(texts=st.lists(_NUMBER_TEXT, min_size=200, max_size=200), missing=st.lists(st.booleans(), min_size=600))
def test_a_decimal_fields_text_is_pythons_str_of_it(t_env, texts, missing):
    """The validator's text column equals `str(Decimal)` of the value Python decodes, for any number text."""
    texts = _EDGE_TEXTS + texts
    values = []
    for n, text in enumerate(texts):
        fields = {"d": text, "dn": "null" if n % 7 == 0 else texts[-n - 1], "dint": texts[n // 2], "dfrac": text}
        parts = [f'"{k}": {v}' for k, v in fields.items() if k == "d" or not missing[(n * 3 + len(k)) % len(missing)]]
        values.append("{" + ", ".join(parts) + "}")
    records = [("texts", f"k{n}".encode(), v.encode()) for n, v in enumerate(values)]
    rows = run_jvm(t_env, records, f"{FUNCTION}('{_TEXT_SPEC}', topic, CAST(n AS INT), CAST(n * 10 AS BIGINT), k, v)")
    upserts = 0
    for (_, key, value), jvm in zip(records, rows, strict=True):
        py = check_record(_TextTopic(), key, value)
        assert jvm["kind"] == py.kind, (value, jvm["reason"], py.reason)
        if py.kind != UPSERT:
            continue
        upserts += 1
        assert py.document is not None
        for name in _TEXT_FIELDS:
            expected = None if py.document[name] is None else str(py.document[name])
            assert jvm["t_texts"][text_column(name)] == expected, (value, name)
    assert upserts > len(texts) // 3
