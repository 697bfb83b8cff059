"""results.json -> results.md: every figure with its baseline from the same run."""

from __future__ import annotations

import json
from pathlib import Path


def _rate(s: dict | None) -> str:
    if not s:
        return "–"
    return f"{s['median']:,.0f} ({s['min']:,.0f}–{s['max']:,.0f})"


def _ratio(r: dict | None) -> str:
    if not r:
        return "–"
    p = r["paired"]
    return f"**{r['ratio_of_medians']:.2f}** ({p['min']:.2f}–{p['max']:.2f})"


def _load(x: list | None) -> str:
    return " / ".join(f"{v:.2f}" for v in x) if x else "?"


def render(results: dict) -> str:
    env = results["environment"]
    m, v, g = env["machine"], env["versions"], env["git"]
    out = [
        "# ontoc benchmark results",
        "",
        f"`{results['command']}`: mode **{results['mode']}**, {results['date']}, {results['seconds']:.0f} s.",
        "",
        f"- machine: {m['cpu_model']}, {m['cores']} cores, {m['memory_gib']} GiB; {m['os']}",
        f"- versions: Python {v['python']}, PyFlink {v['pyflink']}, sqlglot {v['sqlglot']}, {v['java']}",
        f"- commit: {g['commit']}{' (with uncommitted changes)' if g['dirty'] else ''}",
        f"- load average (1/5/15 min) at start {_load(env['load_average_start'])}, at end "
        f"{_load(results.get('load_average_end'))}; per section below. The machine is shared: "
        "compare figures only with their baseline from the same run.",
        "",
        *(
            [
                "- this file merges runs: the sections not re-run come from "
                + "; ".join(
                    f"`{m['command']}` ({m['date']}, commit {m['environment']['git']['commit'][:10]}, load at start "
                    f"{_load(m['environment']['load_average_start'])})"
                    for m in results["merged"]
                ),
                "",
            ]
            if results.get("merged")
            else []
        ),
        "Rates are events per second of Flink's processing time (first task running to last task finished), "
        "median of the repetitions with (min–max); ratios are the ratio of the medians with the range of the "
        "per-repetition (paired) ratios. See bench/README.md for what each figure means.",
        "",
    ]
    s = results["sections"]
    if "sql_vs_handwritten" in s:
        out += _sql(s["sql_vs_handwritten"])
    if "udf" in s:
        out += _udf(s["udf"])
    if "compile_speed" in s:
        out += _compile(s["compile_speed"])
    if "memory" in s:
        out += _memory(s["memory"])
    if "e2e" in s:
        out += _e2e(s["e2e"])
    if "big_state" in s:
        out += _big_state(s["big_state"])
    if "local" in s:
        out += _local(s["local"])
    return "\n".join(out) + "\n"


