"""The real Kafka broker and Flink cluster, started ONCE per test session (tests/support/services.py).

4 slots: `ontoc deploy`'s fresh start runs a staging job beside the running one while a bystander job of
another package runs on the same TaskManager (test_deployments.py), and one slot stays free for the test
that runs before or after (each job takes one slot at parallelism 1).
"""

from __future__ import annotations

from tests.support.services import services_fixture

E2E_TASK_SLOTS = 4

cluster = services_fixture("session", task_slots=E2E_TASK_SLOTS)
