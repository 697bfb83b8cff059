"""Job settings: `jobs/<package>.toml`, one Flink job per definitions package.

A job file holds how the views of one package run on a cluster, never where
(the cluster and Kafka come from configuration: `--cluster` /
`ONTOC_FLINK_REST`, `--bootstrap-servers` / `ONTOC_KAFKA_BOOTSTRAP`, and
`--kafka-property` for security settings). Every key is optional:

    name = "ontoc-meeting_room"          # Flink job name; also the Kafka consumer group
    parallelism = 1                      # of every operator
    checkpoint_interval = "10s"          # "500ms", "10s", "2min", "1h"; "off" disables checkpoints
    delivery_guarantee = "at-least-once" # or "exactly-once" (Kafka transactions, needs checkpoints)
    transactional_id_prefix = "..."      # exactly-once only; default "<name>-tx"
    start_offsets = "earliest"           # earliest | latest | committed (the group's offsets, else earliest)
    invalid_events_topic = "ontoc_invalid_events"   # "" = count invalid events in the metric only
    restart_attempts = 10                # fixed-delay restarts after a failure, then the job fails
    restart_delay = "5s"
    create_topics = true                 # create missing source / view / invalid-events topics at submit
    topic_partitions = 1                 # partitions of the topics `create_topics` creates
    topic_replication = 1                # their replication factor
    python_executable = "/usr/bin/python3"  # Python of the TaskManagers' UDF workers (default: the cluster's)
    mini_batch = "auto"                  # auto (on when a view aggregates a `many` collection) | on | off
    mini_batch_latency = "1s"            # how long changes are buffered when mini-batch is on
    python_bundle_time = "50ms"          # longest a record waits in a Python operator's bundle
    sink_buffer = "100ms"                # the view sinks keep each key's last row this long ("off": write each)
    state_backend = "rocksdb"            # rocksdb (on disk, incremental checkpoints) | hashmap (on the heap)

`load_job(path)` reads and checks a file; every error names the file and the
key and says what is accepted, in plain words (`JobFileError`).
`job_for_package(name, jobs_dir)` is the package's file if it exists, else the
defaults.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

DELIVERY_GUARANTEES = ("at-least-once", "exactly-once")
MINI_BATCH = ("auto", "on", "off")
STATE_BACKENDS = ("rocksdb", "hashmap")
MINI_BATCH_SIZE = 5000
START_OFFSETS = {"earliest": "earliest-offset", "latest": "latest-offset", "committed": "group-offsets"}
DEFAULT_INVALID_TOPIC = "ontoc_invalid_events"
DEFAULT_JOBS_DIR = Path("jobs")


class JobFileError(ValueError):
    """A job file that cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class JobSettings:
    name: str
    parallelism: int = 1
    checkpoint_interval_ms: int | None = 10_000  # None: no checkpoints
    delivery_guarantee: str = "at-least-once"
    transactional_id_prefix: str | None = None
    start_offsets: str = "earliest"
    invalid_events_topic: str = DEFAULT_INVALID_TOPIC  # "" = no topic
    restart_attempts: int = 10
    restart_delay_ms: int = 5_000
    create_topics: bool = True
    topic_partitions: int = 1
    topic_replication: int = 1
    python_executable: str | None = None
    mini_batch: str = "auto"
    mini_batch_latency_ms: int = 1000
    # a Python UDF's rows wait for their bundle to end; PyFlink's default bundle time (1 s) was most of the
    # end-to-end latency at low rates when every job validated events in Python (bench/, part 4: p50 651 ->
    # 205 ms at 1,000 ev/s)
    python_bundle_time_ms: int = 50
    # state larger than the TaskManager's heap must not kill it (and every job on it): see state_options
    state_backend: str = "rocksdb"
    # the view sinks write each key's last row per flush: a LEFT JOIN chain's retraction and insertion of one
    # update then reach Kafka as one row, not a tombstone and a row (docs/runtime.md, "Delivery guarantees")
    sink_buffer_ms: int | None = 100
    source: str = "<defaults>"  # the file it came from, for messages

    @property
    def exactly_once(self) -> bool:
        return self.delivery_guarantee == "exactly-once"

    @property
    def group_id(self) -> str:
        return self.name

    @property
    def tx_prefix(self) -> str:
        return self.transactional_id_prefix or f"{self.name}-tx"

    @property
    def startup_mode(self) -> str:
        """The Kafka connector's `scan.startup.mode`."""
        return START_OFFSETS[self.start_offsets]

    def describe(self) -> str:
        cp = "off" if self.checkpoint_interval_ms is None else format_duration(self.checkpoint_interval_ms)
        return (
            f"{self.name}: parallelism {self.parallelism}, checkpoints every {cp}, "
            f"{self.delivery_guarantee}, start at {self.start_offsets} offsets"
        )


