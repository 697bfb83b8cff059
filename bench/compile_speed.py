"""Part 3: compile speed per view for 10, 100 and 1,000 generated views, against `ast.parse` of the same files.

`compile_definitions` runs in this process (imports warm, one untimed compile first), repeated;
the floor is reading and `ast.parse`-ing every file of the package, which ontoc must do anyway.
The marginal cost per view is the slope of a least-squares line through (views, seconds) over
all sizes; growth is also given as the ratio of per-view costs between sizes (1.0 = linear).
Each compile times its own stages (`Compiled.stages`): their medians at the largest size say where
the time goes, with the rest of `compile_definitions` (the collector's bookkeeping) as "other".
"""

from __future__ import annotations

import ast
import gc
import statistics
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


def run(sizes: list[int], repeats: int, say: Callable[[str], None]) -> dict:
    rows = []
    with tempfile.TemporaryDirectory(prefix="ontoc-bench-compile-") as tmp:
        folders = {n: synth.write_package(Path(tmp) / f"views_{n}", n) for n in sizes}
        compile_definitions(folders[sizes[0]])  # imports, caches
        for n in sizes:
            compile_s, parse_s, stages = [], [], []
            for _ in range(repeats):
                # each timing starts from a collected heap: a live result of the previous compile would
                # make Python's cyclic GC scan it during the next measurement
                gc.collect()
                parse_s.append(parse_floor(folders[n]))
                gc.collect()
                t = time.perf_counter()
                compiled = compile_definitions(folders[n])
                compile_s.append(time.perf_counter() - t)
                stages.append({**compiled.stages, "other": compile_s[-1] - compiled.seconds})
                plans = len(compiled.plans)
                del compiled
                assert plans == n, f"{plans} plans for {n} views"
            c, p = stats.summary(compile_s, 4), stats.summary(parse_s, 5)
            rows.append(
                {
                    "views": n,
                    "compile_s": c,
                    "parse_s": p,
                    "compile_ms_per_view": round(c["median"] * 1000 / n, 3),
                    "parse_ms_per_view": round(p["median"] * 1000 / n, 4),
                    "compile/parse": stats.ratio(c["median"], p["median"]),
                }
            )
            say(
                f"[compile] {n} views: {c['median']:.3f} s ({c['median'] * 1000 / n:.2f} ms/view), "
                f"ast.parse {p['median'] * 1000:.1f} ms"
            )
        largest = sizes[-1]
        stage_ms = {k: round(statistics.median(s[k] for s in stages) * 1000 / largest, 3) for k in stages[0]}
    xs = [r["views"] for r in rows]
    slope, intercept, r2 = stats.linear_fit(xs, [r["compile_s"]["median"] for r in rows])
    pslope, _pi, _pr2 = stats.linear_fit(xs, [r["parse_s"]["median"] for r in rows])
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
        "target_ms_per_view": 2.0,
        "getters_per_view": synth.GETTERS_PER_VIEW,
    }
