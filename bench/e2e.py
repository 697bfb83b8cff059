"""Part 4: end to end on a real Kafka broker and Flink cluster (`ontoc.devenv.services`): ontoc's job and an expert's.

Per run (a job, a delivery guarantee and a target rate):

1. a copy of `workloads/e2e_probe` with its topics suffixed by the run, so each run starts from
   empty topics; compiled; 1,000 customers produced; then one job submitted:
   - `ontoc`: with `ontoc.runtime.cluster.submit` (the same statements as `ontoc submit`: Kafka
     source, ONTOC_VALIDATE_EVENT, keep-last deduplication, the compiled INSERT, an upsert-kafka
     sink with the job's delivery guarantee);
   - `expert`: `workloads/e2e_probe/expert.sql`, the same view written by hand (upsert-kafka JSON
     sources that skip bad records with Flink's format options, an upsert-kafka sink), with the
     same Flink configuration and table options (state backend, checkpoints) as ontoc's job;
2. the JVM probe (`jvm/probe`, Java: neither producing nor reading is the bound) sends order
   upserts at the target rate, each carrying `stamp` = its send time; the view echoes it, and the
   probe's consumer thread notes when each stamp first reaches the view topic (`read_committed` for
   exactly-once). Latency = arrival - stamp (one process, one clock). A warm-up (not counted) first;
3. after the window, the probe waits for the stragglers (up to three checkpoint intervals + 30 s).

A rate is *sustained* when every event of the window reached the view, the latency did not
grow during the window (median latency of its last fifth - of its first fifth < max(1 s, 10% of
the window), plus one checkpoint interval for exactly-once) and its p99 stayed within
LATENCY_BOUND_MS (plus one checkpoint interval for exactly-once): the growth alone let a job that
fell behind pass within a 15 s window. The ladder runs both jobs at each rate, one job at a time; a
job leaves it at its first rate >= the mode's highest required rate that it does not sustain (with
`--e2e-rates`, at its first rate not sustained). The TaskManager's CPU time per event is measured
beside each run (steadier than rates on a shared machine).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .workloads import WORKLOADS

logging.getLogger("kafka").setLevel(logging.ERROR)
PROBE = WORKLOADS / "e2e_probe"
EXPERT_SQL = PROBE / "expert.sql"
REPO = Path(__file__).resolve().parents[1]
PROBE_PROJECT = REPO / "jvm" / "probe"
PROBE_BUILD = REPO / ".cache" / "build" / "probe"
PROBE_CLASS = "dev.ontoc.bench.E2eProbe"
CUSTOMERS = 1_000
ORDER_KEYS = 20_000
CHECKPOINT_MS = 10_000  # ontoc's default (jobs/*.toml)
# p99 latency a sustained rate stays within (plus one checkpoint interval for exactly-once, whose records
# become visible when their transaction commits)
LATENCY_BOUND_MS = 3_000
JOBS = ("ontoc", "expert")
DELIVERIES = ("at-least-once", "exactly-once")
# what-ifs (`--e2e-jobs`): ontoc's job with a setting added to the configuration `submit` builds
WHAT_IFS = {"ontoc+object-reuse": {"pipeline.object-reuse": "true"}}


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def probe_package(folder: Path, suffix: str) -> Path:
    """workloads/e2e_probe with every topic renamed `<topic>_<suffix>`."""
    target = folder / f"e2e_probe_{suffix}"
    shutil.copytree(PROBE, target, ignore=shutil.ignore_patterns("__pycache__", "*.sql"))
    for path in target.glob("*.py"):
        text = re.sub(r'topic = "(e2e_\w+)"', lambda m: f'topic = "{m.group(1)}_{suffix}"', path.read_text())
        path.write_text(text)
    return target


def probe_jar(say: Callable[[str], None]) -> Path:
    """`jvm/probe` built with Maven when its jar is missing or older than its sources."""
    jar = PROBE_BUILD / "ontoc-probe.jar"
    sources = [PROBE_PROJECT / "pom.xml", *(PROBE_PROJECT / "src").rglob("*.java")]
    if jar.is_file() and jar.stat().st_mtime > max(p.stat().st_mtime for p in sources):
        return jar
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven (mvn) is needed to build bench part 4's probe (jvm/probe)")
    say("[e2e] building jvm/probe with Maven")
    cmd = [mvn, "-B", "-q", "-f", str(PROBE_PROJECT / "pom.xml"), "package", f"-Dontoc.build.dir={PROBE_BUILD}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0 or not jar.is_file():
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return jar


def run_probe(cluster: dict, timeout: float, **args: Any) -> dict:
    """The JVM probe (`mode=rate` or `mode=fill`, jvm/probe): its one JSON line."""
    cp = f"{cluster['probe_jar']}{os.pathsep}{cluster['kafka_classpath']}"
    cmd = [cluster["java"], "-Xmx512m", "-cp", cp, PROBE_CLASS, f"bootstrap={cluster['bootstrap']}"]
    cmd += [f"{k}={v}" for k, v in args.items()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"the probe failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None."""
    if not pid:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def jit_cpu_seconds(pid: int | None) -> float | None:
    """CPU time of a JVM's JIT compiler threads (`C1 CompilerThre`, `C2 CompilerThre`; Linux /proc), or None.

    Every submitted job loads its jars (the Kafka connector, ontoc's functions) and its generated code in
    its own class loader, so the JIT compiles them again for each job: in a 20 s run that was 30-40% of
    the TaskManager's CPU (and more for the first job after the TaskManager started), the same for both jobs.
    """
    if not pid:
        return None
    total = 0.0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                if "CompilerThre" not in (task / "comm").read_text():
                    continue
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # the thread ended
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None
    return total


