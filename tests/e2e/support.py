"""Helpers of the end-to-end tests: events to Kafka and to `.jsonl`, views read back and compacted,
the Python oracle and `ontoc run --local` on the same events."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from ontoc.events import final_documents, read_events
from ontoc.oracle import import_definitions, view_rows
from ontoc.pipeline import Compiled
from ontoc.runtime.embedded.compiled import run_folder

from ..support.compare import diff_views, same, same_multiset
from ..support.strategies import json_text

logging.getLogger("kafka").setLevel(logging.ERROR)


# --------------------------------------------------------------------------
# events: one list, two renderings (Kafka records and the local runner's .jsonl lines)


@dataclass(frozen=True)
class Event:
    topic: str
    key: str | None
    value: bytes | None  # the Kafka record value (None = tombstone)
    line: str  # the same event as a line of <topic>.jsonl


def upsert(topic: str, key: str, doc: dict) -> Event:
    return Event(topic, key, json_text(doc).encode(), json_text({"key": key, "value": doc}))


def delete(topic: str, key: str) -> Event:
    return Event(topic, key, None, json.dumps({"key": key, "value": None}))


def not_json(topic: str, key: str, text: str = "{not json") -> Event:
    """A value that is not JSON (the .jsonl line embeds the same text, so it is not JSON either)."""
    return Event(topic, key, text.encode(), f'{{"key": {json.dumps(key)}, "value": {text}}}')


def no_key(topic: str, doc: dict) -> Event:
    return Event(topic, None, json.dumps(doc).encode(), json.dumps({"key": None, "value": doc}))


def from_strategy(events: list[tuple[str, str, dict | None]]) -> list[Event]:
    """Events drawn by tests/support/strategies.py: (topic, key, value or None)."""
    return [delete(t, k) if v is None else upsert(t, k, v) for t, k, v in events]


def random_events(schema, rnd, prefix: str, n: int) -> list[Event]:
    """`n` seeded-random change events over every model of `schema`: upserts of random documents
    (values from the same pools as tests/support/strategies.py) and one in six a delete."""
    from ..support.strategies import BASE_FLOATS, IDS_PER_MODEL, EventStrategies, doc_id

    pools = EventStrategies(schema)
    models = sorted(schema.models.values(), key=lambda m: m.topic)

    def scalar(dtype):
        if dtype.nullable and rnd.random() < 0.15:
            return None
        kind = dtype.kind
        if kind == "str":
            return rnd.choice(pools.strings)
        if kind == "int":
            return rnd.choice(pools.ints) if rnd.random() < 0.6 else rnd.randint(-50, 50)
        if kind == "float":
            return rnd.choice(BASE_FLOATS) if rnd.random() < 0.6 else round(rnd.uniform(-1000, 1000), 3)
        if kind == "bool":
            return rnd.random() < 0.5
        if kind == "decimal":  # written as their own number text (`1.50`, `1E+3`, `-0.0`): `json_text`
            return rnd.choice(pools.decimals)
        if kind == "list":
            return [scalar(dtype.elem) for _ in range(rnd.randint(0, 3))]
        raise NotImplementedError(kind)

    out = []
    for _ in range(n):
        model = rnd.choice(models)
        key = doc_id(prefix, model, rnd.randrange(IDS_PER_MODEL))
        if rnd.random() < 1 / 6:
            out.append(delete(model.topic, key))
            continue
        doc = {}
        for name, f in model.fields.items():
            if f.has_default and not f.ref and rnd.random() < 0.3:
                continue  # the default applies
            if f.ref:
                target = schema.models[f.ref]
                doc[name] = rnd.choice(
                    [doc_id(prefix, target, i) for i in range(IDS_PER_MODEL)] + [f"{prefix}missing", None]
                )
            else:
                doc[name] = scalar(f.dtype)
        out.append(upsert(model.topic, key, doc))
    return out


def produce(bootstrap: str, events: list[Event]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for e in events:
            producer.send(e.topic, key=None if e.key is None else e.key.encode(), value=e.value)
        producer.flush(30)
    finally:
        producer.close(10)


def write_jsonl(events: list[Event], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines: dict[str, list[str]] = {}
    for e in events:
        lines.setdefault(e.topic, []).append(e.line)
    for topic, text in lines.items():
        (folder / f"{topic}.jsonl").write_text("\n".join(text) + "\n", encoding="utf-8")
    return folder


# --------------------------------------------------------------------------
# views read back from Kafka


class TopicReader:
    """Reads a topic from the beginning, incrementally; keeps every record and the compacted state."""

    def __init__(self, bootstrap: str, topic: str, *, read_committed: bool = False) -> None:
        self.topic = topic
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed" if read_committed else "read_uncommitted",
            consumer_timeout_ms=1000,
        )
        self.records: list[tuple[str | None, dict | None, float]] = []  # key, value, time read
        self.partitions: dict[str | None, set[int]] = {}  # the partitions each key's records were in
        self._assigned = False

    def _assign(self) -> bool:
        parts = self.consumer.partitions_for_topic(self.topic)
        if not parts:
            return False
        tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)
        self._assigned = True
        return True

    def poll(self) -> int:
        if not self._assigned and not self._assign():
            return 0
        n = 0
        batch = self.consumer.poll(timeout_ms=500, max_records=5000)
        now = time.monotonic()
        for records in batch.values():
            for r in records:
                key = r.key.decode() if r.key is not None else None
                value = json.loads(r.value) if r.value is not None else None
                self.records.append((key, value, now))
                self.partitions.setdefault(key, set()).add(r.partition)
                n += 1
        return n

    def drain(self) -> None:
        while self.poll():
            pass

    def state(self, prefix: str = "") -> dict[str, dict]:
        out: dict[str, dict] = {}
        for key, value, _ in self.records:
            if key is None or not key.startswith(prefix):
                continue
            if value is None:
                out.pop(key, None)
            else:
                out[key] = value
        return out

    def close(self) -> None:
        self.consumer.close()


def wait_until(check, timeout: float, interval: float = 0.5, what: str = "condition"):
    """Call `check()` until it returns a truthy value; the last value on timeout (falsy)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# --------------------------------------------------------------------------
