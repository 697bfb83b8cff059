"""Sources of an embedded run: each a bounded changelog stream that behaves like an upsert-kafka topic.

Columns are typed by the IR (`DType`) and mapped to PyFlink types directly. Values with no Java collection
type of their own (DECIMAL, TIMESTAMP_LTZ, arrays of those) travel as exact text and are CAST to the
column's SQL type in a temporary view named like the source; the physical table is `__ontoc_src_<i>`.
"""

from __future__ import annotations

import datetime
import decimal
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from ...backend.flink.dialect import sql
from ...backend.flink.emit import ident, sql_type, type_text
from ...ir import types as T

# the kinds a Java collection source carries as they are: PyFlink's (TypeInformation, DataType) names
DIRECT = {"str": ("STRING", "STRING"), "none": ("STRING", "STRING"), "int": ("LONG", "BIGINT")}
DIRECT |= {"float": ("DOUBLE", "DOUBLE"), "bool": ("BOOLEAN", "BOOLEAN")}


@dataclass(frozen=True)
class SourceTable:
    """One upsert source: a table named `name` fed by `events` in order; column 0 is ("doc_id", T.STR)."""

    name: str
    columns: tuple[tuple[str, T.DType], ...]
    events: tuple[tuple[str, tuple | None], ...]


def direct(dtype: T.DType) -> bool:
    """Whether a Java collection source carries the column's values without a CAST."""
    if dtype.kind == "list":
        assert dtype.elem is not None
        return direct(dtype.elem)
    return dtype.kind in DIRECT


def _check(dtype: T.DType) -> None:
    if dtype.kind == "row" or (dtype.kind == "list" and dtype.elem is not None and dtype.elem.kind in ("list", "row")):
        raise ValueError(f"unsupported source column type {type_text(dtype)!r}")


def physical_types(dtype: T.DType) -> tuple[Any, Any]:
    """(TypeInformation, DataType) of the physical column carrying `dtype`: exact text when not direct."""
    from pyflink.common import Types
    from pyflink.table import DataTypes

    if dtype.kind == "list":
        assert dtype.elem is not None
        ti, dt = physical_types(dtype.elem) if direct(dtype.elem) else (Types.STRING(), DataTypes.STRING())
        return Types.BASIC_ARRAY(ti), DataTypes.ARRAY(dt)
    type_info, data_type = DIRECT.get(dtype.kind, ("STRING", "STRING"))
    return getattr(Types, type_info)(), getattr(DataTypes, data_type)()


_UTC = datetime.UTC


def _fmt_dt(v: Any) -> str:
    """Text Flink CASTs to TIMESTAMP / TIMESTAMP_LTZ (session time zone is UTC)."""
    if isinstance(v, str):
        v = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(_UTC).replace(tzinfo=None)
        return v.isoformat(sep=" ", timespec="microseconds")  # not strftime: its %Y drops the zeros of year 999
    if isinstance(v, datetime.date):
        return f"{v.isoformat()} 00:00:00.000000"
    raise TypeError(f"expected datetime, got {type(v).__name__}")


def _fmt_decimal(v: Any) -> str:
    if isinstance(v, bool):
        raise TypeError("expected a number, got bool")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        v = decimal.Decimal(repr(v))
    if isinstance(v, str):
        v = decimal.Decimal(v)
    if isinstance(v, decimal.Decimal):
        if not v.is_finite():
            raise TypeError(f"non-finite decimal {v}")
        return format(v, "f")
    raise TypeError(f"expected Decimal, got {type(v).__name__}")


def encode(v: Any, dtype: T.DType) -> Any:
    """A Python value -> the value of the physical column (None stays None)."""
    if v is None:
        return None
    kind = dtype.kind
    if kind == "list":
        if isinstance(v, (str, bytes, dict)) or not hasattr(v, "__iter__"):
            raise TypeError(f"expected list, got {type(v).__name__}")
        assert dtype.elem is not None
        if direct(dtype.elem):
            return [encode(x, dtype.elem) for x in v]
        return [None if x is None else _to_text(encode(x, dtype.elem)) for x in v]
    if kind in ("str", "none"):
        if not isinstance(v, str):
            raise TypeError(f"expected str, got {type(v).__name__}")
        return v
    if kind == "int":
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, int):
            if not -(2**63) <= v < 2**63:
                raise TypeError(f"{v} out of BIGINT range")
            return v
        raise TypeError(f"expected int, got {type(v).__name__}")
    if kind == "float":
        if isinstance(v, (int, float, decimal.Decimal)) and not isinstance(v, bool):
            return float(v)
        raise TypeError(f"expected float, got {type(v).__name__}")
    if kind == "bool":
        if isinstance(v, bool):
            return v
        raise TypeError(f"expected bool, got {type(v).__name__}")
    if kind == "decimal":
        return _fmt_decimal(v)
    if kind == "datetime":
        return _fmt_dt(v)
    raise TypeError(f"unsupported kind {kind}")  # pragma: no cover - _check refuses rows


