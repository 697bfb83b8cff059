"""Where Kafka is and how to talk to it (from configuration, never from a job file), and the job's topics."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...backend.flink.ddl import KafkaOptions
from ...devenv.services import DEFAULT_KAFKA_PORT, HOST
from ...secrets import remember
from .errors import SubmitError

DEFAULT_BOOTSTRAP = f"{HOST}:{DEFAULT_KAFKA_PORT}"  # `ontoc dev up`


@dataclass(frozen=True)
class KafkaConnection:
    """Where Kafka is and how to talk to it: from configuration, never from a job file."""

    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    properties: tuple[tuple[str, str], ...] = ()  # Kafka client properties (security.protocol, ...)
    # where ontoc itself reaches Kafka to create topics, when that differs from where the
    # TaskManagers reach it (docker-compose: localhost:9092 from the host, kafka:19092 inside)
    admin_bootstrap_servers: str | None = None

    def options(self) -> KafkaOptions:
        return KafkaOptions(bootstrap_servers=self.bootstrap_servers, properties=tuple(self.properties))


class KafkaPropertiesError(ValueError):
    """Malformed Kafka properties (bad input: `ontoc submit` exits 2); names where, never the text, which may
    hold a secret."""


def parse_properties(pairs: list[str] | tuple[str, ...], file: Path | str | None = None) -> tuple[tuple[str, str], ...]:
    """`k=v` strings (and a Java .properties file) -> ordered, de-duplicated pairs (later wins).

    The values of secret properties are remembered for `ontoc.secrets.redact`."""
    out: dict[str, str] = {}
    if file:
        path = Path(file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise KafkaPropertiesError(f"cannot read the Kafka properties file {path} ({e.strerror})") from None
        except UnicodeDecodeError:
            raise KafkaPropertiesError(f"the Kafka properties file {path} is not UTF-8 text") from None
        joined: list[tuple[int, str]] = []  # (first line number, logical line)
        buf, first = "", 0
        for n, line in enumerate(lines, 1):  # a trailing backslash continues the line, as in Java
            s = line.strip()
            if not buf and (not s or s.startswith(("#", "!"))):
                continue
            first = first or n
            if s.endswith("\\") and not s.endswith("\\\\"):
                buf += s[:-1]
                continue
            joined.append((first, buf + s))
            buf, first = "", 0
        if buf:
            joined.append((first, buf))
        for n, s in joined:
            k, sep, v = _split_property(s)
            if not sep or not k:
                raise KafkaPropertiesError(
                    f"{path}: line {n} is not `key=value` (its text is not shown: it may hold a secret)"
                )
            out[k] = v
    for i, p in enumerate(pairs, 1):
        k, sep, v = _split_property(p)
        if not sep or not k:
            raise KafkaPropertiesError(f"--kafka-property must be key=value: the {_ordinal(i)} one is not")
        out[k] = v
    for k in list(out):
        if k == "bootstrap.servers":
            raise KafkaPropertiesError(
                "set the bootstrap servers with --bootstrap-servers (or ONTOC_KAFKA_BOOTSTRAP), not as a Kafka property"
            )
    remember(out.items())
    return tuple(out.items())


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _split_property(text: str) -> tuple[str, str, str]:
    i = min([j for j in (text.find("="), text.find(":")) if j >= 0], default=-1)
    if i < 0:
        return text.strip(), "", ""
    return text[:i].strip(), "=", text[i + 1 :].strip()


_PYTHON_KAFKA = {
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "ssl.endpoint.identification.algorithm": None,  # handled below
    "client.id": "client_id",
    "request.timeout.ms": "request_timeout_ms",
}


def kafka_python_config(kafka: KafkaConnection) -> dict:
    """kafka-python keyword arguments for the Java-style properties ontoc understands.

    Mapped: security.protocol, sasl.mechanism, sasl.jaas.config (PLAIN/SCRAM
    username and password), ssl.truststore.location with ssl.truststore.type=PEM,
    ssl.endpoint.identification.algorithm. Anything else raises SubmitError
    (only topic creation needs this; the Flink job takes every property)."""
    props = dict(kafka.properties)
    cfg: dict = {"bootstrap_servers": (kafka.admin_bootstrap_servers or kafka.bootstrap_servers).split(",")}
    unknown = []
    for k, v in props.items():
        if k in ("security.protocol", "sasl.mechanism", "client.id"):
            cfg[_PYTHON_KAFKA[k]] = v
        elif k == "request.timeout.ms":
            cfg["request_timeout_ms"] = int(v)
        elif k == "sasl.jaas.config":
            import re

            user = re.search(r'username\s*=\s*"([^"]*)"', v)
            pw = re.search(r'password\s*=\s*"([^"]*)"', v)
            if not (user and pw):
                unknown.append(k)
                continue
            cfg["sasl_plain_username"], cfg["sasl_plain_password"] = user.group(1), pw.group(1)
        elif k == "ssl.truststore.location" and props.get("ssl.truststore.type", "").upper() == "PEM":
            cfg["ssl_cafile"] = v
        elif k == "ssl.truststore.type" and v.upper() == "PEM":
            continue
        elif k == "ssl.endpoint.identification.algorithm":
            cfg["ssl_check_hostname"] = bool(v.strip())
        else:
            unknown.append(k)
    if unknown:
        raise SubmitError(
            f"cannot create the job's topics: ontoc's Kafka admin client does not understand "
            f"{', '.join(sorted(unknown))}; create the topics yourself and set `create_topics = false` "
            f"in the job file (the Flink job itself takes every Kafka property)"
        )
    return cfg


def ensure_topics(
    kafka: KafkaConnection,
    topics: list[str],
    partitions: int = 1,
    replication: int = 1,
    progress: Callable[[str], object] = print,
    timeout_s: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created."""
    import logging

    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    cfg = kafka_python_config(kafka)
    log = logging.getLogger("kafka")
    old = log.level
    log.setLevel(logging.CRITICAL)  # kafka-python logs every refused connection
    try:
        try:
            admin = KafkaAdminClient(**{"client_id": "ontoc-submit", "request_timeout_ms": 10_000, **cfg})
        except KafkaError as e:
            where = kafka.admin_bootstrap_servers or kafka.bootstrap_servers
            flag = "--admin-bootstrap-servers" if kafka.admin_bootstrap_servers else "--bootstrap-servers"
            raise SubmitError(
                f"cannot reach Kafka at {where} to create the job's topics ({_kafka_error(e)}); check {flag}"
            ) from None
        try:
            existing = set(admin.list_topics())
            missing = [t for t in topics if t not in existing]
            if missing:
                try:
                    admin.create_topics(
                        [NewTopic(t, partitions, replication) for t in missing], timeout_ms=int(timeout_s * 1000)
                    )
                except TopicAlreadyExistsError:
                    pass
                progress(
                    f"created topic(s) {', '.join(missing)} ({partitions} partition(s), replication {replication})"
                )
            return missing
        except KafkaError as e:
            raise SubmitError(
                f"Kafka at {kafka.bootstrap_servers} refused to list or create the topics "
                f"{', '.join(topics)}: {_kafka_error(e)}"
            ) from None
        finally:
            admin.close()
    finally:
        log.setLevel(old)