def thread_cpu_seconds(pid: int | None) -> dict[str, float]:
    """CPU time of a process's threads by name (Linux /proc `comm`, 15 characters, digits dropped: Flink's task
    threads are `Source: <table>`, `Deduplicate[5]`..., so a name groups one operator chain's thread), or {}."""
    from .harness import cpu_seconds_per_thread

    out: dict[str, float] = {}
    for (_, name), cpu in cpu_seconds_per_thread(pid).items() if pid else ():
        key = re.sub(r"[0-9]+", "", name)
        out[key] = out.get(key, 0.0) + cpu
    return out


def expert_statements(
    topics: dict[str, str], view_topic: str, bootstrap: str, sink: list[tuple[str, str]]
) -> list[str]:
    """expert.sql with the run's topics, bootstrap servers and sink guarantee; one string per statement."""
    text = "\n".join(line for line in EXPERT_SQL.read_text().splitlines() if not line.lstrip().startswith("--"))
    values = {
        "{bootstrap}": bootstrap,
        "{customers_topic}": topics["Customer"],
        "{orders_topic}": topics["Order"],
        "{view_topic}": view_topic,
        "{sink_guarantee}": ",\n  ".join(f"'{k}' = '{v}'" for k, v in sink),
    }
    for k, v in values.items():
        text = text.replace(k, v)
    return [s.strip() for s in text.split(";") if s.strip()]


def submit_expert(spec: Any, statements: list[str], cluster: str, say: Callable[[str], None]) -> str:
    """The expert's statements with the Flink configuration and table options `ontoc submit` gives its job."""
    from ontoc.runtime.cluster import submit as submit_module
    from ontoc.runtime.cluster.rest import FlinkRest

    jars = submit_module._connector_jar(say)
    t_env = submit_module._table_env(submit_module._config(spec.settings, cluster, jars, None, False, False))
    for key, value in spec.table_options:
        t_env.get_config().set(key, value)
    for statement in statements[:-1]:
        t_env.execute_sql(statement)
    stmt_set = t_env.create_statement_set()
    stmt_set.add_insert_sql(statements[-1])
    job_id = str(stmt_set.execute().get_job_client().get_job_id())
    submit_module._wait_started(FlinkRest(cluster), job_id, spec.settings, 90.0)
    return job_id


