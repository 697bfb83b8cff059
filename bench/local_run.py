"""Part 7: `ontoc run --local` end to end (the CLI in its own process) against part 1's harness on the same events.

The CLI reads `<topic>.jsonl` files (Flink's file source, native validation, one job, each view folded into
its final rows by ontoc's `ontoc-final-state` sink in Flink); the harness runs the same emitted query over Debezium-JSON
files of the same events, timed by Flink's own clock (harness.py). Reported per input size: the CLI's wall
time and events/s (JVM start, planning, submission and output included), its job time (submission to end,
from the CLI's own progress line) and events/s by it, the harness's events/s, and the peak RSS of the
CLI's Python process and of its JVM (VmHWM, sampled from /proc while it runs).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from . import data, harness
from .workloads import Workload

ROOT = Path(__file__).resolve().parents[1]


def _status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _descendants(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen[1:]


def _cli_run(package: Path, folder: Path, out: Path) -> dict:
    """The CLI as a user runs it; peak RSS of its Python process and of its JVM (a child process)."""
    cmd = [sys.executable, "-m", "ontoc.cli", "run", str(package), "--local"]
    cmd += ["--input", str(folder), "--output", str(out)]
    peaks = {"python_kib": 0, "jvm_kib": 0}
    cpu: dict[int, float] = {}  # pid -> its CPU seconds at the last sample
    t0 = time.perf_counter()
    # PyFlink's Python UDF worker (loopback: this process, after part 2) marks the environment so that no gateway
    # is launched from inside a UDF; the CLI is a new process that must launch its own
    env = {k: v for k, v in os.environ.items() if k != "PYFLINK_GATEWAY_DISABLED"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sample() -> None:
        while proc.poll() is None:
            peaks["python_kib"] = max(peaks["python_kib"], _status_kib(proc.pid, "VmHWM"))
            for pid in [proc.pid, *_descendants(proc.pid)]:
                if pid != proc.pid:
                    peaks["jvm_kib"] = max(peaks["jvm_kib"], _status_kib(pid, "VmHWM"))
                cpu[pid] = max(cpu.get(pid, 0.0), _cpu_seconds(pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"ontoc run --local failed ({proc.returncode}):\n{stdout}\n{stderr[-3000:]}")
    job = re.search(r"job finished in ([0-9.]+)s", stderr)
    events = re.search(r"read (\d+) events", stderr)
    return {
        "wall_s": wall,
        "job_s": float(job.group(1)) if job else None,
        "events": int(events.group(1)) if events else None,
        "cpu_s": sum(cpu.values()),  # the CLI and its JVM, up to the last sample (0.2 s before the end at most)
        "python_peak_rss_mib": peaks["python_kib"] / 1024,
        "jvm_peak_rss_mib": peaks["jvm_kib"] / 1024,
    }


def run(workload: Workload, sizes: list[int], seed: int, cache: Path, say: Callable[[str], None]) -> dict:
    query = workload.queries()["emitted"]
    setup, options = workload.setup(), workload.ontoc_options()
    rows = []
    for n in sizes:
        ds = data.dataset(workload.data, n, seed, cache)
        jsonl = cache / f"{ds.folder.name}-jsonl"
        if not (jsonl / "done").exists():
            data.write_jsonl(data.small_events(workload.data, n, seed), jsonl)
            (jsonl / "done").write_text("")
        say(f"[local {workload.name}] {n} events: ontoc run --local")
        cli = _cli_run(workload.definitions, jsonl, cache / "local-out")
        say(f"[local {workload.name}] {n} events: the harness")
        h = harness.run(workload.sources(ds.folder), [query], options=options, setup=setup)
        row = {
            "events": ds.events,
            "input_mib": sum(f.stat().st_size for f in jsonl.glob("*.jsonl")) / 2**20,
            **cli,
            "cli_events_per_s": ds.events / cli["wall_s"],
            "cli_job_events_per_s": ds.events / cli["job_s"] if cli["job_s"] else None,
            "harness_events_per_s": h.rate,
            "harness_cpu_us_per_event": h.cpu_us_per_event,
            "cli_cpu_us_per_event": cli["cpu_s"] * 1e6 / ds.events,
        }
        row["wall_ratio"] = row["cli_events_per_s"] / h.rate
        row["cpu_ratio"] = h.cpu_us_per_event / row["cli_cpu_us_per_event"]  # harness CPU per event / the CLI's
        row["job_ratio"] = row["cli_job_events_per_s"] / h.rate if row["cli_job_events_per_s"] else None
        say(f"[local {workload.name}] {row}")
        rows.append(row)
    return {"workload": workload.name, "view": workload.view, "sizes": rows}
