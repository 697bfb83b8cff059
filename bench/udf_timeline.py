"""Where a batched UDF job's time goes, second by second: `python -m bench.udf_timeline`.

Runs part 2's UDF build of one package on the embedded Flink (loopback mode: the Python worker is this
process) and prints, per half second of its last run, the CPU of the busiest threads of the JVM and of
this process, with `B` where the worker is inside a bundle, then the bundles' count and the gaps between
them. A tool for changing how UDF jobs run (bench/README.md, part 2, "fifth pass"), not a part of
`bench run`: it wraps Beam's `SdkWorker.process_bundle` in this process to time the bundles.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import click

from . import data, harness
from .udf_bench import _options
from .workloads import UDF_WORKLOADS

SAMPLE_S = 0.5
DEFAULT_CACHE = Path(__file__).parent / ".cache"  # part 2's inputs, shared with `bench run`
Snapshot = dict[tuple[int, str, str], float]  # (pid, tid, thread name) -> CPU seconds


class _Recorder:
    """Thread CPU snapshots every SAMPLE_S, and the worker's bundles (start, end), in perf_counter time."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, Snapshot]] = []
        self.bundles: list[tuple[float, float]] = []
        self._stop = threading.Event()

    def start(self, pids: list[int]) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                snap: Snapshot = {}
                for pid in pids:
                    snap.update({(pid, *key): cpu for key, cpu in harness.cpu_seconds_per_thread(pid).items()})
                self.samples.append((time.perf_counter(), snap))
                self._stop.wait(SAMPLE_S)

        threading.Thread(target=loop, name="timeline-sampler", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def time_bundles(self) -> Callable[[], None]:
        """Wrap this process's Beam worker to time its bundles; returns the function that unwraps it."""
        from apache_beam.runners.worker import sdk_worker

        process_bundle = sdk_worker.SdkWorker.process_bundle
        bundles = self.bundles

        def timed(worker, *args, **kwargs):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return process_bundle(worker, *args, **kwargs)
            finally:
                bundles.append((start, time.perf_counter()))

        sdk_worker.SdkWorker.process_bundle = timed  # type: ignore[method-assign]

        def restore() -> None:
            sdk_worker.SdkWorker.process_bundle = process_bundle  # type: ignore[method-assign]

        return restore


def _label(pid: int, tid: str, name: str) -> str:
    name = re.sub(r"[0-9#]+", "", name)[:12]
    return f"py:{tid}" if pid == os.getpid() else name


def _report(rec: _Recorder, t0: float, t1: float, say) -> None:  # type: ignore[no-untyped-def]
    points = [(t, s) for t, s in rec.samples if t0 - SAMPLE_S <= t <= t1 + SAMPLE_S]
    for (ta, a), (tb, b) in zip(points, points[1:], strict=False):
        cores: dict[str, float] = {}
        for key, cpu in b.items():
            label = _label(*key)
            cores[label] = cores.get(label, 0.0) + (cpu - a.get(key, cpu)) / (tb - ta)
        busiest = sorted(((n, c) for n, c in cores.items() if c >= 0.05), key=lambda nc: -nc[1])[:6]
        inside = any(start <= tb and end >= ta for start, end in rec.bundles)
        say(f"  t={ta - t0:5.1f}s {'B' if inside else '.'} " + " ".join(f"{n}={c:.2f}" for n, c in busiest))
    ends = [b for b in rec.bundles if b[0] >= t0]
    gaps = [ends[i + 1][0] - ends[i][1] for i in range(len(ends) - 1)]
    say(
        f"bundles {len(ends)}: {sum(e - s for s, e in ends):.2f} s inside, gaps {sum(gaps):.2f} s; "
        f"first starts {ends[0][0] - t0:.2f} s into the run, last ends {t1 - ends[-1][1]:.2f} s before its end"
        if ends
        else "no bundle ran"
    )


def _settings(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    pairs = [v.partition("=") for v in values]
    for value, (key, eq, _) in zip(values, pairs, strict=True):
        if not eq or not key.strip():
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", ctx, param)
    return {key.strip(): value for key, _, value in pairs}


@click.command()
@click.option("--package", type=click.Choice([w.name for w in UDF_WORKLOADS]), default="udf_documents")
@click.option("--events", type=click.IntRange(min=1), default=200_000, show_default=True, help="events in the input")
@click.option(
    "--runs",
    type=click.IntRange(min=2),
    default=2,
    show_default=True,
    help="runs in this process; the last is reported (warm)",
)
@click.option(
    "--set", "settings", multiple=True, callback=_settings, help="a Flink option over ontoc's, KEY=VALUE (repeatable)"
)
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_CACHE, show_default=True)
def main(package: str, events: int, runs: int, settings: dict[str, str], cache: Path) -> None:
    """Run PACKAGE's UDF build RUNS times and print the last run's timeline."""
    workload = {w.name: w for w in UDF_WORKLOADS}[package]
    options = {**_options("udf-process"), **settings}
    dataset = data.dataset(workload.data, events, 20240611, cache.resolve())
    sources = workload.sources(dataset.folder)
    query = harness.Query(f"{workload.name}:udf-process", workload.emitted_sql("udf"))
    rec = _Recorder()
    restore = rec.time_bundles()
    click.echo(f"{workload.name}, {events:,} events, options {options}")
    try:
        _runs(rec, runs, sources, query, options, workload.setup("udf"))
    finally:
        rec.stop()
        restore()


def _runs(rec: _Recorder, runs: int, sources, query, options, setup) -> None:  # type: ignore[no-untyped-def]
    for run in range(1, runs + 1):
        if run == 2:
            rec.start([harness.jvm_pid(), os.getpid()])  # the JVM starts with the first run
        start = time.perf_counter()
        result = harness.run(sources, [query], options=options, setup=setup)
        end = time.perf_counter()
        click.echo(
            f"run {run}/{runs}: {result.rate:,.0f} ev/s, {result.cpu_us_per_event:.1f} CPU-µs/event, "
            f"job {result.seconds:.1f} s of {end - start:.1f} s"
        )
        if run == runs:
            time.sleep(SAMPLE_S * 2)  # one more sample after the run
            _report(rec, start, end, click.echo)


if __name__ == "__main__":
    main()
