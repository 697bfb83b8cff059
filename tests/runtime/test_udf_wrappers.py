"""The wrappers that run view methods inside Flink: errors become ok=False, are counted and logged once."""

from __future__ import annotations

import logging
from decimal import Decimal

import pyarrow as pa
from pyflink.common import Row
from pyflink.table import DataTypes
from pyflink.table.types import DataType, to_arrow_type
from pyflink.table.utils import arrow_to_pandas, pandas_to_arrow

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


def through_arrow(function: BatchedMethodFunction, args: list[tuple], arg_type: pa.DataType, result: DataType):
    """One batch through a pandas UDF as PyFlink's worker runs it: Arrow -> pandas (PyFlink's own conversion)
    -> `eval` -> pandas -> Arrow, read back as Python values."""
    rows = [{"args": {f"a{i}": v for i, v in enumerate(row)}} for row in args]
    column = pa.array(rows, type=pa.struct([("args", arg_type)]))
    batch = pa.RecordBatch.from_arrays([column], names=["f0"])
    [frame] = arrow_to_pandas("UTC", [DataTypes.ROW([DataTypes.FIELD("args", DataTypes.STRING())])], [batch])
    out = function.eval(frame)
    schema = pa.schema([("f0", to_arrow_type(result))])
    return pandas_to_arrow(schema, "UTC", [result], [out]).column(0).to_pylist()


def test_a_batch_keeps_nulls_nans_big_ints_and_each_rows_exception():
    params = [("n", "scalar", "BIGINT")]
    triple = BatchedMethodFunction("tests.fixtures.udfs.views", "AuctionView", "triple", params, "BIGINT")
    context = Context()
    triple.open(context)
    ints = pa.struct([("a0", pa.decimal128(38, 10))])  # BIGINT's carrier
    result = DataTypes.ROW([DataTypes.FIELD("ok", DataTypes.BOOLEAN()), DataTypes.FIELD("value", DataTypes.BIGINT())])
    big = 2**53 + 1  # not a float: exact only if the batch's NULL did not make the column float64
    out = through_arrow(triple, [(Decimal(big),), (None,), (Decimal(2**62),)], ints, result)
    assert out == [{"ok": True, "value": 3 * big + 1}, {"ok": False, "value": None}, {"ok": False, "value": None}]
    assert context.metrics.counters["ontoc_udf_errors"].count == 2  # None + 1, and a result beyond 64 bits

    half = BatchedMethodFunction(
        "tests.fixtures.udfs.views", "AuctionView", "half_or_nan", [("x", "scalar", "DOUBLE")], "DOUBLE"
    )
    half.open(Context())
    floats = pa.struct([("a0", pa.float64())])
    fields = (("ok", DataTypes.BOOLEAN()), ("value", DataTypes.DOUBLE()), ("nan", DataTypes.BOOLEAN()))
    result = DataTypes.ROW([DataTypes.FIELD(n, t) for n, t in fields])
    out = through_arrow(half, [(3.0,), (None,), (float("nan"),), (float("inf"),)], floats, result)
    assert out[0] == {"ok": True, "value": 1.5, "nan": False}
    assert out[1] == {"ok": True, "value": None, "nan": True}  # None in: NaN out, as a flag
    assert out[2] == {"ok": True, "value": None, "nan": True}  # NaN in (not None): NaN / 2 out
    assert out[3] == {"ok": True, "value": float("inf"), "nan": False}


def test_a_batch_of_documents_arrives_as_objects_with_nested_references():
    describe = BatchedMethodFunction(
        "tests.fixtures.udfs.views",
        "AuctionView",
        "describe",
        [("seller", "doc", "ROW<`doc_id` STRING, `city` STRING, `name` STRING, `region` ROW<`name` STRING>>")],
        "STRING",
    )
    describe.open(Context())
    region = pa.struct([("name", pa.string())])
    seller = pa.struct([("doc_id", pa.string()), ("city", pa.string()), ("name", pa.string()), ("region", region)])
    sellers = [
        ({"doc_id": "s1", "city": None, "name": "ann", "region": None},),
        ({"doc_id": "s2", "city": "Oslo", "name": "bo", "region": {"name": "North"}},),
        (None,),  # a dangling reference: `seller.region` raises, that row alone is not ok
    ]
    result = DataTypes.ROW([DataTypes.FIELD("ok", DataTypes.BOOLEAN()), DataTypes.FIELD("value", DataTypes.STRING())])
    out = through_arrow(describe, sellers, pa.struct([("a0", seller)]), result)
    rows = [MethodScalarFunction("tests.fixtures.udfs.views", "AuctionView", "describe", ["doc"], "STRING")]
    rows[0].open(Context())
    expected = [rows[0].eval(None if s is None else row_of(s)) for (s,) in sellers]
    assert out == [{"ok": r[0], "value": r[1]} for r in expected]
    assert out[1] == {"ok": True, "value": "Bo (Oslo, nORTH)"} and out[2]["ok"] is False


def row_of(fields: dict) -> Row:
    return Row(**{k: row_of(v) if isinstance(v, dict) else v for k, v in fields.items()})
