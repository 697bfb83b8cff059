"""The wrappers that run view methods inside Flink: errors become ok=False, are counted and logged once."""

from __future__ import annotations

import logging
import math
from decimal import Decimal

import pyarrow as pa
from pyflink.common import Row
from pyflink.table import DataTypes
from pyflink.table.types import DataType, to_arrow_type
from pyflink.table.utils import arrow_to_pandas, pandas_to_arrow

from ontoc.runtime.workers import udfs
from ontoc.runtime.workers.udfs import (
    BatchedMethodFunction,
    DocView,
    MethodAggregateFunction,
    MethodScalarFunction,
    to_python,
)


class Counter:
    def __init__(self):
        self.count = 0

    def inc(self, n: int = 1):
        self.count += n


class Metrics:
    """What PyFlink's FunctionContext gives a function: a metric group with counters."""

    def __init__(self):
        self.counters: dict[str, Counter] = {}

    def counter(self, name):
        return self.counters.setdefault(name, Counter())


class Context:
    def __init__(self):
        self.metrics = Metrics()

    def get_metric_group(self):
        return self.metrics


def test_scalar_errors_are_counted_and_logged_once_per_message(caplog):
    function = MethodScalarFunction("tests.fixtures.udfs.views", "AuctionView", "parse_code", ["scalar"], "BIGINT")
    context = Context()
    function.open(context)
    with caplog.at_level(logging.WARNING, logger="ontoc.udf"):
        assert function.eval("#12") == Row(True, 12)
        assert function.eval("twelve") == Row(False, None)
        assert function.eval("twelve") == Row(False, None)
        assert function.eval("") == Row(False, None)
    assert context.metrics.counters["ontoc_udf_errors"].count == 3
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2  # two distinct messages
    assert all("AuctionView.parse_code raised ValueError" in m for m in messages)


def test_a_result_of_the_wrong_type_is_an_error_not_a_wrong_value():
    function = MethodScalarFunction("tests.fixtures.udfs.views", "AuctionView", "slugify", ["scalar"], "BIGINT")
    function.open(Context())
    assert function.eval("a b") == Row(False, None)


def test_records_become_objects_with_nested_references():
    seller = to_python(Row(doc_id="s1", city=None, name="ann", region=Row(doc_id="r1", name="North")), "doc")
    assert isinstance(seller, DocView) and seller.region.name == "North" and seller.city is None
    function = MethodScalarFunction("tests.fixtures.udfs.views", "AuctionView", "describe", ["doc"], "STRING")
    function.open(Context())
    assert function.eval(Row(doc_id="s1", city=None, name="ann", region=None)) == Row(True, "Ann (nowhere, ?)")


