"""Part 6: a view whose state is several times the TaskManager's heap, to the end, on RocksDB.

`ontoc.devenv.services.up` on free ports with a deliberately small TaskManager (`TM_MEMORY`, in place
of `dev up`'s quarter of the machine), the `workloads/e2e_probe` view submitted as `ontoc submit`
does (`state_backend = "rocksdb"`, ontoc's default; `restart_attempts = 0`, so any failure ends the
job), then the JVM probe (`jvm/probe`, `mode=fill`) produces N customers with names of P random
letters and one order per customer. Every customer's row is held by the job several times over
(the keep-last deduplication, the join, the sink's materializer), so the state grows past the heap.

Measured: the TaskManager's heap (its memory configuration, from the REST API) against the size of a
checkpoint taken after the view is complete (`state_size`: the full state; incremental checkpoints
upload less); the job is still RUNNING with no restart and no exception; the view topic holds
exactly N live keys; every 1,000th order's view row equals the oracle's (`ontoc.oracle`) for its
live order and customer, read back from the topics.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import e2e

TM_MEMORY = "1280m"  # the TaskManager's process size for this part: a heap of a few hundred MB
SAMPLE = 1_000  # spot-check every SAMPLE-th order against the oracle


@contextlib.contextmanager
def _small_taskmanager(size: str):
    """`services.up` sizes the TaskManager from the machine; this part wants a small one."""
    from ontoc.devenv import services

    original = services.taskmanager_memory
    services.taskmanager_memory = lambda physical_bytes=None: size  # type: ignore[assignment]
    try:
        yield
    finally:
        services.taskmanager_memory = original


def _end_offset(bootstrap: str, topic: str) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tp = TopicPartition(topic, 0)
        return consumer.end_offsets([tp])[tp]
    finally:
        consumer.close()


def _source_records(rest: Any, job_id: str) -> int:
    """Records the job's source vertex has emitted (its `write-records`)."""
    info = rest.job(job_id)
    sources = [v for v in info.get("vertices", []) if "Source" in v.get("name", "")]
    return sum(v.get("metrics", {}).get("write-records", 0) for v in sources)


def _heap(rest: Any) -> dict:
    tms = rest.get("/taskmanagers").get("taskmanagers", [])
    detail = rest.get(f"/taskmanagers/{tms[0]['id']}")
    mem = detail.get("memoryConfiguration", {})
    return {
        "process_bytes": mem.get("totalProcessMemory"),
        "heap_bytes": (mem.get("frameworkHeap") or 0) + (mem.get("taskHeap") or 0),
        "managed_bytes": mem.get("managedMemory"),
    }


def _checkpoint_after(rest: Any, job_id: str, after_ms: int, timeout: float) -> dict | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        latest = (rest.get(f"/jobs/{job_id}/checkpoints").get("latest") or {}).get("completed") or {}
        if latest.get("latest_ack_timestamp", 0) > after_ms:
            return latest
        time.sleep(1)
    return None


