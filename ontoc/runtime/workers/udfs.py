"""Python UDF support: the wrappers that run a view's own static and class methods inside Flink.

A scalar function returns ROW<ok, value>: `ok` is false where the method
raised, so the SQL can make the whole getter None, as Python would, instead
of letting a NULL flow on. Exceptions never fail the job: each is counted
(metric `ontoc_udf_errors` of the function's metric group) and logged once
per distinct message. Aggregates keep the multiset of their inputs, so rows
that are updated or deleted are retracted exactly.
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from pyflink.common import Row
from pyflink.table.udf import AggregateFunction, ScalarFunction, udaf, udf

LOG = logging.getLogger("ontoc.udf")


class DocView:
    """A document passed to a Python function: its fields as attributes, references as nested DocViews."""

    def __init__(self, fields: dict[str, Any]):
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        return f"DocView({self.__dict__})"


def to_python(value: Any, kind: str) -> Any:
    if value is None or kind == "scalar":
        return value
    fields = value.as_dict() if hasattr(value, "as_dict") else dict(value)
    if kind == "dict":
        return fields
    return DocView({k: to_python(v, "doc") if isinstance(v, Row) else v for k, v in fields.items()})


def to_sql(value: Any, sql_type: str) -> Any:
    """Check a method's result against its declared type, as the sink will see it."""
    base = sql_type.upper()
    if value is None:
        return None
    if base.startswith("BIGINT") and isinstance(value, int) and not isinstance(value, bool):
        return value
    if base.startswith("DOUBLE") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if base.startswith("STRING") and isinstance(value, str):
        return value
    if base.startswith("BOOLEAN") and isinstance(value, bool):
        return value
    if base.startswith("DECIMAL") and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return Decimal(value)
    if base.startswith("TIMESTAMP") and isinstance(value, datetime):
        return value
    if base.startswith("ARRAY") and isinstance(value, (list, tuple)):
        return list(value)
    raise TypeError(f"returned {type(value).__name__} {value!r:.40} where {sql_type} was declared")


class _Reporter:
    """Counts a function's exceptions and logs each distinct message once."""

    def __init__(self, name: str):
        self.name = name
        self.seen: set[str] = set()
        self.counter = None

    def open(self, context: Any) -> None:
        self.counter = context.get_metric_group().counter("ontoc_udf_errors")

    def report(self, exc: Exception) -> None:
        if self.counter is not None:
            self.counter.inc()
        message = f"{type(exc).__name__}: {exc}"
        if message not in self.seen:
            self.seen.add(message)
            LOG.warning("%s raised %s; the field is None (logged once per message)", self.name, message)


def _resolve(module: str, view: str, method: str):
    return getattr(getattr(importlib.import_module(module), view), method)


class MethodScalarFunction(ScalarFunction):
    def __init__(self, module: str, view: str, method: str, kinds: list[str], result: str):
        self.target = (module, view, method)
        self.kinds = kinds
        self.result = result
        self.reporter = _Reporter(f"{view}.{method}")
        self.fn: Any = None  # the method, resolved on first call in the worker

    def open(self, function_context: Any) -> None:
        self.reporter.open(function_context)

    def eval(self, *args: Any) -> Row:
        try:
            if self.fn is None:
                self.fn = _resolve(*self.target)
            value = self.fn(*[to_python(a, k) for a, k in zip(args, self.kinds, strict=False)])
            return Row(True, to_sql(value, self.result))
        except Exception as exc:
            self.reporter.report(exc)
            return Row(False, None)


class MethodAggregateFunction(AggregateFunction):
    """`cls.method(values)` over the current multiset of the group's values (accumulate/retract)."""

    def __init__(self, module: str, view: str, method: str, kind: str, elem_type: str, result: str):
        self.target = (module, view, method)
        self.kind = kind
        self.elem_type = elem_type
        self.result = result
        self.reporter = _Reporter(f"{view}.{method}")
        self.fn: Any = None  # the method, resolved on first call in the worker

    def open(self, function_context: Any) -> None:
        self.reporter.open(function_context)

    def create_accumulator(self) -> list:
        return [[]]

    def accumulate(self, accumulator: list, value: Any) -> None:
        accumulator[0].append(value)

    def retract(self, accumulator: list, value: Any) -> None:
        values = accumulator[0]
        for i, known in enumerate(values):
            if known == value:
                del values[i]
                return

    def get_value(self, accumulator: list) -> Row:
        return call_on(self, [to_python(v, self.kind) for v in accumulator[0]])

    def get_accumulator_type(self) -> str:
        return f"ROW<`values` ARRAY<{self.elem_type}>>"

    def get_result_type(self) -> str:
        return f"ROW<`ok` BOOLEAN, `value` {self.result}>"


def call_on(function: MethodAggregateFunction | EmptyAggregate, values: list) -> Row:
    try:
        if function.fn is None:
            function.fn = _resolve(*function.target)
        return Row(True, to_sql(function.fn(values), function.result))
    except Exception as exc:
        function.reporter.report(exc)
        return Row(False, None)


class EmptyAggregate(ScalarFunction):
    """The aggregate of an empty collection (no group row at all): `cls.method([])`."""

    def __init__(self, module: str, view: str, method: str, result: str):
        self.target = (module, view, method)
        self.result = result
        self.reporter = _Reporter(f"{view}.{method}")
        self.fn: Any = None  # the method, resolved on first call in the worker

    def open(self, function_context: Any) -> None:
        self.reporter.open(function_context)

    def eval(self) -> Row:
        return call_on(self, [])

    def is_deterministic(self) -> bool:
        return False  # evaluated per row at run time, never folded by the planner


def scalar_function(module: str, view: str, method: str, params: list[tuple[str, str, str]], result: str):
    row = f"ROW<`ok` BOOLEAN, `value` {result}>"
    return {"": udf(MethodScalarFunction(module, view, method, [k for _, k, _ in params], result), result_type=row)}


def aggregate_function(module: str, view: str, method: str, params: list[tuple[str, str, str]], result: str):
    [(_, kind, elem_type)] = params
    row = f"ROW<`ok` BOOLEAN, `value` {result}>"
    return {
        "": udaf(
            MethodAggregateFunction(module, view, method, kind, elem_type, result),
            result_type=row,
            accumulator_type=f"ROW<`values` ARRAY<{elem_type}>>",
        ),
        "__empty": udf(EmptyAggregate(module, view, method, result), result_type=row),
    }
