"""The manifest (`manifest.json`): one typed definition that `ontoc compile` writes and `ontoc plan` reads.

The dataclasses below are the document; `to_json` writes one in field order,
`from_json` reads one back, and `json_schema` derives its JSON Schema (the
`manifest` entry of `ontoc.inspect.schemas`). A field that is `None` is left
out of the JSON: that is how the optional members are written (a field's sort
order) and how older manifests read (a member a format before 3 did not write).
"""

from __future__ import annotations

import types
from dataclasses import MISSING, Field, dataclass, fields, is_dataclass
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from .state import StatefulOperator

FORMAT = 3  # 3: field and projection fingerprints hash the IR; each view lists its UDFs with a code fingerprint

T = TypeVar("T")


@dataclass(frozen=True)
class ManifestField:
    """One public field of a view."""

    name: str
    type: str  # the Python type as ontoc writes it: `list[str] | None`
    sql_type: str | None = None  # its Flink SQL type
    sorted_by: list[str] | None = None  # dict fields a list is sorted by ("" = the values); only for sorted lists
    reverse: bool | None = None  # only beside `sorted_by`
    sha256: str | None = None  # fingerprint of its computation (absent before format 2)
    reads: list[str] | None = None  # `topic.field` names it reads (absent before format 2)


@dataclass(frozen=True)
class ManifestUdf:
    """A Python function the view's job calls, and a fingerprint of its code."""

    function: str  # the registered SQL name
    kind: str  # scalar | aggregate
    method: str  # `View.method`
    sha256: str


@dataclass(frozen=True)
class ManifestState:
    """The stateful operators Flink builds for the view (`state.py`) and their fingerprint."""

    stateful: bool
    sha256: str
    operators: list[StatefulOperator]


@dataclass(frozen=True, kw_only=True)
class ManifestView:
    view: str  # the class name
    definition: str | None = None  # the definitions file
    topic: str  # the sink topic: the job's identity
    root_model: str | None = None
    file: str  # the view's `.sql` file
    sha256: str | None = None  # of the `.sql` file
    sources: list[str] | None = None  # source topics
    key: str | None = None
    fields: list[ManifestField] | None = None
    filter_reads: list[str] | None = None
    udfs: list[ManifestUdf] | None = None  # absent before format 3
    projection_sha256: str | None = None
    state: ManifestState | None = None  # absent before format 2


@dataclass(frozen=True)
class SourceColumn:
    name: str
    type: str
    sql_type: str


@dataclass(frozen=True)
class ManifestSource:
    topic: str
    model: str
    columns: list[SourceColumn]


@dataclass(frozen=True, kw_only=True)
class Manifest:
    format: int = 1  # absent in the first manifests
    views: list[ManifestView]
    sources: list[ManifestSource] | None = None


# -- JSON -------------------------------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """A manifest value as JSON data: dataclasses as objects in field order, `None` fields left out."""
    if isinstance(value, StatefulOperator):
        return value.to_json()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(v) for f in fields(value) if (v := getattr(value, f.name)) is not None}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


class ManifestError(ValueError):
    """A JSON document that is not a manifest this ontoc reads."""


def from_json(cls: type[T], data: Any) -> T:
    """Read `data` (parsed JSON) as `cls`; members it does not know are ignored."""
    return _read(cls, data, cls.__name__)


def _read(tp: Any, data: Any, where: str) -> Any:
    if tp is StatefulOperator:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise ManifestError(f"{where}: not an operator")
        return StatefulOperator(
            data["id"], data.get("kind", ""), {k: v for k, v in data.items() if k not in ("id", "kind")}
        )
    if is_dataclass(tp):
        if not isinstance(data, dict):
            raise ManifestError(f"{where}: not an object")
        hints = get_type_hints(tp)
        values = {}
        for f in fields(tp):
            if f.name in data:
                values[f.name] = _read(hints[f.name], data[f.name], f"{where}.{f.name}")
            elif _required(f):
                raise ManifestError(f"{where}: no `{f.name}`")
        build: Any = tp  # a dataclass, called with its fields
        return build(**values)
    inner = _optional(tp)
    if inner is not None:
        return None if data is None else _read(inner, data, where)
    if get_origin(tp) is list:
        if not isinstance(data, list):
            raise ManifestError(f"{where}: not a list")
        (item,) = get_args(tp)
        return [_read(item, v, f"{where}[{i}]") for i, v in enumerate(data)]
    if tp in (str, int, bool) and not isinstance(data, tp):
        raise ManifestError(f"{where}: not a {tp.__name__}")
    return data


def _required(f: Field) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


def _optional(tp: Any) -> Any:
    """`X` of `X | None`, else None."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return args[0]
    return None


# -- JSON Schema ------------------------------------------------------------------------------------

OPERATOR_KINDS = ["source", "join", "aggregate", "filter", "sink"]


def json_schema(tp: Any = Manifest, nulls: bool = False) -> dict:
    """The JSON Schema (draft 2020-12) of a dataclass document, derived from its type hints.

    By default a `None` member is left out of the JSON (the manifest); with `nulls` it
    is written as `null` and every member is required (the reports of `ontoc.inspect`).
    """
    if tp is StatefulOperator:  # its other members depend on its kind (`state.py`)
        return {
            "type": "object",
            "required": ["id", "kind"],
            "properties": {"id": {"type": "string"}, "kind": {"enum": OPERATOR_KINDS}},
        }
    if is_dataclass(tp):
        hints = get_type_hints(tp)
        return {
            "type": "object",
            "required": sorted(f.name for f in fields(tp) if nulls or _required(f)),
            "properties": {f.name: json_schema(hints[f.name], nulls) for f in fields(tp)},
        }
    inner = _optional(tp)
    if inner is not None:
        schema = json_schema(inner, nulls)
        if not nulls:
            return schema
        if list(schema) == ["type"]:
            return {"type": [schema["type"], "null"]}
        return {"oneOf": [{"type": "null"}, schema]}
    if get_origin(tp) is Literal:
        values = list(get_args(tp))
        return {"const": values[0]} if len(values) == 1 else {"enum": values}
    if get_origin(tp) is list:
        return {"type": "array", "items": json_schema(get_args(tp)[0], nulls)}
    return {"type": {str: "string", int: "integer", bool: "boolean"}[tp]}