def test_aggregate_retracts_one_occurrence_and_sees_the_multiset():
    function = MethodAggregateFunction(
        "tests.fixtures.udfs.views", "AuctionView", "median", "scalar", "DOUBLE", "DOUBLE"
    )
    function.open(Context())
    acc = function.create_accumulator()
    for v in (3.0, 1.0, 3.0, 7.0):
        function.accumulate(acc, v)
    function.retract(acc, 3.0)
    values = sorted([1.0, 3.0, 7.0])
    assert function.get_value(acc) == Row(True, values[len(values) // 2])
    for v in (1.0, 3.0, 7.0):
        function.retract(acc, v)
    assert function.get_value(acc) == Row(True, None)


def through_arrow(function: BatchedMethodFunction, columns: list[tuple[pa.DataType, list]], result: DataType):
    """One batch through a pandas UDF as PyFlink's worker runs it: Arrow -> pandas (PyFlink's own conversion)
    -> `eval` -> pandas -> Arrow, read back as Python values."""
    arrays = [pa.array(values, type=t) for t, values in columns]
    batch = pa.RecordBatch.from_arrays(arrays, names=[f"f{i}" for i in range(len(arrays))])
    # arrow_to_pandas reads one thing of a Flink type: whether it is a ROW
    types = [DataTypes.ROW([]) if pa.types.is_struct(t) else DataTypes.STRING() for t, _ in columns]
    frames = arrow_to_pandas("UTC", types, [batch])
    out = function.eval(*frames)
    schema = pa.schema([("f0", to_arrow_type(result))])
    return pandas_to_arrow(schema, "UTC", [result], [out]).column(0).to_pylist()


def ok_value(*fields: tuple[str, DataType]) -> DataType:
    return DataTypes.ROW([DataTypes.FIELD(n, t) for n, t in (("ok", DataTypes.BOOLEAN()), *fields)])


def test_a_batch_keeps_nulls_nans_big_ints_and_each_rows_exception():
    params = [("n", "scalar", "BIGINT")]
    triple = BatchedMethodFunction("tests.fixtures.udfs.views", "AuctionView", "triple", params, "BIGINT")
    context = Context()
    triple.open(context)
    big = 2**53 + 1  # not a float: exact only if the batch's NULL did not make the column float64
    ints = (pa.decimal128(38, 10), [Decimal(big), None, Decimal(2**62)])  # BIGINT's carrier
    out = through_arrow(triple, [ints], ok_value(("value", DataTypes.BIGINT())))
    assert out == [{"ok": True, "value": 3 * big + 1}, {"ok": False, "value": None}, {"ok": False, "value": None}]
    assert context.metrics.counters["ontoc_udf_errors"].count == 2  # None + 1, and a result beyond 64 bits

    params = [("x", "scalar", "DOUBLE")]
    half = BatchedMethodFunction("tests.fixtures.udfs.views", "AuctionView", "half_or_nan", params, "DOUBLE")
    half.open(Context())
    floats = (pa.string(), ["3.0", None, "NaN", "Infinity", "1.0E-300"])  # DOUBLE's carrier: Flink's text
    out = through_arrow(half, [floats], ok_value(("value", DataTypes.DOUBLE()), ("nan", DataTypes.BOOLEAN())))
    assert out[0] == {"ok": True, "value": 1.5, "nan": False}
    assert out[1] == {"ok": True, "value": None, "nan": True}  # None in: NaN out, as a flag
    assert out[2] == {"ok": True, "value": None, "nan": True}  # NaN in (not None): NaN / 2 out
    assert out[3] == {"ok": True, "value": float("inf"), "nan": False}
    assert out[4] == {"ok": True, "value": 0.5e-300, "nan": False}


def test_a_batch_of_documents_arrives_as_objects_or_none():
    doc = "ROW<`doc_id` STRING, `name` STRING, `reserve` BIGINT, `rate` DOUBLE, `vip` BOOLEAN>"
    params = [("seller", "doc", doc), ("tag", "scalar", "STRING")]
    function = BatchedMethodFunction("tests.fixtures.udfs.views", "AuctionView", "describe", params, "STRING")
    seen = []
    function.fn = lambda seller, tag: seen.append((seller and dict(vars(seller)), tag)) or f"{seller.name}{tag}"
    function.open(Context())
    # one column per field, each in its carrier; a missing document has a NULL doc_id (its other fields are not read)
    sellers = [
        (pa.string(), ["s1", None, "s3"]),  # the second: a dangling reference, and `seller.name` raises in that row
        (pa.string(), ["ann", "left over", None]),
        (pa.decimal128(38, 10), [Decimal(2**60 + 1), None, None]),
        (pa.string(), [None, None, "NaN"]),
        (pa.bool_(), [True, None, None]),
    ]
    out = through_arrow(function, [*sellers, (pa.string(), ["!", "?", None])], ok_value(("value", DataTypes.STRING())))
    assert out == [{"ok": True, "value": "ann!"}, {"ok": False, "value": None}, {"ok": True, "value": "NoneNone"}]
    first, second, third = seen
    assert first == ({"doc_id": "s1", "name": "ann", "reserve": 2**60 + 1, "rate": None, "vip": True}, "!")
    assert type(first[0]["vip"]) is bool and type(first[0]["reserve"]) is int
    assert second == (None, "?")
    assert third[0]["reserve"] is None and math.isnan(third[0]["rate"]) and third[0]["vip"] is None


def test_a_document_and_its_reference_arrive_as_columns_and_nest_again():
    doc = "ROW<`doc_id` STRING, `city` STRING, `name` STRING, `region` ROW<`doc_id` STRING, `name` STRING>>"
    batched = BatchedMethodFunction(
        "tests.fixtures.udfs.views", "AuctionView", "describe", [("s", "doc", doc)], "STRING"
    )
    batched.open(Context())
    sellers = [
        {"doc_id": "s1", "city": None, "name": "ann"},
        {"doc_id": "s2", "city": "Oslo", "name": "bo"},
        None,  # missing: `seller.region` raises in that row alone
    ]
    regions = [None, {"doc_id": "r1", "name": "North"}, None]
    # the seller's columns (doc_id, city, name), then its region's (doc_id, name)
    columns = [
        (pa.string(), [None if d is None else d[field] for d in documents])
        for documents, fields in ((sellers, ("doc_id", "city", "name")), (regions, ("doc_id", "name")))
        for field in fields
    ]
    out = through_arrow(batched, columns, ok_value(("value", DataTypes.STRING())))
    one_by_one = MethodScalarFunction("tests.fixtures.udfs.views", "AuctionView", "describe", ["doc"], "STRING")
    one_by_one.open(Context())
    pairs = zip(sellers, regions, strict=True)
    rows = [None if s is None else Row(**s, region=None if r is None else Row(**r)) for s, r in pairs]
    assert out == [{"ok": r[0], "value": r[1]} for r in map(one_by_one.eval, rows)]
    assert out[:2] == [{"ok": True, "value": "Ann (nowhere, ?)"}, {"ok": True, "value": "Bo (Oslo, nORTH)"}]
    assert out[2] == {"ok": False, "value": None}


def test_a_document_without_its_doc_id_is_present_where_its_first_column_is_not_null():
    # what the compiler passes when `describe` does not read doc_id: `name` (never null in a present seller)
    # first, and the region by its `name` likewise
    doc = "ROW<`name` STRING, `city` STRING, `region` ROW<`name` STRING>>"
    batched = BatchedMethodFunction(
        "tests.fixtures.udfs.views", "AuctionView", "describe", [("s", "doc", doc)], "STRING"
    )
    batched.open(Context())
    calls = []
    describe = udfs._resolve("tests.fixtures.udfs.views", "AuctionView", "describe")
    batched.fn = lambda seller: calls.append(plain(seller)) or describe(seller)
    names = ["ann", None, "ann", "bo"]  # the second seller is missing; the third shares the first's fields
    cities = [None, None, None, "Oslo"]
    regions = [None, None, None, "North"]  # the fourth seller's region is present, the others' missing
    columns = [(pa.string(), names), (pa.string(), cities), (pa.string(), regions)]
    out = through_arrow(batched, columns, ok_value(("value", DataTypes.STRING())))
    assert out == [
        {"ok": True, "value": "Ann (nowhere, ?)"},
        {"ok": False, "value": None},  # `seller.region` of a missing seller raises in that row alone
        {"ok": True, "value": "Ann (nowhere, ?)"},
        {"ok": True, "value": "Bo (Oslo, nORTH)"},
    ]
    # documents with equal fields are one argument: the third row is the first's outcome, not a new call
    assert calls == [
        {"name": "ann", "city": None, "region": None},
        None,
        {"name": "bo", "city": "Oslo", "region": {"name": "North"}},
    ]


def plain(doc):
    """A DocView's fields as a dict, references too (DocViews compare by identity)."""
    return None if doc is None else {k: plain(v) if isinstance(v, DocView) else v for k, v in vars(doc).items()}


def test_a_batch_calls_the_method_once_per_distinct_arguments_and_reports_each_rows_exception():
    params = [("text", "scalar", "STRING")]
    function = BatchedMethodFunction("tests.fixtures.udfs.views", "AuctionView", "describe", params, "STRING")
    calls = []
    function.fn = lambda text: calls.append(text) or text.upper()  # None raises: the first, two adjacent, the last
    context = Context()
    function.open(context)
    texts = [None, "a", None, None, "b", None, "a"]
    expected = [{"ok": t is not None, "value": t and t.upper()} for t in texts]
    assert through_arrow(function, [(pa.string(), texts)], ok_value(("value", DataTypes.STRING()))) == expected
    assert calls == [None, "a", "b"]  # the memo: same arguments, same outcome
    assert context.metrics.counters["ontoc_udf_errors"].count == 4  # still one error per row that raised
    # the next batch finds every outcome remembered, the exception included, and still counts it per row
    assert through_arrow(function, [(pa.string(), texts)], ok_value(("value", DataTypes.STRING()))) == expected
    assert calls == [None, "a", "b"] and context.metrics.counters["ontoc_udf_errors"].count == 8
    kept = [o[2] for o in function.recent.values() if o[2] is not None]
    assert len(kept) == 1 and kept[0].__traceback__ is None  # kept without the frames that hold its arguments


def memo_calls(params, columns) -> tuple[list, list]:
    """The values a batched `repr` of its arguments returns per row, and the arguments it was called with."""
    function = BatchedMethodFunction("tests.fixtures.udfs.views", "AuctionView", "describe", params, "STRING")
    calls = []
    function.fn = lambda *args: calls.append(args) or repr(args)
    function.open(Context())
    out = through_arrow(function, columns, ok_value(("value", DataTypes.STRING())))
    return [o["value"] for o in out], calls


def test_the_memo_keys_on_exact_arguments():
    # a DOUBLE travels as text: -0.0 and 0.0 stay apart, a NaN and a NULL are not each other
    out, calls = memo_calls([("x", "scalar", "DOUBLE")], [(pa.string(), ["-0.0", "0.0", "NaN", None, "NaN", "-0.0"])])
    assert out == [repr((float(x),)) if x else "(None,)" for x in ["-0.0", "0.0", "NaN", None, "NaN", "-0.0"]]
    assert [repr(c) for c in calls] == ["(-0.0,)", "(0.0,)", "(nan,)", "(None,)"]
    # 1 and True never share a key position: each position is one column of one carrier type
    row = "ROW<`n` BIGINT, `b` BOOLEAN>"
    decimals = (pa.decimal128(38, 10), [Decimal(1), None, Decimal(1), Decimal(1)])
    bools = (pa.bool_(), [None, True, True, None])
    out, calls = memo_calls([("d", "dict", row)], [decimals, bools])
    assert out == ["({'n': 1, 'b': None},)", "({'n': None, 'b': True},)", "({'n': 1, 'b': True},)"] + out[:1]
    assert len(calls) == 3 and type(calls[0][0]["n"]) is int and type(calls[1][0]["b"]) is bool
    # a DECIMAL column has one scale: 1.0 and 1.00 arrive as the same Decimal, the method sees one argument
    out, calls = memo_calls(
        [("d", "scalar", "DECIMAL(10, 2)")], [(pa.decimal128(10, 2), [Decimal("1.0"), Decimal("1.00")])]
    )
    assert out == ["(Decimal('1.00'),)"] * 2 and len(calls) == 1
    # a missing document (NULL doc_id) is None; a present one with NULL fields is a document; ids tell apart
    doc = "ROW<`doc_id` STRING, `name` STRING>"
    ids, names = (pa.string(), [None, "s1", "s2", None, "s1"]), (pa.string(), [None, None, None, None, None])
    out, calls = memo_calls([("s", "doc", doc)], [ids, names])
    assert out == [
        "(None,)",
        "(DocView({'doc_id': 's1', 'name': None}),)",
        "(DocView({'doc_id': 's2', 'name': None}),)",
    ] + [
        "(None,)",
        "(DocView({'doc_id': 's1', 'name': None}),)",
    ]
    assert len(calls) == 3


def test_the_memo_is_bounded_to_two_generations(monkeypatch):
    monkeypatch.setattr(udfs, "MEMO_ENTRIES", 4)
    params = [("text", "scalar", "STRING")]
    function = BatchedMethodFunction("tests.fixtures.udfs.views", "AuctionView", "describe", params, "STRING")
    calls = []
    function.fn = lambda text: calls.append(text) or text.upper()
    function.open(Context())
    texts = [f"t{i}" for i in range(10)]
    through_arrow(function, [(pa.string(), texts)], ok_value(("value", DataTypes.STRING())))
    assert len(function.recent) <= 4 and len(function.older) <= 4
    # a one-column method's key is the value itself (no tuple per row); t8, t9 in the new generation
    assert set(function.recent) | set(function.older) == set(texts[-6:])
    out = through_arrow(function, [(pa.string(), ["t9", "t5", "t0"])], ok_value(("value", DataTypes.STRING())))
    assert [o["value"] for o in out] == ["T9", "T5", "T0"]
    assert calls == texts + ["t0"]  # t9 and t5 remembered (t5 moved to the newer generation), t0 forgotten


def test_a_method_that_cannot_be_found_fails_every_row_and_counts_each():
    params = [("text", "scalar", "STRING")]
    function = BatchedMethodFunction("tests.fixtures.udfs.views", "AuctionView", "no_such_method", params, "STRING")
    context = Context()
    function.open(context)
    out = through_arrow(function, [(pa.string(), ["a", "a", None])], ok_value(("value", DataTypes.STRING())))
    assert out == [{"ok": False, "value": None}] * 3
    assert context.metrics.counters["ontoc_udf_errors"].count == 3
    assert not function.recent  # nothing remembered: the next batch looks the method up again


def test_the_worker_heap_is_frozen_once_at_the_first_open(monkeypatch):
    """Full collections must not walk the worker's imports again and again (docs/internals.md, "Bundles")."""
    calls = []
    monkeypatch.setattr(udfs, "_HEAP_FROZEN", False)
    monkeypatch.setattr(udfs.gc, "collect", lambda *args: calls.append("collect") or 0)
    monkeypatch.setattr(udfs.gc, "freeze", lambda: calls.append("freeze"))
    params = [("text", "scalar", "STRING")]
    for method in ("describe", "describe"):
        BatchedMethodFunction("tests.fixtures.udfs.views", "AuctionView", method, params, "STRING").open(Context())
    assert calls == ["collect", "freeze"]  # garbage collected first, so none of it is kept for good