def _sql(sec: dict) -> list[str]:
    out = [
        "## 1. Emitted SQL vs hand-written SQL",
        "",
        f"Load average during this part: {_load(sec.get('load_average'))}. Ratio = emitted / hand-written "
        "events per second (>= 1.0: ontoc at least as fast).",
        "",
        "| workload | events | guard | emitted ev/s | hand-written ev/s | ratio | emitted CPU µs/ev | hand-written CPU µs/ev | CPU ratio |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, w in sec["workloads"].items():
        va = w["variants"]
        ce, ch = va["emitted"]["cpu_us_per_event"]["median"], va["handwritten"]["cpu_us_per_event"]["median"]
        out.append(
            f"| {name} | {w['events']:,} | {'ok' if w['guard']['equal'] else 'DIFFERS'} | "
            f"{_rate(va['emitted']['events_per_s'])} | {_rate(va['handwritten']['events_per_s'])} | "
            f"{_ratio(w['ratios'].get('emitted/handwritten'))} | {ce:.1f} | {ch:.1f} | {ch / ce:.2f} |"
        )
    out += [
        "",
        "CPU ratio = hand-written / emitted CPU time per event (JVM, all threads, median): >= 1.0 when the "
        "emitted SQL costs no more CPU per event; less sensitive to other processes on the machine than the rate.",
    ]
    out += [
        "",
        "`emitted` runs with the table options ontoc sets on the job (mini-batch with one-phase aggregation "
        "for packages with an aggregate, none otherwise); `handwritten` with Flink's defaults. Where ontoc sets "
        "options, the same comparison with the options on both sides, and what the options bring:",
        "",
        "| workload | options | hand-written + ontoc's options ev/s | emitted / that | emitted with Flink's defaults ev/s | emitted / that |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, w in sec["workloads"].items():
        va, r = w["variants"], w["ratios"]
        if "handwritten+ontoc-options" not in va:
            continue
        opts = va["emitted"]["options"]
        options = (
            f"mini-batch {opts['table.exec.mini-batch.allow-latency']}, "
            f"{opts.get('table.optimizer.agg-phase-strategy', 'AUTO').lower().replace('_', '-')} aggregation"
        )
        out.append(
            f"| {name} | {options} | {_rate(va['handwritten+ontoc-options']['events_per_s'])} | "
            f"{_ratio(r.get('emitted/handwritten+ontoc-options'))} | "
            f"{_rate(va['emitted+flink-defaults']['events_per_s'])} | {_ratio(r.get('emitted/emitted+flink-defaults'))} |"
        )
    out += [
        "",
        "Further planner options on the emitted SQL (each on top of ontoc's), against `emitted` in the same "
        "repetition:",
        "",
        "| workload | variant | ev/s | ratio to emitted | CPU µs/ev | CPU ratio (emitted / variant) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, w in sec["workloads"].items():
        ce = w["variants"]["emitted"]["cpu_us_per_event"]["median"]
        for vname, va in w["variants"].items():
            if vname.startswith(("emitted+no-", "emitted+multi", "ablation:")):
                cv = va["cpu_us_per_event"]["median"]
                out.append(
                    f"| {name} | {vname} | {_rate(va['events_per_s'])} | {_ratio(w['ratios'].get(f'{vname}/emitted'))} | "
                    f"{cv:.1f} | {ce / cv:.2f} |"
                )
    out += [
        "",
        "Plan facts (optimized execution plans in `results/plans/`):",
        "",
        "| workload | query | joins (inner/left) | aggregates | upsert materializer | Calc chars | CASE | IS NULL |",
        "|---|---|---|---:|---|---:|---:|---:|",
    ]
    for name, w in sec["workloads"].items():
        for q in ("emitted", "handwritten"):
            f = w["variants"][q]["plan"]
            out.append(
                f"| {name} | {q} | {f['joins']} ({f['inner_joins']}/{f['left_joins']}) | {f['group_aggregates']} | "
                f"{'yes' if f['upsert_materialize'] else 'no'} | {f['calc_chars']} | {f['case_count']} | {f['is_null_count']} |"
            )
    failed = [
        f"- {name}: {'; '.join(w['guard']['details'])}"
        for name, w in sec["workloads"].items()
        if not w["guard"]["equal"]
    ]
    if failed:
        out += ["", "Guard failures:", *failed]
    return out + [""]


def _udf(sec: dict) -> list[str]:
    out = [
        "## 2. Native SQL vs Python UDFs",
        "",
        f"Load average during this part: {_load(sec.get('load_average'))}.",
        "",
        "| package | events | variant | ev/s | CPU µs/event | ratio to inline | note |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for name, w in sec["workloads"].items():
        for mode in ("inline", "udf-process", "udf-thread"):
            va = w["variants"].get(mode)
            note = w.get("failures", {}).get(mode) or (w["guard"].get("wrong_results") or {}).get(mode, "")
            if note:
                note = ("job fails: " if mode in w.get("failures", {}) else "wrong results: ") + note
            ratio = w["ratios"].get(f"{mode}/inline")
            out.append(
                f"| {name} | {w.get('events') or 0:,} | {mode} | {_rate(va['events_per_s']) if va else '–'} | "
                f"{va['cpu_us_per_event']['median']:.1f} | {_ratio(ratio) if ratio else ('1.00' if mode == 'inline' else '–')} | {note} |"
                if va
                else f"| {name} | – | {mode} | – | – | – | {note} |"
            )
        r = w["ratios"].get("udf-thread/udf-process")
        if r:
            out.append(f"| {name} | | thread / process | | | {_ratio(r)} | |")
    return out + [""]


def _compile(sec: dict) -> list[str]:
    out = [
        "## 3. Compile speed",
        "",
        f"Load average during this part: {_load(sec.get('load_average'))}. Synthetic packages of "
        f"{sec['getters_per_view']} getters per view; median of the repetitions.",
        "",
        "| views | compile s | ms/view | ast.parse ms/view | compile / ast.parse |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in sec["sizes"]:
        out.append(
            f"| {r['views']:,} | {r['compile_s']['median']:.3f} ({r['compile_s']['min']:.3f}–{r['compile_s']['max']:.3f}) | "
            f"{r['compile_ms_per_view']:.2f} | {r['parse_ms_per_view']:.3f} | {r['compile/parse']:.0f}× |"
        )
    out += [
        "",
        f"- marginal cost: **{sec['marginal_ms_per_view']:.2f} ms per view** (least squares over all sizes, "
        f"r² = {sec['fit_r2']}; fixed part {sec['fixed_ms']:.0f} ms); target < {sec['target_ms_per_view']} ms",
        f"- `ast.parse` floor: {sec['parse_marginal_ms_per_view']:.3f} ms per view; compile is "
        f"{sec['marginal_compile/parse']:.0f}× the floor",
        "- growth (per-view cost at the larger size / at the smaller, 1.0 = linear): "
        + ", ".join(f"{k} = {v}" for k, v in sec["growth"].items()),
        _compile_stages(sec),
        *_compile_cli(sec),
        "",
    ]
    return out


def _compile_cli(sec: dict) -> list[str]:
    if "cli" not in sec:  # results merged from a run before the command line was timed
        return []
    c = sec["cli"]
    per_size = ", ".join(f"{r['views']:,} views {r['cli_s']['median']:.3f} s" for r in sec["sizes"])
    return [
        f"- through the command line (`python -m ontoc.cli compile DIR -o NEW`, a new process each, "
        f"interleaved with the in-process timings): {per_size}; marginal **{c['marginal_ms_per_view']:.2f} ms "
        f"per view** (r² = {c['fit_r2']}), {c['marginal_cli/in_process']}× the in-process slope; fixed start-up "
        f"{c['fixed_ms']:.0f} ms (in-process fit: {sec['fixed_ms']:.0f} ms), of which "
        f"`ontoc --version` {c['version_s']['median'] * 1000:.0f} ms",
        *_compile_cli_cpu(c),
    ]


def _compile_cli_cpu(c: dict) -> list[str]:
    if "cpu" not in c:
        return []
    u = c["cpu"]
    return [
        f"- in CPU seconds (less disturbed by load): **{u['cli_ms_per_view']:.2f} ms per view through the command "
        f"line, {u['in_process_ms_per_view']:.2f} in-process ({u['cli/in_process']}×)**; fixed "
        f"{u['cli_fixed_ms']:.0f} ms (in-process {u['in_process_fixed_ms']:.0f} ms), `ontoc --version` "
        f"{u['version_ms']:.0f} ms"
    ]


def _compile_stages(sec: dict) -> str:
    if "stages" in sec:
        return f"- where the time goes ({sec['stages']['views']:,} views, ms per view, median): " + ", ".join(
            f"{k} {v:.2f}" for k, v in sec["stages"]["ms_per_view"].items()
        )
    # results merged from a run before stages were timed: it profiled them
    return (
        f"- where the time goes ({sec['stage_shares']['views']} views, profiled, share of `compile_definitions`): "
        + ", ".join(f"{k} {v:.0%}" for k, v in sorted(sec["stage_shares"]["shares"].items(), key=lambda kv: -kv[1]))
    )


def _memory(sec: dict) -> list[str]:
    out = ["## 5. Memory", ""]
    if "compile_rss" in sec:
        c = sec["compile_rss"]
        out += [
            f"Peak RSS of `ontoc compile` (load average {_load(sec.get('load_average'))}); baseline = "
            f"{c['baseline']}: {c['baseline_mib']['median']:.1f} MiB.",
            "",
            "| views | peak RSS MiB | over baseline MiB | KiB per view over baseline |",
            "|---:|---:|---:|---:|",
        ]
        for r in c["sizes"]:
            per = r["kib_per_view_over_baseline"]
            out.append(
                f"| {r['views']:,} | {r['peak_rss_mib']['median']:.1f} | {r['over_baseline_mib']:.1f} | "
                f"{'–' if per is None else f'{per:.1f}'} |"
            )
        out += ["", f"Marginal: {c['marginal_kib_per_view']:.1f} KiB per view (r² = {c['fit_r2']}).", ""]
    for name, st in sec.get("state", {}).items():
        out += [
            f"Flink state of `{name}` after {st['events']:,} events (canonical savepoint, hashmap backend):",
            "",
            "| query | view rows | state bytes | bytes / row | without source normalize | bytes / row | savepoint bytes |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for q, v in st["variants"].items():
            out.append(
                f"| {q} | {v['view_rows']:,} | {v['state_bytes']:,} | {v['bytes_per_row']:,.0f} | "
                f"{v['query_state_bytes']:,} | {v['query_bytes_per_row']:,.0f} | {v['savepoint_bytes']:,} |"
            )
        if st.get("ratios"):
            out += ["", "Ratios: " + ", ".join(f"{k} = **{v}**" for k, v in st["ratios"].items())]
        out += ["", "Largest operators (emitted / hand-written):", ""]
        for q, v in st["variants"].items():
            out.append(f"- {q}: " + "; ".join(f"{o['name']} {o['state_bytes']:,} B" for o in v["operators"][:5]))
        out.append("")
    return out


def _e2e(sec: dict) -> list[str]:
    out = ["## 4. End to end on Kafka + Flink", ""]
    if sec.get("status") != "ok":
        return out + [f"Not measured: {sec.get('reason', '?')}", ""]
    out += [
        f"Load average during this part: {_load(sec.get('load_average'))}. Workload `{sec['workload']}`, "
        f"produced and read by {sec.get('producer', 'the Python producer')}; latency = view record consumed − "
        f"domain event produced (same clock), {sec['seconds_per_rate']} s per rate. `ontoc`: the job `ontoc submit` "
        "builds; `expert`: workloads/e2e_probe/expert.sql with the same Flink settings. TM CPU: the TaskManager's "
        "CPU time per event sent during the run (in brackets: of it, the JIT compiler threads', which recompile "
        "each job's classes). Each job ran once unmeasured first (a warm-up), and the jobs take turns at running "
        "first, rate after rate.",
        "",
        "| job | delivery | target ev/s | sent ev/s | events in view | p50 ms | p99 ms | max ms | TM CPU µs/ev (JIT) | sustained |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    nan = float("nan")
    for r in sec["runs"]:
        lat = r.get("latency_ms") or {}
        what_if = " + " + ", ".join(f"`{k}={v}`" for k, v in r["config"].items()) if r.get("config") else ""
        cpu, jit = r.get("taskmanager_cpu_us_per_event"), r.get("taskmanager_jit_us_per_event")
        cpu_text = "" if cpu is None else f"{cpu:,.0f}" + ("" if jit is None else f" ({jit:,.0f})")
        out.append(
            f"| {r.get('job', 'ontoc')} | {r['delivery']}{what_if} | {r['target_rate']:,} | {r['sent_rate']:,.0f} | "
            f"{r['received']:,} | {lat.get('p50', nan):,.0f} | {lat.get('p99', nan):,.0f} | {lat.get('max', nan):,.0f} | "
            f"{cpu_text} | {'yes' if r.get('sustained') else 'no'} |"
        )
    for delivery, peaks in sec.get("peak", {}).items():
        if not isinstance(peaks, dict):  # results of the Python-producer version: one job
            peaks = {"ontoc": peaks}
        text = ", ".join(f"{k} **{v:,}** ev/s" if v else f"{k}: none of the rates" for k, v in peaks.items())
        ratio = sec.get("ratio", {}).get(delivery)
        out += ["", f"Peak sustained rate, {delivery}: {text}" + (f"; ontoc/expert **{ratio}**" if ratio else "")]
        trials = sec.get("sustained_trials", {}).get(delivery, {})
        if sec.get("trials_per_rate", 1) > 1 and trials:
            out[-1] += " (a rate counts when sustained in more than half the trials: " + "; ".join(
                f"{k} " + ", ".join(f"{rate:,} {n}" for rate, n in v.items()) for k, v in trials.items()
            ) + ")"
    if sec.get("producer_limit"):
        out += [
            "",
            "The ladder stopped where the producer could not send the target rate (it sent "
            + ", ".join(f"{v:,} ev/s for {k}" for k, v in sec["producer_limit"].items())
            + "): the peak is at least the last sustained rate below it.",
        ]
    return out + [""]


def _big_state(sec: dict) -> list[str]:
    out = ["## 6. State beyond the heap (RocksDB) on Kafka + Flink", ""]
    if sec.get("status") != "ok":
        return out + [f"Not measured: {sec.get('reason', '?')}", ""]
    heap, cp, job, view = sec.get("heap", {}), sec.get("checkpoint") or {}, sec.get("job", {}), sec.get("view", {})
    mib = lambda b: f"{b / 2**20:,.0f} MiB" if b else "?"  # noqa: E731
    return out + [
        f"Load average during this part: {_load(sec.get('load_average'))}. `e2e_probe` with {sec['keys']:,} customers "
        f"(names of {sec['name_chars']:,} random letters) and one order each, state backend `{sec.get('state_backend')}`, "
        f"TaskManager process {sec['taskmanager_process']}: heap {mib(heap.get('heap_bytes'))}, managed memory "
        f"{mib(heap.get('managed_bytes'))}.",
        "",
        f"- checkpoint after the view was complete: state **{mib(cp.get('state_size'))}** "
        f"(**{sec.get('state_over_heap', '?')}x the heap**; this checkpoint uploaded {mib(cp.get('checkpointed_size'))}, "
        f"{cp.get('duration_ms', '?')} ms)",
        f"- job: {job.get('state')}, {job.get('restarts')} restart(s), {job.get('exceptions')} exception(s); "
        f"{sec.get('seconds_to_complete')} s from submission to a complete view (produced in {sec.get('produce_seconds')} s), "
        f"TaskManager CPU {sec.get('taskmanager_cpu_seconds')} s",
        f"- view topic: {view.get('live_keys', 0):,} live keys of {view.get('expected_keys', 0):,} expected "
        f"({view.get('records', 0):,} records); {view.get('spot_checked', 0)} rows spot-checked against the oracle, "
        f"wrong: {view.get('spot_check_wrong') or 'none'}",
        f"- verdict: **{'ran to the end, output as expected' if sec.get('ok') else 'FAILED'}**",
        "",
    ]
def _local(sec: dict) -> list[str]:
    out = [
        "## 7. `ontoc run --local` end to end",
        "",
        f"`{sec['workload']}` ({sec['view']}): the CLI in its own process (wall: JVM start, planning, the job, "
        "output) and its job alone (submission to end), against the same emitted query in part 1's harness "
        f"(Flink's clock), same events. Load average {_load(sec.get('load_average'))}.",
        "",
        "| events | input MiB | CLI wall s | CLI ev/s | CLI job s | job ev/s | harness ev/s | CLI/harness | "
        "job/harness | CLI CPU µs/ev | harness CPU µs/ev | CPU ratio | Python peak RSS MiB | JVM peak RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sec["sizes"]:
        job_rate = r.get("cli_job_events_per_s")
        job_ratio = r.get("job_ratio")
        out.append(
            f"| {r['events']:,} | {r['input_mib']:.0f} | {r['wall_s']:.1f} | {r['cli_events_per_s']:,.0f} | "
            f"{r['job_s'] or float('nan'):.1f} | {job_rate or float('nan'):,.0f} | {r['harness_events_per_s']:,.0f} | "
            f"{r['wall_ratio']:.2f} | {job_ratio or float('nan'):.2f} | {r.get('cli_cpu_us_per_event', float('nan')):.1f} | "
            f"{r['harness_cpu_us_per_event']:.1f} | {r.get('cpu_ratio', float('nan')):.2f} | {r['python_peak_rss_mib']:.0f} | "
            f"{r['jvm_peak_rss_mib']:.0f} |"
        )
    return out + [""]


def write(results: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    (folder / "results.md").write_text(render(results), encoding="utf-8")
