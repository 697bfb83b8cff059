"""Part 1: the SQL ontoc emits against the SQL a Flink expert writes, on the same embedded Flink and events.

Per workload: a correctness guard on a small input, then repetitions in which every variant runs
once, in an order rotated per repetition (so a slow phase of the shared machine does not always
hit the same variant). Variants are (query, planner options):

- `emitted`: the SQL ontoc emits with the table options `ontoc submit` sets on the package's job
  (`ontoc.job_settings.planner_options`: mini-batch with one-phase aggregation when a view
  aggregates, else none); `handwritten`: the expert's SQL with Flink's defaults;
- where ontoc sets options: `handwritten+ontoc-options` (the expert's SQL with the same options: the
  SQL alone compared) and `emitted+flink-defaults` (what the options bring);
- emitted with one more option, against `emitted` in the same repetition: no sink upsert
  materializer, Flink 2.2's multi-way join operator; and `ablation:<name>` queries of a workload
  (the emitted SQL with one hand edit a proposed compiler change would make).

The optimized execution plan of every variant is written to `results/plans/<workload>.<variant>.txt`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from . import data, guard, harness, stats
from .workloads import Workload

EXTRA_OPTIONS: dict[str, dict[str, str]] = {
    "no-upsert-materialize": {"table.exec.sink.upsert-materialize": "NONE"},
    "multi-join": {"table.optimizer.multi-join.enabled": "true"},
}


def variants(workload: Workload, plans: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    """(variant name, query, table options); extra options only where the plan has what they change."""
    ontoc = workload.ontoc_options()
    out = [("emitted", "emitted", ontoc), ("handwritten", "handwritten", {})]
    if ontoc:
        out += [("handwritten+ontoc-options", "handwritten", ontoc), ("emitted+flink-defaults", "emitted", {})]
    out += [(q, q, ontoc) for q in plans if q.startswith("ablation:")]
    plan = plans.get("emitted", "")
    if "upsertMaterialize=[true]" in plan:
        out.append(("emitted+no-upsert-materialize", "emitted", {**ontoc, **EXTRA_OPTIONS["no-upsert-materialize"]}))
    if plan.count("Join(") >= 2:
        out.append(("emitted+multi-join", "emitted", {**ontoc, **EXTRA_OPTIONS["multi-join"]}))
    return out


def plan_facts(plan: str) -> dict:
    """What a plan is made of: operators that keep state, and the size of its expressions."""
    calc = re.findall(r"Calc\(select=\[(.*)\]\)", plan)
    return {
        "joins": plan.count("Join(joinType="),
        "inner_joins": plan.count("joinType=[InnerJoin]"),
        "left_joins": plan.count("joinType=[LeftOuterJoin]"),
        "group_aggregates": len(re.findall(r"\b(?:Global|Local|Incremental)?GroupAggregate\(", plan)),
        "changelog_normalize": plan.count("ChangelogNormalize("),
        "upsert_materialize": "upsertMaterialize=[true]" in plan,
        "multi_join": plan.count("MultiJoin("),
        "calc_chars": sum(len(c) for c in calc),
        "case_count": sum(c.count("CASE(") for c in calc),
        "is_null_count": sum(c.count("IS NULL") for c in calc),
    }


def run(workload: Workload, mode: dict, cache: Path, plans_dir: Path, say: Callable[[str], None]) -> dict:
    queries = workload.queries()
    setup = workload.setup()
    say(f"[{workload.name}] guard on {mode['guard_events']} events")
    checked = guard.check(workload, mode["guard_events"], mode["seed"], queries)
    if not checked["equal"]:
        say(f"[{workload.name}] GUARD FAILED: {checked['details']}")
    n = mode["events"](workload)
    ds = data.dataset(workload.data, n, mode["seed"], cache)
    sources = workload.sources(ds.folder)

    ontoc = workload.ontoc_options()
    plans: dict[str, str] = {}
    for q in queries:
        plans[q] = harness.explain(sources, [queries[q]], ontoc if q != "handwritten" else {}, setup)
    todo = variants(workload, plans)
    for name, q, opts in todo:
        # the plans of `emitted` and `handwritten` above have these very options: not planned twice
        same = name == q and opts == (ontoc if q != "handwritten" else {})
        text = plans[q] if same else harness.explain(sources, [queries[q]], opts, setup)
        plans[name] = text
        plans_dir.mkdir(parents=True, exist_ok=True)
        (plans_dir / f"{workload.name}.{name.replace(':', '-')}.txt").write_text(
            f"-- {workload.name}: {name}, options {opts}\n-- query:\n{queries[q].sql}\n\n{text}\n", encoding="utf-8"
        )

    if mode.get("warmup_events"):
        # the first jobs of a JVM run slower (JIT): one untimed pass over every variant on a small input
        warm = data.dataset(workload.data, mode["warmup_events"], mode["seed"], cache)
        for name, q, opts in todo:
            harness.run(workload.sources(warm.folder), [queries[q]], options=opts, setup=setup)

    rates: dict[str, list[float]] = {name: [] for name, _, _ in todo}
    seconds: dict[str, list[float]] = {name: [] for name, _, _ in todo}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in todo}
    events = None
    for rep in range(mode["repeats"]):
        order = todo[rep % len(todo) :] + todo[: rep % len(todo)]
        for name, q, opts in order:
            r = harness.run(sources, [queries[q]], options=opts, setup=setup)
            events = r.events
            rates[name].append(r.rate)
            seconds[name].append(r.seconds)
            cpu[name].append(r.cpu_us_per_event)
            say(
                f"[{workload.name}] rep {rep + 1}/{mode['repeats']} {name}: {r.events} events in {r.seconds:.2f} s "
                f"= {r.rate:,.0f} ev/s, {r.cpu_us_per_event:.1f} CPU-µs/event"
            )

    result = {
        "description": workload.description,
        "view": workload.view,
        "events": events,
        "dataset_events": ds.events,
        "guard": checked,
        "variants": {
            name: {
                "query": q,
                "options": opts,
                "events_per_s": stats.summary(rates[name], 0),
                "seconds": stats.summary(seconds[name], 3),
                "cpu_us_per_event": stats.summary(cpu[name], 2),
                "plan": plan_facts(plans[name]),
            }
            for name, q, opts in todo
        },
        "ratios": {},
    }
    pairs = {
        "emitted/handwritten": ("emitted", "handwritten"),
        "emitted/handwritten+ontoc-options": ("emitted", "handwritten+ontoc-options"),
        "emitted/emitted+flink-defaults": ("emitted", "emitted+flink-defaults"),
    }
    for name, _, _ in todo:
        if name.startswith(("emitted+no-", "emitted+multi", "ablation:")):
            pairs[f"{name}/emitted"] = (name, "emitted")
    for label, (a, b) in pairs.items():
        if a in cpu and b in cpu:
            # CPU per event of b over a: >= 1.0 when a needs no more CPU per event than b (robust to a loaded machine)
            result.setdefault("cpu_ratios", {})[label] = stats.ratio(
                stats.summary(cpu[b])["median"], stats.summary(cpu[a])["median"]
            )
        if a in rates and b in rates:
            result["ratios"][label] = {
                "ratio_of_medians": stats.ratio(stats.summary(rates[a])["median"], stats.summary(rates[b])["median"]),
                "paired": stats.paired_ratios(rates[a], rates[b]),
            }
    return result
