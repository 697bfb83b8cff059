"""Python UDF support: the wrappers that run a view's own static and class methods inside Flink.

A scalar function returns ROW<ok, value>: `ok` is false where the method
raised, so the SQL can make the whole getter None, as Python would, instead
of letting a NULL flow on. Exceptions never fail the job: each is counted
(metric `ontoc_udf_errors` of the function's metric group) and logged once
per distinct message. Aggregates keep the multiset of their inputs, so rows
that are updated or deleted are retracted exactly.
"""

from __future__ import annotations

import functools
import gc
import importlib
import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from pyflink.common import Row
from pyflink.table.udf import AggregateFunction, ScalarFunction, udaf, udf

LOG = logging.getLogger("ontoc.udf")


class DocView:
    """A document passed to a Python function: its fields as attributes, references as nested DocViews."""

    def __init__(self, fields: dict[str, Any]):
        self.__dict__ = fields  # every caller builds a fresh dict: adopting it spares a copy per row

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
    return _result_check(sql_type)(value)


# a result's Python types per SQL type, and how the value is passed on (None: as it is)
RESULT_TYPES: dict[str, tuple[tuple[type, ...], Callable[[Any], Any] | None]] = {
    "BIGINT": ((int,), None),
    "DOUBLE": ((int, float), float),
    "STRING": ((str,), None),
    "BOOLEAN": ((bool,), None),
    "DECIMAL": ((int, Decimal), Decimal),
    "TIMESTAMP": ((datetime,), None),
    "TIMESTAMP_LTZ": ((datetime,), None),
    "ARRAY": ((list, tuple), list),
}


@functools.lru_cache(maxsize=256)
def _result_check(sql_type: str) -> Callable[[Any], Any]:
    """`to_sql` for one declared type: the type's text read once, not per row."""
    base = sql_type.upper().split("(")[0].split("<")[0].strip()
    accepted, convert = RESULT_TYPES.get(base, ((), None))

    def check(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, accepted) and (base == "BOOLEAN" or not isinstance(value, bool)):
            if base == "BIGINT" and not -(2**63) <= cast(int, value) < 2**63:
                raise OverflowError(f"{value} does not fit BIGINT")
            return value if convert is None else convert(value)
        raise TypeError(f"returned {type(value).__name__} {value!r:.40} where {sql_type} was declared")

    return check


_HEAP_FROZEN = False


def freeze_worker_heap() -> None:
    """Once per worker process: collect, then exclude the objects alive now from later collections.

    By the first `open` the worker has imported PyFlink, Beam, pandas and the user's modules: about a
    hundred thousand long-lived objects that every full collection walks again. A batched method
    allocates per row (keys, outcomes, DocViews), so full collections came about twice a second and took
    a fifth of the worker's time (bench part 2, documents package: 52 of 100 ms each in a 25 s run). Frozen,
    they walk only what the job allocated since; garbage made after this is collected as before. Under
    `ontoc run --local` the worker is ontoc's own process (PyFlink's loopback mode), frozen the same way."""
    global _HEAP_FROZEN
    if not _HEAP_FROZEN:
        gc.collect()
        gc.freeze()
        _HEAP_FROZEN = True


class _Reporter:
    """Counts a function's exceptions and logs each distinct message once."""

    def __init__(self, name: str):
        self.name = name
        self.seen: set[str] = set()
        self.counter = None

    def open(self, context: Any) -> None:
        """Every wrapper's `open` calls this one (in the Python worker, before its first row)."""
        self.counter = context.get_metric_group().counter("ontoc_udf_errors")
        freeze_worker_heap()

    def report(self, exc: Exception) -> None:
        self.report_rows([exc])

    def report_rows(self, raised: list[Exception]) -> None:
        """One exception per failing row, counted per row; a batch's rows often share one exception object
        (a remembered outcome), whose message is then made once."""
        if self.counter is not None:
            self.counter.inc(len(raised))
        for exc in {id(exc): exc for exc in raised}.values():
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


# Entries per generation of a batched method's memo. Two generations, the older dropped when the newer
# fills: a function keeps at most twice MEMO_ENTRIES argument tuples, about 350 bytes each (the
# key tuple and its strings, the outcome, the dict's slot; 160-180 without the strings, measured), so at
# most about 6 MiB per function. Repeats come soon after their first row (a -U follows the key's next
# change, a customer's change fans out to its orders in one burst), so recent entries are the ones that hit.
MEMO_ENTRIES = 8192

