"""The wrappers that run view methods inside Flink: errors become ok=False, are counted and logged once."""

from __future__ import annotations

import logging

from pyflink.common import Row

from ontoc.runtime.workers.udfs import DocView, MethodAggregateFunction, MethodScalarFunction, to_python


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
