"""Local services for development and tests: a Kafka broker and a Flink cluster.

Everything lives under one state folder (default `.state/` in the cwd):

    <state>/kafka/   server.properties, log4j2.properties, data/, logs/,
                     kafka.pid, kafka.json
    <state>/flink/   conf/config.yaml (Flink 2.x format), lib/ (PyFlink's jars,
                     flink-python and the Kafka connector, as symlinks), log/,
                     tmp/, checkpoints/, savepoints/, run/ (Flink's own pid files),
                     jobmanager.pid, jobmanager.json, taskmanager.pid, taskmanager.json

* Kafka 4.x, single node in KRaft mode (broker and controller in one JVM),
  listening on 127.0.0.1 only, topics created on first use, -Xmx512m.
* Flink from the distribution bundled in the `apache-flink` wheel (the
  installed package is never modified): one JobManager and one TaskManager
  with 2 slots, every socket bound to 127.0.0.1, Python UDF workers run with
  this interpreter.

Processes are started in their own session (they outlive the `ontoc dev up`
that started them) and found again through the pid files; a pid only counts
when its command line names this state folder, so a recycled pid is never
stopped by mistake.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from ..jvm.jars import JarPaths, JarsError, ensure_jars
from .processes import (
    DEFAULT_STATE_DIR,
    HOST,
    SERVICES,
    Layout,
    ServiceError,
    addr_suffix,
    check_alive,
    clear_pid,
    layout,
    log_tail,
    main_log,
    read_info,
    read_pid,
    rss_mb,
    running_pid,
    send_signal,
    spawn,
    stop_pid,
    tail_text,
    wait_dead,
    write_pid,
)

__all__ = [  # what `ontoc dev`, the cluster client and the tests use
    "DEFAULT_FLINK_PORT",
    "DEFAULT_FLINK_RPC_PORT",
    "DEFAULT_KAFKA_PORT",
    "DEFAULT_STATE_DIR",
    "HOST",
    "JOBMANAGER_MEMORY",
    "SERVICES",
    "TASKMANAGER_MEMORY",
    "TASK_SLOTS",
    "ServiceError",
    "down",
    "find_java",
    "kill_taskmanager",
    "port_free",
    "start_taskmanager",
    "status",
    "up",
]

DEFAULT_KAFKA_PORT = 9092
DEFAULT_FLINK_PORT = 8081
DEFAULT_FLINK_RPC_PORT = 6123
MIN_JAVA = 17

KAFKA_HEAP = "512m"
JOBMANAGER_MEMORY = "1024m"
TASKMANAGER_MEMORY = "2048m"  # the smallest TaskManager `up` starts; docker-compose.yml's (one size for any host)
TASKMANAGER_MAX_MB = 8192
TASKMANAGER_SHARE = 0.25  # of physical memory: room for Kafka, the JobManager, Python workers and other work
MANAGED_MEMORY_FRACTION = 0.4  # of Flink memory: RocksDB's block cache and write buffers (Flink's default)
TASK_SLOTS = 2

KAFKA_READY_TIMEOUT = 90.0
FLINK_READY_TIMEOUT = 150.0
KAFKA_STOP_TIMEOUT = 30.0
FLINK_STOP_TIMEOUT = 20.0

Progress = Callable[[str], object]


# --------------------------------------------------------------------------
# Public API


def up(
    state_dir: Path | str | None = None,
    kafka_port: int = DEFAULT_KAFKA_PORT,
    flink_port: int = DEFAULT_FLINK_PORT,
    progress: Progress = print,
    *,
    kafka_controller_port: int | None = None,
    flink_rpc_port: int = DEFAULT_FLINK_RPC_PORT,
    jars: JarPaths | None = None,
    python_executable: str | None = None,
    timeout: float | None = None,
    task_slots: int | None = None,
) -> dict:
    """Start whatever of Kafka / JobManager / TaskManager is not running and
    wait until each answers. Returns `status(state_dir)`.

    The TaskManager has `task_slots` slots (default: as many as the state
    folder's Flink configuration says, else TASK_SLOTS), so that a TaskManager
    `up` restarts keeps the slots it was first started with.

    The Kafka controller listens on `kafka_controller_port` (default
    `kafka_port + 1`). On failure, the processes this call started are
    stopped again and `ServiceError` is raised with the log tail.
    """
    lay = layout(state_dir)
    controller_port = kafka_controller_port or kafka_port + 1
    ports = {
        "--kafka-port": kafka_port,
        "--kafka-controller-port": controller_port,
        "--flink-port": flink_port,
        "--flink-rpc-port": flink_rpc_port,
    }
    if len(set(ports.values())) != len(ports):
        raise ServiceError(f"the ports must all differ: {_fmt_ports(ports)}")

    java, java_home = find_java()
    try:
        jars = jars or ensure_jars(progress=progress)
    except JarsError as e:
        raise ServiceError(str(e).splitlines()[0], "\n".join(str(e).splitlines()[1:])) from e

    running = {s: running_pid(lay, s) for s in SERVICES}
    # a pid file whose process is gone: the service died (`down` removes the pid files)
    died = {s: pid for s in SERVICES if not running[s] and (pid := read_pid(lay, s))}
    for s, pid in running.items():
        if pid:
            progress(f"{s} already running (pid {pid}{addr_suffix(lay, s)})")
    for s, pid in died.items():
        progress(f"{s} died (pid {pid} is gone): restarting it")

    needed: dict[str, int] = {}
    if not running["kafka"]:
        needed["--kafka-port"] = kafka_port
        needed["--kafka-controller-port"] = controller_port
    if not running["jobmanager"]:
        needed["--flink-port"] = flink_port
        needed["--flink-rpc-port"] = flink_rpc_port
    for flag, port in needed.items():
        if not port_free(port):
            what = (
                " (Kafka controller)"
                if flag == "--kafka-controller-port"
                else (" (Flink RPC)" if flag == "--flink-rpc-port" else "")
            )
            raise ServiceError(f"port {port} on {HOST}{what} is in use by another process; stop it or pass {flag}")

    if running["jobmanager"]:
        # The TaskManager must use the running JobManager's ports.
        info = read_info(lay, "jobmanager")
        flink_port = info.get("port", flink_port)
        flink_rpc_port = info.get("rpc_port", flink_rpc_port)
    if running["kafka"]:
        kafka_port = read_info(lay, "kafka").get("port", kafka_port)

    started: list[str] = []
    t0 = time.monotonic()
    try:
        if not running["jobmanager"] or not running["taskmanager"]:
            python = python_executable or sys.executable
            _prepare_flink(lay, jars, flink_port, flink_rpc_port, python, task_slots or _configured_slots(lay))
        if not running["jobmanager"]:
            _start_jobmanager(lay, java_home, flink_port, flink_rpc_port)
            started.append("jobmanager")
        if not running["taskmanager"]:
            _start_taskmanager(lay, java_home)
            started.append("taskmanager")
        if not running["kafka"]:
            _prepare_kafka(lay, kafka_port, controller_port)
            _format_kafka(lay, java, jars, progress)
            _start_kafka(lay, java, jars, kafka_port, controller_port)
            started.append("kafka")
        if "kafka" in started:
            _wait_kafka(lay, kafka_port, timeout or KAFKA_READY_TIMEOUT)
            progress(f"kafka ready on {HOST}:{kafka_port} (pid {read_pid(lay, 'kafka')}, {time.monotonic() - t0:.1f}s)")
        if started and set(started) & {"jobmanager", "taskmanager"}:
            tm_id = read_info(lay, "taskmanager").get("resource_id")
            _wait_flink(lay, flink_port, tm_id, timeout or FLINK_READY_TIMEOUT)
            progress(
                f"flink ready on http://{HOST}:{flink_port} "
                f"(jobmanager pid {read_pid(lay, 'jobmanager')}, "
                f"taskmanager pid {read_pid(lay, 'taskmanager')}, "
                f"{time.monotonic() - t0:.1f}s)"
            )
    except BaseException:
        for s in reversed(started):
            pid = running_pid(lay, s)
            if pid:
                stop_pid(pid, 10.0)
            clear_pid(lay, s)
        raise
    for s, pid in died.items():
        _record_restart(lay, s, pid)
    return status(lay.root)


def _restarts_file(lay: Layout, service: str) -> Path:
    return lay.pid_file(service).with_name(f"{service}.restarts.json")


def _record_restart(lay: Layout, service: str, died_pid: int) -> None:
    """Note that `up` restarted a service that had died, for `ontoc dev status`."""
    path = _restarts_file(lay, service)
    entries = restarts(lay, service)
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    entries.append({"died_pid": died_pid, "new_pid": read_pid(lay, service), "restarted_at": now})
    path.write_text(json.dumps(entries[-20:], indent=1) + "\n")


def restarts(lay: Layout, service: str) -> list[dict]:
    """The restarts of `service` after it died, oldest first (the last 20)."""
    try:
        entries = json.loads(_restarts_file(lay, service).read_text())
    except (OSError, ValueError):
        return []
    return entries if isinstance(entries, list) else []


def down(state_dir: Path | str | None = None, progress: Progress = print) -> dict:
    """Stop the services (SIGTERM, then SIGKILL after a grace period).
    Returns {service: pid or None} of what was running."""
    lay = layout(state_dir)
    pids = {s: running_pid(lay, s) for s in SERVICES}
    # Flink first (its jobs may still talk to Kafka), both Flink processes at once.
    for group, grace in ((("taskmanager", "jobmanager"), FLINK_STOP_TIMEOUT), (("kafka",), KAFKA_STOP_TIMEOUT)):
        live = [(s, pid) for s in group if (pid := pids[s])]
        for _, pid in live:
            send_signal(pid, signal.SIGTERM)
        for s, pid in live:
            how = stop_pid(pid, grace, already_signalled=True)
            progress(f"stopped {s} (pid {pid}{', killed' if how == 'killed' else ''})")
        for s in group:
            if not pids[s] and lay.pid_file(s).exists():
                progress(f"{s} was not running (removed a stale pid file)")
            clear_pid(lay, s)
    if not any(pids.values()):
        progress(f"nothing was running under {lay.root}")
    return pids


def status(state_dir: Path | str | None = None) -> dict:
    """{service: {status: running|stopped, pid, address, rss_mb, log}} for
    kafka, jobmanager and taskmanager, plus `state_dir`."""
    lay = layout(state_dir)
    out: dict = {"state_dir": str(lay.root)}
    for s in SERVICES:
        pid = running_pid(lay, s)
        info = read_info(lay, s)
        if s == "kafka":
            addr = f"{HOST}:{info['port']}" if "port" in info else None
        elif s == "jobmanager":
            addr = f"http://{HOST}:{info['port']}" if "port" in info else None
        else:
            addr = info.get("resource_id")
        out[s] = {
            "status": "running" if pid else "stopped",
            "pid": pid,
            "address": addr,
            "rss_mb": rss_mb(pid) if pid else None,
            "log": str(main_log(lay, s)) if main_log(lay, s) else None,
            "restarts": restarts(lay, s),
        }
    return out


def kill_taskmanager(state_dir: Path | str | None = None) -> int:
    """SIGKILL the TaskManager (and its Python workers): a crash, not a stop.
    Returns the killed pid."""
    lay = layout(state_dir)
    pid = running_pid(lay, "taskmanager")
    if not pid:
        raise ServiceError(f"no TaskManager is running under {lay.root}")
    send_signal(pid, signal.SIGKILL, group=True)
    wait_dead(pid, 10.0)
    lay.pid_file("taskmanager").unlink(missing_ok=True)
    return pid


def start_taskmanager(
    state_dir: Path | str | None = None,
    *,
    timeout: float | None = None,
    progress: Progress = lambda _m: None,
) -> int:
    """Start a TaskManager for the running JobManager (after kill_taskmanager)
    and wait until it has registered. Returns its pid (the running one's if
    there is one already)."""
    lay = layout(state_dir)
    pid = running_pid(lay, "taskmanager")
    if pid:
        return pid
    if not running_pid(lay, "jobmanager"):
        raise ServiceError(f"no JobManager is running under {lay.root}; run `ontoc dev up`")
    _, java_home = find_java()
    port = read_info(lay, "jobmanager")["port"]
    pid = _start_taskmanager(lay, java_home)
    try:
        _wait_flink(lay, port, read_info(lay, "taskmanager")["resource_id"], timeout or FLINK_READY_TIMEOUT)
    except BaseException:
        stop_pid(pid, 10.0)
        clear_pid(lay, "taskmanager")
        raise
    progress(f"taskmanager registered (pid {pid})")
    return pid


# --------------------------------------------------------------------------
# Java and ports


def find_java() -> tuple[str, str]:
    """(java executable, JAVA_HOME) of a Java >= 17, from $JAVA_HOME or PATH."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        where = f"$JAVA_HOME/bin/java ({java})" if home else "java on PATH"
        raise ServiceError(
            f"Java {MIN_JAVA}+ is required but {where} was not found; install it "
            f"(e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME"
        )
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ServiceError(f"could not run {java} -version: {e}") from e
    m = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if not m:
        raise ServiceError(f"could not read the Java version from `{java} -version`")
    major = int(m.group(1))
    if major == 1 and m.group(2):  # "1.8.0_392"
        major = int(m.group(2))
    if major < MIN_JAVA:
        raise ServiceError(
            f"Java {MIN_JAVA}+ is required (Kafka 4 and Flink 2), but {java} is Java {major}; "
            f"install a newer JDK or point JAVA_HOME at one"
        )
    real = Path(java).resolve()
    return java, str(real.parent.parent)


def port_free(port: int, host: str = HOST) -> bool:
    """True when a server could bind host:port now (a listener on 0.0.0.0
    or on host makes it taken; TIME_WAIT leftovers do not)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex((HOST, port)) == 0


def _fmt_ports(ports: dict[str, int]) -> str:
    return ", ".join(f"{k.lstrip('-')} {v}" for k, v in ports.items())


# --------------------------------------------------------------------------
# Kafka


def _prepare_kafka(lay: Layout, port: int, controller_port: int) -> None:
    for d in (lay.kafka, lay.kafka_data, lay.kafka_logs):
        d.mkdir(parents=True, exist_ok=True)
    props = {
        # Single node, KRaft: broker and controller in one process.
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(lay.kafka_data),
        # One broker: every internal topic has one replica.
        "auto.create.topics.enable": "true",
        "num.partitions": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # Flink's exactly-once Kafka sink asks for 1 h transactions.
        "transaction.max.timeout.ms": "3600000",
        # Small machine.
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
    }
    lay.kafka_props.write_text(
        "# Written by ontoc (ontoc/devenv/services.py) on each `up`.\n"
        + "".join(f"{k}={v}\n" for k, v in props.items())
    )
    lay.kafka_log4j.write_text(
        "status = warn\n"
        "appender.file.type = RollingFile\n"
        "appender.file.name = file\n"
        "appender.file.fileName = ${sys:kafka.logs.dir}/server.log\n"
        "appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i\n"
        "appender.file.layout.type = PatternLayout\n"
        "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
        "appender.file.policies.type = Policies\n"
        "appender.file.policies.size.type = SizeBasedTriggeringPolicy\n"
        "appender.file.policies.size.size = 50MB\n"
        "appender.file.strategy.type = DefaultRolloverStrategy\n"
        "appender.file.strategy.max = 3\n"
        "rootLogger.level = INFO\n"
        "rootLogger.appenderRef.file.ref = file\n"
        "logger.kafka.name = kafka\nlogger.kafka.level = INFO\n"
        "logger.request.name = kafka.request.logger\nlogger.request.level = WARN\n"
    )


def _kafka_java_base(lay: Layout, java: str, jars: JarPaths, heap: str) -> list[str]:
    return [
        java,
        f"-Xmx{heap}",
        "-Xms128m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dkafka.logs.dir={lay.kafka_logs}",
        f"-Dlog4j2.configurationFile=file:{lay.kafka_log4j}",
        "-cp",
        jars.kafka_classpath,
    ]


def _format_kafka(lay: Layout, java: str, jars: JarPaths, progress: Progress) -> None:
    if (lay.kafka_data / "meta.properties").exists():
        return
    cluster_id = _kafka_cluster_id()
    cmd = _kafka_java_base(lay, java, jars, "256m") + [
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id,
        "-c",
        str(lay.kafka_props),
    ]
    progress(f"formatting Kafka storage in {lay.kafka_data}")
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise ServiceError(
            f"formatting Kafka's storage failed (exit {proc.returncode})",
            tail_text((proc.stdout + proc.stderr).splitlines(), "kafka.tools.StorageTool"),
        )


def _kafka_cluster_id() -> str:
    """Kafka's Uuid text form: 22 url-safe base64 characters, not starting with '-'."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def _start_kafka(lay: Layout, java: str, jars: JarPaths, port: int, controller_port: int) -> int:
    cmd = _kafka_java_base(lay, java, jars, KAFKA_HEAP) + ["kafka.Kafka", str(lay.kafka_props)]
    pid = spawn(cmd, lay.launcher_out("kafka"), os.environ.copy(), lay.kafka)
    write_pid(lay, "kafka", pid, {"port": port, "controller_port": controller_port})
    return pid


def _wait_kafka(lay: Layout, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check_alive(lay, "kafka")
        if _listening(port) and _kafka_answers(port):
            return
        time.sleep(0.5)
    raise ServiceError(
        f"Kafka did not answer on {HOST}:{port} within {timeout:.0f}s",
        log_tail(lay, "kafka"),
    )


def _kafka_answers(port: int) -> bool:
    from kafka import KafkaAdminClient  # imported late: `status` and `down` do not need it

    with _quiet("kafka"):
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=f"{HOST}:{port}",
                client_id="ontoc-dev-up",
                request_timeout_ms=5000,
            )
        except Exception:
            return False
        try:
            return bool(admin.describe_cluster().get("brokers"))
        except Exception:
            return False
        finally:
            with contextlib.suppress(Exception):
                admin.close()


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """kafka-python logs every refused connection while the broker boots."""
    log = logging.getLogger(logger_name)
    old = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(old)


# --------------------------------------------------------------------------
# Flink


def pyflink_home() -> Path:
    spec = importlib.util.find_spec("pyflink")
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError("PyFlink is not installed (pip install apache-flink)")
    home = Path(list(spec.submodule_search_locations)[0])
    if not (home / "bin" / "jobmanager.sh").is_file():
        raise ServiceError(f"PyFlink at {home} has no bundled Flink distribution (bin/)")
    return home


def _configured_slots(lay: Layout) -> int:
    """The slots the state folder's Flink configuration gives the TaskManager (TASK_SLOTS before the first `up`)."""
    try:
        text = lay.flink_conf.joinpath("config.yaml").read_text()
    except OSError:
        return TASK_SLOTS
    found = re.search(r"^taskmanager\.numberOfTaskSlots: (\d+)$", text, re.MULTILINE)
    return int(found.group(1)) if found else TASK_SLOTS


def _prepare_flink(lay: Layout, jars: JarPaths, port: int, rpc_port: int, python: str, task_slots: int) -> None:
    home = pyflink_home()
    for d in (
        lay.flink,
        lay.flink_conf,
        lay.flink_log,
        lay.flink_tmp,
        lay.flink_run,
        lay.flink / "checkpoints",
        lay.flink / "savepoints",
    ):
        d.mkdir(parents=True, exist_ok=True)

    # lib/: PyFlink's lib, plus flink-python (opt/) for Python UDFs, plus the
    # Kafka connector, as symlinks (the wheel is left untouched). Synced in
    # place: a running JobManager may still open jars from it.
    lay.flink_lib.mkdir(exist_ok=True)
    jars_in = list((home / "lib").glob("*.jar")) + list((home / "opt").glob("flink-python*.jar"))
    jars_in.append(jars.flink_connector_jar)
    wanted = {jar.name: jar.resolve() for jar in jars_in}
    for link in lay.flink_lib.iterdir():
        if link.name not in wanted or not link.is_symlink() or link.resolve() != wanted[link.name]:
            link.unlink()
    for name, target in wanted.items():
        if not (lay.flink_lib / name).is_symlink():
            (lay.flink_lib / name).symlink_to(target)

    # Logging configs: copied once, so they can be tweaked.
    for f in (home / "conf").iterdir():
        if f.name.startswith(("log4j", "logback")) and not (lay.flink_conf / f.name).exists():
            shutil.copy(f, lay.flink_conf / f.name)

    conf = {
        "jobmanager.rpc.address": HOST,
        "jobmanager.rpc.port": rpc_port,
        "jobmanager.bind-host": HOST,
        "jobmanager.memory.process.size": JOBMANAGER_MEMORY,
        "jobmanager.execution.failover-strategy": "region",
        "taskmanager.host": HOST,
        "taskmanager.bind-host": HOST,
        "taskmanager.numberOfTaskSlots": task_slots,
        "taskmanager.memory.process.size": taskmanager_memory(),
        "taskmanager.memory.managed.fraction": MANAGED_MEMORY_FRACTION,
        "parallelism.default": 1,
        "rest.address": HOST,
        "rest.bind-address": HOST,
        "rest.port": port,
        "io.tmp.dirs": str(lay.flink_tmp),
        "web.tmpdir": str(lay.flink_tmp / "web"),
        "execution.checkpointing.dir": (lay.flink / "checkpoints").as_uri(),
        "execution.checkpointing.savepoint-dir": (lay.flink / "savepoints").as_uri(),
        # A killed TaskManager is noticed within seconds (failed heartbeat RPCs);
        # a hung one after 30 s instead of 50. Restart strategies stay Flink's
        # defaults: each job sets its own.
        "heartbeat.interval": 3000,
        "heartbeat.timeout": 30000,
        "python.executable": python,
        "python.client.executable": python,
        "env.pid.dir": str(lay.flink_run),
        "env.log.dir": str(lay.flink_log),
        "env.stdout-err.redirect-to-file": "true",
        "env.java.opts.all": _flink_java_opts(home),
    }
    lay.flink_conf.joinpath("config.yaml").write_text(
        "# Written by ontoc (ontoc/devenv/services.py) on each `up`.\n"
        + "".join(f"{k}: {json.dumps(v)}\n" for k, v in conf.items())
    )


def taskmanager_memory(physical_bytes: int | None = None) -> str:
    """The TaskManager's process size for this machine: a quarter of physical memory, 2 to 8 GB.

    Jobs keep their state in RocksDB by default (`state_backend`), whose cache
    is Flink's managed memory: a larger TaskManager keeps more state in memory,
    and the heap backend's state outgrowing a fixed 2 GB killed the TaskManager.
    """
    if physical_bytes is None:
        try:
            physical_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):  # not a POSIX system that reports it
            return TASKMANAGER_MEMORY
    minimum = int(TASKMANAGER_MEMORY.removesuffix("m"))
    share = int(physical_bytes * TASKMANAGER_SHARE) // (1024 * 1024)
    return f"{max(minimum, min(TASKMANAGER_MAX_MB, share))}m"


