"""Change events of domain-model topics: reading, validating, replaying.

Spec section 1: an event is `{"key": "<doc_id>", "value": {...} | null}`. An
event that is not such an object, or whose value misses a field without a
default, holds null in a field not declared `| None`, or holds a value of the
wrong type, is invalid: it is skipped and reported, and the document keeps
its previous state. So is a record the reader cannot decode (not UTF-8, not
JSON, nested deeper than `MAX_DEPTH`, a number longer than
`MAX_NUMBER_CHARS`, NaN/Infinity, a lone surrogate in any string) and a
value out of range for its field: an int beyond 64 bits, a float that is not
finite, a Decimal of 10^28 or more (or more than 1000 digits after the
point), a datetime outside years 1-9999 in UTC.

These rules have one definition on each side of the engine, kept equal by a
shared table of records (tests/fixtures/events/records.json) run through both:
this module (`ontoc run --local`) and the JVM function ONTOC_VALIDATE_EVENT
(jvm/functions, `dev.ontoc.flink.EventRules`) on the cluster, which reads
the models from `validator_spec`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from .ir.relations import text_field
from .ir.types import DType

MAX_DEPTH = 64  # levels of nesting in a record's value (a file line's envelope adds one)
MAX_NUMBER_CHARS = 1000  # a longer number is refused (Python's int() stops at 4300 digits)
DECIMAL_DIGITS = 28  # digits before the point of a Decimal field: DECIMAL(38, 10)
MAX_DECIMAL_SCALE = 1000
_INT64 = (-(2**63), 2**63 - 1)
UTF8_BOM = b"\xef\xbb\xbf"

# kinds of a record's verdict (the JVM function returns the same words)
UPSERT, DELETE, INVALID = "upsert", "delete", "invalid"

# one grammar for both runners (EventRules.DATETIME): date, optional time, optional offset
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?"
)
_MAY_HOLD_SURROGATE = re.compile(r"\\u[dD][89abcdefABCDEF]|[\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]")
_INNERMOST_PAIR = re.compile(r"[\[{][\]}]")


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


@dataclass(frozen=True)
class Verdict:
    """What the rules say of one Kafka record (as ONTOC_VALIDATE_EVENT does on the cluster)."""

    kind: str  # UPSERT | DELETE | INVALID
    reason: str | None
    doc_id: str | None
    document: dict | None  # the validated fields of an upsert


class Invalid(ValueError):
    pass


class FieldRule(Protocol):
    """What validation reads of a field: the frontend's FieldDef, or a worker's plain FieldSpec."""

    @property
    def name(self) -> str: ...

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


class SourceTopic(Protocol):
    """A source topic of a job as the validator sees it (`runtime.event_udf.TopicSpec` is one)."""

    @property
    def topic(self) -> str: ...
    @property
    def fields(self) -> Iterable[FieldRule]: ...
    @property
    def columns(self) -> Iterable[tuple[str, DType]]: ...


# --------------------------------------------------------------------------
# Decoding: bytes -> text -> JSON


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("not UTF-8 text") from None


def _number_text(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        raise Invalid(f"not JSON (a number longer than {MAX_NUMBER_CHARS} characters)")
    return text


def _constant(name: str) -> object:
    raise Invalid(f"not JSON ({name} is not a JSON number)")


def _lone_surrogate(value: object) -> bool:
    """In a string or list (objects are checked by `_checked_object` as they are built)."""
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    return isinstance(value, list) and any(_lone_surrogate(v) for v in value)


def _checked_object(pairs: list[tuple[str, object]]) -> dict:
    # every pair, before duplicate keys collapse: the JVM reader sees them all too
    for k, v in pairs:
        if _lone_surrogate(k) or _lone_surrogate(v):
            raise Invalid("not text: a lone surrogate (\\ud800-\\udfff) in a string or key")
    return dict(pairs)


def _int(text: str) -> int:
    return int(_number_text(text))


def _decimal_number(text: str) -> Decimal:
    return Decimal(_number_text(text))


_DECODER = json.JSONDecoder(parse_int=_int, parse_float=_decimal_number, parse_constant=_constant)
_CHECKING_DECODER = json.JSONDecoder(
    parse_int=_int, parse_float=_decimal_number, parse_constant=_constant, object_pairs_hook=_checked_object
)


def _nesting_error(text: str, max_depth: int) -> str | None:
    """Why the brackets outside strings nest too deep (exact for JSON text), at regex speed."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    for _ in range(max_depth):  # each pass removes the innermost level
        reduced = _INNERMOST_PAIR.sub("", brackets)
        if not reduced:
            return None
        if len(reduced) == len(brackets):
            return "not JSON (brackets that do not pair)"
        brackets = reduced
    return f"not JSON (nested deeper than {max_depth} levels)"