def _kafka_error(e: Exception) -> str:
    text = str(e)
    name = type(e).__name__
    return text if text.startswith(name) else f"{name}: {text}"


@contextmanager
def quiet_kafka() -> Iterator[None]:
    log = logging.getLogger("kafka")
    old = log.level
    log.setLevel(logging.CRITICAL)  # kafka-python logs every refused connection
    try:
        yield
    finally:
        log.setLevel(old)


def consumer(kafka: KafkaConnection) -> Any:
    """A consumer that reads committed records only: an exactly-once job's open or aborted transactions
    are not rows (and the end offsets it reports are the last stable ones)."""
    from kafka import KafkaConsumer

    config = {"enable_auto_commit": False, "consumer_timeout_ms": 1000, "isolation_level": "read_committed"}
    return KafkaConsumer(**{**config, **kafka_python_config(kafka)})


def read_to_end(kafka: KafkaConnection, topic: str, timeout_s: float = 120.0) -> Iterator[Any]:
    """Every committed record of `topic`, from the beginning up to each partition's end offset as of the call
    (kafka-python `ConsumerRecord`s: key, value, partition, offset); none when there is no such topic.
    The one loop behind the deployments topic's records, a view topic's rows and the undoing of a write."""
    from kafka import TopicPartition
    from kafka.errors import KafkaError

    with quiet_kafka():
        try:
            reader = consumer(kafka)
        except KafkaError as e:
            raise SubmitError(f"cannot read the topic {topic}: {type(e).__name__}: {e}") from None
        try:
            tps = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
            if not tps:
                return
            reader.assign(tps)
            reader.seek_to_beginning(*tps)
            end = reader.end_offsets(tps)
            deadline = time.monotonic() + timeout_s
            while any(reader.position(tp) < end[tp] for tp in tps):
                if time.monotonic() > deadline:
                    raise SubmitError(f"timed out reading the topic {topic}")
                for tp, records in reader.poll(timeout_ms=1000, max_records=10_000).items():
                    yield from (r for r in records if r.offset < end[tp])
        except KafkaError as e:
            raise SubmitError(f"cannot read the topic {topic}: {type(e).__name__}: {e}") from None
        finally:
            reader.close()