def default_job(package: str) -> JobSettings:
    return JobSettings(name=f"ontoc-{package}" if package else "ontoc")


# --------------------------------------------------------------------------
# durations


_UNITS = {"ms": 1, "s": 1000, "sec": 1000, "min": 60_000, "m": 60_000, "h": 3_600_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m|h)\s*$")


def parse_duration(text: str) -> int:
    """ "10s" -> 10000 (milliseconds). Raises ValueError."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(text)
    return int(round(float(m.group(1)) * _UNITS[m.group(2)]))


def format_duration(ms: int) -> str:
    for unit, size in (("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms % size == 0 and ms >= size:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


# --------------------------------------------------------------------------
# loading


_KEYS = {
    "name": "the Flink job name (a non-empty string)",
    "parallelism": "a whole number of at least 1",
    "checkpoint_interval": 'a duration such as "10s", "500ms", "2min", or "off"',
    "delivery_guarantee": '"at-least-once" or "exactly-once"',
    "transactional_id_prefix": "a non-empty string (exactly-once only)",
    "start_offsets": '"earliest", "latest" or "committed"',
    "invalid_events_topic": 'a Kafka topic name, or "" for none',
    "restart_attempts": "a whole number, 0 or more",
    "restart_delay": 'a duration such as "5s"',
    "create_topics": "true or false",
    "topic_partitions": "a whole number of at least 1",
    "topic_replication": "a whole number of at least 1",
    "python_executable": "the path of a Python interpreter on the TaskManagers",
    "mini_batch": '"auto", "on" or "off"',
    "mini_batch_latency": 'a duration such as "1s" or "200ms"',
    "python_bundle_time": 'a duration such as "50ms" or "1s"',
    "state_backend": '"rocksdb" or "hashmap"',
    "sink_buffer": 'a duration such as "100ms", or "off"',
}
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


def load_job(path: Path | str, package: str | None = None) -> JobSettings:
    """Read `path` (TOML) into JobSettings, defaults for what it leaves out."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JobFileError(f"{path}: no such job file") from None
    except OSError as e:
        raise JobFileError(f"{path}: cannot read it ({e.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise JobFileError(f"{path}: not valid TOML ({e})") from None
    return job_from_dict(data, source=str(path), package=package if package is not None else path.stem)


def job_from_dict(data: dict, source: str = "<job>", package: str = "") -> JobSettings:
    def fail(key: str, got: object, extra: str = "") -> JobFileError:
        shown = f'"{got}"' if isinstance(got, str) else repr(got).lower() if isinstance(got, bool) else repr(got)
        return JobFileError(f"{source}: `{key}` must be {_KEYS[key]}, not {shown}{extra}")

    unknown = [k for k in data if k not in _KEYS]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, list(_KEYS), n=1)
        hint = f"; did you mean `{close[0]}`?" if close else f"; the keys are: {', '.join(_KEYS)}"
        what = "table" if isinstance(data[key], dict) else "key"
        raise JobFileError(f"{source}: unknown {what} `{key}`{hint}")

    job = replace(default_job(package), source=source)
    values: dict[str, Any] = {}

    def integer(key: str, minimum: int) -> None:
        if key in data:
            v = data[key]
            if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
                raise fail(key, v)
            values[key] = v

    def duration(key: str, target: str, allow_off: bool) -> None:
        if key not in data:
            return
        v = data[key]
        if allow_off and (v is False or (isinstance(v, str) and v.strip().lower() in ("off", "none", "0"))):
            values[target] = None
            return
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            raise fail(key, v, ' (write the unit too, e.g. "10s")')
        if not isinstance(v, str):
            raise fail(key, v)
        try:
            ms = parse_duration(v)
        except ValueError:
            raise fail(key, v) from None
        if ms <= 0:
            if allow_off:
                values[target] = None
                return
            raise fail(key, v)
        values[target] = ms

    if "name" in data:
        v = data["name"]
        if not isinstance(v, str) or not v.strip():
            raise fail("name", v)
        values["name"] = v.strip()
    integer("parallelism", 1)
    duration("checkpoint_interval", "checkpoint_interval_ms", allow_off=True)
    if "delivery_guarantee" in data:
        v = data["delivery_guarantee"]
        norm = v.strip().lower().replace("_", "-").replace(" ", "-") if isinstance(v, str) else v
        if norm not in DELIVERY_GUARANTEES:
            raise fail("delivery_guarantee", v)
        values["delivery_guarantee"] = norm
    if "transactional_id_prefix" in data:
        v = data["transactional_id_prefix"]
        if not isinstance(v, str) or not v.strip():
            raise fail("transactional_id_prefix", v)
        values["transactional_id_prefix"] = v.strip()
    if "start_offsets" in data:
        v = data["start_offsets"]
        if not isinstance(v, str) or v.strip().lower() not in START_OFFSETS:
            raise fail("start_offsets", v)
        values["start_offsets"] = v.strip().lower()
    if "invalid_events_topic" in data:
        v = data["invalid_events_topic"]
        if not isinstance(v, str) or (v and not _TOPIC.match(v)):
            raise fail(
                "invalid_events_topic", v, " (letters, digits, '.', '_' and '-' only)" if isinstance(v, str) else ""
            )
        values["invalid_events_topic"] = v
    integer("restart_attempts", 0)
    duration("restart_delay", "restart_delay_ms", allow_off=False)
    if "create_topics" in data:
        v = data["create_topics"]
        if not isinstance(v, bool):
            raise fail("create_topics", v)
        values["create_topics"] = v
    integer("topic_partitions", 1)
    integer("topic_replication", 1)
    if "python_executable" in data:
        v = data["python_executable"]
        if not isinstance(v, str) or not v.strip():
            raise fail("python_executable", v)
        values["python_executable"] = v.strip()
    if "mini_batch" in data:
        v = data["mini_batch"]
        if isinstance(v, bool):
            v = "on" if v else "off"
        if not isinstance(v, str) or v.strip().lower() not in MINI_BATCH:
            raise fail("mini_batch", v)
        values["mini_batch"] = v.strip().lower()
    duration("mini_batch_latency", "mini_batch_latency_ms", allow_off=False)
    duration("sink_buffer", "sink_buffer_ms", allow_off=True)
    duration("python_bundle_time", "python_bundle_time_ms", allow_off=False)
    if "state_backend" in data:
        v = data["state_backend"]
        if not isinstance(v, str) or v.strip().lower() not in STATE_BACKENDS:
            raise fail("state_backend", v)
        values["state_backend"] = v.strip().lower()

    job = replace(job, **values)
    if job.exactly_once and job.checkpoint_interval_ms is None:
        raise JobFileError(
            f'{source}: `delivery_guarantee = "exactly-once"` needs checkpoints: Kafka transactions '
            f'commit when a checkpoint completes; set `checkpoint_interval` (e.g. "10s")'
        )
    if "transactional_id_prefix" in values and not job.exactly_once:
        raise JobFileError(
            f'{source}: `transactional_id_prefix` is only used with `delivery_guarantee = "exactly-once"`'
        )
    return job


