"""Each view of an embedded run written as a changelog (debezium-json files), read back and folded per key."""

from __future__ import annotations

import decimal
import json
import os
from typing import Any

from ..java_errors import LocalRunError
from .values import convert, resolved_columns

SINK_FORMAT = {  # debezium-json: every +I/+U written as {"op": "c", "after": row}, every -U/-D as {"op": "d", ...}
    "encode.decimal-as-plain-number": "true",
    "timestamp-format.standard": "ISO-8601",
    "map-null-key.mode": "LITERAL",
    "map-null-key.literal": "null",
}


def add_changelog_sink(t_env: Any, stmt_set: Any, table: Any, name: str, out_dir: str) -> tuple[list[str], list[tuple]]:
    """Insert `table` into a temporary filesystem sink `name` writing its changelog into `out_dir`.

    Returns the column names and described types of the table (what `fold` converts by)."""
    from pyflink.java_gateway import get_gateway
    from pyflink.table import FormatDescriptor, Schema, TableDescriptor

    j_resolved, _cols, names, types = resolved_columns(table)
    builder = get_gateway().jvm.org.apache.flink.table.api.Schema.newBuilder()
    sink_format = FormatDescriptor.for_format("debezium-json")
    for key, value in SINK_FORMAT.items():
        sink_format = sink_format.option(key, value)
    descriptor = (
        TableDescriptor.for_connector("filesystem")
        .schema(Schema(builder.fromResolvedSchema(j_resolved).build()))
        .option("path", "file://" + out_dir)
        .format(sink_format.build())
        .build()
    )
    t_env.create_temporary_table(name, descriptor)
    stmt_set.add_insert(name, table)
    return names, types


def changelog_files(out_dir: str) -> list[str]:
    """The data files a filesystem sink wrote under `out_dir`, in order (no checksums, no hidden files)."""
    files = []
    for dirpath, _dirs, fnames in os.walk(out_dir):
        for f in fnames:
            if f.endswith(".crc") or f.startswith("_"):
                continue
            files.append(os.path.join(dirpath, f))
    return sorted(files)


def fold(
    view: str,
    files: list[str],
    names: list[str],
    types: list[tuple],
    *,
    decimal_as_float: bool,
    strict: bool,
) -> tuple[dict[Any, dict[str, Any]], int]:
    """The live rows of the changelog `files` by view key (the first column), and the number of changes.

    The changes are folded as a multiset: `c` adds a row, `d` removes it (so the result does not depend on
    the order in which retractions arrive). A key is live when exactly one row value remains; with `strict`
    a key left with several live rows or a retraction of a row never emitted raises LocalRunError.
    """
    # key -> canonical row text -> [count, raw row]
    acc: dict[Any, dict[str, list]] = {}
    changes = 0
    key_name = names[0]
    for path in files:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                rec = json.loads(line, parse_float=decimal.Decimal)
                op = rec.get("op")
                if op == "c":
                    row, sign = rec["after"], 1
                elif op == "d":
                    row, sign = rec["before"], -1
                else:  # pragma: no cover - debezium-json only writes c/d
                    raise LocalRunError(f"view {view}: unexpected changelog record {line[:200]}")
                changes += 1
                key = row.get(key_name)
                ident = json.dumps(row, sort_keys=True, default=str)
                slot_key = key if not isinstance(key, (dict, list)) else json.dumps(key, default=str)
                slot = acc.setdefault(slot_key, {})
                entry = slot.get(ident)
                if entry is None:
                    slot[ident] = [sign, row]
                else:
                    entry[0] += sign
                    if entry[0] == 0:
                        del slot[ident]
                        if not slot:  # memory follows the live rows, not the keys ever seen
                            del acc[slot_key]

    state: dict[Any, dict[str, Any]] = {}
    for key, slot in acc.items():
        live = [(c, row) for c, row in slot.values() if c > 0]
        dangling = [(c, row) for c, row in slot.values() if c < 0]
        if strict and (dangling or len(live) > 1 or any(c > 1 for c, _ in live)):
            detail = []
            if dangling:
                detail.append(f"{len(dangling)} retraction(s) of rows never emitted")
            if len(live) > 1 or any(c > 1 for c, _ in live):
                detail.append(f"{sum(c for c, _ in live)} live rows")
            raise LocalRunError(
                f"view {view}: key {key!r} has {' and '.join(detail)} (a view must have exactly one row per key)",
                view=view,
            )
        if not live:
            continue
        row = live[-1][1]
        converted = {n: convert(row.get(n), t, decimal_as_float) for n, t in zip(names, types, strict=False)}
        state[converted[key_name]] = converted
    return state, changes