def run(cfg: dict, say: Callable[[str], None]) -> dict:
    from ontoc.backend.flink.job import build_job
    from ontoc.devenv import processes, services
    from ontoc.job_settings import default_job
    from ontoc.jvm.jars import ensure_jars
    from ontoc.oracle import import_definitions, view_rows
    from ontoc.pipeline import compile_definitions
    from ontoc.runtime.cluster.kafka import KafkaConnection
    from ontoc.runtime.cluster.rest import FlinkRest
    from ontoc.runtime.cluster.submit import submit

    keys, pad = cfg["big_state_keys"], cfg["big_state_pad"]
    try:
        jar = e2e.probe_jar(say)
        kafka_classpath = ensure_jars(progress=lambda m: None).kafka_classpath
        java, _ = services.find_java()
    except Exception as e:
        return {"status": "failed", "reason": f"the JVM probe cannot be built: {e}"}
    tmp = Path(tempfile.mkdtemp(prefix="ontoc-bench-state-"))
    state = tmp / "services"
    kafka_port, controller, flink_port, rpc = e2e.free_ports(4)
    try:
        with _small_taskmanager(TM_MEMORY):
            services.up(
                state,
                kafka_port=kafka_port,
                flink_port=flink_port,
                progress=lambda m: None,
                kafka_controller_port=controller,
                flink_rpc_port=rpc,
            )
    except Exception as e:
        services.down(state, progress=lambda m: None)
        return {"status": "failed", "reason": f"services.up failed: {e}"}
    cluster = {
        "bootstrap": f"127.0.0.1:{kafka_port}",
        "probe_jar": str(jar),
        "kafka_classpath": kafka_classpath,
        "java": java,
    }
    rest = FlinkRest(f"http://127.0.0.1:{flink_port}")
    tm_pid = processes.read_pid(processes.layout(state), "taskmanager")
    out: dict[str, Any] = {"status": "ok", "keys": keys, "name_chars": pad, "taskmanager_process": TM_MEMORY}
    try:
        package = e2e.probe_package(tmp, "big")
        compiled = compile_definitions(package)
        topics = {m.name: m.topic for m in compiled.schema.models.values()}
        view_topic = compiled.plans[0].topic
        job = replace(
            default_job("bench-big-state"),
            checkpoint_interval_ms=e2e.CHECKPOINT_MS,
            start_offsets="earliest",
            restart_attempts=0,
        )
        out["state_backend"] = job.state_backend
        kafka = KafkaConnection(cluster["bootstrap"])
        spec = build_job(compiled.plans, compiled.schema.models, job, kafka.options())
        t0 = time.monotonic()
        job_id = submit(compiled, spec, str(rest.base), kafka, progress=lambda m: None).job_id
        out["heap"] = _heap(rest)
        fill = e2e.run_probe(
            cluster,
            timeout=1800,
            mode="fill",
            customers=keys,
            pad=pad,
            customers_topic=topics["Customer"],
            orders_topic=topics["Order"],
        )
        out["produce_seconds"] = round(fill["seconds"], 1)
        say(f"[state] produced {keys:,} customers of {pad} characters and {keys:,} orders in {fill['seconds']:.0f} s")
        # done: the source has read every event and the view topic stopped growing
        cpu0 = e2e.cpu_seconds(tm_pid)
        deadline = time.monotonic() + cfg["big_state_timeout"]
        last, still_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            if rest.job(job_id).get("state") != "RUNNING":
                break
            read, end = _source_records(rest, job_id), _end_offset(cluster["bootstrap"], view_topic)
            if end != last:
                last, still_since = end, time.monotonic()
            if read >= 2 * keys and end >= keys and time.monotonic() - still_since > 15:
                break
            time.sleep(2)
        out["seconds_to_complete"] = round(time.monotonic() - t0, 1)
        cpu1 = e2e.cpu_seconds(tm_pid)
        if cpu0 is not None and cpu1 is not None:
            out["taskmanager_cpu_seconds"] = round(cpu1 - cpu0, 1)
        checkpoint = _checkpoint_after(rest, job_id, int(time.time() * 1000), 3 * e2e.CHECKPOINT_MS / 1000 + 60)
        if checkpoint:
            out["checkpoint"] = {
                "state_size": checkpoint.get("state_size"),
                "checkpointed_size": checkpoint.get("checkpointed_size"),
                "duration_ms": checkpoint.get("end_to_end_duration"),
            }
            out["state_over_heap"] = round(checkpoint["state_size"] / out["heap"]["heap_bytes"], 2)
        info = rest.job(job_id)
        restarts = rest.get(f"/jobs/{job_id}/metrics?get=numRestarts")
        history = rest.get(f"/jobs/{job_id}/exceptions").get("exceptionHistory", {}).get("entries", [])
        out["job"] = {
            "state": info.get("state"),
            "restarts": int(restarts[0]["value"]) if restarts else None,
            "exceptions": len(history),
        }
        check = e2e.run_probe(
            cluster,
            timeout=600,
            mode="check",
            sample=SAMPLE,
            view_topic=view_topic,
            orders_topic=topics["Order"],
            customers_topic=topics["Customer"],
        )
        documents = {
            topics["Order"]: {k: v for k, v in check["orders"].items() if v is not None},
            topics["Customer"]: {k: v for k, v in check["customers"].items() if v is not None},
        }
        expected = view_rows(compiled.schema, import_definitions(compiled.schema), documents)[view_topic]
        wrong = [k for k in sorted(check["views"]) if check["views"][k] != expected.get(k)]
        out["view"] = {
            "records": check["view_records"],
            "live_keys": check["view_live_keys"],
            "expected_keys": keys,
            "spot_checked": len(check["views"]),
            "spot_check_wrong": wrong[:10],
        }
        out["ok"] = (
            out["job"]["state"] == "RUNNING"
            and out["job"]["restarts"] == 0
            and out["job"]["exceptions"] == 0
            and check["view_live_keys"] == keys
            and not wrong
        )
        say(f"[state] {json.dumps({k: out.get(k) for k in ('heap', 'checkpoint', 'job', 'view', 'ok')})}")
        with contextlib.suppress(Exception):
            rest.cancel(job_id)
    finally:
        services.down(state, progress=lambda m: None)
        shutil.rmtree(tmp, ignore_errors=True)
    return out
