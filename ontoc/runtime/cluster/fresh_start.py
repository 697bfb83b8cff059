"""The pieces of `ontoc deploy`'s fresh-start path: a staging copy of the job, catch-up, and the switch of rows.

A new version whose state cannot be restored recomputes every view from the earliest offsets. It does so
as a second job, `<job>.v<N>`, writing to staging topics `<view topic>.v<N>` while the running job keeps
serving the view topics; the switch then makes each view topic hold exactly the staging topic's rows
(`converge`: changed rows written, keys the new version no longer has tombstoned) and the new version
goes on, from the staging job's savepoint, writing to the view topics themselves. docs/runtime.md,
"Changing views in production", says why and what consumers see.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from dataclasses import replace

from sqlglot import exp

from ...backend.flink.job import JobSpec
from .errors import SubmitError
from .kafka import KafkaConnection, consumer, kafka_python_config, quiet_kafka, read_to_end
from .rest import FlinkRest, FlinkRestError

Rows = dict[bytes, bytes]  # a compacted topic's live rows: key -> value (tombstones folded away)
Offsets = dict[tuple[str, int], int]

_CURRENT_OFFSET = re.compile(r"\.KafkaSourceReader\.topic\.(.+)\.partition\.(\d+)\.currentOffset$")


def staging_suffix() -> str:
    """`v<N>`: N is the UTC time of the deploy, so that two deploys never share a staging topic."""
    return "v" + time.strftime("%Y%m%d%H%M%S", time.gmtime())


def staging_spec(spec: JobSpec, suffix: str) -> JobSpec:
    """The same job writing each view to `<topic>.<suffix>`, under the job name `<name>.<suffix>`.

    Only the sinks' `topic` option changes (the tables keep their names), so the job graph, and with it
    the operators' state, is the one the final job restores from this job's savepoint. Exactly-once sinks
    (the invalid-events one too) also get `<prefix>.<suffix>` as their transactional id prefix: Kafka
    fences the older producer of a transactional id, so sharing the running job's ids would fail it."""
    staged = {t: f"{t}.{suffix}" for t in spec.view_topics}

    def retarget(node: exp.Expression) -> exp.Expression:
        if type(node) is not exp.Property or node.args.get("value") is None:
            return node
        value = node.args["value"].name
        if node.this.name == "topic" and value in staged:
            return exp.Property(this=node.this.copy(), value=exp.Literal.string(staged[value]))
        if node.this.name == "sink.transactional-id-prefix":
            return exp.Property(this=node.this.copy(), value=exp.Literal.string(f"{value}.{suffix}"))
        return node

    statements = []
    for statement in spec.statements:
        table = statement.find(exp.Table)
        sink = isinstance(statement, exp.Create) and table is not None
        statements.append(statement.transform(retarget) if sink else statement)
    settings = replace(spec.settings, name=f"{spec.settings.name}.{suffix}", start_offsets="earliest")
    return replace(
        spec, settings=settings, statements=tuple(statements), view_topics=tuple(staged[t] for t in spec.view_topics)
    )


# -- Kafka ------------------------------------------------------------------------------------------


def end_offsets(kafka: KafkaConnection, topics: list[str]) -> Offsets:
    """Each partition's end offset now: where the new job has caught up to the present."""
    from kafka import TopicPartition
    from kafka.errors import KafkaError

    with quiet_kafka():
        try:
            reader = consumer(kafka)
            try:
                tps = [TopicPartition(t, p) for t in topics for p in sorted(reader.partitions_for_topic(t) or ())]
                return {(tp.topic, tp.partition): n for tp, n in reader.end_offsets(tps).items()}
            finally:
                reader.close()
        except KafkaError as e:
            raise SubmitError(f"cannot read the end offsets of {', '.join(topics)}: {type(e).__name__}: {e}") from None


def read_rows(kafka: KafkaConnection, topic: str, timeout_s: float = 120.0) -> Rows:
    """A compacted topic's live rows, read from the beginning to the end offsets of now."""
    rows: Rows = {}
    for r in read_to_end(kafka, topic, timeout_s):
        if r.key is None:
            continue
        if r.value is None:
            rows.pop(r.key, None)
        else:
            rows[r.key] = r.value
    return rows