def one_run(
    cluster: dict,
    kind: str,
    delivery: str,
    rate: int,
    seconds: float,
    run_id: str,
    tmp: Path,
    say: Callable[[str], None],
    warmup: float | None = None,
) -> dict:
    """One job at one rate: submit, produce the customers, run the probe (`warmup` seconds at the rate before
    its window; default a third of the window, at most 5 s), cancel."""
    import random

    from kafka import KafkaProducer

    from ontoc.backend.flink.job import build_job, sink_options
    from ontoc.job_settings import default_job
    from ontoc.pipeline import compile_definitions
    from ontoc.runtime.cluster.kafka import KafkaConnection, ensure_topics
    from ontoc.runtime.cluster.rest import FlinkRest
    from ontoc.runtime.cluster.submit import submit

    package = probe_package(tmp, run_id)
    compiled = compile_definitions(package)
    topics = {m.name: m.topic for m in compiled.schema.models.values()}
    view_topic = compiled.plans[0].topic
    job = replace(
        default_job(f"bench-{run_id}-{kind.replace('+', '-')}"),
        checkpoint_interval_ms=CHECKPOINT_MS,
        delivery_guarantee=delivery,
        start_offsets="earliest",
        restart_attempts=0,
    )
    kafka = KafkaConnection(cluster["bootstrap"])
    rnd = random.Random(run_id)
    rest = FlinkRest(cluster["rest"])
    spec = build_job(compiled.plans, compiled.schema.models, job, kafka.options())
    warmup = min(5.0, seconds / 3) if warmup is None else warmup
    if kind == "ontoc" or kind in WHAT_IFS:
        with _job_config(WHAT_IFS.get(kind, {})):
            job_id = submit(compiled, spec, cluster["rest"], kafka, progress=lambda m: None).job_id
    else:
        ensure_topics(kafka, spec.topics(), job.topic_partitions, job.topic_replication, lambda m: None)
        statements = expert_statements(topics, view_topic, cluster["bootstrap"], sink_options(job, "order_views"))
        job_id = submit_expert(spec, statements, cluster["rest"], lambda m: None)
    try:
        producer = KafkaProducer(bootstrap_servers=cluster["bootstrap"], acks="all", linger_ms=2)
        for i in range(CUSTOMERS):
            doc = {"name": f"Customer {i}", "tier": rnd.choice(["gold", "silver"])}
            producer.send(topics["Customer"], key=f"c{i}".encode(), value=json.dumps(doc).encode())
        producer.flush(30)
        producer.close(10)
        cpu0 = cpu_seconds(cluster.get("taskmanager_pid"))
        jit0 = jit_cpu_seconds(cluster.get("taskmanager_pid"))
        threads0 = thread_cpu_seconds(cluster.get("taskmanager_pid"))
        probe = run_probe(
            cluster,
            timeout=seconds + 5 + 3 * CHECKPOINT_MS / 1000 + 120,
            mode="rate",
            orders_topic=topics["Order"],
            view_topic=view_topic,
            rate=rate,
            warmup=warmup,
            seconds=seconds,
            straggle=3 * CHECKPOINT_MS / 1000 + 30,
            keys=ORDER_KEYS,
            customers=CUSTOMERS,
            seed=rnd.randrange(2**31),
            read_committed=str(delivery == "exactly-once").lower(),
        )
        cpu1 = cpu_seconds(cluster.get("taskmanager_pid"))
        jit1 = jit_cpu_seconds(cluster.get("taskmanager_pid"))
        threads1 = thread_cpu_seconds(cluster.get("taskmanager_pid"))
    finally:
        try:
            rest.cancel(job_id)
            rest.wait_for_state(job_id, {"CANCELED", "FAILED", "FINISHED"}, timeout=60)
        except Exception:
            pass
    result = {"job": kind, "delivery": delivery, "target_rate": rate, "job_id": job_id, "warmup_s": warmup, **probe}
    result["config"] = WHAT_IFS.get(kind, {})
    if cpu0 is not None and cpu1 is not None and probe["received"]:
        # the whole probe (warm-up, window, stragglers): every event it sent passed the job
        events = probe["sent"] + int(warmup * rate)
        result["taskmanager_cpu_us_per_event"] = round((cpu1 - cpu0) / events * 1e6, 1)
        if jit0 is not None and jit1 is not None:
            # the job's own work: the TaskManager without its JIT compiler threads (see jit_cpu_seconds)
            result["taskmanager_jit_us_per_event"] = round((jit1 - jit0) / events * 1e6, 1)
            result["taskmanager_cpu_us_per_event_without_jit"] = round((cpu1 - cpu0 - jit1 + jit0) / events * 1e6, 1)
        # per thread name (a task's thread, the source's fetcher, RocksDB, GC...): where the job's CPU goes
        per_thread = {k: round((v - threads0.get(k, 0.0)) / events * 1e6, 1) for k, v in threads1.items()}
        result["thread_cpu_us_per_event"] = dict(
            sorted(((k, v) for k, v in per_thread.items() if v >= 0.5), key=lambda kv: -kv[1])
        )
    if probe["received"]:
        growth = probe["last_fifth_median_ms"] - probe["first_fifth_median_ms"]
        result["latency_growth_ms"] = round(growth, 1)
        # exactly-once latency is a saw-tooth of one checkpoint interval (a record is visible when its
        # transaction commits): two fifths of the window may sit at different phases of it
        commit_wait = CHECKPOINT_MS if delivery == "exactly-once" else 0
        allowed = max(1000.0, 0.1 * seconds * 1000) + commit_wait
        # a job behind the producer can keep its latency's growth under `allowed` within a 15 s window (the
        # exactly-once slack alone is 10 s), so its p99 must also stay within the latency bound
        result["latency_bound_ms"] = LATENCY_BOUND_MS + commit_wait
        p99 = probe.get("latency_ms", {}).get("p99", float("inf"))
        result["sustained"] = probe["missing"] == 0 and growth < allowed and p99 <= result["latency_bound_ms"]
    else:
        result["sustained"] = False
    result["producer_bound"] = result["sent_rate"] < 0.9 * rate
    say(
        f"[e2e] {kind} {delivery} {rate:,}/s: sent {result['sent_rate']:,.0f}/s, received "
        f"{probe['received']:,}/{probe['sent']:,}, latency {probe.get('latency_ms')}, "
        f"TM CPU {result.get('taskmanager_cpu_us_per_event')} us/event "
        f"({result.get('taskmanager_jit_us_per_event')} of it JIT), sustained {result['sustained']}"
    )
    if result.get("thread_cpu_us_per_event"):
        say(f"[e2e]   CPU us/event by thread: {result['thread_cpu_us_per_event']}")
    return result