Outcome = tuple[bool, Any, Exception | None]  # ok, the checked result, the exception the method raised


class BatchedMethodFunction(ScalarFunction):
    """A static method over an Arrow batch (a PyFlink pandas UDF): each row's exception its own. Arguments
    arrive as pandas columns (a document or a dict as one column per field, a document's presence column
    first and then its references' columns), BIGINTs as Decimals and DOUBLEs as text (exact beside NULLs):
    `converters` give back what `eval` above gets.

    The method is a function of its arguments (as a Flink retraction already assumes: a -U must reproduce
    its +U), so its outcome is memoized per worker, keyed on a row's raw carrier values: each key position
    is one column of one carrier type (str, Decimal at the column's scale, bool, None), where equal values
    are the same argument (a DOUBLE's text keeps -0.0 apart from 0.0 and NaN equal to NaN); a document whose
    doc_id the method does not read arrives without it, so documents with equal fields share an outcome. A row whose key
    was seen gets the same result, or the same exception, reported (and counted) again for that row."""

    def __init__(self, module: str, view: str, method: str, params: list[tuple[str, str, str]], result: str):
        self.target = (module, view, method)
        self.converters = [converter(type_text, kind) for _, kind, type_text in params]
        self.result = result
        self.reporter = _Reporter(f"{view}.{method}")
        self.fn: Any = None  # the method, resolved on first call in the worker
        self.recent: dict[tuple, Outcome] = {}  # the memo's generations
        self.older: dict[tuple, Outcome] = {}

    def open(self, function_context: Any) -> None:
        self.reporter.open(function_context)
        self.recent, self.older = {}, {}

    def eval(self, *columns: Any) -> Any:
        import numpy as np
        import pandas as pd

        # a row's key: its one value, or the tuple of its values (a short column fails the zip). Per row this
        # allocates nothing the garbage collector tracks beyond the key tuple: what it tracks it walks.
        values = [column.tolist() for column in columns]
        keys = values[0] if len(values) == 1 else list(zip(*values, strict=True))
        outcomes: list[Outcome]
        try:
            if self.fn is None:
                self.fn = _resolve(*self.target)
        except Exception as exc:  # every row raises, as the row-at-a-time function's would
            outcomes = [(False, None, exc)] * len(keys)
        else:
            found = list(map(self.recent.get, keys))
            outcomes = self._complete(keys, found, len(values)) if None in found else cast(list[Outcome], found)
        ok = [o[0] for o in outcomes]
        results = [o[1] for o in outcomes]
        if False in ok:
            self.reporter.report_rows([o[2] for o in outcomes if o[2] is not None])
        # numpy columns, not Series: pandas builds the frame from them in about half the time (results are
        # scalars, so an object array of them is one-dimensional)
        frame = {"ok": np.array(ok, dtype=bool)}
        if self.result.upper().startswith("DOUBLE"):  # NaN as a flag: from pandas, Arrow makes a NaN NULL
            nan = [v != v for v in results]  # None == None: only a NaN differs from itself
            frame["value"] = np.array([None if n else v for v, n in zip(results, nan, strict=True)], dtype=object)
            frame["nan"] = np.array(nan, dtype=bool)
        else:
            frame["value"] = np.array(results, dtype=object)
        return pd.DataFrame(frame)

    def _complete(self, keys: list, found: list[Outcome | None], width: int) -> list[Outcome]:
        """The outcomes of a batch's rows, those not in the recent generation taken from the older one or
        called once per distinct key (arguments converted a column at a time), then kept in the recent one;
        when it is full it becomes the older one and the older is dropped. `width`: the columns of a key."""
        todo = dict.fromkeys([key for key, outcome in zip(keys, found, strict=True) if outcome is None])
        older = self.older
        if older:
            todo.update((key, older.pop(key)) for key in [key for key in todo if key in older])
        fresh = [key for key, outcome in todo.items() if outcome is None]
        if fresh:
            columns = [fresh] if width == 1 else [[key[i] for key in fresh] for i in range(width)]
            arguments, at = [], 0
            for convert in self.converters:
                values, at = convert(columns, at)
                arguments.append(values)
            todo.update(zip(fresh, self._call_rows(iter(list(zip(*arguments, strict=True)))), strict=True))
        known = cast(dict[Any, Outcome], todo)  # every key's outcome by now
        if len(self.recent) + len(known) <= MEMO_ENTRIES:
            self.recent.update(known)
        else:
            for key, outcome in known.items():
                if len(self.recent) >= MEMO_ENTRIES:
                    self.older, self.recent = self.recent, {}
                self.recent[key] = outcome
        return [known[key] if outcome is None else outcome for key, outcome in zip(keys, found, strict=True)]

    def _call_rows(self, rows: Any) -> list[Outcome]:
        """The method's outcome per row: ok, its checked result, the exception it raised (kept without its
        frames, which hold the arguments). The loop runs without a handler per row: an exception ends it, is
        kept for its row, and the loop resumes at the next row."""
        outcomes: list[Outcome] = []
        append = outcomes.append
        fn, check, exact = self.fn, _result_check(self.result), _unchecked_type(self.result)
        while True:
            try:
                for args in rows:
                    value = fn(*args)
                    append((True, value if type(value) is exact or value is None else check(value), None))
                return outcomes
            except Exception as exc:
                append((False, None, exc.with_traceback(None)))


