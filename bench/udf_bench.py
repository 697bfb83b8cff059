"""Part 2: getters translated to native Flink SQL against the same getters run as Python UDFs.

Two variant packages of the `projection` view put each getter's work in a `@staticmethod`:
`udf_documents` passes whole documents (ontoc's DocView), `udf_scalars` passes field
values. Each package is compiled twice: `static_methods="inline"` (ontoc translates the static
methods to SQL) and `"udf"` (each static method is a Python scalar UDF, what a team without ontoc
would write in PyFlink). The UDF build runs in both of PyFlink's execution modes:

- `process`: the Python functions run in a Beam worker outside the JVM; on the embedded Flink that
  worker is this Python process (PyFlink's loopback mode), rows cross a gRPC channel in batches;
- `thread`: the functions run inside the JVM through PEMJA (`python.execution-mode = thread`).

Every variant reads the same events; CPU time is the JVM's plus this process's (the loopback worker).
"""

from __future__ import annotations

import site
import tempfile
from collections.abc import Callable
from pathlib import Path

from ontoc.job_settings import python_options

from . import data, guard, harness, stats
from .workloads import Workload


def thread_mode() -> dict[str, str]:
    # PEMJA's interpreter is the base Python, not the venv: give it the venv's packages (pyflink, pemja)
    return {"python.execution-mode": "thread", "python.pythonpath": site.getsitepackages()[0]}


MODES = {
    "inline": ("inline", {}),
    "udf-process": ("udf", {"python.execution-mode": "process"}),
    "udf-thread": ("udf", None),
}


def _options(mode: str) -> dict[str, str]:
    """The variant's options, with the bundles ontoc gives a job whose views call Python functions."""
    static, opts = MODES[mode]
    return {**python_options(static == "udf"), **(thread_mode() if opts is None else opts)}


def run(workload: Workload, mode_cfg: dict, cache: Path, plans_dir: Path, say: Callable[[str], None]) -> dict:
    # thread mode runs the same pandas functions in process mode (Part 2): the smoke test (--tiny) skips it
    modes = [m for m in MODES if not (mode_cfg["name"] == "tiny" and m == "udf-thread")]
    queries = {m: harness.Query(f"{workload.name}:{m}", workload.emitted_sql(MODES[m][0])) for m in modes}
    result: dict = {
        "description": workload.description,
        "view": workload.view,
        "variants": {},
        "ratios": {},
        "failures": {},
    }

    # the guard: the UDF builds leave the same final state as the inline build, in each mode
    events = data.small_events(workload.data, mode_cfg["guard_events"], mode_cfg["seed"])
    states, wrong = {}, {}
    with tempfile.TemporaryDirectory(prefix="ontoc-bench-udf-") as tmp:
        data.write_debezium(events, Path(tmp), workload.topics())
        sources = workload.sources(Path(tmp))
        for m in modes:
            try:
                states[m] = harness.final_states(
                    sources, [queries[m]], setup=workload.setup(MODES[m][0]), options=_options(m)
                )[queries[m].name]
            except Exception as e:
                message = str(e).splitlines()[0][:300]
                if "live rows" in message or "retraction" in message:
                    wrong[m] = message  # the job ran but its changelog is not a view's
                else:
                    result["failures"][m] = message  # the job failed
                say(f"[{workload.name}] {m}: {message}")
    details = [
        f"{m}: {'; '.join(d)}"
        for m in states
        if m != "inline"
        for d in [guard.differences(states["inline"], states[m])]
        if d
    ]
    # `equal`: every mode that runs correctly matches the inline build; modes whose changelog is broken are
    # listed in `wrong_results` (and still timed: the figure is what such a job would cost)
    result["guard"] = {
        "events": len(events),
        "rows": len(states.get("inline", {})),
        "equal": not details,
        "details": details,
        "wrong_results": wrong,
    }

    n = mode_cfg["events"](workload)
    ds = data.dataset(workload.data, n, mode_cfg["seed"], cache)
    sources = workload.sources(ds.folder)
    todo = [m for m in modes if m not in result["failures"]]
    for m in todo:
        plan = harness.explain(sources, [queries[m]], _options(m), workload.setup(MODES[m][0]))
        plans_dir.mkdir(parents=True, exist_ok=True)
        (plans_dir / f"{workload.name}.{m}.txt").write_text(
            f"-- {workload.name}: {m}\n-- query:\n{queries[m].sql}\n\n{plan}\n", encoding="utf-8"
        )
    # one unmeasured run of each variant at full size first: a variant's first run in the process is still
    # JIT-compiling (the inline build ran 28,000-30,000 ev/s cold, 63,000-69,000 warm), which moved medians
    for m in todo:
        r = harness.run(sources, [queries[m]], options=_options(m), setup=workload.setup(MODES[m][0]))
        say(f"[{workload.name}] warm-up {m}: {r.events} events in {r.seconds:.2f} s (not counted)")
    rates = {m: [] for m in todo}
    cpu = {m: [] for m in todo}
    count = None
    for rep in range(mode_cfg["repeats"]):
        for m in todo[rep % len(todo) :] + todo[: rep % len(todo)]:
            r = harness.run(sources, [queries[m]], options=_options(m), setup=workload.setup(MODES[m][0]))
            count = r.events
            rates[m].append(r.rate)
            cpu[m].append(r.cpu_us_per_event)
            say(
                f"[{workload.name}] rep {rep + 1}/{mode_cfg['repeats']} {m}: {r.events} events in {r.seconds:.2f} s "
                f"= {r.rate:,.0f} ev/s, {r.cpu_us_per_event:.1f} CPU-µs/event"
            )
    result["events"] = count
    for m in todo:
        result["variants"][m] = {
            "events_per_s": stats.summary(rates[m], 0),
            "cpu_us_per_event": stats.summary(cpu[m], 2),
        }
    for label, (a, b) in {
        "udf-process/inline": ("udf-process", "inline"),
        "udf-thread/inline": ("udf-thread", "inline"),
        "udf-thread/udf-process": ("udf-thread", "udf-process"),
    }.items():
        if a in rates and b in rates:
            result["ratios"][label] = {
                "ratio_of_medians": stats.ratio(stats.summary(rates[a])["median"], stats.summary(rates[b])["median"]),
                "paired": stats.paired_ratios(rates[a], rates[b]),
            }
    return result
