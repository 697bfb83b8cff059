"""The embedded Flink session: one JVM (PyFlink's py4j gateway) and one MiniCluster per process.

docs/running.md ("How `ontoc run --local` works") says why the MiniCluster is kept.
"""

from __future__ import annotations

import atexit
import sys
import threading
from typing import Any

LOCK = threading.RLock()  # one job at a time per process


def gateway_started() -> bool:
    try:
        from pyflink import java_gateway

        return java_gateway._gateway is not None
    except Exception:  # pragma: no cover
        return False


SESSION: dict[str, Any] = {}
SESSION_SLOTS = 4


def _shutdown_session() -> None:
    cluster = SESSION.pop("cluster", None)
    SESSION.clear()
    if cluster is not None:
        try:
            cluster.close()
        except Exception:  # pragma: no cover - JVM already gone at exit
            pass


def _session_rest(parallelism: int) -> tuple[str, int]:
    """Start (once per process) a MiniCluster in the gateway JVM; return its REST host/port."""
    from pyflink.java_gateway import get_gateway

    cluster = SESSION.get("cluster")
    if cluster is not None and parallelism <= SESSION["slots"]:
        try:
            if cluster.isRunning():
                return SESSION["host"], SESSION["port"]
        except Exception:
            pass
    _shutdown_session()
    jvm = get_gateway().jvm
    jconf = jvm.org.apache.flink.configuration.Configuration()
    for k, v in {
        "rest.bind-port": "0",
        "rest.bind-address": "localhost",
        "rest.address": "localhost",
        # keep the dispatcher's job archive small: one entry per run_local call
        "jobstore.max-capacity": "8",
        "jobstore.expiration-time": "60",
        "restart-strategy.type": "none",
    }.items():
        jconf.setString(k, v)
    slots = max(SESSION_SLOTS, parallelism)
    mc_conf = (
        jvm.org.apache.flink.runtime.minicluster.MiniClusterConfiguration.Builder()
        .setConfiguration(jconf)
        .setNumTaskManagers(1)
        .setNumSlotsPerTaskManager(slots)
        .build()
    )
    cluster = jvm.org.apache.flink.runtime.minicluster.MiniCluster(mc_conf)
    cluster.start()
    uri = cluster.getRestAddress().get()
    if not SESSION.get("atexit"):
        atexit.register(_shutdown_session)
    SESSION.update(cluster=cluster, host=uri.getHost(), port=int(uri.getPort()), slots=slots, atexit=True)
    return SESSION["host"], SESSION["port"]


def make_envs(parallelism: int, session: bool):
    from pyflink.common import Configuration
    from pyflink.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
    from pyflink.java_gateway import get_gateway
    from pyflink.table import EnvironmentSettings, StreamTableEnvironment

    conf = Configuration()
    conf.set_string("execution.runtime-mode", "STREAMING")
    conf.set_string("parallelism.default", str(parallelism))
    conf.set_string("restart-strategy.type", "none")
    conf.set_string("table.local-time-zone", "UTC")
    conf.set_string("python.executable", sys.executable)
    conf.set_string("python.client.executable", sys.executable)
    if session:
        host, port = _session_rest(parallelism)
        conf.set_string("execution.target", "remote")
        conf.set_string("rest.address", host)
        conf.set_string("rest.port", str(port))
        j_env = get_gateway().jvm.org.apache.flink.streaming.api.environment.StreamExecutionEnvironment(
            conf._j_configuration
        )
        env = StreamExecutionEnvironment(j_env)
    else:
        env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.set_parallelism(parallelism)
    env.set_runtime_mode(RuntimeExecutionMode.STREAMING)
    settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(conf).build()
    t_env = StreamTableEnvironment.create(env, environment_settings=settings)
    cfg = t_env.get_config()
    cfg.set("table.local-time-zone", "UTC")
    cfg.set("table.exec.resource.default-parallelism", str(parallelism))
    if session:
        # Python UDFs (if the caller's setup registers any) run in this
        # process's loopback worker pool, as PyFlink does for local jobs
        try:
            from pyflink.fn_execution.beam.beam_worker_pool_service import (
                BeamFnLoopbackWorkerPoolServicer,
            )

            cfg.set("python.loopback-server.address", BeamFnLoopbackWorkerPoolServicer().start())
        except Exception:  # pragma: no cover - falls back to process mode
            pass
    return env, t_env