def _to_text(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _quoted(name: str) -> str:
    """A name as one identifier of a table path (PyFlink parses `create_temporary_view`'s path)."""
    return "`" + name.replace("`", "``") + "`"


def _rows(src: SourceTable, names: list[str], types: list[T.DType]) -> list[Any]:
    """The events as changelog rows: INSERT for a key not live, UPDATE_AFTER for one that is, DELETE (key only)."""
    from pyflink.common import Row
    from pyflink.common.types import RowKind

    rows = []
    live: set[str] = set()
    for n, event in enumerate(src.events):
        try:
            doc_id, values = event
        except (TypeError, ValueError):
            raise ValueError(f"source {src.name!r}: event {n} is not (doc_id, values)") from None
        if not isinstance(doc_id, str):
            raise ValueError(f"source {src.name!r}: event {n}: doc_id must be str, got {doc_id!r}")
        if values is None:
            rows.append(Row.of_kind(RowKind.DELETE, doc_id, *([None] * (len(names) - 1))))
            live.discard(doc_id)
            continue
        if len(values) != len(names):
            raise ValueError(f"source {src.name!r}: event {n} has {len(values)} values for {len(names)} columns")
        if values[0] != doc_id:
            raise ValueError(f"source {src.name!r}: event {n}: values[0] {values[0]!r} != doc_id {doc_id!r}")
        encoded = [doc_id]
        for col, t, v in zip(names[1:], types[1:], values[1:], strict=False):
            try:
                encoded.append(encode(v, t))
            except (TypeError, ValueError, decimal.InvalidOperation) as e:
                raise ValueError(f"source {src.name!r}: event {n}: column {col!r} ({type_text(t)}): {e}") from None
        kind = RowKind.UPDATE_AFTER if doc_id in live else RowKind.INSERT
        live.add(doc_id)
        rows.append(Row.of_kind(kind, *encoded))
    return rows


def register_source(env: Any, t_env: Any, index: int, src: SourceTable) -> int:
    """Register `src` as a view named `src.name`; return the number of events."""
    from pyflink.common import Types
    from pyflink.table import Schema
    from pyflink.table.changelog_mode import ChangelogMode

    if not src.columns or src.columns[0][0] != "doc_id":
        raise ValueError(f"source {src.name!r}: column 0 must be ('doc_id', T.STR)")
    names = [c for c, _ in src.columns]
    if len(set(names)) != len(names):
        raise ValueError(f"source {src.name!r}: duplicate column names")
    types = [t for _, t in src.columns]
    for t in types:
        _check(t)
    if types[0].kind != "str":
        raise ValueError(f"source {src.name!r}: doc_id must be STRING, not {type_text(types[0])!r}")

    phys = [physical_types(t) for t in types]
    type_info = Types.ROW_NAMED(names, [ti for ti, _ in phys])
    builder = Schema.new_builder()
    for i, (name, (_, dt)) in enumerate(zip(names, phys, strict=False)):
        builder = builder.column(name, dt.not_null() if i == 0 else dt)
    schema = builder.primary_key("doc_id").build()
    rows = _rows(src, names, types)

    raw_name = f"__ontoc_src_{index}"
    ds = env.from_collection(rows, type_info)
    table = t_env.from_changelog_stream(ds, schema, ChangelogMode.upsert())
    t_env.create_temporary_view(raw_name, table)
    select: list[exp.Expr] = []
    for name, t in zip(names, types, strict=False):
        column = exp.Column(this=ident(name))
        select.append(column if direct(t) else exp.alias_(exp.Cast(this=column, to=sql_type(t)), ident(name)))
    view = t_env.sql_query(sql(exp.select(*select).from_(exp.Table(this=ident(raw_name)))))
    t_env.create_temporary_view(_quoted(src.name), view)
    return len(rows)
