"""`ontoc submit`: the views of one definitions package as ONE Flink job on a cluster.

    compiled = compile_definitions("definitions/meeting_room")
    job = job_for_package("meeting_room")                       # jobs/meeting_room.toml
    kafka = KafkaConnection("127.0.0.1:9092", (("security.protocol", "SSL"),))
    submitted = submit(compiled, job, "http://127.0.0.1:8081", kafka)
    submitted.job_id

What is submitted (`plan_job`, printable with `ontoc submit --dry-run`):

1. the validated sources of `kafka_sources` (one raw 'kafka' table over every
   source topic, ONTOC_VALIDATE_EVENT, keep-last deduplication, one view per
   topic named like the compiled source table);
2. per view, the compiled upsert-kafka sink (`ddl.sink_ddl`) with the job's
   delivery guarantee added, and the compiled INSERT (`ddl.insert`) unchanged;
3. the invalid-events sink and its INSERT;
all INSERTs in one statement set, so one job reads each topic once.

How: a PyFlink StreamTableEnvironment whose StreamExecutionEnvironment is
built on a Configuration with `execution.target = remote`, the cluster's
`rest.address` / `rest.port`, `execution.attached = false`, `pipeline.jars`
(the Kafka connector and ontoc's functions jar ship with the job), the `ontoc`
package as a Python file for the UDF workers, and the job's settings
(parallelism, checkpointing, fixed-delay restarts). `StatementSet.execute()`
returns once the cluster accepted the job; the submission then polls the REST
API until the job's tasks run, and reports a failure with Flink's root cause.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlglot import exp

from ..backend.flink.ddl import KafkaOptions, insert, merged_sources, sink_ddl
from ..backend.flink.dialect import sql
from ..pipeline import Compiled
from . import kafka_sources as ks
from .jobs import JobSettings, planner_options
from .rest import FlinkRest, FlinkRestError, parse_url
from .services import DEFAULT_KAFKA_PORT, HOST
from .udfs import package_zip

Progress = Callable[[str], object]
DEFAULT_BOOTSTRAP = f"{HOST}:{DEFAULT_KAFKA_PORT}"  # `ontoc dev up`
ONTOC_PACKAGE_DIR = Path(__file__).resolve().parents[1]


class SubmitError(RuntimeError):
    """Submission failed. `str(err)` is one plain sentence; `details` may hold more (a trace)."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


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