def _unchecked_type(sql_type: str) -> type | None:
    """The Python type a result of `sql_type` passes on unconverted once its type is exactly it (BIGINT's ints
    are range-checked, so none)."""
    base = sql_type.upper().split("(")[0].split("<")[0].strip()
    return {"STRING": str, "BOOLEAN": bool, "DOUBLE": float}.get(base)


def converter(type_text: str, kind: str) -> Any:
    """The function from a batch's argument columns (sequences, from column `start`) to one parameter's
    values, as the row-at-a-time function passes them to the method, and the next column: a BIGINT from its
    Decimal, a DOUBLE from its text, a document as a DocView (None where its first column is NULL) from its own
    fields' columns and then its references', a dict as a dict from its fields' columns."""
    return _converter(_parse_type(type_text), kind)


def _converter(shape: Any, kind: str) -> Any:
    if not isinstance(shape, list):
        scalar = _scalar(shape)
        return lambda columns, start: (scalar(columns[start]), start + 1)
    own = [(name, _scalar(base)) for name, base in shape if not isinstance(base, list)]
    references = [(name, _converter(base, kind)) for name, base in shape if isinstance(base, list)]
    order = [name for name, _ in shape]

    def rows(columns: list, start: int) -> tuple[list, int]:
        fields = {name: convert(columns[start + i]) for i, (name, convert) in enumerate(own)}
        at = start + len(own)
        for name, convert in references:
            fields[name], at = convert(columns, at)
        values = zip(*[fields[n] for n in order], strict=True)  # a row's values: as many as `order` names
        if kind != "doc":
            return [dict(zip(order, v, strict=False)) for v in values], at
        # a document's first column (its doc_id, or a field never null in a present document) is NULL exactly
        # where the document is missing: the SQL says so
        return [None if v[0] is None else DocView(dict(zip(order, v, strict=False))) for v in values], at

    return rows


def _scalar(base: str) -> Any:
    """A column's values (a sequence) from their carrier to what the row-at-a-time function passes."""
    carried = {"BIGINT": int, "DOUBLE": float, "BOOLEAN": bool}.get(base)
    if carried is None:
        return lambda values: values
    return lambda values: [None if v is None else carried(v) for v in values]


def _parse_type(text: str) -> Any:
    """A Flink type's text as its base name ("BIGINT", "DECIMAL") or, for a ROW, a list of (field, base name)."""
    text = text.strip()
    if not text.upper().startswith("ROW<"):
        return text.split("(")[0].split()[0].upper()
    fields, depth, start = [], 0, 4
    for i, ch in enumerate(text[4:-1] + ",", start=4):
        depth += (ch in "<(") - (ch in ">)")
        if ch == "," and depth == 0:
            name, _, rest = text[start:i].strip()[1:].partition("`")
            fields.append((name, _parse_type(rest)))
            start = i + 1
    return fields


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


def scalar_function(
    module: str, view: str, method: str, params: list[tuple[str, str, str]], result: str, batched: bool = False
):
    row = f"ROW<`ok` BOOLEAN, `value` {result}>"
    if batched:
        nan = ", `nan` BOOLEAN" if result.upper().startswith("DOUBLE") else ""
        function = BatchedMethodFunction(module, view, method, params, result)
        return {"": udf(function, result_type=f"ROW<`ok` BOOLEAN, `value` {result}{nan}>", func_type="pandas")}
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