def _flink_java_opts(home: Path) -> str:
    """The --add-opens list of the bundled config.yaml (Flink needs it on Java 17)."""
    text = (home / "conf" / "config.yaml").read_text()
    m = re.search(r"^\s+all:\s*(--add-\S.*)$", text, re.MULTILINE)
    return m.group(1).strip() if m else ""


def _flink_env(lay: Layout, java_home: str) -> dict[str, str]:
    env = os.environ.copy()
    for k in (
        "FLINK_HOME",
        "_FLINK_HOME_DETERMINED",
        "FLINK_OPT_DIR",
        "FLINK_PLUGINS_DIR",
        "FLINK_ENV_JAVA_OPTS",
        "FLINK_BIN_DIR",
        "JVM_ARGS",
    ):
        env.pop(k, None)
    env.update(
        JAVA_HOME=java_home,
        FLINK_CONF_DIR=str(lay.flink_conf),
        FLINK_LIB_DIR=str(lay.flink_lib),
        FLINK_LOG_DIR=str(lay.flink_log),
        FLINK_PID_DIR=str(lay.flink_run),
        FLINK_IDENT_STRING="ontoc",
    )
    return env


def _start_jobmanager(lay: Layout, java_home: str, port: int, rpc_port: int) -> int:
    script = pyflink_home() / "bin" / "jobmanager.sh"
    # The -D repeats config.yaml; it puts the state folder on the command line.
    cmd = ["bash", str(script), "start-foreground", "-D", lay.marker("jobmanager")]
    pid = spawn(cmd, lay.launcher_out("jobmanager"), _flink_env(lay, java_home), lay.flink)
    write_pid(lay, "jobmanager", pid, {"port": port, "rpc_port": rpc_port})
    return pid