def planner_options(job: JobSettings, aggregates: bool) -> dict[str, str]:
    """Table options ontoc sets on a job: mini-batch with one-phase aggregation where it pays.

    Measured in bench/ (part 1): on the views that aggregate `many` collections,
    buffering changes for a second and aggregating in one phase ran 1.04-1.47x
    the events per second of Flink's defaults (two-phase: about 1.0x); on views
    that only join it cost 4-18%, so `auto` turns it on only for packages with
    an aggregate. The price is latency: a change waits up to `mini_batch_latency`
    before it is applied. It stays on although it makes the joins Flink 2.2's
    MiniBatchStreamingJoinOperator (a failed restore of one can stop the TaskManager):
    every aggregate is joined back to its root, so "off for jobs with joins" would be
    "off" wherever it pays (docs/runtime.md, "Job settings").
    """
    if not (job.mini_batch == "on" or (job.mini_batch == "auto" and aggregates)):
        return {}
    return {
        "table.exec.mini-batch.enabled": "true",
        "table.exec.mini-batch.allow-latency": f"{job.mini_batch_latency_ms} ms",
        "table.exec.mini-batch.size": str(MINI_BATCH_SIZE),
        "table.optimizer.agg-phase-strategy": "ONE_PHASE",
    }


# A bundle's rows at most, and an Arrow batch's, for the Python functions of a job (see python_options).
PYTHON_BUNDLE_ROWS = 100_000
PYTHON_ARROW_BATCH_ROWS = 5_000


