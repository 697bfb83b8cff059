"""Values of a view's final rows (as Flink's json format writes them) as JSON-ready Python, by their Flink types.

ROW -> dict with the row's field names (nested too), ARRAY -> list, MAP -> dict (keys as the JSON text gives
them), MULTISET -> list (one entry per occurrence), DECIMAL -> `decimal.Decimal` (or float), DOUBLE/FLOAT ->
float (NaN and infinities included), TIMESTAMP_LTZ -> ISO-8601 text with offset in UTC, TIMESTAMP -> ISO-8601
text without offset, DATE/TIME -> ISO text, BINARY -> base64 text, NULL -> None.
"""

from __future__ import annotations

import datetime
import decimal
import re
from typing import Any

_UTC = datetime.UTC


def resolved_columns(table: Any) -> tuple[Any, list, list[str], list[tuple]]:
    """A planned query's resolved schema, its columns, their names and their `_describe`d types."""
    j_resolved = table._j_table.getResolvedSchema()
    cols = list(j_resolved.getColumns())
    return j_resolved, cols, [c.getName() for c in cols], [_describe(c.getDataType().getLogicalType()) for c in cols]


def _describe(lt: Any) -> tuple:
    """Walk a Java LogicalType into a small Python descriptor tuple."""
    root = lt.getTypeRoot().toString()
    if root == "ROW":
        names = list(lt.getFieldNames())
        return ("ROW", tuple(names), tuple(_describe(c) for c in lt.getChildren()))
    if root in ("ARRAY", "MULTISET"):
        return (root, _describe(lt.getElementType()))
    if root == "MAP":
        return ("MAP", _describe(lt.getKeyType()), _describe(lt.getValueType()))
    if root == "STRUCTURED_TYPE":
        children = list(lt.getChildren())
        names = [a.getName() for a in lt.getAttributes()]
        return ("ROW", tuple(names), tuple(_describe(c) for c in children))
    if root == "DISTINCT_TYPE":
        return _describe(lt.getSourceType())
    return (root,)


_TS_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$")


def _parse_ts(s: str) -> datetime.datetime:
    m = _TS_RE.match(s.strip())
    if not m:
        raise ValueError(f"unparseable timestamp {s!r}")
    date, hh, mm, ss, frac, tz = m.groups()
    y, mo, d = (int(x) for x in date.split("-"))
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tzinfo = None
    if tz:
        if tz == "Z":
            tzinfo = _UTC
        else:
            sign = -1 if tz[0] == "-" else 1
            tzd = tz[1:].replace(":", "")
            tzinfo = datetime.timezone(sign * datetime.timedelta(hours=int(tzd[:2]), minutes=int(tzd[2:])))
    return datetime.datetime(y, mo, d, int(hh), int(mm), int(ss or 0), micro, tzinfo=tzinfo)


_FLOAT_SPECIAL = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def convert(v: Any, t: tuple, decimal_as_float: bool) -> Any:
    if v is None:
        return None
    root = t[0]
    if root == "ROW":
        names, types = t[1], t[2]
        if isinstance(v, list):  # defensive: positional encoding
            return {n: convert(x, ft, decimal_as_float) for n, x, ft in zip(names, v, types, strict=False)}
        return {n: convert(v.get(n), ft, decimal_as_float) for n, ft in zip(names, types, strict=False)}
    if root == "ARRAY":
        return [convert(x, t[1], decimal_as_float) for x in v]
    if root == "MULTISET":
        out = []
        for k, n in v.items():
            out.extend([_convert_key(k, t[1], decimal_as_float)] * int(n))
        return out
    if root == "MAP":
        return {k: convert(x, t[2], decimal_as_float) for k, x in v.items()}
    if root == "DECIMAL":
        d = v if isinstance(v, decimal.Decimal) else decimal.Decimal(str(v))
        return float(d) if decimal_as_float else d
    if root in ("DOUBLE", "FLOAT"):
        if isinstance(v, str):
            return _FLOAT_SPECIAL[v] if v in _FLOAT_SPECIAL else float(v)
        return float(v)
    if root == "TIMESTAMP_WITH_LOCAL_TIME_ZONE":
        dt = _parse_ts(v)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=_UTC)
        return dt.astimezone(_UTC).isoformat()
    if root == "TIMESTAMP_WITH_TIME_ZONE":
        return _parse_ts(v).isoformat()
    if root == "TIMESTAMP_WITHOUT_TIME_ZONE":
        return _parse_ts(v).replace(tzinfo=None).isoformat()
    return v


def _convert_key(k: str, t: tuple, decimal_as_float: bool) -> Any:
    """MULTISET / MAP keys arrive as JSON object keys (text)."""
    root = t[0]
    try:
        if root in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT"):
            return int(k)
        if root in ("DOUBLE", "FLOAT"):
            return float(k)
        if root == "DECIMAL":
            return float(k) if decimal_as_float else decimal.Decimal(k)
        if root == "BOOLEAN":
            return k.lower() == "true"
    except ValueError:
        pass
    return k
