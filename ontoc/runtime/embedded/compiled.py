"""`ontoc run --local`: compiled views over change-event files on an embedded Flink."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from ...backend.flink import job
from ...backend.flink.artifacts import select_sql
from ...backend.flink.ddl import merged_sources
from ...events import InvalidEvent
from ...job_settings import default_job
from ...jvm.functions import ensure_functions_jar, register_functions
from ...paths import inside
from ...pipeline import Compiled
from ..python_udfs import registration
from . import line_sources
from .runner import ViewQuery, run_job

# A local run's state lives in the embedded JVM's heap while its input is small enough: RocksDB (a submitted
# job's default, for state that outgrows a TaskManager) cost 1.5x the CPU per event here (bench part 7's view
# on 200,000 events: 152-160 against 105-109 µs). Larger inputs keep their state in RocksDB, on disk, so a
# run's memory does not grow with its input. "Small enough": bench part 7's 99 MiB of input ran as fast with
# the heap capped at 1 GiB, so the live heap is under ten times the input; the JVM's default maximum heap is a
# quarter of the RAM, and inputs up to a twentieth of that keep half of it free.
LOCAL_STATE_BACKEND = "hashmap"
HEAP_STATE_MAX_INPUT_BYTES = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4 // 20


def local_state_backend(input_bytes: int) -> str:
    """The state backend of a local run over `input_bytes` of input files (see HEAP_STATE_MAX_INPUT_BYTES)."""
    return LOCAL_STATE_BACKEND if input_bytes <= HEAP_STATE_MAX_INPUT_BYTES else "rocksdb"


@dataclass
class LocalRun:
    views: dict[str, dict[str, dict]]  # view topic -> key -> getter values
    invalid: list[InvalidEvent]
    events: int  # valid events read


def run_compiled(
    compiled: Compiled, records: Iterable[tuple[str, str, object]], progress: Callable[[str], None] | None = None
) -> dict[str, dict[str, dict]]:
    """Final state of every view after the change events `records`, (topic, key, value: a JSON-ready
    document or None for a delete), as `{topic: {key: {field: value}}}`: written as the input files of
    `run_folder` and run through it, so in-memory events take the one path the CLI takes."""
    with tempfile.TemporaryDirectory(prefix="ontoc-events-") as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        handles: dict[str, Any] = {}
        try:
            for topic, key, value in records:
                if topic not in handles:
                    handles[topic] = inside(folder, f"{topic}.jsonl").open("w", encoding="utf-8")
                handles[topic].write(json.dumps({"key": key, "value": value}, allow_nan=False) + "\n")
        finally:
            for fh in handles.values():
                fh.close()
        result = run_folder(compiled, folder, Path(tmp) / "out", progress)
        if result.invalid:
            raise ValueError("invalid events: " + "; ".join(map(str, result.invalid[:5])))
        return result.views


def job_setup(
    compiled: Compiled,
    progress: Callable[[str], None] | None = None,
    table_options: bool = True,
    validator: bool = False,
    state_backend: str = LOCAL_STATE_BACKEND,
) -> Callable[[Any], None]:
    """Sets the table options a submitted job gets (`job.table_options`, with the default settings but the
    given `state_backend`: see local_state_backend) and registers what the package's SQL calls besides Flink's
    own functions: ontoc's JVM functions and the generated Python UDFs. `table_options=False` registers only
    (bench/ sets the options of each variant itself); `validator=True` registers the JVM functions even when
    no view calls one (the validator is among them)."""
    settings = replace(default_job(""), state_backend=state_backend)
    options = job.table_options(settings, compiled.plans) if table_options else {}

    def set_options(t_env: Any) -> None:
        for key, value in options.items():
            t_env.get_config().set(key, value)

    steps: list[Callable[[Any], None]] = [set_options]
    if validator or job.jvm_functions(compiled.plans):
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
    """Run the views over `input_dir/<topic>.jsonl` in one Flink job (Flink reads and validates the files) and
    write each view's final state to `output_dir/<view topic>.jsonl`; invalid lines are said and returned."""
    say = progress or (lambda _m: None)
    models = compiled.schema.models
    read_specs = {s.topic: s for s in job.topic_specs(merged_sources(compiled.plans), models)}
    # every model's file is validated, read by a view or not, so its invalid lines are reported too
    specs = [read_specs.get(m.topic) or job.model_spec(m, m.topic) for m in models.values()]
    queries = [ViewQuery(p.topic, select_sql(p)) for p in compiled.plans]
    with tempfile.TemporaryDirectory(prefix="ontoc-local-") as tmp:
        scratch = Path(tmp)
        files = line_sources.input_files([s.topic for s in specs], input_dir, scratch)
        invalid_dir = str(scratch / "invalid")
        n_lines = line_sources.count_lines(files)
        n_bytes = sum(f.read.stat().st_size for f in files)
        state_backend = local_state_backend(n_bytes)
        setup = job_setup(compiled, progress, validator=True, state_backend=state_backend)

        def prepare(_env: Any, t_env: Any, stmt_set: Any, _out_root: str) -> str:
            setup(t_env)
            line_sources.register(t_env, stmt_set, specs, set(read_specs), files, invalid_dir)
            return f"{n_lines} lines of {n_bytes} bytes in {len(files)} file(s), state in {state_backend}"

        result = run_job(prepare, queries, progress=progress, decimal_as_float=True, work_dir=str(scratch / "views"))
        invalid, blank = line_sources.invalid_lines(files, {m.topic: m for m in models.values()}, invalid_dir)
    for bad in invalid:
        say(str(bad))
    n_events = n_lines - blank - len(invalid)
    say(f"read {n_events} events from {input_dir} ({len(invalid)} invalid, skipped)")
    views = result
    for rows in views.values():  # in place: the output rows are the most Python holds
        for row in rows.values():
            row.pop("doc_id", None)
    output_dir.mkdir(parents=True, exist_ok=True)
    for topic, rows in views.items():
        with inside(output_dir, f"{topic}.jsonl").open("w", encoding="utf-8") as out:
            for key in sorted(rows):
                line = {"key": key, "value": _finite(rows[key])}
                out.write(json.dumps(line, default=_json_default, allow_nan=False) + "\n")
    return LocalRun(views, invalid, n_events)


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