def python_options(udfs: bool) -> dict[str, str]:
    """Table options for a job whose views call Python functions: bundles ended by time, not by count.

    Flink 2.2 ends a Python operator's bundle every 1,000 rows by default, and at each end the operator's
    task thread waits until the Python worker has returned every row of the bundle, so the JVM and the
    worker took turns instead of working at once. Measured in bench/ (part 2, documents package,
    200,000 events): 7,000-7,300 events/s warm at the default, 8,800-9,000 with bundles of 100,000 rows
    and Arrow batches of 5,000. A bundle still ends at the job's `python_bundle_time` and at each
    checkpoint, so latency is bounded as before; the rows a bundle holds wait in the operator's memory.
    """
    if not udfs:
        return {}
    return {
        "python.fn-execution.bundle.size": str(PYTHON_BUNDLE_ROWS),
        "python.fn-execution.arrow.batch.size": str(PYTHON_ARROW_BATCH_ROWS),
    }


def state_options(job: JobSettings) -> dict[str, str]:
    """The job's state backend, as Flink options (`SET` statements of the job's SQL).

    RocksDB keeps keyed state on the TaskManager's disk, bounded in memory by
    Flink's managed memory, so a view whose state outgrows the heap (joins and
    aggregates over many keys keep every key's rows) slows down instead of
    failing the TaskManager with an `OutOfMemoryError`, which takes down every
    job on it. Its incremental checkpoints write only the files changed since
    the last one, so checkpoint time follows the rate of change, not the state
    size. `hashmap` (state as objects on the heap) is faster while the state
    fits. Flink's distribution bundles both.
    """
    options = {"state.backend.type": job.state_backend}
    if job.state_backend == "rocksdb":
        options["execution.checkpointing.incremental"] = "true"
    return options


def job_file_for(package: str, jobs_dir: Path | str = DEFAULT_JOBS_DIR) -> Path:
    return Path(jobs_dir) / f"{package or 'definitions'}.toml"


def job_for_package(package: str, jobs_dir: Path | str = DEFAULT_JOBS_DIR) -> JobSettings:
    """`jobs/<package>.toml` when it exists, else the defaults (job name `ontoc-<package>`)."""
    path = job_file_for(package, jobs_dir)
    return load_job(path, package) if path.is_file() else default_job(package)


def settings_fields() -> list[str]:
    return [f.name for f in fields(JobSettings)]
