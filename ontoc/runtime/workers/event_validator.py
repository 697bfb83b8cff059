"""ONTOC_VALIDATE_EVENT: the Python UDF that checks source events on a cluster.

It runs in the TaskManagers' Python workers, so it imports only PyFlink,
`ontoc.events` (the validation rules `ontoc run --local` applies, spec section
1) and the plain specs of `ontoc.event_validation`, never the compiler.
`backend/flink/validated_sources.py` explains where it sits in a job.
"""

from __future__ import annotations

import json
from datetime import UTC
from decimal import Decimal
from typing import Any

from pyflink.common import Row
from pyflink.table import DataTypes
from pyflink.table.udf import FunctionContext, ScalarFunction, udf

from ...event_validation import DELETE, INVALID, METRIC_NAME, UPSERT, FieldSpec, TopicSpec
from ...events import Invalid, validate
from ...ir import types as T

MAX_INVALID_VALUE_CHARS = 10_000
_INT64 = (-(2**63), 2**63 - 1)


class _Model:
    """What `ontoc.events.validate` reads of a model: its fields by name."""

    def __init__(self, fields: tuple[FieldSpec, ...]) -> None:
        self.fields = {f.name: f for f in fields}


# --------------------------------------------------------------------------
# The Python UDF


def _udf_type(dtype: T.DType):
    """The PyFlink type a column travels as out of the UDF (exact text for DECIMAL and datetimes)."""
    if dtype.kind == "list":
        assert dtype.elem is not None
        return DataTypes.ARRAY(_udf_type(dtype.elem))
    return {
        "str": DataTypes.STRING(),
        "int": DataTypes.BIGINT(),
        "float": DataTypes.DOUBLE(),
        "bool": DataTypes.BOOLEAN(),
        "decimal": DataTypes.STRING(),
        "datetime": DataTypes.STRING(),
        "none": DataTypes.STRING(),
    }[dtype.kind]


def _slot_fields(spec: TopicSpec) -> list[tuple[str, T.DType]]:
    # a ROW needs a field: a view reading only doc_id gets a placeholder
    return list(spec.columns) or [("_present", T.BOOL)]


def result_type(specs: list[TopicSpec]):
    return DataTypes.ROW(
        [
            DataTypes.FIELD("topic", DataTypes.STRING()),
            DataTypes.FIELD("kind", DataTypes.STRING()),
            DataTypes.FIELD("reason", DataTypes.STRING()),
            DataTypes.FIELD("partition", DataTypes.INT()),
            DataTypes.FIELD("offset", DataTypes.BIGINT()),
            DataTypes.FIELD("value", DataTypes.STRING()),
        ]
        + [
            DataTypes.FIELD(s.slot, DataTypes.ROW([DataTypes.FIELD(c, _udf_type(t)) for c, t in _slot_fields(s)]))
            for s in specs
        ]
    )


def _encode(value: Any, dtype: T.DType, where: str) -> object:
    """A validated Python value as the UDF returns it; Invalid when Flink could not carry it."""
    if value is None:
        return None
    kind = dtype.kind
    if kind == "list":
        assert dtype.elem is not None
        return [_encode(v, dtype.elem, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind == "int":
        if not _INT64[0] <= value <= _INT64[1]:
            raise Invalid(f"{where} is out of the 64-bit integer range: {value}")
        return value
    if kind == "str":
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Invalid(f"{where} holds a lone surrogate (\\ud800-\\udfff), which is not text") from None
        return value
    if kind == "decimal":
        if not value.is_finite():
            raise Invalid(f"{where} is not a finite number")
        return format(value, "f")
    if kind == "datetime":
        # isoformat, not strftime: glibc's %Y prints year 999 as "999", which Flink cannot parse
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return value


def check_event(
    spec: TopicSpec | None, key: str | None, value: str | None, model: _Model | None = None
) -> tuple[str, str | None, tuple | None]:
    """(kind, reason, encoded column values) of one Kafka record; pure Python, no Flink."""
    if spec is None:
        return INVALID, "the record's topic is not a source of this job", None
    if key is None:
        return INVALID, "the record has no key (the key is the document's doc_id)", None
    if value is None:
        return DELETE, None, None
    try:
        parsed = json.loads(value, parse_float=Decimal)
    except ValueError as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        return INVALID, f"not JSON ({msg})", None
    if parsed is None:  # the JSON text `null`: a delete, like a tombstone
        return DELETE, None, None
    try:
        doc = validate(model or _Model(spec.fields), parsed)
        encoded = tuple(_encode(doc[c], t, f"field `{c}`") for c, t in spec.columns) or (True,)
    except Invalid as exc:
        return INVALID, str(exc), None
    return UPSERT, None, encoded


class EventValidator(ScalarFunction):
    """ONTOC_VALIDATE_EVENT(topic, partition, offset, key, value) -> ROW<topic, kind, reason,
    partition, offset, value, t_<topic> ROW<...>, ...>; counts invalid events in the metric `ontoc_invalid_events`."""

    def __init__(self, specs: list[TopicSpec]) -> None:
        self.specs = list(specs)
        self.counter = None

    def open(self, function_context: FunctionContext) -> None:
        self.index = {s.topic: i for i, s in enumerate(self.specs)}
        self.models = [_Model(s.fields) for s in self.specs]
        self.counter = function_context.get_metric_group().counter(METRIC_NAME)

    def eval(self, topic, partition, offset, key, value):
        i = self.index.get(topic)
        if i is None:
            kind, reason, encoded = check_event(None, key, value)
        else:
            kind, reason, encoded = check_event(self.specs[i], key, value, self.models[i])
        slots = [None] * len(self.specs)
        if kind == UPSERT:
            assert i is not None and encoded is not None
            slots[i] = Row(*encoded)
        if kind == INVALID:
            if self.counter is not None:
                self.counter.inc()
            text = (
                value
                if value is None or len(value) <= MAX_INVALID_VALUE_CHARS
                else (value[:MAX_INVALID_VALUE_CHARS] + "...")
            )
            return Row(topic, kind, reason, partition, offset, text, *slots)
        return Row(topic, kind, None, None, None, None, *slots)


def validator_udf(specs: list[TopicSpec]):
    return udf(EventValidator(specs), result_type=result_type(specs), deterministic=True)