def parse_properties(pairs: list[str] | tuple[str, ...], file: Path | str | None = None) -> tuple[tuple[str, str], ...]:
    """`k=v` strings (and a Java .properties file) -> ordered, de-duplicated pairs (later wins)."""
    out: dict[str, str] = {}
    if file:
        path = Path(file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise SubmitError(f"cannot read the Kafka properties file {path} ({e.strerror})") from None
        joined: list[str] = []
        buf = ""
        for line in lines:  # a trailing backslash continues the line, as in Java
            s = line.strip()
            if not buf and (not s or s.startswith(("#", "!"))):
                continue
            if s.endswith("\\") and not s.endswith("\\\\"):
                buf += s[:-1]
                continue
            joined.append(buf + s)
            buf = ""
        if buf:
            joined.append(buf)
        for n, s in enumerate(joined, 1):
            k, sep, v = _split_property(s)
            if not sep or not k:
                raise SubmitError(f"{path}: line {n} is not `key=value`: {s!r}")
            out[k] = v
    for p in pairs:
        k, sep, v = _split_property(p)
        if not sep or not k:
            raise SubmitError(f"--kafka-property must be key=value, not {p!r}")
        out[k] = v
    for k in list(out):
        if k == "bootstrap.servers":
            raise SubmitError(
                "set the bootstrap servers with --bootstrap-servers (or ONTOC_KAFKA_BOOTSTRAP), not as a Kafka property"
            )
    return tuple(out.items())


def _split_property(text: str) -> tuple[str, str, str]:
    i = min([j for j in (text.find("="), text.find(":")) if j >= 0], default=-1)
    if i < 0:
        return text.strip(), "", ""
    return text[:i].strip(), "=", text[i + 1 :].strip()


# --------------------------------------------------------------------------
# The job's statements


@dataclass
class JobPlan:
    job: JobSettings
    specs: list  # event_udf.TopicSpec per source topic
    statements: list[exp.Expression]  # CREATE TABLE / VIEW, in order
    inserts: list[exp.Insert]
    source_topics: list[str]
    view_topics: list[str]
    uses_jvm_functions: bool = False  # ontoc's JVM functions (runtime/functions)
    udfs: tuple[str, ...] = ()  # SQL names of the package's Python UDFs
    table_options: dict[str, str] = field(default_factory=dict)  # jobs.planner_options

    @property
    def invalid_topic(self) -> str:
        return self.job.invalid_events_topic

    def topics(self) -> list[str]:
        extra = [self.invalid_topic] if self.invalid_topic else []
        return list(dict.fromkeys(self.source_topics + self.view_topics + extra))

    def sql_text(self) -> str:
        from .event_udf import VALIDATE_FUNCTION

        head = [
            f"-- ontoc job {self.job.name}: {len(self.view_topics)} view(s), one statement set",
            f"-- {self.job.describe()}",
            f"-- {VALIDATE_FUNCTION} is a Python UDF (ontoc.runtime.event_udf) registered by `ontoc submit`",
        ]
        if self.udfs:
            head.append(
                f"-- Python UDFs of the package (generated udfs.py, registered by `ontoc submit`): "
                f"{', '.join(self.udfs)}"
            )
        if self.uses_jvm_functions:
            from .functions import CREATE_FUNCTIONS_SQL

            head.extend(f"{statement};" for statement in CREATE_FUNCTIONS_SQL)
        body = [
            sql(
                exp.Set(
                    expressions=[exp.SetItem(this=exp.EQ(this=exp.Literal.string(k), expression=exp.Literal.string(v)))]
                )
            )
            + ";"
            for k, v in self.table_options.items()
        ]
        body += [sql(s) + ";" for s in self.statements]
        body.append("EXECUTE STATEMENT SET BEGIN\n" + "\n".join(sql(i) + ";" for i in self.inserts) + "\nEND;")
        return "\n".join(head) + "\n\n" + "\n\n".join(body) + "\n"


def sink_options(job: JobSettings, sink: str) -> list[tuple[str, str]]:
    """The Kafka sink options of the job's delivery guarantee (a transactional id prefix per sink)."""
    if job.exactly_once:
        # 15 min: the largest transaction a broker allows by default (transaction.max.timeout.ms);
        # Flink's own default (1 h) is refused by such brokers.
        return [
            ("sink.delivery-guarantee", "exactly-once"),
            ("sink.transactional-id-prefix", f"{job.tx_prefix}-{sink}"),
            ("properties.transaction.timeout.ms", "900000"),
        ]
    return [("sink.delivery-guarantee", "at-least-once")]


def plan_job(compiled: Compiled, job: JobSettings, kafka: KafkaConnection) -> JobPlan:
    """Every statement of the job, as sqlglot trees; nothing contacts Kafka or Flink."""
    from .event_udf import topic_specs

    if not compiled.plans:
        raise SubmitError("the definitions hold no view model: there is nothing to submit")
    options = kafka.options()
    scans = merged_sources(compiled.plans)
    specs = topic_specs(scans, compiled.schema.models)
    source_topics = [s.topic for s in specs]
    statements: list[exp.Expression] = [
        ks.raw_source_ddl(source_topics, options, group_id=job.group_id, startup_mode=job.startup_mode),
        ks.events_view(),
        *[ks.source_view(s) for s in specs],
    ]
    inserts: list[exp.Insert] = []
    for plan in compiled.plans:
        statements.append(ks.with_options(sink_ddl(plan, options), sink_options(job, plan.topic)))
        inserts.append(insert(plan))
    if job.invalid_events_topic:
        statements.append(ks.invalid_sink_ddl(job.invalid_events_topic, options, sink_options(job, "invalid")))
        inserts.append(ks.invalid_insert(job.name))
    text = "\n".join(sql(i) for i in inserts)
    from .functions import FUNCTIONS

    udfs = tuple(sorted({u.function for p in compiled.plans for u in p.udfs}))
    return JobPlan(
        job,
        specs,
        statements,
        inserts,
        source_topics,
        [p.topic for p in compiled.plans],
        uses_jvm_functions=any(name in text for name in FUNCTIONS),
        udfs=udfs,
        table_options=planner_options(job, compiled.aggregates()),
    )


# --------------------------------------------------------------------------
# Kafka topics


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
    progress: Progress = print,
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


# --------------------------------------------------------------------------
# Submission


@dataclass
class Submitted:
    job_id: str
    name: str
    cluster: str
    state: str
    plan: JobPlan
    seconds: float

    @property
    def view_topics(self) -> list[str]:
        return self.plan.view_topics


def _config(job: JobSettings, cluster: str, jars: list[Path], savepoint: str | None, allow_non_restored: bool):
    from pyflink.common import Configuration

    scheme, host, port = parse_url(cluster)
    conf = Configuration()
    values = {
        "execution.target": "remote",
        "execution.attached": "false",
        "execution.runtime-mode": "STREAMING",
        "rest.address": host,
        "rest.port": str(port),
        "pipeline.name": job.name,
        "pipeline.jars": ";".join(p.resolve().as_uri() for p in jars),
        "parallelism.default": str(job.parallelism),
        "table.local-time-zone": "UTC",
        "restart-strategy.type": "fixed-delay" if job.restart_attempts else "none",
        "restart-strategy.fixed-delay.attempts": str(job.restart_attempts),
        "restart-strategy.fixed-delay.delay": f"{job.restart_delay_ms} ms",
        "python.fn-execution.bundle.time": str(job.python_bundle_time_ms),
    }
    if scheme == "https":
        values["security.ssl.rest.enabled"] = "true"
    if job.checkpoint_interval_ms:
        values.update(
            {
                "execution.checkpointing.interval": f"{job.checkpoint_interval_ms} ms",
                "execution.checkpointing.mode": "EXACTLY_ONCE",
                "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
                "execution.checkpointing.min-pause": f"{min(job.checkpoint_interval_ms // 2, 5000)} ms",
            }
        )
    if job.python_executable:
        values["python.executable"] = job.python_executable
    if savepoint:
        values["execution.state-recovery.path"] = savepoint
        values["execution.state-recovery.ignore-unclaimed-state"] = "true" if allow_non_restored else "false"
    for k, v in values.items():
        conf.set_string(k, v)
    return conf


def _table_env(conf):
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.java_gateway import get_gateway
    from pyflink.table import EnvironmentSettings, StreamTableEnvironment

    # Built on the Configuration itself: PyFlink's get_execution_environment() would
    # treat the gateway's default (local) target as the deployment and start a
    # loopback Python worker server for a job that runs elsewhere.
    j_env = get_gateway().jvm.org.apache.flink.streaming.api.environment.StreamExecutionEnvironment(
        conf._j_configuration
    )
    settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(conf).build()
    t_env = StreamTableEnvironment.create(StreamExecutionEnvironment(j_env), environment_settings=settings)
    t_env.get_config().set("table.local-time-zone", "UTC")
    return t_env


def _cluster_python(rest: FlinkRest) -> str | None:
    """The cluster's own `python.executable` (a job's configuration replaces the cluster's, and
    PyFlink's default is a bare `python`)."""
    try:
        entries = rest.get("/jobmanager/config")
    except FlinkRestError:
        return None
    for e in entries if isinstance(entries, list) else []:
        if e.get("key") == "python.executable" and e.get("value"):
            return e["value"]
    return None


def _flink_error(exc: BaseException, what: str) -> SubmitError:
    from .local import _to_local_error

    err = _to_local_error(exc)
    return SubmitError(f"{what}: {err.message}", err.java_trace or "")


def _connector_jar(progress: Progress) -> list[Path]:
    from .jars import JarsError, ensure_jars

    try:
        return [ensure_jars(progress=progress).flink_connector_jar]
    except JarsError as e:
        raise SubmitError(str(e).splitlines()[0], str(e)) from None


def _prepare(t_env, plan: JobPlan, compiled: Compiled, progress: Progress):
    """Register the functions, run the DDL, and return the statement set of every INSERT."""
    from .event_udf import VALIDATE_FUNCTION, validator_udf
    from .functions import FunctionsJarError, ensure_functions_jar, register_functions

    for key, value in plan.table_options.items():
        t_env.get_config().set(key, value)
    try:
        t_env.add_python_file(str(package_zip(ONTOC_PACKAGE_DIR)))  # the UDF workers import ontoc from it
        t_env.create_temporary_system_function(VALIDATE_FUNCTION, validator_udf(plan.specs))
        if plan.uses_jvm_functions:  # ONTOC_SORT_ROWS, ONTOC_PY_STR: their jar joins pipeline.jars
            register_functions(t_env, ensure_functions_jar(progress=progress))
        _register_view_udfs(t_env, compiled)
    except FunctionsJarError as e:
        raise SubmitError(str(e).splitlines()[0], str(e)) from None
    except SubmitError:
        raise
    except Exception as e:
        raise _flink_error(e, "cannot register ontoc's functions") from None
    for statement in plan.statements:
        try:
            t_env.execute_sql(sql(statement))
        except Exception as e:
            raise _flink_error(e, f"Flink rejected the statement creating {_created_name(statement)}") from None
    stmt_set = t_env.create_statement_set()
    targets = plan.view_topics + ([plan.invalid_topic] if plan.invalid_topic else [])
    for ins, topic in zip(plan.inserts, targets, strict=False):
        try:
            stmt_set.add_insert_sql(sql(ins))
        except Exception as e:
            raise _flink_error(e, f"Flink rejected the INSERT into {topic}") from None
    return stmt_set


def _register_view_udfs(t_env, compiled: Compiled) -> None:
    """The package's Python UDFs (view static and class methods), registered as `ontoc run --local` does."""
    from ..backend.flink.udfs import UDF_MODULE
    from .embedded import python_functions

    if UDF_MODULE in compiled.files:
        python_functions(compiled)(t_env)


def _created_name(statement: exp.Expression) -> str:
    table = statement.find(exp.Table)
    return table.name if table is not None else "a table"


def explain_job(
    compiled: Compiled, job: JobSettings, kafka: KafkaConnection | None = None, progress: Progress = lambda _m: None
) -> str:
    """Flink's plan of the job (`EXPLAIN STATEMENT SET`), planned locally: no cluster, no Kafka."""
    plan = plan_job(compiled, job, kafka or KafkaConnection("127.0.0.1:9"))
    from pyflink.common import Configuration

    conf = Configuration()
    conf.set_string("pipeline.jars", ";".join(p.resolve().as_uri() for p in _connector_jar(progress)))
    conf.set_string("parallelism.default", str(job.parallelism))
    from .local import plan_again_if_lost

    return plan_again_if_lost(lambda: _prepare(_table_env(conf), plan, compiled, progress).explain(), progress)


def submit(
    compiled: Compiled,
    job: JobSettings,
    cluster: str,
    kafka: KafkaConnection,
    *,
    savepoint: str | None = None,
    allow_non_restored: bool = False,
    wait_s: float = 90.0,
    progress: Progress = print,
) -> Submitted:
    """Submit the package's views as one job; returns once its tasks run (or raises SubmitError)."""
    t0 = time.monotonic()
    rest = FlinkRest(cluster)
    try:
        overview = rest.overview()
    except FlinkRestError as e:
        raise SubmitError(str(e)) from None
    plan = plan_job(compiled, job, kafka)
    progress(
        f"cluster {rest.base}: Flink {overview.get('flink-version', '?')}, "
        f"{overview.get('taskmanagers', 0)} TaskManager(s), "
        f"{overview.get('slots-available', 0)}/{overview.get('slots-total', 0)} slot(s) free"
    )
    if overview.get("slots-available", 0) < 1:
        progress("note: no free task slot; the job waits until a slot frees up")
    if job.create_topics:
        ensure_topics(kafka, plan.topics(), job.topic_partitions, job.topic_replication, progress)
    jars = _connector_jar(progress)
    if not job.python_executable:
        python = _cluster_python(rest)
        if python:
            job = replace(job, python_executable=python)
    progress(
        f"submitting {job.name}: {len(plan.view_topics)} view(s) ({', '.join(plan.view_topics)}) "
        f"from {len(plan.source_topics)} topic(s)"
    )

    def attempt() -> str | None:
        try:
            t_env = _table_env(_config(job, cluster, jars, savepoint, allow_non_restored))
        except Exception as e:
            raise _flink_error(e, "cannot set up the Flink client") from None
        stmt_set = _prepare(t_env, plan, compiled, progress)
        try:  # planning happens here, before anything reaches the cluster
            result = stmt_set.execute()
            client = result.get_job_client()
            return str(client.get_job_id()) if client is not None else None
        except Exception as e:
            raise _flink_error(e, f"the cluster at {rest.base} did not accept the job") from None

    from .local import plan_again_if_lost

    job_id = plan_again_if_lost(attempt, progress)
    if not job_id:
        raise SubmitError(f"the cluster at {rest.base} accepted the job but returned no job id")
    state = _wait_started(rest, job_id, job, wait_s) if wait_s > 0 else "CREATED"
    return Submitted(job_id, job.name, rest.base, state, plan, time.monotonic() - t0)


def _wait_started(rest: FlinkRest, job_id: str, job: JobSettings, wait_s: float) -> str:
    """Until every task runs. A job that fails while starting (a missing topic, an unreachable
    Kafka, a broken UDF worker) would only restart into the same error: it is cancelled and
    the root cause raised."""
    deadline = time.monotonic() + wait_s
    running_since = None
    while True:
        try:
            info = rest.job(job_id)
        except FlinkRestError as e:
            raise SubmitError(f"job {job_id} was submitted, but its state is unknown: {e}") from None
        state = info.get("state", "UNKNOWN")
        tasks = [v.get("status") for v in info.get("vertices", [])]
        failed = state in ("FAILED", "FAILING", "RESTARTING") or any(t == "FAILED" for t in tasks)
        if failed:
            cause = _safe_root_cause(rest, job_id)
            note = ""
            if state not in ("FAILED", "CANCELED"):
                try:
                    rest.cancel(job_id)
                    note = "; ontoc cancelled it"
                except FlinkRestError:
                    pass
            raise SubmitError(f"job {job_id} ({job.name}) failed while starting: {cause}{_hint(cause)}{note}")
        if state in ("FINISHED", "CANCELED"):
            return state
        if state == "RUNNING" and tasks and all(t in ("RUNNING", "FINISHED") for t in tasks):
            # a job can be RUNNING and fail a moment later (e.g. when its source meets Kafka)
            running_since = running_since or time.monotonic()
            if time.monotonic() - running_since >= 2.0:
                return state
        if time.monotonic() >= deadline:
            return state
        time.sleep(0.5)


def _safe_root_cause(rest: FlinkRest, job_id: str) -> str:
    for _ in range(10):  # the exception history fills a moment after the state changes
        try:
            cause = rest.root_cause(job_id)
        except FlinkRestError:
            cause = None
        if cause:
            return cause
        time.sleep(0.5)
    return "Flink reported no exception (see the JobManager log)"


def _hint(cause: str) -> str:
    if "UnknownTopicOrPartition" in cause:
        return " (a source topic does not exist: create it, or set `create_topics = true` in the job file)"
    if "TimeoutException" in cause and "Kafka" in cause or "Timed out waiting for a node" in cause:
        return " (the TaskManagers cannot reach Kafka at the bootstrap servers given)"
    return ""
