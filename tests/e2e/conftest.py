"""The real Kafka broker and Flink cluster, started ONCE per test session (tests/support/services.py)."""

from __future__ import annotations

from tests.support.services import services_fixture

cluster = services_fixture("session")