def decode_json(text: str, max_depth: int = MAX_DEPTH) -> object:
    """JSON text as Python values (numbers with a fraction or exponent as Decimal), strictly."""
    # the C scanner recurses: measure the depth first, when the brackets could exceed it at all
    if text.count("[") + text.count("{") > max_depth:
        error = _nesting_error(text, max_depth)
        if error is not None:
            raise Invalid(error)
    checking = _MAY_HOLD_SURROGATE.search(text) is not None
    try:
        value = (_CHECKING_DECODER if checking else _DECODER).decode(text)
    except json.JSONDecodeError as exc:
        raise Invalid(f"not JSON ({exc.msg})") from None
    except RecursionError:
        raise Invalid(f"not JSON (nested deeper than {max_depth} levels)") from None
    if checking and _lone_surrogate(value):
        raise Invalid("not text: a lone surrogate (\\ud800-\\udfff) in a string or key")
    return value


# --------------------------------------------------------------------------
# Field values


def _json_type_name(value: object) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, Decimal):
        return "a number with a fraction or exponent"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _datetime(text: str, where: str) -> datetime:
    """An ISO 8601 datetime (UTC without an offset), as an aware UTC datetime of years 1-9999."""
    m = _DATETIME.fullmatch(text) if len(text) <= 64 else None
    if m is None:
        raise Invalid(f"{where} is not an ISO 8601 datetime: {_cut(text, 40)}")
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    try:
        value = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "").ljust(6, "0")[:6]),
            tzinfo=UTC,
        )
    except ValueError:
        raise Invalid(f"{where} is not a valid datetime: {_cut(text, 40)}") from None
    if offset and offset != "Z":
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise Invalid(f"{where} has an offset out of range: {offset}")
        sign = -1 if offset[0] == "-" else 1
        try:
            value -= timedelta(seconds=sign * (hours * 3600 + minutes * 60))
        except OverflowError:
            raise Invalid(f"{where} is out of the datetime range (years 1 to 9999 in UTC): {_cut(text, 40)}") from None
    return value


def _float(value: int | Decimal, where: str) -> float:
    try:
        out = float(value)
    except OverflowError:
        out = math.inf
    if not math.isfinite(out):
        raise Invalid(f"{where} is out of the range of a float")
    return out


def _decimal(value: int | Decimal, where: str) -> Decimal:
    out = Decimal(value)
    exponent = out.as_tuple().exponent
    assert isinstance(exponent, int)  # JSON has no NaN or Infinity (decode_json refuses them)
    if -exponent > MAX_DECIMAL_SCALE or (out != 0 and out.adjusted() >= DECIMAL_DIGITS):
        raise Invalid(f"{where} is out of the range of a Decimal field")
    return out


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
        if not _INT64[0] <= value <= _INT64[1]:
            raise Invalid(f"{where} is out of the 64-bit integer range: {value}")
        return value
    if kind in ("float", "decimal") and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return _float(value, where) if kind == "float" else _decimal(value, where)
    if kind == "datetime" and isinstance(value, str):
        return _datetime(value, where)
    if kind == "list" and isinstance(value, list):
        assert dtype.elem is not None
        return [coerce(v, dtype.elem, f"{where}[{i}]") for i, v in enumerate(value)]
    raise Invalid(f"{where} should be {dtype}, got {_json_type_name(value)}")


def default_value(f: FieldRule) -> object:
    """The value a missing field takes: its default read as if the event held it."""
    try:
        text = json.dumps(f.default, allow_nan=False)
    except (TypeError, ValueError):
        raise Invalid("it is not a JSON value") from None
    return coerce(decode_json(text), f.dtype, "the default")


