"""Correctness guard: two queries must leave the same final view state over the same (small) events.

Not a timing. It runs before a workload is timed, on a small input of the same generator, so a
hand-written query that is fast because it computes something else is caught.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from ontoc.runtime.embedded.compiled import run_compiled

from . import data, harness
from .workloads import Workload


def same(a: object, b: object, rel: float = 1e-9) -> bool:
    """JSON-like equality, floats within a relative tolerance (SQL may add in another order than Python)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12) or (a != a and b != b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y, rel) for x, y in zip(a, b, strict=False))
    return a == b


def differences(left: dict[str, dict], right: dict[str, dict], limit: int = 3) -> list[str]:
    out = []
    for key in sorted(set(left) | set(right)):
        a, b = left.get(key), right.get(key)
        if a is None or b is None or not same(a, b):
            out.append(f"{key}: {a} != {b}")
            if len(out) >= limit:
                break
    return out


def check(
    workload: Workload,
    n_events: int,
    seed: int,
    queries: dict[str, harness.Query],
    static_methods: str = "inline",
    options: dict[str, str] | None = None,
) -> dict:
    """Every query's final state over the bench's file sources equals the emitted one's, and the emitted
    query on the bench's sources equals `ontoc.runtime.embedded.run_compiled` (ontoc's own runner)."""
    events = data.small_events(workload.data, n_events, seed)
    with tempfile.TemporaryDirectory(prefix="ontoc-bench-guard-") as tmp:
        folder = Path(tmp)
        data.write_debezium(events, folder, workload.topics())
        states = harness.final_states(
            workload.sources(folder), list(queries.values()), setup=workload.setup(static_methods), options=options
        )
    names = list(queries)
    reference_name = names[0]
    reference = states[queries[reference_name].name]
    result = {"events": len(events), "rows": len(reference), "equal": True, "details": []}
    for name in names[1:]:
        diffs = differences(reference, states[queries[name].name])
        if diffs:
            result["equal"] = False
            result["details"].append(f"{name} differs from {reference_name}: " + "; ".join(diffs))
    # the bench's sources replay events as ontoc's runner does
    compiled = workload.compiled(static_methods)
    topic = next(p.topic for p in compiled.plans if p.view == workload.view)
    ours = run_compiled(compiled, events)[topic]  # as input files, through `ontoc run --local`'s path
    mine = {k: {f: v for f, v in row.items() if f != "doc_id"} for k, row in reference.items()}
    diffs = differences(ours, mine)
    if diffs:
        result["equal"] = False
        result["details"].append(f"{reference_name} on file sources differs from ontoc's runner: " + "; ".join(diffs))
    return result