@contextlib.contextmanager
def _job_config(extra: dict[str, str]):
    """Add settings to the configuration `ontoc submit` builds (a what-if; ontoc itself is unchanged)."""
    from ontoc.runtime.cluster import submit as submit_module

    original = submit_module._config

    def patched(*args, **kwargs):
        conf = original(*args, **kwargs)
        for k, v in extra.items():
            conf.set_string(k, v)
        return conf

    submit_module._config = patched
    try:
        yield
    finally:
        submit_module._config = original


WARMUP_RATE = 10_000
WARMUP_SECONDS = 15.0


def warm_up(
    cluster: dict, jobs: tuple[str, ...], deliveries: tuple[str, ...], tmp: Path, say: Callable[[str], None]
) -> list[dict]:
    """One short unmeasured run of each job at each delivery on the fresh cluster, its figures kept apart.

    The first job on a new TaskManager also pays the JIT compilation of Flink's own code (RocksDB,
    network stack, serializers), which later jobs share: measured at 4,000 ev/s under load, the first
    run cost 1.6-2.2x the TaskManager CPU per event of the same job later, and ran seconds behind.
    Part 4 ran `ontoc` first at every rate, so that cost fell on ontoc's job alone (see `run_order`).
    The same holds for the first runs at a high rate, exactly-once above all: with a warm-up at 2,000 ev/s,
    at-least-once only, the job that ran exactly-once first at 12,500-15,000 ev/s fell seconds behind in
    three of five trials, whichever job it was (its JIT compiler threads took 20-24 µs per event, 1-3 in
    later runs), and a warm-up at 2,000 ev/s exactly-once did not prevent it in the one trial that had one.
    Hence the warm-up at the rate of the required steps, at each delivery."""
    runs = []
    for delivery in deliveries:
        for kind in jobs:
            try:
                run_id = f"w{kind}{delivery[0]}".replace("+", "-")
                r = one_run(cluster, kind, delivery, WARMUP_RATE, WARMUP_SECONDS, run_id, tmp, say)
            except Exception as e:  # the measured runs report their own failures
                r = {"job": kind, "delivery": delivery, "error": str(e)[:500]}
            runs.append(r)
    return runs


def run_order(jobs: tuple[str, ...], turn: int) -> tuple[str, ...]:
    """The jobs in turn, reversed at every other rate (counted over both guarantees): neither job always runs
    first, on a TaskManager whose JIT has seen less of the work (its CPU per event fell with each run)."""
    return jobs if turn % 2 == 0 else tuple(reversed(jobs))


def ladder(cfg: dict) -> list[int]:
    """The required rates, and steps up to where a 2-core machine cannot follow (finer in --full)."""
    extra = {
        "tiny": (),
        "quick": (5_000, 7_500, 12_500, 15_000, 20_000, 30_000, 40_000, 60_000, 80_000),
        "full": (2_000, 5_000, 7_500, 12_500, 15_000, 20_000, 25_000, 30_000, 40_000, 50_000, 60_000, 80_000),
    }
    if cfg.get("e2e_only_rates"):
        return sorted(cfg["e2e_rates"])
    return sorted(set(cfg["e2e_rates"]) | set(extra.get(cfg["name"], extra["full"])))


def held(sustained: int, trials: int) -> bool:
    """A rate counts as a job's when it sustained it in more than half its trials: on 2 cores shared with the
    broker and the probe one 15-second window passes or fails by a few hundred milliseconds of p99."""
    return 2 * sustained > trials


