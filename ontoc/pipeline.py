"""The compiler's stages in order: definitions -> schema -> plans -> passes -> Flink SQL files."""

from __future__ import annotations

import gc
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .backend.flink.artifacts import manifest, view_sql_file
from .backend.flink.udfs import UDF_MODULE, udf_module
from .errors import Diagnostic
from .frontend import build_plans
from .frontend.schema import Schema, load_schema
from .ir.plan import ViewPlan
from .ir.relations import Aggregate
from .passes import optimize


@dataclass
class Compiled:
    schema: Schema
    plans: list[ViewPlan]
    files: dict[str, str]  # file name -> content
    seconds: float
    warnings: list[Diagnostic] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage, in pipeline order

    def aggregates(self) -> bool:
        """Whether a view aggregates a `many` collection (what mini-batch speeds up)."""
        return any(isinstance(r, Aggregate) for p in self.plans for r in p.rel.walk())


def definition_packages(path: Path) -> list[tuple[str, Path]]:
    """The definitions packages under `path`: itself if it holds .py files, else each sub-folder that does.

    Each package compiles on its own (class names need only be unique within
    one), into a sub-folder of the output named after it.
    """
    path = Path(path)
    if path.is_file() or any(path.glob("*.py")):
        return [("", path)]
    return [
        (sub.name, sub)
        for sub in sorted(path.iterdir())
        if sub.is_dir() and not sub.name.startswith((".", "_")) and any(sub.rglob("*.py"))
    ]


def compile_definitions(path: Path | str, static_methods: str = "inline") -> Compiled:
    with _collector_paused():
        return _compile(Path(path), static_methods)


@contextmanager
def _collector_paused():
    """Python's cyclic collector off while compiling.

    A compile allocates many small objects that stay alive until it ends (ASTs,
    IR nodes), so every collection during it would rescan them: about 30% of
    the time of a compile (bench/, part 3). Nothing a compile builds needs the
    cyclic collector before the compile returns: sqlglot trees, its cyclic
    garbage, are unlinked as they are generated (`dialect.release`). When the
    collector comes back, its next young collection scans what the compile
    left alive once (about 10% of a compile) and frees the few cycles left
    (the schema and its views refer to each other). Moving the survivors to
    the oldest generation unscanned (gc.freeze/unfreeze) saves that scan but
    keeps those cycles until a full collection, which a process that compiles
    again and again may not get: a leak.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _compile(path: Path, static_methods: str) -> Compiled:
    clock = _StageClock()
    schema = load_schema(path)
    clock.lap("parse and resolve")
    plans, warnings = build_plans(schema, static_methods)
    clock.lap("translate")
    plans = [optimize(p) for p in plans]
    clock.lap("passes")
    files = {f"{p.topic}.sql": view_sql_file(p) for p in plans}
    if any(p.udfs for p in plans):
        files[UDF_MODULE] = udf_module(plans)
    clock.lap("emit SQL")
    files["manifest.json"] = manifest(plans, files)
    clock.lap("manifest")
    return Compiled(schema, plans, files, clock.total(), warnings, clock.stages)


class _StageClock:
    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.stages: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = now - self.last
        self.last = now

    def total(self) -> float:
        return self.last - self.started


def write_files(compiled: Compiled, out: Path) -> list[str]:
    """Write the output folder; return the names written. Stale `.sql` files are removed."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob("*.sql"), *out.glob("*.py")]:
        if stale.name not in compiled.files:
            stale.unlink()
    for name, text in compiled.files.items():
        (out / name).write_text(text, encoding="utf-8")
    return sorted(compiled.files)


def stale_files(compiled: Compiled, out: Path) -> list[str]:
    """Files of `out` that differ from what the definitions compile to (missing and extra included)."""
    names = (
        set(compiled.files)
        | {p.name for p in [*out.glob("*.sql"), *out.glob("*.py")]}
        | ({"manifest.json"} if (out / "manifest.json").exists() else set())
    )
    stale = []
    for name in sorted(names):
        path = out / name
        if name not in compiled.files or not path.exists() or path.read_text(encoding="utf-8") != compiled.files[name]:
            stale.append(name)
    return stale
