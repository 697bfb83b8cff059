"""Each view of an embedded run folded into its final state by Flink: ontoc's `ontoc-final-state` sink.

The sink (jvm/functions, `dev.ontoc.flink.FinalStateSink`) takes the view's whole changelog, folds it per key
as a multiset of rows and, when its input ends, writes each row value whose count is not zero (as Flink's
`json` format encodes it) with its count: one live row per key for a correct view. Python reads only those.
"""

from __future__ import annotations

import decimal
import json
import os
from typing import Any

from ...jvm.functions import FINAL_STATE_CONNECTOR
from ..java_errors import LocalRunError
from .values import convert, resolved_columns

ROW_FORMAT = {  # as the debezium-json sink wrote rows before (values.py converts by these)
    "encode.decimal-as-plain-number": "true",
    "timestamp-format.standard": "ISO-8601",
    "map-null-key.mode": "LITERAL",
    "map-null-key.literal": "null",
}


def add_final_state_sink(
    t_env: Any, stmt_set: Any, table: Any, name: str, out_dir: str
) -> tuple[list[str], list[tuple]]:
    """Insert `table` into a temporary `ontoc-final-state` sink `name` writing its final rows into `out_dir`
    (ontoc's functions jar must be in the job's `pipeline.jars`).

    Returns the column names and described types of the table (what `read_final_state` converts by)."""
    from pyflink.java_gateway import get_gateway
    from pyflink.table import FormatDescriptor, Schema, TableDescriptor

    j_resolved, _cols, names, types = resolved_columns(table)
    builder = get_gateway().jvm.org.apache.flink.table.api.Schema.newBuilder()
    row_format = FormatDescriptor.for_format("json")
    for key, value in ROW_FORMAT.items():
        row_format = row_format.option(key, value)
    descriptor = (
        TableDescriptor.for_connector(FINAL_STATE_CONNECTOR)
        .schema(Schema(builder.fromResolvedSchema(j_resolved).build()))
        .option("path", out_dir)
        .format(row_format.build())
        .build()
    )
    t_env.create_temporary_table(name, descriptor)
    stmt_set.add_insert(name, table)
    return names, types


def read_final_state(
    view: str,
    out_dir: str,
    names: list[str],
    types: list[tuple],
    *,
    decimal_as_float: bool,
    strict: bool,
) -> tuple[dict[Any, dict[str, Any]], int]:
    """The live rows the sink's writers left in `out_dir` by view key (the first column), and the number of
    changes they folded. A key is live when exactly one row value is left; the writers' counts are added up
    (with parallelism above 1 a key's changes may reach several). With `strict` a key left with several live
    rows or a retraction of a row never emitted raises LocalRunError."""
    key_name = names[0]
    changes = 0
    acc: dict[Any, dict[str, int]] = {}  # key -> row text -> count
    for name in sorted(os.listdir(out_dir)):
        path = os.path.join(out_dir, name)
        if name.startswith("changes-"):
            with open(path, encoding="ascii") as fh:
                changes += int(fh.read())
        elif name.startswith("rows-"):
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    count, _, text = line.rstrip("\n").partition(" ")
                    key = json.loads(text).get(key_name)
                    slot = acc.setdefault(key if not isinstance(key, dict | list) else json.dumps(key), {})
                    slot[text] = slot.get(text, 0) + int(count)
    state: dict[Any, dict[str, Any]] = {}
    while acc:  # each key's texts freed as its row is converted
        key, slot = acc.popitem()
        live = [(c, text) for text, c in slot.items() if c > 0]
        dangling = [text for text, c in slot.items() if c < 0]
        n_live = sum(c for c, _ in live)
        if strict and (dangling or n_live > 1):
            detail = []
            if dangling:
                detail.append(f"{len(dangling)} retraction(s) of rows never emitted")
            if n_live > 1:
                detail.append(f"{n_live} live rows")
            raise LocalRunError(
                f"view {view}: key {key!r} has {' and '.join(detail)} (a view must have exactly one row per key)",
                view=view,
            )
        if not live:
            continue
        row = json.loads(live[-1][1], parse_float=decimal.Decimal)
        converted = {n: convert(row.get(n), t, decimal_as_float) for n, t in zip(names, types, strict=False)}
        state[converted[key_name]] = converted
    return state, changes
