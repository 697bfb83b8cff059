"""Part 5: memory. Peak RSS of `ontoc compile` per number of views, and Flink state per view row.

Peak RSS: each measurement is a fresh wrapper process that runs the command as its only child and
reports `resource.getrusage(RUSAGE_CHILDREN).ru_maxrss` (the child's peak resident set, KiB on
Linux). The baseline is `ontoc compile` of a one-view package (everything imported, one view
compiled), so the difference is what the further views cost.

State per view row: harness.state_size runs the view over sources that stay open, waits until
every event went through, takes a canonical savepoint (hashmap state backend) and sums its files;
Flink's checkpoint statistics give the bytes per operator. Divided by the view's live rows (from a
run of the same query into ontoc's final-state sink). The source ChangelogNormalize operators hold a copy
of every source document whichever SQL reads them (an upsert-kafka source needs them too); the
figure "query state" leaves them out.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from . import data, harness, stats, synth
from .workloads import Workload

WRAPPER = """
import json, resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
print(json.dumps({"rc": proc.returncode, "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "stderr": proc.stderr[-500:]}))
"""


def peak_rss(cmd: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compile_rss(sizes: list[int], repeats: int, say: Callable[[str], None]) -> dict:
    """Peak RSS of `ontoc compile` for each size; the baseline is the same command on a one-view package
    (interpreter, ontoc, sqlglot and click loaded, one view compiled and written)."""
    ontoc = str(Path(sys.executable).parent / "ontoc")
    rows = []

    def measure(n: int, tmp: Path) -> list[float]:
        folder = synth.write_package(tmp / f"views_{n}", n)
        values = []
        for i in range(repeats):
            r = peak_rss([ontoc, "compile", str(folder), "-o", str(tmp / f"out_{n}_{i}")])
            if r["rc"] != 0:
                raise RuntimeError(f"ontoc compile failed: {r['stderr']}")
            values.append(r["maxrss_kib"] / 1024)
        return values

    with tempfile.TemporaryDirectory(prefix="ontoc-bench-rss-") as tmp:
        baseline = stats.summary(measure(1, Path(tmp)), 1)
        say(f"[memory] baseline (ontoc compile of one view): {baseline['median']:.1f} MiB")
        for n in sizes:
            s = stats.summary(measure(n, Path(tmp)), 1)
            over = s["median"] - baseline["median"]
            rows.append(
                {
                    "views": n,
                    "peak_rss_mib": s,
                    "over_baseline_mib": round(over, 1),
                    "kib_per_view_over_baseline": round(over * 1024 / (n - 1), 1) if n > 1 else None,
                }
            )
            say(f"[memory] ontoc compile {n} views: peak RSS {s['median']:.1f} MiB")
    xs = [r["views"] for r in rows]
    slope, _i, r2 = stats.linear_fit(xs, [r["peak_rss_mib"]["median"] for r in rows])
    return {
        "baseline_mib": baseline,
        "baseline": "ontoc compile of a one-view package",
        "sizes": rows,
        "marginal_kib_per_view": round(slope * 1024, 1),
        "fit_r2": round(r2, 4),
    }


def _is_source_normalize(name: str) -> bool:
    # a vertex that holds only a source's ChangelogNormalize (its name starts with it)
    return name.startswith("ChangelogNormalize") and "Join" not in name and "Aggregate" not in name


def state_per_row(workload: Workload, n_events: int, seed: int, cache: Path, say: Callable[[str], None]) -> dict:
    ds = data.dataset(workload.data, n_events, seed, cache)
    sources = workload.sources(ds.folder)
    setup = workload.setup()
    queries = workload.queries()
    rows = {k: len(v) for k, v in harness.final_states(sources, list(queries.values()), setup=setup).items()}
    out = {"events": ds.events, "variants": {}}
    for name, q in queries.items():
        plan = harness.explain(sources, [q], None, setup)
        expected = sum(ds.counts[t] for t in harness.scanned_tables(plan))
        size = harness.state_size(sources, [q], expected, setup=setup)
        live = rows[q.name]
        source_state = sum(o["state_bytes"] for o in size.operators if _is_source_normalize(o["name"]))
        total_ops = sum(o["state_bytes"] for o in size.operators)
        out["variants"][name] = {
            "view_rows": live,
            "savepoint_bytes": size.total_bytes,
            "state_bytes": total_ops,
            "source_normalize_bytes": source_state,
            "query_state_bytes": total_ops - source_state,
            "bytes_per_row": round(total_ops / live, 1) if live else None,
            "query_bytes_per_row": round((total_ops - source_state) / live, 1) if live else None,
            "operators": sorted(size.operators, key=lambda o: -o["state_bytes"]),
        }
        say(
            f"[state] {workload.name} {name}: {live} rows, savepoint {size.total_bytes:,} B, "
            f"operators {total_ops:,} B ({(total_ops - source_state):,} B without source normalize)"
        )
    e, h = out["variants"].get("emitted"), out["variants"].get("handwritten")
    if e and h:
        out["ratios"] = {
            "emitted/handwritten state": stats.ratio(e["state_bytes"], h["state_bytes"]),
            "emitted/handwritten query state": stats.ratio(e["query_state_bytes"], h["query_state_bytes"]),
        }
    return out