def guarded_run(
    cluster: dict, kind: str, delivery: str, rate: int, cfg: dict, run_id: str, tmp: Path, say: Callable[[str], None]
) -> dict:
    """`one_run`, a failure (submission, probe) reported as a run not sustained."""
    try:
        return one_run(cluster, kind, delivery, rate, cfg["e2e_seconds"], run_id, tmp, say, cfg.get("e2e_warmup"))
    except Exception as e:
        say(f"[e2e] {kind} {delivery} {rate:,}/s failed: {e}")
        r = {"job": kind, "delivery": delivery, "target_rate": rate, "error": str(e)[:500]}
        return r | {"sustained": False, "sent_rate": 0, "received": 0, "config": {}}


def run(cfg: dict, say: Callable[[str], None]) -> dict:
    from ontoc.devenv import processes, services
    from ontoc.jvm.jars import ensure_jars

    try:
        jar = probe_jar(say)
        kafka_classpath = ensure_jars(progress=lambda m: None).kafka_classpath
        java, _ = services.find_java()
    except Exception as e:
        return {"status": "failed", "reason": f"the JVM probe cannot be built: {e}"}
    tmp = Path(tempfile.mkdtemp(prefix="ontoc-bench-e2e-"))
    state = tmp / "services"
    kafka_port, controller, flink_port, rpc = free_ports(4)
    t0 = time.monotonic()
    try:
        services.up(
            state,
            kafka_port=kafka_port,
            flink_port=flink_port,
            progress=lambda m: None,
            kafka_controller_port=controller,
            flink_rpc_port=rpc,
        )
    except Exception as e:  # Java, jars, ports
        services.down(state, progress=lambda m: None)
        return {"status": "failed", "reason": f"services.up failed: {e}"}
    cluster = {
        "bootstrap": f"127.0.0.1:{kafka_port}",
        "rest": f"http://127.0.0.1:{flink_port}",
        "probe_jar": str(jar),
        "kafka_classpath": kafka_classpath,
        "java": java,
        "taskmanager_pid": processes.read_pid(processes.layout(state), "taskmanager"),
    }
    say(f"[e2e] Kafka and Flink up in {time.monotonic() - t0:.0f} s")
    out: dict[str, Any] = {
        "status": "ok",
        "workload": "e2e_probe",
        "producer": "jvm/probe (Java)",
        "seconds_per_rate": cfg["e2e_seconds"],
        "checkpoint_interval_ms": CHECKPOINT_MS,
        "runs": [],
        "peak": {},
        "ratio": {},
    }
    try:
        n = turn = 0
        jobs = tuple(cfg.get("e2e_jobs") or JOBS)
        trials = cfg.get("e2e_trials", 1)
        out["trials_per_rate"] = trials
        deliveries = tuple(cfg.get("e2e_deliveries") or DELIVERIES)
        out["warmup"] = warm_up(cluster, jobs, deliveries, tmp, say)
        for delivery in deliveries:
            peak: dict[str, int | None] = {kind: None for kind in jobs}
            passes: dict[str, dict[int, str]] = {kind: {} for kind in jobs}
            stopped: set[str] = set()  # a job past its peak: not sustained at a rate >= the highest required
            for rate in ladder(cfg):
                sustained = {kind: 0 for kind in jobs}
                for _ in range(trials):
                    turn += 1
                    for kind in run_order(jobs, turn):
                        if kind in stopped:
                            continue
                        n += 1
                        r = guarded_run(cluster, kind, delivery, rate, cfg, f"r{n}", tmp, say)
                        out["runs"].append(r)
                        if r.get("producer_bound"):
                            out.setdefault("producer_limit", {})[delivery] = round(r["sent_rate"])
                        sustained[kind] += bool(r.get("sustained"))
                for kind in jobs:
                    if kind in stopped:
                        continue
                    passes[kind][rate] = f"{sustained[kind]}/{trials}"
                    if held(sustained[kind], trials):
                        peak[kind] = rate
                    elif rate >= max(cfg["e2e_rates"]) or cfg.get("e2e_only_rates"):
                        stopped.add(kind)
                if stopped == set(jobs):
                    break
                if delivery in out.get("producer_limit", {}):
                    break
            out["peak"][delivery] = peak
            out.setdefault("sustained_trials", {})[delivery] = passes
            if peak.get("ontoc") and peak.get("expert"):
                out["ratio"][delivery] = round(peak["ontoc"] / peak["expert"], 2)
    finally:
        services.down(state, progress=lambda m: None)
        shutil.rmtree(tmp, ignore_errors=True)
    return out
