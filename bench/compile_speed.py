"""Part 3: compile speed per view for 10, 100 and 1,000 generated views, against `ast.parse` of the same files.

`compile_definitions` runs in this process (imports warm, one untimed compile first), repeated;
the floor is reading and `ast.parse`-ing every file of the package, which ontoc must do anyway.
The marginal cost per view is the slope of a least-squares line through (views, seconds) over
all sizes; growth is also given as the ratio of per-view costs between sizes (1.0 = linear).
Each compile times its own stages (`Compiled.stages`): their medians at the largest size say where
the time goes, with the rest of `compile_definitions` (the collector's bookkeeping) as "other".

The same packages also compile through the command line (`python -m ontoc.cli compile DIR -o NEW`,
a new process each time, wall time), interleaved with the in-process timings so that both see the
same load: the slope over the sizes is the CLI's cost per view (compile, write, message), its
intercept the fixed start-up (interpreter, imports, cold caches); `python -m ontoc.cli --version`
is the start-up of the command alone, before it imports the compiler. Both are also timed in CPU
seconds (the child's user + system time; `time.process_time` in-process), which a loaded machine
disturbs far less than wall time.
"""

from __future__ import annotations

import ast
import gc
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ontoc.pipeline import compile_definitions

from . import stats, synth


def parse_floor(folder: Path) -> float:
    """Seconds to read and parse every file, with the cyclic collector paused as a compile pauses it
    (with it running, parsing 1,000 files costs half again: the collector rescans the growing trees)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        t = time.perf_counter()
        trees = [
            ast.parse(path.read_text(encoding="utf-8"), filename=str(path)) for path in sorted(folder.rglob("*.py"))
        ]
        seconds = time.perf_counter() - t
    finally:
        if was_enabled:
            gc.enable()
    del trees
    return seconds


ROOT = Path(__file__).resolve().parents[1]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_seconds(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one `python -m ontoc.cli ARGS` in a new process (this checkout's ontoc)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    cpu, t = _children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ontoc.cli", *args], env=env, capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - t, _children_cpu() - cpu
    if done.returncode != 0:
        raise RuntimeError(f"ontoc {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, cpu


def cli_compile_seconds(folder: Path, out: Path) -> tuple[float, float]:
    """`ontoc compile folder -o out` into a new folder, removed afterwards (untimed)."""
    try:
        return cli_seconds(["compile", str(folder), "-o", str(out)])
    finally:
        shutil.rmtree(out, ignore_errors=True)


def run(sizes: list[int], repeats: int, say: Callable[[str], None]) -> dict:
    rows = []
    with tempfile.TemporaryDirectory(prefix="ontoc-bench-compile-") as tmp:
        folders = {n: synth.write_package(Path(tmp) / f"views_{n}", n) for n in sizes}
        compile_definitions(folders[sizes[0]])  # imports, caches
        cli_compile_seconds(folders[sizes[0]], Path(tmp) / "out")  # the OS's file cache
        startup_s, startup_cpu = [], []
        for n in sizes:
            compile_s, parse_s, stages, cli_s, compile_cpu, cli_cpu = [], [], [], [], [], []
            for _ in range(repeats):
                wall, cpu = cli_seconds(["--version"])
                startup_s.append(wall)
                startup_cpu.append(cpu)
                wall, cpu = cli_compile_seconds(folders[n], Path(tmp) / "out")
                cli_s.append(wall)
                cli_cpu.append(cpu)
                # each timing starts from a collected heap: a live result of the previous compile would
                # make Python's cyclic GC scan it during the next measurement
                gc.collect()
                parse_s.append(parse_floor(folders[n]))
                gc.collect()
                cpu, t = time.process_time(), time.perf_counter()
                compiled = compile_definitions(folders[n])
                compile_s.append(time.perf_counter() - t)
                compile_cpu.append(time.process_time() - cpu)
                stages.append({**compiled.stages, "other": compile_s[-1] - compiled.seconds})
                plans = len(compiled.plans)
                del compiled
                assert plans == n, f"{plans} plans for {n} views"
            c, p, cl = stats.summary(compile_s, 4), stats.summary(parse_s, 5), stats.summary(cli_s, 4)
            rows.append(
                {
                    "views": n,
                    "compile_s": c,
                    "parse_s": p,
                    "cli_s": cl,
                    "compile_cpu_s": stats.summary(compile_cpu, 4),
                    "cli_cpu_s": stats.summary(cli_cpu, 4),
                    "cli_ms_per_view": round(cl["median"] * 1000 / n, 3),
                    "compile_ms_per_view": round(c["median"] * 1000 / n, 3),
                    "parse_ms_per_view": round(p["median"] * 1000 / n, 4),
                    "compile/parse": stats.ratio(c["median"], p["median"]),
                }
            )
            say(
                f"[compile] {n} views: {c['median']:.3f} s ({c['median'] * 1000 / n:.2f} ms/view), "
                f"ast.parse {p['median'] * 1000:.1f} ms; CLI {cl['median']:.3f} s"
            )
        largest = sizes[-1]
        stage_ms = {k: round(statistics.median(s[k] for s in stages) * 1000 / largest, 3) for k in stages[0]}
    xs = [r["views"] for r in rows]
    slope, intercept, r2 = stats.linear_fit(xs, [r["compile_s"]["median"] for r in rows])
    pslope, _pi, _pr2 = stats.linear_fit(xs, [r["parse_s"]["median"] for r in rows])
    cslope, cintercept, cr2 = stats.linear_fit(xs, [r["cli_s"]["median"] for r in rows])
    cpu_slope, cpu_intercept, _r2 = stats.linear_fit(xs, [r["compile_cpu_s"]["median"] for r in rows])
    cli_cpu_slope, cli_cpu_intercept, _r2 = stats.linear_fit(xs, [r["cli_cpu_s"]["median"] for r in rows])
    growth = {
        f"{b['views']}/{a['views']} per-view cost": stats.ratio(b["compile_ms_per_view"], a["compile_ms_per_view"])
        for a, b in zip(rows, rows[1:], strict=False)
    }
    return {
        "sizes": rows,
        "marginal_ms_per_view": round(slope * 1000, 3),
        "fixed_ms": round(intercept * 1000, 1),
        "fit_r2": round(r2, 5),
        "parse_marginal_ms_per_view": round(pslope * 1000, 4),
        "marginal_compile/parse": stats.ratio(slope, pslope),
        "growth": growth,
        "stages": {"views": largest, "ms_per_view": stage_ms},
        "cli": {
            "marginal_ms_per_view": round(cslope * 1000, 3),
            "fixed_ms": round(cintercept * 1000, 1),
            "fit_r2": round(cr2, 5),
            "marginal_cli/in_process": stats.ratio(cslope, slope),
            "version_s": stats.summary(startup_s, 4),
            "cpu": {
                "in_process_ms_per_view": round(cpu_slope * 1000, 3),
                "cli_ms_per_view": round(cli_cpu_slope * 1000, 3),
                "cli/in_process": stats.ratio(cli_cpu_slope, cpu_slope),
                "in_process_fixed_ms": round(cpu_intercept * 1000, 1),
                "cli_fixed_ms": round(cli_cpu_intercept * 1000, 1),
                "version_ms": round(statistics.median(startup_cpu) * 1000, 1),
            },
        },
        "target_ms_per_view": 2.0,
        "getters_per_view": synth.GETTERS_PER_VIEW,
    }
