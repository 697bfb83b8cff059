"""Change events of domain-model topics: reading, validating, replaying.

Spec section 1: an event is `{"key": "<doc_id>", "value": {...} | null}`. An
event that is not such an object, or whose value misses a field without a
default, holds null in a field not declared `| None`, or holds a value of the
wrong type, is invalid: it is skipped and reported, and the document keeps
its previous state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from .ir.types import DType


class FieldRule(Protocol):
    """What validation reads of a field: the frontend's FieldDef, or a worker's plain FieldSpec."""

    @property
    def dtype(self) -> DType: ...

    @property
    def has_default(self) -> bool: ...

    @property
    def default(self) -> object: ...


class Model(Protocol):
    """What validation reads of a model: its fields by name (this module imports no compiler code)."""

    @property
    def fields(self) -> Mapping[str, FieldRule]: ...


class TopicModel(Model, Protocol):
    @property
    def topic(self) -> str: ...


@dataclass(frozen=True)
class Event:
    topic: str
    doc_id: str
    document: dict | None  # validated field values; None = delete
    file: str
    line: int


@dataclass(frozen=True)
class InvalidEvent:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: skipped invalid event: {self.reason}"


class Invalid(ValueError):
    pass


def coerce(value: object, dtype: DType, where: str) -> object:
    """A JSON value as the Python value of a field of type `dtype`."""
    if value is None:
        if dtype.nullable:
            return None
        raise Invalid(f"{where} is null but not declared `| None`")
    kind = dtype.kind
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "float" and isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return float(value)
    if kind == "decimal" and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return Decimal(value)
    if kind == "datetime" and isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(f"{where} is not an ISO 8601 datetime: {value!r}") from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if kind == "list" and isinstance(value, list):
        assert dtype.elem is not None
        return [coerce(v, dtype.elem, f"{where}[{i}]") for i, v in enumerate(value)]
    raise Invalid(f"{where} should be {dtype}, got {type(value).__name__} {json.dumps(value, default=str)[:40]}")


def validate(model: Model, value: object) -> dict:
    if not isinstance(value, dict):
        raise Invalid(f"value must be a JSON object or null, got {type(value).__name__}")
    doc = {}
    for name, f in model.fields.items():
        if name in value:
            doc[name] = coerce(value[name], f.dtype, f"field `{name}`")
        elif f.has_default:
            doc[name] = f.default
        else:
            raise Invalid(f"field `{name}` is missing and has no default")
    return doc


def parse_line(model: TopicModel, text: str, file: str, line: int) -> Event:
    try:
        record = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise Invalid(f"not JSON ({exc.msg})") from None
    if not isinstance(record, dict) or not isinstance(record.get("key"), str) or "value" not in record:
        raise Invalid('an event is {"key": "<doc_id>", "value": {...} | null}')
    value = record["value"]
    return Event(model.topic, record["key"], None if value is None else validate(model, value), file, line)


def read_events(models: Sequence[TopicModel], folder: Path) -> tuple[list[Event], list[InvalidEvent]]:
    """Events of `folder/<topic>.jsonl` for each model (a missing file is an empty topic)."""
    events, invalid = [], []
    for model in models:
        path = folder / f"{model.topic}.jsonl"
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as fh:
            for number, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                try:
                    events.append(parse_line(model, text, str(path), number))
                except Invalid as exc:
                    invalid.append(InvalidEvent(str(path), number, str(exc)))
    return events, invalid


def final_documents(events: list[Event]) -> dict[str, dict[str, dict]]:
    """topic -> doc_id -> document after replaying the events in order."""
    state: dict[str, dict[str, dict]] = {}
    for e in events:
        docs = state.setdefault(e.topic, {})
        if e.document is None:
            docs.pop(e.doc_id, None)
        else:
            docs[e.doc_id] = e.document
    return state
