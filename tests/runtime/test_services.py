"""The real local services: a Kafka 4 broker and a Flink 2.2 cluster.

Started once for this module, on free ports and in a temporary state folder,
so a developer's own `ontoc dev up` (default ports, `.state/`) is untouched.
Needs Java 17+ and, on the first run, Maven (to fill `.cache/jars`).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from kafka import KafkaConsumer, KafkaProducer

from ontoc.cli.dev import dev
from ontoc.devenv import services
from ontoc.jvm.jars import ensure_jars
from tests.support.services import free_ports, services_fixture

# The tests using `cluster` start their own services; `-m "not services"` skips them.
services_mark = pytest.mark.services


cluster = services_fixture("module")


def _get(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return json.load(r)


@services_mark
def test_up_reports_both_services_ready(cluster):
    text = "\n".join(cluster.lines)
    assert f"kafka ready on 127.0.0.1:{cluster.kafka_port}" in text
    assert f"flink ready on http://127.0.0.1:{cluster.flink_port}" in text


@services_mark
def test_kafka_round_trip(cluster):
    topic = f"ontoc-test-{uuid.uuid4().hex[:8]}"  # created on first use
    bootstrap = f"127.0.0.1:{cluster.kafka_port}"
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        producer.send(topic, key=b"k1", value=b"hello ontoc").get(timeout=60)
    finally:
        producer.close()
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=30_000
    )
    got = []
    try:
        for m in consumer:  # ends after 30 s without a message
            got.append((m.key, m.value))
            break
    finally:
        consumer.close()
    assert got == [(b"k1", b"hello ontoc")]


@services_mark
def test_flink_has_a_taskmanager_with_slots(cluster):
    overview = _get(cluster.flink_port, "/overview")
    assert overview["taskmanagers"] >= 1
    assert overview["slots-total"] >= services.TASK_SLOTS
    assert overview["flink-version"].startswith("2.2")
    tms = _get(cluster.flink_port, "/taskmanagers")["taskmanagers"]
    assert any(t["slotsNumber"] == services.TASK_SLOTS for t in tms)


@services_mark
def test_flink_has_the_kafka_connector_and_python_on_its_classpath(cluster):
    lib = Path(cluster.state) / "flink" / "lib"
    names = {p.name for p in lib.iterdir()}
    assert any(n.startswith("flink-sql-connector-kafka-") for n in names)
    assert any(n.startswith("flink-python-") for n in names)
    assert not any(n.startswith("kafka_2.13") for n in names)  # the broker stays out
    conf = _get(cluster.flink_port, "/jobmanager/config")
    values = {c["key"]: c["value"] for c in conf}
    assert values["python.executable"] == sys.executable  # Python UDF workers use this venv
    assert values["rest.bind-address"] == "127.0.0.1"


@services_mark
def test_status_reports_running(cluster):
    st = services.status(cluster.state)
    for name in services.SERVICES:
        assert st[name]["status"] == "running", st
        assert isinstance(st[name]["pid"], int)
        assert st[name]["rss_mb"] and st[name]["rss_mb"] > 10
    assert st["kafka"]["address"] == f"127.0.0.1:{cluster.kafka_port}"
    assert st["jobmanager"]["address"] == f"http://127.0.0.1:{cluster.flink_port}"

    result = CliRunner().invoke(dev, ["status", "--state-dir", str(cluster.state)])
    assert result.exit_code == 0, result.output
    assert "kafka" in result.output and "running" in result.output
    assert "stopped" not in result.output


@services_mark
def test_every_service_listens_on_loopback_only(cluster):
    st = services.status(cluster.state)
    listening = {name: _listening_addrs(st[name]["pid"]) for name in services.SERVICES}
    assert f"127.0.0.1:{cluster.kafka_port}" in listening["kafka"]
    assert f"127.0.0.1:{cluster.kafka_controller_port}" in listening["kafka"]
    assert f"127.0.0.1:{cluster.flink_port}" in listening["jobmanager"]
    assert f"127.0.0.1:{cluster.flink_rpc_port}" in listening["jobmanager"]
    for name, addrs in listening.items():
        assert addrs, name
        assert all(a.startswith("127.0.0.1:") for a in addrs), (name, addrs)


@services_mark
def test_up_again_starts_nothing(cluster):
    lines: list[str] = []
    before = services.status(cluster.state)
    services.up(
        cluster.state,
        kafka_port=cluster.kafka_port,
        flink_port=cluster.flink_port,
        progress=lines.append,
        kafka_controller_port=cluster.kafka_controller_port,
        flink_rpc_port=cluster.flink_rpc_port,
    )
    after = services.status(cluster.state)
    assert [before[s]["pid"] for s in services.SERVICES] == [after[s]["pid"] for s in services.SERVICES]
    assert sum("already running" in line for line in lines) == 3


@services_mark
def test_up_with_a_taken_port_fails_clearly(cluster, tmp_path):
    # The module's own Kafka holds cluster.kafka_port; a second state folder wants it.
    free = free_ports(3)
    with pytest.raises(services.ServiceError) as err:
        services.up(
            tmp_path / "other",
            kafka_port=cluster.kafka_port,
            flink_port=free[0],
            progress=lambda _m: None,
            kafka_controller_port=free[1],
            flink_rpc_port=free[2],
        )
    assert str(err.value) == (
        f"port {cluster.kafka_port} on 127.0.0.1 is in use by another process; stop it or pass --kafka-port"
    )
    assert not (tmp_path / "other" / "kafka" / "kafka.pid").exists()

    # Any process, not just ours: a plain socket on the Flink port.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        result = CliRunner().invoke(
            dev,
            [
                "up",
                "--state-dir",
                str(tmp_path / "cli"),
                "--kafka-port",
                str(free[0]),
                "--kafka-controller-port",
                str(free[1]),
                "--flink-rpc-port",
                str(free[2]),
                "--flink-port",
                str(taken),
            ],
        )
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"error: port {taken} on 127.0.0.1 is in use by another process; stop it or pass --flink-port"
    )
    assert "Traceback" not in result.output


@services_mark
def test_kill_and_restart_taskmanager(cluster):
    state, port = cluster.state, cluster.flink_port
    old = services.status(state)["taskmanager"]["pid"]
    assert services.kill_taskmanager(state) == old
    assert services.status(state)["taskmanager"]["status"] == "stopped"
    assert not Path(f"/proc/{old}").exists() or "Z" in Path(f"/proc/{old}/stat").read_text()

    new = services.start_taskmanager(state)
    assert new != old
    st = services.status(state)["taskmanager"]
    assert st["status"] == "running" and st["pid"] == new
    tms = _get(port, "/taskmanagers")["taskmanagers"]
    assert any(t["id"] == st["address"] for t in tms)

    # `up` after a crash restarts only what is missing.
    before = services.status(state)
    services.kill_taskmanager(state)
    lines: list[str] = []
    services.up(
        state,
        kafka_port=cluster.kafka_port,
        flink_port=port,
        progress=lines.append,
        kafka_controller_port=cluster.kafka_controller_port,
        flink_rpc_port=cluster.flink_rpc_port,
    )
    after = services.status(state)
    assert after["taskmanager"]["status"] == "running"
    assert after["taskmanager"]["pid"] != before["taskmanager"]["pid"]
    assert after["kafka"]["pid"] == before["kafka"]["pid"]
    assert after["jobmanager"]["pid"] == before["jobmanager"]["pid"]
    assert any(line.startswith("flink ready") for line in lines)


@services_mark
def test_down_stops_everything(cluster):
    # Runs last in this module: the fixture's own `down` then finds nothing.
    state = cluster.state
    pids = [services.status(state)[s]["pid"] for s in services.SERVICES]
    lines: list[str] = []
    stopped = services.down(state, progress=lines.append)
    assert sorted(p for p in stopped.values() if p) == sorted(pids)
    st = services.status(state)
    assert all(st[s]["status"] == "stopped" and st[s]["pid"] is None for s in services.SERVICES)
    for p in pids:
        assert not Path(f"/proc/{p}").exists() or "Z" in Path(f"/proc/{p}/stat").read_text()
    for port in (cluster.kafka_port, cluster.kafka_controller_port, cluster.flink_port, cluster.flink_rpc_port):
        assert services.port_free(port), port

    result = CliRunner().invoke(dev, ["status", "--state-dir", str(state)])
    assert result.exit_code == 0
    assert "running" not in result.output


# -- no services needed ------------------------------------------------------


def test_missing_java_is_reported(monkeypatch):
    monkeypatch.setenv("JAVA_HOME", "/nonexistent-java-home")
    with pytest.raises(services.ServiceError, match=r"Java 17\+ is required"):
        services.find_java()


def test_old_java_is_reported(monkeypatch, tmp_path):
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(services.ServiceError, match=r"but .* is Java 11"):
        services.find_java()
    result = CliRunner().invoke(dev, ["up", "--state-dir", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert result.output.startswith("error: Java 17+ is required")


def test_ensure_jars_does_not_rerun_maven_when_cached():
    calls: list[str] = []
    ensure_jars(progress=calls.append)  # may resolve on a cold machine
    calls.clear()
    jars = ensure_jars(progress=calls.append)
    assert calls == []
    assert jars.flink_connector_jar.name.startswith("flink-sql-connector-kafka-")
    assert any(jars.kafka_classpath_dir.glob("kafka_2.13-4.*.jar"))
    assert not any(jars.kafka_classpath_dir.glob("flink-*.jar"))


# -- helpers -------------------------------------------------------------------


def _listening_addrs(pid: int) -> set[str]:
    """host:port of every TCP socket that `pid` listens on (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    addrs = set()
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] != "0A" or cols[9] not in inodes:  # 0A = LISTEN
                continue
            hexaddr, hexport = cols[1].split(":")
            addrs.add(f"{_ip(hexaddr, v6)}:{int(hexport, 16)}")
    return addrs


def _ip(hexaddr: str, v6: bool) -> str:
    raw = bytes.fromhex(hexaddr)
    if not v6:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    # /proc stores IPv6 as four little-endian 32-bit words.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    if words[:12] == b"\0" * 10 + b"\xff\xff":  # ::ffff:a.b.c.d
        return socket.inet_ntop(socket.AF_INET, words[12:])
    return socket.inet_ntop(socket.AF_INET6, words)
