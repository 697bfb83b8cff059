"""The real Kafka broker and Flink cluster of `ontoc dev up`, for tests: one definition of the fixture.

`services.up` on free ports with a temporary state folder (a developer's own `ontoc dev up` on the
default ports and `.state/` is left alone), torn down when the fixture's scope ends. Needs Java 17+
and, the first time, Maven (jars). tests/e2e shares one per session; tests/runtime/test_services.py
starts its own per module (its last test stops the services).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ontoc.devenv import services


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


@dataclass
class Cluster:
    state: Path
    kafka_port: int
    kafka_controller_port: int
    flink_port: int
    flink_rpc_port: int
    up_seconds: float = 0.0
    lines: list[str] = field(default_factory=list)  # what `up` said

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.flink_port}"


def running_services(state: Path, task_slots: int | None = None) -> Iterator[Cluster]:
    """Kafka and Flink up on free ports in `state` for as long as the generator is suspended."""
    kafka, controller, flink, rpc = free_ports(4)
    cluster = Cluster(state, kafka, controller, flink, rpc)
    t0 = time.monotonic()
    try:
        services.up(
            state,
            kafka_port=kafka,
            flink_port=flink,
            progress=cluster.lines.append,
            kafka_controller_port=controller,
            flink_rpc_port=rpc,
            task_slots=task_slots,
        )
    except services.ServiceError as e:
        services.down(state, progress=lambda _m: None)
        pytest.fail(f"could not start Kafka and Flink: {e}\n{e.details}")
    cluster.up_seconds = time.monotonic() - t0
    try:
        yield cluster
    finally:
        services.down(state, progress=lambda _m: None)


def services_fixture(scope: str, task_slots: int | None = None) -> Any:
    """A `cluster` fixture of that scope: `cluster = services_fixture("session")` in a conftest or test module."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload]
    def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
        yield from running_services(tmp_path_factory.mktemp("services"), task_slots)

    return cluster
