"""`python -m bench run [--quick | --full | --tiny] [--only NAME[,NAME]]`: every benchmark, one results table.

NAME is a part (`sql`, `udf`, `compile`, `memory`, `state`, `e2e`, `bigstate`, `local`) or a workload of part 1
(`projection`, `two_many`, ...; only that workload runs in part 1). Writes `results.json` and
`results.md` to `bench/results/` (`--out` elsewhere). See bench/README.md.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

PARTS = ("sql", "udf", "compile", "memory", "state", "e2e", "bigstate", "local")
LOCAL_WORKLOAD = "projection"  # part 7: `ontoc run --local` on a part-1 workload
BENCH = Path(__file__).resolve().parent
DEFAULT_CACHE = BENCH / ".cache"


def modes(name: str, repeats: int | None) -> dict:
    """Sizes per mode. `events` maps a workload to its event count."""
    if name == "tiny":  # the smoke test: seconds, not figures
        m = {
            "events": lambda w: 1_000 if w.name.startswith("udf") else 3_000,
            "guard_events": 400,
            "repeats": 1,
            "warmup_events": 0,
            "compile_sizes": [5, 10, 20],
            "compile_repeats": 1,
            "rss_sizes": [5, 10],
            "rss_repeats": 1,
            "state_events": 3_000,
            "e2e_rates": [200],
            "e2e_seconds": 5,
            "big_state_keys": 2_000,
            "big_state_pad": 100,
            "big_state_timeout": 300,
            "local_sizes": [2_000],
        }
    elif name == "quick":
        m = {
            "events": lambda w: w.sizes[0],
            "guard_events": 3_000,
            "repeats": 3,
            "warmup_events": 20_000,
            "compile_sizes": [10, 100, 1000],
            "compile_repeats": 3,
            "rss_sizes": [10, 100, 1000],
            "rss_repeats": 1,
            "state_events": 150_000,
            "e2e_rates": [1_000, 10_000],
            "e2e_seconds": 15,
            "big_state_keys": 300_000,
            "big_state_pad": 1_000,
            "big_state_timeout": 1_200,
            "local_sizes": [200_000, 1_000_000],
        }
    else:
        m = {
            "events": lambda w: w.sizes[1],
            "guard_events": 5_000,
            "repeats": 3,
            "warmup_events": 50_000,
            "compile_sizes": [10, 100, 1000],
            "compile_repeats": 5,
            "rss_sizes": [10, 100, 1000],
            "rss_repeats": 3,
            "state_events": 500_000,
            "e2e_rates": [1_000, 10_000],
            "e2e_seconds": 30,
            "big_state_keys": 500_000,
            "big_state_pad": 1_000,
            "big_state_timeout": 1_800,
            "local_sizes": [200_000, 1_000_000],
        }
    m["seed"] = 20240611
    m["name"] = name
    if repeats:
        m["repeats"] = repeats
    return m


@click.group()
def cli() -> None:
    """ontoc benchmarks."""


@cli.command()
@click.option("--quick", "mode", flag_value="quick", help="minutes: smaller inputs (a few seconds per run)")
@click.option("--full", "mode", flag_value="full", default=True, help="the real measurement (default)")
@click.option("--tiny", "mode", flag_value="tiny", help="seconds: checks the machinery, no meaningful figures")
@click.option("--only", "only", default="", help="comma-separated parts or part-1 workloads")
@click.option("--repeats", type=int, default=None, help="repetitions per variant (default 3)")
@click.option("--out", type=click.Path(path_type=Path), default=BENCH / "results", show_default=True)
@click.option(
    "--cache",
    type=click.Path(path_type=Path),
    default=DEFAULT_CACHE,
    show_default=True,
    help="generated events (reused across runs)",
)
@click.option(
    "--e2e/--no-e2e", default=None, help="parts 4 and 6 on a local Kafka + Flink (default: on, except --tiny)"
)
@click.option("--e2e-jobs", default="", help="part 4's jobs (default ontoc,expert; what-if: ontoc+object-reuse)")
@click.option("--e2e-rates", default="", help="part 4: only these rates (comma-separated ev/s), no ladder steps")
@click.option("--e2e-trials", type=int, default=1, show_default=True, help="part 4: runs of each job per rate")
@click.option("--e2e-warmup", type=float, default=None, help="part 4: seconds at the rate before the window")
@click.option("--e2e-deliveries", default="", help="part 4: at-least-once, exactly-once or both (default)")
@click.option("--merge", is_flag=True, help="keep the other sections of an existing results.json (re-run some parts)")
def run(
    mode: str,
    only: str,
    repeats: int | None,
    out: Path,
    cache: Path,
    e2e: bool | None,
    e2e_jobs: str,
    e2e_rates: str,
    e2e_trials: int,
    e2e_warmup: float | None,
    e2e_deliveries: str,
    merge: bool,
) -> None:
    """Run the benchmarks and write results.json and results.md."""
    from . import environment, report
    from .workloads import BY_NAME

    cfg = modes(mode, repeats)
    if e2e_jobs:
        cfg["e2e_jobs"] = tuple(j.strip() for j in e2e_jobs.split(",") if j.strip())
    if e2e_rates:
        cfg["e2e_rates"], cfg["e2e_only_rates"] = [int(r) for r in e2e_rates.split(",")], True
    if e2e_trials < 1:
        raise click.UsageError("--e2e-trials must be at least 1")
    if e2e_warmup is not None and e2e_warmup < 0:
        raise click.UsageError("--e2e-warmup must not be negative")
    cfg["e2e_trials"], cfg["e2e_warmup"] = e2e_trials, e2e_warmup
    if e2e_deliveries:
        cfg["e2e_deliveries"] = tuple(d.strip() for d in e2e_deliveries.split(",") if d.strip())
        wrong = [d for d in cfg["e2e_deliveries"] if d not in ("at-least-once", "exactly-once")]
        if wrong or not cfg["e2e_deliveries"]:
            raise click.UsageError(f"--e2e-deliveries: at-least-once and/or exactly-once, not {', '.join(wrong)}")
    out, cache = out.resolve(), cache.resolve()
    wanted = [x.strip() for x in only.split(",") if x.strip()]
    unknown = [x for x in wanted if x not in PARTS and x not in BY_NAME]
    if unknown:
        raise click.UsageError(
            f"unknown part or workload: {', '.join(unknown)} "
            f"(parts: {', '.join(PARTS)}; workloads: {', '.join(BY_NAME)})"
        )
    workloads = [w for w in wanted if w in BY_NAME]
    parts = [p for p in wanted if p in PARTS] or (["sql"] if workloads else list(PARTS))
    if workloads and "sql" not in parts:
        parts.append("sql")
    if e2e is False or (e2e is None and mode == "tiny" and not wanted):
        parts = [p for p in parts if p not in ("e2e", "bigstate")]

    started = time.perf_counter()
    say = lambda m: click.echo(m, err=True)  # noqa: E731
    results = {
        "command": "python -m bench run " + " ".join(sys.argv[2:]),
        "mode": mode,
        "environment": environment.describe(),
        "sections": {},
    }
    results["date"] = results["environment"]["date"]
    previous = out / "results.json"
    if merge and previous.exists():
        import json

        old = json.loads(previous.read_text())
        if old.get("mode") != mode:
            raise click.UsageError(f"--merge: {previous} holds a {old.get('mode')} run, not {mode}")
        results["sections"] = old["sections"]
        results["merged"] = old.get("merged", []) + [
            {
                "command": old["command"],
                "date": old["date"],
                "environment": old["environment"],
                "seconds": old.get("seconds"),
                "load_average_end": old.get("load_average_end"),
            }
        ]
    say(f"bench: mode {mode}, parts {', '.join(parts)}; load average {results['environment']['load_average_start']}")
    plans_dir = out / "plans"
    sections = results["sections"]

    def save() -> None:
        results["seconds"] = time.perf_counter() - started
        results["load_average_end"] = environment.load()
        report.write(results, out)

    if "sql" in parts:
        from . import sql_vs_hand
        from .workloads import WORKLOADS_LIST

        sec = sections.setdefault("sql_vs_handwritten", {"workloads": {}})
        load0 = environment.load()
        for w in WORKLOADS_LIST:
            if workloads and w.name not in workloads:
                continue
            sec["workloads"][w.name] = sql_vs_hand.run(w, cfg, cache, plans_dir, say)
            sec["load_average"] = [load0[0], environment.load()[0]]
            save()
    if "udf" in parts:
        from . import udf_bench
        from .workloads import UDF_WORKLOADS

        sec = sections["udf"] = {"workloads": {}}
        load0 = environment.load()
        for w in UDF_WORKLOADS:
            sec["workloads"][w.name] = udf_bench.run(w, cfg, cache, plans_dir, say)
            sec["load_average"] = [load0[0], environment.load()[0]]
            save()
    if "compile" in parts:
        from . import compile_speed

        load0 = environment.load()
        sections["compile_speed"] = compile_speed.run(cfg["compile_sizes"], cfg["compile_repeats"], say)
        sections["compile_speed"]["load_average"] = [load0[0], environment.load()[0]]
        save()
    if "memory" in parts or "state" in parts:
        from . import memory
        from .workloads import BY_NAME as W

        sec = sections.setdefault("memory", {})
        load0 = environment.load()
        if "memory" in parts:
            sec["compile_rss"] = memory.compile_rss(cfg["rss_sizes"], cfg["rss_repeats"], say)
        if "state" in parts or "memory" in parts:
            sec["state"] = {
                "meeting_room": memory.state_per_row(W["meeting_room"], cfg["state_events"], cfg["seed"], cache, say)
            }
        sec["load_average"] = [load0[0], environment.load()[0]]
        save()
    if "local" in parts:
        from . import local_run
        from .workloads import BY_NAME as W

        load0 = environment.load()
        sections["local"] = local_run.run(W[LOCAL_WORKLOAD], cfg["local_sizes"], cfg["seed"], cache, say)
        sections["local"]["load_average"] = [load0[0], environment.load()[0]]
        save()
    if "e2e" in parts:
        from . import e2e

        load0 = environment.load()
        sections["e2e"] = e2e.run(cfg, say)
        sections["e2e"]["load_average"] = [load0[0], environment.load()[0]]
        save()
    if "bigstate" in parts:
        from . import big_state

        load0 = environment.load()
        sections["big_state"] = big_state.run(cfg, say)
        sections["big_state"]["load_average"] = [load0[0], environment.load()[0]]
        save()
    save()
    say(f"bench: wrote {out / 'results.md'} and {out / 'results.json'} in {time.perf_counter() - started:.0f} s")


def main() -> None:
    os.environ.setdefault("PYTHONHASHSEED", "0")
    cli(prog_name="python -m bench")


if __name__ == "__main__":
    main()