def _start_taskmanager(lay: Layout, java_home: str) -> int:
    script = pyflink_home() / "bin" / "taskmanager.sh"
    resource_id = f"ontoc-tm-{int(time.time() * 1000)}"
    cmd = [
        "bash",
        str(script),
        "start-foreground",
        "-D",
        lay.marker("taskmanager"),
        "-D",
        f"taskmanager.resource-id={resource_id}",
    ]
    pid = spawn(cmd, lay.launcher_out("taskmanager"), _flink_env(lay, java_home), lay.flink)
    write_pid(lay, "taskmanager", pid, {"resource_id": resource_id})
    return pid


def _wait_flink(lay: Layout, port: int, tm_id: str | None, timeout: float) -> None:
    """Until the REST API answers and shows the TaskManager `tm_id` with slots."""
    deadline = time.monotonic() + timeout
    seen_rest = False
    while time.monotonic() < deadline:
        check_alive(lay, "jobmanager")
        check_alive(lay, "taskmanager")
        overview = _get_json(port, "/overview")
        if overview is not None:
            seen_rest = True
            if overview.get("taskmanagers", 0) >= 1 and overview.get("slots-total", 0) >= 1:
                tms = (_get_json(port, "/taskmanagers") or {}).get("taskmanagers", [])
                if tm_id is None or any(t.get("id") == tm_id for t in tms):
                    return
        time.sleep(0.5)
    who = "taskmanager" if seen_rest else "jobmanager"
    what = (
        "no TaskManager registered with the JobManager"
        if seen_rest
        else f"Flink's REST API did not answer on http://{HOST}:{port}"
    )
    raise ServiceError(f"{what} within {timeout:.0f}s", log_tail(lay, who))


def _get_json(port: int, path: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=3) as r:
            return json.load(r)
    except (OSError, ValueError, urllib.error.URLError):
        return None
