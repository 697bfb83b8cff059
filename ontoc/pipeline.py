"""The compiler's stages in order: definitions -> schema -> plans -> passes -> Flink SQL files."""

from __future__ import annotations

import gc
import json
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from .backend.flink.artifacts import manifest, view_sql_file
from .errors import Diagnostic, OntocError
from .frontend import build_plans
from .frontend.depth import RECURSION_LIMIT, check_depth, deepest, too_deep
from .frontend.schema import Schema, load_schema
from .ir.plan import ViewPlan
from .ir.relations import Aggregate
from .passes import optimize
from .paths import inside


@dataclass
class Compiled:
    schema: Schema
    plans: list[ViewPlan]
    files: dict[str, str]  # file name -> content
    seconds: float
    warnings: list[Diagnostic] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage, in pipeline order
    definitions: Path | None = None  # the package compiled (an output folder must not be inside it)

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
    """Compile one definitions package; every problem is an `OntocError`, never another exception."""
    with _collector_paused(), _recursion_limit(RECURSION_LIMIT):
        return _compile(Path(path), static_methods)


@contextmanager
def _recursion_limit(limit: int):
    """Python's recursion limit raised to `limit` while compiling, then restored.

    The stages walk expression trees recursively; `frontend.depth` bounds how
    deep a tree may be (a located error beyond), and this limit leaves room
    for it. 10,000 frames stay far from the C stack's end (8 MB; measured:
    comparing IR trees overflows it only beyond about 25,000).
    """
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


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
    too_deep = check_depth(schema)
    if too_deep:
        raise OntocError(too_deep)
    clock.lap("parse and resolve")
    try:
        plans, warnings = build_plans(schema, static_methods)
        clock.lap("translate")
        plans = [optimize(p) for p in plans]
        clock.lap("passes")
        files = {f"{p.topic}.sql": view_sql_file(p) for p in plans}
        if any(p.udfs for p in plans):
            from .backend.flink.udfs import UDF_MODULE, udf_module  # jinja2: only for packages with UDFs

            files[UDF_MODULE] = udf_module(plans)
        clock.lap("emit SQL")
        files["manifest.json"] = manifest(plans, files)
        clock.lap("manifest")
    except (RecursionError, MemoryError) as exc:
        raise _too_deep(schema, exc) from None
    return Compiled(schema, plans, files, clock.total(), warnings, clock.stages, path)


def _too_deep(schema: Schema, exc: BaseException) -> OntocError:
    """A stage ran out of stack (or memory) below the depth limit: point at the deepest expression."""
    found = [(d, view) for view in schema.views.values() if (d := deepest(view))]
    if not found:
        message = f"the definitions are too large to compile ({type(exc).__name__})"
        return OntocError(Diagnostic("too-deep", message, None))
    (depth, node), view = max(found, key=lambda f: f[0][0])
    diagnostic = too_deep(view, node, None)
    return OntocError(replace(diagnostic, message=diagnostic.message + f" (this one is {depth} levels deep)"))


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
    """Write the output folder; return the names written.

    Files an earlier compile wrote (its manifest lists them) that this one does
    not are removed; nothing else is ever touched: `check_output_folder` first
    refuses a folder holding files ontoc did not write.
    """
    previous = check_output_folder(compiled, out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name in sorted(previous - set(compiled.files)):
            stale = inside(out, name)
            if stale.is_file():
                stale.unlink()
        for name, text in compiled.files.items():
            inside(out, name).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _bad_output(out, f"{exc.strerror} ({exc.filename})") from None
    return sorted(compiled.files)


def check_output_folder(compiled: Compiled, out: Path) -> set[str]:
    """The files of `out` an earlier compile wrote; an error if `out` holds anything else or the definitions.

    A folder without a manifest must be empty (or not exist yet). Sub-folders
    are left alone (a folder of packages compiles into one per package).
    """
    if out.exists() and not out.is_dir():
        raise _bad_output(out, "it is not a folder")
    package = compiled.definitions
    if package is not None and package.is_dir() and package.resolve() in (out.resolve(), *out.resolve().parents):
        raise _bad_output(out, f"it is inside the definitions package {package}")
    if not out.exists():
        return set()
    owned = written_by_ontoc(out)
    files = sorted(p.name for p in out.iterdir() if not p.is_dir())
    foreign = [name for name in files if name not in owned]
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        why = "no ontoc manifest.json" if not owned else "files its manifest.json does not list"
        raise _bad_output(out, f"it holds {why}: {shown}")
    return set(files)


def written_by_ontoc(out: Path) -> set[str]:
    """The files the manifest of `out` says ontoc wrote: itself, each view's `.sql`, and the UDF module
    if a view has UDFs. Empty if there is no manifest; an error if it is not one of ontoc's."""
    path = out / "manifest.json"
    if not path.is_file():
        return set()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        views = doc["views"]
        names = {"manifest.json", *(v["file"] for v in views)}
        if any(v.get("udfs") for v in views):
            from .backend.flink.udfs import UDF_MODULE

            names.add(UDF_MODULE)
        names.update(doc.get("files", []))
    except (ValueError, KeyError, TypeError) as exc:
        raise _bad_output(out, f"its manifest.json is not one ontoc wrote ({type(exc).__name__}: {exc})") from None
    for name in names:
        inside(out, name)  # a manifest naming a path elsewhere is refused, never followed
    return names


def _bad_output(out: Path, why: str) -> OntocError:
    return OntocError(
        Diagnostic(
            "bad-output-folder",
            f"refusing to write into {out}: {why}",
            None,
            "ontoc writes only into a new or empty folder, or one it wrote before (its manifest.json lists "
            "the files), so that it never overwrites or deletes a file it did not write; choose another -o",
        )
    )


def stale_files(compiled: Compiled, out: Path) -> list[str]:
    """Files of `out` that differ from what the definitions compile to (missing and extra included)."""
    names = (
        set(compiled.files)
        | {p.name for p in [*out.glob("*.sql"), *out.glob("*.py")]}
        | ({"manifest.json"} if (out / "manifest.json").exists() else set())
    )
    stale = []
    for name in sorted(names):
        path = inside(out, name)
        if name not in compiled.files or not path.is_file() or path.read_bytes() != compiled.files[name].encode():
            stale.append(name)
    return stale
