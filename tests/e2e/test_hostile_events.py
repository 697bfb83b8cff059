"""Hostile records on the real Kafka + Flink cluster: the job keeps running and loses no valid event.

A submitted job (sensors) reads a batch of hostile records produced between
valid ones: an int beyond 64 bits, JSON nested 50,000 deep, a 5,000-digit
number, bytes that are not UTF-8 in the value and in the key, NaN and
Infinity, a lone surrogate, a byte-order mark, a 10 MB value, records without
a key (kafka-python cannot send a record with neither key nor value). The
JVM validator (ONTOC_VALIDATE_EVENT) must skip each of them: the job stays
RUNNING without a restart, the view equals the Python oracle over the valid
events, and the invalid count is exact in the metric and in the
invalid-events topic.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from kafka import KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from ontoc.backend.flink.job import build_job
from ontoc.events import final_documents, read_events
from ontoc.job_settings import job_for_package
from ontoc.oracle import import_definitions, view_rows
from ontoc.pipeline import compile_definitions
from ontoc.runtime.cluster import submit as cluster_submit
from ontoc.runtime.cluster.kafka import KafkaConnection
from ontoc.runtime.cluster.rest import FlinkRest

from ..conftest import DEFINITIONS
from ..support.compare import diff_views
from .support import Event, TopicReader, upsert, wait_until, write_jsonl

pytestmark = pytest.mark.services

P = "hostile:"
DEVICES = "sensor_devices"
VIEW = "sensor_device_stats"
BIG = 10 * 1024 * 1024
MAX_BYTES = 16 * 1024 * 1024
SETTLE_S = 120.0


def _device(**changes: object) -> dict:
    return {"site": f"{P}site-1", "a": 7, "b": 2, "x": 1.5, **changes}


def _raw(key: bytes | None, value: bytes | None) -> Event:
    """A record only Kafka sees (never part of the oracle's input)."""
    return Event(DEVICES, None if key is None else key.decode("utf-8", "replace"), value, "")


def _with(field: str, raw_json: str) -> bytes:
    doc = json.dumps(_device())
    return (doc[:-1] + f', "{field}": {raw_json}}}').encode("utf-8", "surrogatepass")


KEY = f"{P}dev-1".encode()
HOSTILE: list[tuple[bytes | None, bytes | None]] = [
    (KEY, _with("a", str(2**64))),  # int beyond 64 bits
    (KEY, _with("label", "[" * 50_000 + "]" * 50_000)),  # nested 50,000 deep
    (KEY, _with("x", "1" * 5_000)),  # a 5,000-digit number
    (KEY, json.dumps(_device(label="\u00e9")).encode().replace(b"\\u00e9", b"\xff\xfe")),  # value not UTF-8
    (b"\xff" + KEY, json.dumps(_device()).encode()),  # key not UTF-8
    (KEY, _with("x", "NaN")),
    (KEY, _with("x", "Infinity")),
    (KEY, json.dumps(_device(label="\ud800")).encode()),  # a lone surrogate
    (KEY, b"\xef\xbb\xbf" + json.dumps(_device()).encode()),  # a byte-order mark
    (KEY, json.dumps(_device(label=1, pad="z" * BIG)).encode()),  # 10 MB, and `label` is no str
    (None, json.dumps(_device()).encode()),  # no key
]


def _produce(bootstrap: str, events: list[Event], raw_keys: dict[int, bytes | None]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=MAX_BYTES)
    try:
        for i, e in enumerate(events):
            key = raw_keys[i] if i in raw_keys else (None if e.key is None else e.key.encode())
            producer.send(e.topic, key=key, value=e.value).get(60)  # in order, and fail loudly
        producer.flush(60)
    finally:
        producer.close(10)


def _allow_big_records(bootstrap: str, topic: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": str(MAX_BYTES)})]
        )
    finally:
        admin.close()


def test_hostile_records_are_skipped_and_counted_and_the_job_keeps_running(cluster, tmp_path):
    definitions = DEFINITIONS / "sensors"
    compiled = compile_definitions(definitions)
    rest = FlinkRest(cluster.rest_url)
    name = f"e2e-hostile-{int(time.time())}"
    job = replace(job_for_package("sensors"), name=name, checkpoint_interval_ms=2000, create_topics=True)
    kafka = KafkaConnection(cluster.bootstrap)
    spec = build_job(compiled.plans, compiled.schema.models, job, kafka.options())
    done = cluster_submit.submit(compiled, spec, cluster.rest_url, kafka, progress=lambda _m: None)
    views = TopicReader(cluster.bootstrap, VIEW)
    invalid_topic = TopicReader(cluster.bootstrap, spec.invalid_topic)
    try:
        _allow_big_records(cluster.bootstrap, DEVICES)
        valid = [
            upsert("sensor_sites", f"{P}site-1", {"name": "north", "offset": 3}),
            upsert(DEVICES, f"{P}dev-1", _device()),
            upsert(DEVICES, f"{P}dev-2", _device(a=10, b=3)),
            upsert("sensor_readings", f"{P}r-1", {"device": f"{P}dev-1", "value": 2.5, "count": 4}),
        ]
        after = [
            upsert(DEVICES, f"{P}dev-2", _device(a=-9, b=4, label="after")),
            upsert(DEVICES, f"{P}dev-3", _device(x=-0.5)),
        ]
        events = valid + [_raw(k, v) for k, v in HOSTILE] + after
        raw_keys = {len(valid) + i: k for i, (k, _) in enumerate(HOSTILE)}
        _produce(cluster.bootstrap, events, raw_keys)

        documents = final_documents(
            read_events(list(compiled.schema.models.values()), write_jsonl(valid + after, tmp_path))[0]
        )
        classes = import_definitions(compiled.schema)
        forward = view_rows(compiled.schema, classes, documents)[VIEW]
        backward = view_rows(compiled.schema, classes, documents, reverse=True)[VIEW]
        assert sorted(forward) == [f"{P}dev-1", f"{P}dev-2", f"{P}dev-3"]

        def settled():
            views.poll()
            return not diff_views(views.state(P), forward, backward)

        ok = wait_until(settled, SETTLE_S)
        views.drain()
        problems = diff_views(views.state(P), forward, backward)
        assert ok and not problems, "\n".join(problems[:30])

        def of_this_job():
            invalid_topic.poll()
            return [v for _, v, _ in invalid_topic.records if v and v["job"] == name]

        assert wait_until(lambda: len(of_this_job()) >= len(HOSTILE), 60), of_this_job()
        time.sleep(3)
        mine = of_this_job()
        assert len(mine) == len(HOSTILE), [(r["key"], r["reason"]) for r in mine]
        assert all(r["reason"] and len(r["value"] or "") <= 10_003 for r in mine), mine
        assert wait_until(
            lambda: rest.operator_metric_total(done.job_id, "ontoc_invalid_events") == len(HOSTILE), 30
        ), rest.operator_metric_total(done.job_id, "ontoc_invalid_events")

        assert rest.state(done.job_id) == "RUNNING"
        restarts = rest.get(f"/jobs/{done.job_id}/metrics?get=numRestarts")
        assert [m["value"] for m in restarts] == ["0"], restarts
    finally:
        views.close()
        invalid_topic.close()
        try:
            if rest.state(done.job_id) not in ("CANCELED", "FAILED", "FINISHED"):
                rest.cancel(done.job_id)
            rest.wait_for_state(done.job_id, {"CANCELED"}, timeout=30)
        except Exception:
            pass
