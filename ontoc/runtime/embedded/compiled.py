"""`ontoc run --local`: compiled views over change-event files on an embedded Flink."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ...backend.flink import job
from ...backend.flink.artifacts import select_sql
from ...backend.flink.ddl import merged_sources
from ...events import Event, InvalidEvent, read_events
from ...ir.relations import text_field
from ...job_settings import default_job
from ...jvm.functions import ensure_functions_jar, register_functions
from ...paths import inside
from ...pipeline import Compiled
from ..python_udfs import registration
from .runner import ViewQuery, run_local
from .sources import SourceTable


@dataclass
class LocalRun:
    views: dict[str, dict[str, dict]]  # view topic -> key -> getter values
    invalid: list[InvalidEvent]
    events: int


def source_tables(compiled: Compiled, events: list[Event]) -> list[SourceTable]:
    """One upsert source per topic the views read, with only the columns they read."""
    tables = []
    for scan in merged_sources(compiled.plans):
        names = [c for c, _ in scan.columns]
        rows = tuple(
            (
                e.doc_id,
                None
                if e.document is None
                else tuple(e.doc_id if c == "doc_id" else _column(e.document, c) for c in names),
            )
            for e in events
            if e.topic == scan.table
        )
        tables.append(SourceTable(scan.table, scan.columns, rows))
    return tables


def _column(document: dict, column: str) -> object:
    """A column's value; a Decimal field's text column (`relations.text_column`) holds it as Python prints it."""
    field = text_field(column)
    if field is None:
        return document[column]
    value = document[field]
    return None if value is None else str(value)


def run_compiled(
    compiled: Compiled, events: list[Event], progress: Callable[[str], None] | None = None
) -> dict[str, dict[str, dict]]:
    """Final state of every view after the events, as `{topic: {key: {field: value}}}`."""
    queries = [ViewQuery(p.topic, select_sql(p)) for p in compiled.plans]
    setup = job_setup(compiled, progress)
    result = run_local(source_tables(compiled, events), queries, progress=progress, decimal_as_float=True, setup=setup)
    return {
        topic: {key: {k: v for k, v in row.items() if k != "doc_id"} for key, row in rows.items()}
        for topic, rows in result.items()
    }


def job_setup(
    compiled: Compiled, progress: Callable[[str], None] | None = None, table_options: bool = True
) -> Callable[[Any], None]:
    """Sets the table options a submitted job gets (`job.table_options`, with the default settings) and registers
    what the package's SQL calls besides Flink's own functions: ontoc's JVM functions and the generated
    Python UDFs. `table_options=False` registers only (bench/ sets the options of each variant itself)."""
    options = job.table_options(default_job(""), compiled.plans) if table_options else {}

    def set_options(t_env: Any) -> None:
        for key, value in options.items():
            t_env.get_config().set(key, value)

    steps: list[Callable[[Any], None]] = [set_options]
    if job.jvm_functions(compiled.plans):
        jar = ensure_functions_jar(progress=progress or (lambda _m: None))
        steps.append(lambda t_env: register_functions(t_env, jar))
    register_python = registration(compiled)
    if register_python is not None:
        steps.append(register_python)

    def setup(t_env: Any) -> None:
        for step in steps:
            step(t_env)

    return setup


def run_folder(
    compiled: Compiled, input_dir: Path, output_dir: Path, progress: Callable[[str], None] | None = None
) -> LocalRun:
    models = list(compiled.schema.models.values())
    events, invalid = read_events(models, input_dir)
    say = progress or (lambda _m: None)
    for bad in invalid:
        say(str(bad))
    say(f"read {len(events)} events from {input_dir} ({len(invalid)} invalid, skipped)")
    views = run_compiled(compiled, events, progress)
    output_dir.mkdir(parents=True, exist_ok=True)
    for topic, rows in views.items():
        with inside(output_dir, f"{topic}.jsonl").open("w", encoding="utf-8") as out:
            for key in sorted(rows):
                line = {"key": key, "value": _finite(rows[key])}
                out.write(json.dumps(line, default=_json_default, allow_nan=False) + "\n")
    return LocalRun(views, invalid, len(events))


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return _finite(float(value))
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _finite(value: Any) -> Any:
    """`value` with NaN and infinities as the strings Flink's JSON format writes on the cluster
    ("NaN", "Infinity", "-Infinity"): a bare NaN is not JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
