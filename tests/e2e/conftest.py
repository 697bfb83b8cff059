"""The real Kafka broker and Flink cluster, started ONCE per test session.

`services.up` on free ports with a temporary state folder (a developer's own
`ontoc dev up` on the default ports and `.state/` is left alone), torn down
when the session ends. Needs Java 17+ and, the first time, Maven (jars).
"""

from __future__ import annotations

import socket
import time

import pytest

from ontoc.runtime import services


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


class Cluster:
    def __init__(self, state, kafka_port: int, flink_port: int, up_seconds: float) -> None:
        self.state = state
        self.kafka_port = kafka_port
        self.flink_port = flink_port
        self.up_seconds = up_seconds

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.flink_port}"


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("services")
    kafka, controller, flink, rpc = free_ports(4)
    t0 = time.monotonic()
    try:
        services.up(
            state,
            kafka_port=kafka,
            flink_port=flink,
            progress=lambda _m: None,
            kafka_controller_port=controller,
            flink_rpc_port=rpc,
        )
    except services.ServiceError as e:
        services.down(state, progress=lambda _m: None)
        pytest.fail(f"could not start Kafka and Flink: {e}\n{e.details}")
    c = Cluster(state, kafka, flink, time.monotonic() - t0)
    try:
        yield c
    finally:
        services.down(state, progress=lambda _m: None)