def validate(model: Model, value: object) -> dict:
    if not isinstance(value, dict):
        raise Invalid(f"value must be a JSON object or null, got {_json_type_name(value)}")
    doc = {}
    for name, f in model.fields.items():
        where = f"field `{name}`"
        if name in value:
            doc[name] = coerce(value[name], f.dtype, where)
        elif not f.has_default:
            raise Invalid(f"{where} is missing and has no default")
        else:
            try:
                doc[name] = default_value(f)
            except Invalid as exc:
                raise Invalid(f"{where} is missing and its default is not valid: {exc}") from None
    return doc


# --------------------------------------------------------------------------
# Kafka records and file lines


def check_record(model: Model, key: bytes | None, value: bytes | None) -> Verdict:
    """The verdict on one Kafka record of the model's topic; never raises."""
    doc_id = None
    try:
        if key is None:
            raise Invalid("the record has no key (the key is the document's doc_id)")
        doc_id = utf8(key)
        if value is None:
            return Verdict(DELETE, None, doc_id, None)
        parsed = decode_json(utf8(value))
        if parsed is None:  # the JSON text `null`: a delete, like a tombstone
            return Verdict(DELETE, None, doc_id, None)
        return Verdict(UPSERT, None, doc_id, validate(model, parsed))
    except Invalid as exc:
        return Verdict(INVALID, str(exc), doc_id, None)


def parse_line(model: TopicModel, text: str | bytes, file: str, line: int) -> Event:
    if isinstance(text, bytes):
        text = utf8(text)
    record = decode_json(text, MAX_DEPTH + 1)
    if not isinstance(record, dict) or not isinstance(record.get("key"), str) or "value" not in record:
        raise Invalid('an event is {"key": "<doc_id>", "value": {...} | null}')
    value = record["value"]
    return Event(model.topic, record["key"], None if value is None else validate(model, value), file, line)


def read_events(models: Sequence[TopicModel], folder: Path) -> tuple[list[Event], list[InvalidEvent]]:
    """Events of `folder/<topic>.jsonl` for each model (a missing file is an empty topic).

    Lines are read as bytes, so one that is not UTF-8 is one invalid event; a UTF-8
    byte-order mark at the start of a file is not part of the first event."""
    events, invalid = [], []
    for model in models:
        path = folder / f"{model.topic}.jsonl"
        if not path.exists():
            continue
        with path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if number == 1 and raw.startswith(UTF8_BOM):
                    raw = raw[len(UTF8_BOM) :]
                if not raw.strip():
                    continue
                try:
                    events.append(parse_line(model, raw, str(path), number))
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


# --------------------------------------------------------------------------
# The JVM validator's spec


def _type_json(dtype: DType) -> dict:
    out: dict = {"kind": dtype.kind, "nullable": dtype.nullable}
    if dtype.elem is not None:
        out["elem"] = _type_json(dtype.elem)
    return out


def _field_json(f: FieldRule) -> dict:
    out: dict = {"name": f.name, "type": _type_json(f.dtype), "has_default": f.has_default}
    if f.has_default:
        try:
            default_value(f)
            out["default"] = f.default
        except Invalid as exc:
            out["default_error"] = str(exc)
    return out


def _column_json(name: str, dtype: DType) -> dict:
    """A column of the spec; a Decimal field's text column (`relations.text_column`) names its field."""
    out: dict = {"name": name, "type": _type_json(dtype)}
    field = text_field(name)
    if field is not None:
        out["text_of"] = field
    return out


def validator_spec(topics: Iterable[SourceTopic]) -> str:
    """The `spec` literal of ONTOC_VALIDATE_EVENT: per topic, every field and the columns the views read."""
    spec = {
        "topics": [
            {
                "topic": t.topic,
                "fields": [_field_json(f) for f in t.fields],
                "columns": [_column_json(name, dtype) for name, dtype in t.columns],
            }
            for t in topics
        ]
    }
    return json.dumps(spec, separators=(",", ":"), allow_nan=False)
