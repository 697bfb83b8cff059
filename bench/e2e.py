"""Part 4: end to end on a real Kafka broker and Flink cluster (`ontoc.devenv.services`), through `ontoc submit`.

Per run (a delivery guarantee and a target rate):

1. a copy of `workloads/e2e_probe` with its topics suffixed by the run, so each run starts from
   empty topics; compiled; 1,000 customers produced; the job submitted with `ontoc.runtime.cluster.submit`
   (the same statements as `ontoc submit`: Kafka source, ONTOC_VALIDATE_EVENT, keep-last
   deduplication, the compiled INSERT, an upsert-kafka sink with the job's delivery guarantee);
2. a consumer thread reads the view topic (`read_committed` for exactly-once) and notes when each
   view record arrives;
3. the producer sends order upserts at the target rate, each carrying `stamp` = the producer's
   `time.time()` at send; the view echoes it (getter `stamp`), so latency = arrival of the first
   view record with that stamp - stamp (one clock: same machine). A warm-up (not counted) comes first;
4. after the window, the run waits for the stragglers (up to three checkpoint intervals + 30 s).

A rate is *sustained* when every event of the window reached the view and the latency did not
grow during the window (median latency of its last fifth - of its first fifth < max(1 s, 10% of
the window)). The peak sustained rate is the highest sustained rate of the ladder, which stops
at the first rate that is not.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from . import stats
from .workloads import WORKLOADS

logging.getLogger("kafka").setLevel(logging.ERROR)
PROBE = WORKLOADS / "e2e_probe"
CUSTOMERS = 1_000
ORDER_KEYS = 20_000
CHECKPOINT_MS = 10_000  # ontoc's default (jobs/*.toml)


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
    shutil.copytree(PROBE, target, ignore=shutil.ignore_patterns("__pycache__"))
    for path in target.glob("*.py"):
        text = re.sub(r'topic = "(e2e_\w+)"', lambda m: f'topic = "{m.group(1)}_{suffix}"', path.read_text())
        path.write_text(text)
    return target


class ViewReader(threading.Thread):
    """Reads the view topic from the beginning; keeps the first arrival time of every stamp."""

    def __init__(self, bootstrap: str, topic: str, read_committed: bool):
        super().__init__(daemon=True)
        from kafka import KafkaConsumer, TopicPartition

        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=10,
            isolation_level="read_committed" if read_committed else "read_uncommitted",
        )
        self.partition = TopicPartition(topic, 0)
        self.arrived: dict[float, float] = {}
        self.records = 0
        self.stop = threading.Event()

    def run(self) -> None:
        self.consumer.assign([self.partition])
        self.consumer.seek_to_beginning(self.partition)
        while not self.stop.is_set():
            batch = self.consumer.poll(timeout_ms=50, max_records=10_000)
            now = time.time()
            for records in batch.values():
                for r in records:
                    self.records += 1
                    if r.value is None:
                        continue
                    stamp = json.loads(r.value).get("stamp")
                    if stamp is not None and stamp not in self.arrived:
                        self.arrived[stamp] = now
        self.consumer.close()


def _produce_at(producer, topic: str, rate: int, seconds: float, rnd, first_key: int = 0) -> list[float]:
    """Order upserts at `rate` per second for `seconds`; returns the stamps sent."""
    stamps = []
    t0 = time.time()
    sent = 0
    while True:
        now = time.time()
        if now - t0 >= seconds:
            break
        due = int((now - t0) * rate) - sent
        for _ in range(due):
            stamp = time.time()
            key = f"o{(first_key + sent) % ORDER_KEYS}"
            doc = {
                "customer": f"c{rnd.randrange(CUSTOMERS)}",
                "amount": rnd.randrange(100, 90_000) / 100,
                "stamp": stamp,
            }
            producer.send(topic, key=key.encode(), value=json.dumps(doc).encode())
            stamps.append(stamp)
            sent += 1
        time.sleep(0.002)
    producer.flush(30)
    return stamps


def one_run(
    cluster: dict,
    delivery: str,
    rate: int,
    seconds: float,
    run_id: str,
    tmp: Path,
    say: Callable[[str], None],
    extra_config: dict[str, str] | None = None,
) -> dict:
    import random

    from kafka import KafkaProducer
    from ontoc.backend.flink.job import build_job
    from ontoc.job_settings import default_job
    from ontoc.pipeline import compile_definitions
    from ontoc.runtime.cluster.kafka import KafkaConnection
    from ontoc.runtime.cluster.rest import FlinkRest
    from ontoc.runtime.cluster.submit import submit

    package = probe_package(tmp, run_id)
    compiled = compile_definitions(package)
    topics = {m.name: m.topic for m in compiled.schema.models.values()}
    view_topic = compiled.plans[0].topic
    job = replace(
        default_job(f"bench-{run_id}"),
        checkpoint_interval_ms=CHECKPOINT_MS,
        delivery_guarantee=delivery,
        start_offsets="earliest",
        restart_attempts=0,
    )
    kafka = KafkaConnection(cluster["bootstrap"])
    rnd = random.Random(run_id)
    producer = KafkaProducer(bootstrap_servers=cluster["bootstrap"], acks="all", linger_ms=2, batch_size=64 * 1024)
    rest = FlinkRest(cluster["rest"])
    with _job_config(extra_config or {}):
        spec = build_job(compiled.plans, compiled.schema.models, job, kafka.options())
        submitted = submit(compiled, spec, cluster["rest"], kafka, progress=lambda m: None)
    reader = ViewReader(cluster["bootstrap"], view_topic, delivery == "exactly-once")
    try:
        for i in range(CUSTOMERS):
            producer.send(
                topics["Customer"],
                key=f"c{i}".encode(),
                value=json.dumps({"name": f"Customer {i}", "tier": rnd.choice(["gold", "silver"])}).encode(),
            )
        producer.flush(30)
        reader.start()
        warm = _produce_at(producer, topics["Order"], rate, min(5.0, seconds / 3), rnd)
        t_start = time.time()
        stamps = _produce_at(producer, topics["Order"], rate, seconds, rnd, first_key=len(warm))
        t_end = time.time()
        deadline = time.time() + 3 * CHECKPOINT_MS / 1000 + 30
        while time.time() < deadline and any(s not in reader.arrived for s in stamps[-50:]):
            time.sleep(0.2)
        time.sleep(0.5)
        missing = sum(1 for s in stamps if s not in reader.arrived)
        latencies = [(s, (reader.arrived[s] - s) * 1000) for s in stamps if s in reader.arrived]
    finally:
        reader.stop.set()
        reader.join(10)
        producer.close(10)
        try:
            rest.cancel(submitted.job_id)
            rest.wait_for_state(submitted.job_id, {"CANCELED", "FAILED", "FINISHED"}, timeout=60)
        except Exception:
            pass
    result = {
        "delivery": delivery,
        "target_rate": rate,
        "config": extra_config or {},
        "sent": len(stamps),
        "sent_rate": len(stamps) / (t_end - t_start),
        "received": len(latencies),
        "missing": missing,
        "view_records": reader.records,
        "job_id": submitted.job_id,
    }
    if latencies:
        values = sorted(v for _, v in latencies)
        q = lambda p: values[min(len(values) - 1, int(p * len(values)))]  # noqa: E731
        result["latency_ms"] = {
            "p50": round(q(0.5), 1),
            "p99": round(q(0.99), 1),
            "max": round(values[-1], 1),
            "min": round(values[0], 1),
        }
        fifth = max(1, len(latencies) // 5)
        first = stats.summary([v for _, v in latencies[:fifth]])["median"]
        last = stats.summary([v for _, v in latencies[-fifth:]])["median"]
        result["latency_growth_ms"] = round(last - first, 1)
        # exactly-once latency is a saw-tooth of one checkpoint interval (a record is visible when its
        # transaction commits): two fifths of the window may sit at different phases of it
        allowed = max(1000.0, 0.1 * seconds * 1000) + (CHECKPOINT_MS if delivery == "exactly-once" else 0)
        result["sustained"] = missing == 0 and (last - first) < allowed
    else:
        result["sustained"] = False
    result["producer_bound"] = result["sent_rate"] < 0.9 * rate
    say(
        f"[e2e] {delivery} {rate:,}/s: sent {result['sent_rate']:,.0f}/s, received {len(latencies):,}/{len(stamps):,}, "
        f"latency {result.get('latency_ms')}, sustained {result['sustained']}"
    )
    return result


@contextlib.contextmanager
def _job_config(extra: dict[str, str]):
    """Add settings to the configuration `ontoc submit` builds (a what-if; ontoc itself is unchanged)."""
    from ontoc.runtime.cluster import submit as submit_module

    if not extra:
        yield
        return
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


# what-if: PyFlink's default bundle time (ontoc sets 50 ms, jobs' `python_bundle_time`); ONTOC_VALIDATE_EVENT
# is a Python operator, so a record may wait this long in it
WHAT_IF = {"python.fn-execution.bundle.time": "1000"}


def run(cfg: dict, say: Callable[[str], None]) -> dict:
    from ontoc.devenv import services

    required = cfg["e2e_rates"]
    ladder = sorted(set(required) | {r for r in (2_000, 5_000, 20_000, 40_000) if cfg["name"] != "tiny"})
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
    cluster = {"bootstrap": f"127.0.0.1:{kafka_port}", "rest": f"http://127.0.0.1:{flink_port}"}
    say(f"[e2e] Kafka and Flink up in {time.monotonic() - t0:.0f} s")
    out = {
        "status": "ok",
        "workload": "e2e_probe",
        "seconds_per_rate": cfg["e2e_seconds"],
        "checkpoint_interval_ms": CHECKPOINT_MS,
        "runs": [],
        "peak": {},
    }
    try:
        n = 0
        for delivery in ("at-least-once", "exactly-once"):
            peak = None
            for rate in ladder:
                n += 1
                try:
                    r = one_run(cluster, delivery, rate, cfg["e2e_seconds"], f"r{n}", tmp, say)
                except Exception as e:
                    r = {
                        "delivery": delivery,
                        "target_rate": rate,
                        "error": str(e)[:500],
                        "sustained": False,
                        "sent_rate": 0,
                        "received": 0,
                    }
                    say(f"[e2e] {delivery} {rate:,}/s failed: {e}")
                out["runs"].append(r)
                if r.get("producer_bound"):
                    # the Python producer could not send this rate: higher rates would measure it, not ontoc
                    out.setdefault("producer_limit", {})[delivery] = round(r["sent_rate"])
                    break
                if r.get("sustained"):
                    peak = rate
                elif rate >= max(required):
                    break
            out["peak"][delivery] = peak
        n += 1
        rate = min(cfg["e2e_rates"])
        try:
            r = one_run(cluster, "at-least-once", rate, cfg["e2e_seconds"], f"r{n}", tmp, say, WHAT_IF)
            r["what_if"] = True
            out["runs"].append(r)
        except Exception as e:  # ontoc.runtime.cluster.submit changed under the what-if
            say(f"[e2e] what-if {WHAT_IF} failed: {e}")
    finally:
        services.down(state, progress=lambda m: None)
        shutil.rmtree(tmp, ignore_errors=True)
    return out