def undo_since(kafka: KafkaConnection, topic: str, since: Offsets, timeout_s: float = 120.0) -> int:
    """Give every key written to `topic` at or after the offsets `since` the value it had before them (a
    tombstone where it had none): what a version that failed after the switch wrote is taken back, so the
    previous version, restored from its savepoint at `since`, goes on from its own rows. Returns the keys."""

    before: Rows = {}
    touched: set[bytes] = set()
    for r in read_to_end(kafka, topic, timeout_s):
        if r.key is None:
            continue
        if r.offset >= since.get((topic, r.partition), 0):
            touched.add(r.key)
        elif r.value is None:
            before.pop(r.key, None)
        else:
            before[r.key] = r.value
    _send(kafka, topic, [(key, before.get(key)) for key in sorted(touched)])
    return len(touched)


def converge(kafka: KafkaConnection, topic: str, target: Rows, current: Rows) -> tuple[int, int]:
    """Make `topic` (now holding `current`) hold `target`: write the rows that differ, tombstone the keys
    `target` does not have. Returns (rows written, tombstones). A key live in both is overwritten, never
    deleted, so a consumer never misses it."""
    changed = [(k, v) for k, v in sorted(target.items()) if current.get(k) != v]
    stale = sorted(set(current) - set(target))
    _send(kafka, topic, [*changed, *((key, None) for key in stale)])
    return len(changed), len(stale)


def _send(kafka: KafkaConnection, topic: str, records: list[tuple[bytes, bytes | None]]) -> None:
    """Write keyed records (None: a tombstone). The producer's default partitioner hashes the key as Flink's
    upsert-kafka sink does (murmur2), so a row lands in the partition its key's rows are in."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    if not records:
        return
    with quiet_kafka():
        try:
            producer = KafkaProducer(**{"acks": "all", "linger_ms": 20, **kafka_python_config(kafka)})
            try:
                for key, value in records:
                    producer.send(topic, key=key, value=value)
                producer.flush(120)
            finally:
                producer.close(10)
        except KafkaError as e:
            raise SubmitError(f"cannot write to the topic {topic}: {type(e).__name__}: {e}") from None


def delete_topics(kafka: KafkaConnection, topics: list[str]) -> None:
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError, UnknownTopicOrPartitionError

    if not topics:
        return
    with quiet_kafka():
        try:
            admin = KafkaAdminClient(
                **{"client_id": "ontoc-deploy", "request_timeout_ms": 30_000, **kafka_python_config(kafka)}
            )
            try:
                existing = set(admin.list_topics())
                gone = [t for t in topics if t in existing]
                if gone:
                    admin.delete_topics(gone, timeout_ms=30_000)
            finally:
                admin.close()
        except UnknownTopicOrPartitionError:
            pass
        except KafkaError as e:
            raise SubmitError(f"cannot delete the topics {', '.join(topics)}: {type(e).__name__}: {e}") from None


# -- catch-up ---------------------------------------------------------------------------------------


def source_positions(rest: FlinkRest, job_id: str) -> Offsets:
    """How far the job's Kafka source has read, per partition: the next offset it will read
    (Flink's `KafkaSourceReader...currentOffset` is the last record's offset; -1 before any)."""
    out: Offsets = {}
    try:
        for vertex in rest.job(job_id).get("vertices", []):
            path = f"/jobs/{job_id}/vertices/{vertex['id']}/subtasks/metrics"
            names = [m["id"] for m in rest.get(path) if _CURRENT_OFFSET.search(m["id"])]
            if not names:
                continue
            for m in rest.get(f"{path}?get={urllib.parse.quote(','.join(names), safe=',')}"):
                found = _CURRENT_OFFSET.search(m["id"])
                if not found:
                    continue
                value = max(float(m.get(k, -1)) for k in ("max", "value") if k in m) if m else -1.0
                key = (found.group(1), int(found.group(2)))
                out[key] = max(out.get(key, 0), int(value) + 1)
    except (FlinkRestError, ValueError, KeyError):
        pass
    return out


def committed_offsets(kafka: KafkaConnection, group: str) -> Offsets:
    """The offsets the job committed on its checkpoints (its consumer group is the job name)."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    with quiet_kafka():
        try:
            admin = KafkaAdminClient(
                **{"client_id": "ontoc-deploy", "request_timeout_ms": 10_000, **kafka_python_config(kafka)}
            )
            try:
                found = admin.list_group_offsets(group).get(group) or {}
            finally:
                admin.close()
        except KafkaError:
            return {}
    return {(tp.topic, tp.partition): meta.offset for tp, meta in found.items()}


def behind(ends: Offsets, *readings: Offsets) -> int:
    """Records the job has still to read to reach `ends`, by the best of the readings."""
    return sum(max(0, end - max((r.get(tp, 0) for r in readings), default=0)) for tp, end in ends.items())