# oracle and local runner


@dataclass
class Expected:
    forward: dict[str, dict[str, dict]]  # view topic -> key -> row
    backward: dict[str, dict[str, dict]]
    local: dict[str, dict[str, dict]]  # `ontoc run --local` on the same events
    invalid_local: int
    sort_info: dict[str, dict[str, tuple[list[str], bool]]]


def oracle(compiled: Compiled, definitions: Path, events: list[Event]) -> dict[str, dict[str, dict]]:
    """The Python oracle's views after `events` (no Flink): view topic -> key -> row."""
    with tempfile.TemporaryDirectory(prefix="ontoc-e2e-") as tmp:
        folder = write_jsonl(events, Path(tmp) / "in")
        valid, _ = read_events(list(compiled.schema.models.values()), folder)
    classes = import_definitions(compiled.schema)
    return view_rows(compiled.schema, classes, final_documents(valid))


def expected_views(compiled: Compiled, definitions: Path, events: list[Event]) -> Expected:
    with tempfile.TemporaryDirectory(prefix="ontoc-e2e-") as tmp:
        folder = write_jsonl(events, Path(tmp) / "in")
        valid, invalid = read_events(list(compiled.schema.models.values()), folder)
        local = run_folder(compiled, folder, Path(tmp) / "out")
    documents = final_documents(valid)
    classes = import_definitions(compiled.schema)
    forward = view_rows(compiled.schema, classes, documents)
    backward = view_rows(compiled.schema, classes, documents, reverse=True)
    sort_info = {
        p.topic: {f.name: (list(f.sort_keys), f.reverse) for f in p.fields if f.sort_keys} for p in compiled.plans
    }
    assert len(local.invalid) == len(invalid)
    return Expected(forward, backward, local.views, len(invalid), sort_info)


def only(rows: dict[str, dict], prefix: str) -> dict[str, dict]:
    return {k: v for k, v in rows.items() if k.startswith(prefix)}


def differences(topic: str, got: dict[str, dict], expected: Expected, prefix: str) -> list[str]:
    """What differs between the rows read from Kafka and the oracle, and the local run and the oracle."""
    fwd, bwd = only(expected.forward[topic], prefix), only(expected.backward[topic], prefix)
    problems = [f"kafka {topic}: {p}" for p in diff_views(got, fwd, bwd, expected.sort_info[topic])]
    local = only(expected.local[topic], prefix)
    problems += [f"local {topic}: {p}" for p in diff_views(local, fwd, bwd, expected.sort_info[topic])]
    if set(got) != set(local):
        problems.append(f"kafka vs local {topic}: keys {sorted(set(got) ^ set(local))} in only one of them")
    for key in sorted(set(got) & set(local) & set(fwd)):
        for name in fwd[key]:
            g, loc = got[key].get(name), local[key].get(name)
            order_free = not same(fwd[key][name], bwd[key][name])
            ok = same_multiset(g, loc) if order_free and isinstance(g, list) and isinstance(loc, list) else same(g, loc)
            if not ok:
                problems.append(f"kafka vs local {topic}.{key}.{name}: {g!r} != {loc!r}")
    return problems
