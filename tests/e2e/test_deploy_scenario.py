"""Issue 14's upgrade scenario on the real services, as one run of `ontoc deploy` after another.

Package `rooms` (tests/fixtures/plan) at four versions, each RoomCard limited by an `@attrs.where` on the
room's seats, runs under a producer that sends domain events the whole time:

- v1 (`base`, rooms of 2+ seats) is started;
- v2 (`projection_only`: a getter's expression changes) restores v1's savepoint;
- v3 (`add_field`: a new aggregate, and rooms of 6+ seats) cannot restore it: a staging job recomputes every
  view beside v2, the view topics switch to its rows, the keys v3 no longer has are tombstoned;
- v4 (v3 with a projection change, under settings that cannot start) is rolled back: v3 runs again from the
  same savepoint and deploy exits 1. (A version whose sink fails once it runs is not used: in Flink 2.2 the
  Kafka writer's close rethrows the send error in the failed task's cleanup, which Flink treats as fatal to
  the TaskManager, and the bystander with it; docs/runtime.md.)

The job is exactly-once (Kafka transactions: the views are read `read_committed`, and the staging job must
not share the running job's transactional ids) and its view topics have two partitions (the switch's rows
and tombstones must land in their key's partition).

A job of another package runs on the same TaskManager throughout and never restarts. In the end every view
topic, folded per key, equals the Python oracle of v3 over every event produced, including those produced
while the deploys ran.

mini_batch is off: a version that fails while its joins restore would otherwise hit Flink's fatal mini-batch
join defect (docs/runtime.md, "Changing views in production").
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from kafka.admin import KafkaAdminClient, NewPartitions, NewTopic

from ontoc.cli.main import cli
from ontoc.devenv import services
from ontoc.job_settings import job_for_package
from ontoc.pipeline import compile_definitions
from ontoc.runtime.cluster.deployments import Deployments
from ontoc.runtime.cluster.kafka import KafkaConnection
from ontoc.runtime.cluster.rest import FlinkRest

from ..conftest import DEFINITIONS
from ..support.compare import diff_views
from .support import Event, TopicReader, not_json, only, oracle, produce, upsert, wait_until
from .test_cluster import _cancel, submit_job

pytestmark = pytest.mark.services

PLAN = Path(__file__).resolve().parents[1] / "fixtures" / "plan"
JOB = "e2e-deploy-rooms"
P = "dep:"
VIEW_TOPICS = ("plan_room_cards", "plan_building_cards")
WHERE = """
    @attrs.where
    def roomy(self) -> bool:
        return self.store.room.capacity >= {least}


class BuildingStore(Store):"""


def _version(tmp_path: Path, name: str, fixture: str, least: int, lower_name: bool = False) -> Path:
    """The plan fixture `fixture` with RoomCard's rows limited to rooms of at least `least` seats (and its
    `name` lower-cased instead of upper-cased with `lower_name`: a projection-only change)."""
    folder = tmp_path / name / "rooms"
    shutil.copytree(PLAN / fixture / "rooms", folder)
    views = folder / "views.py"
    text = views.read_text()
    assert "\n\nclass BuildingStore(Store):" in text
    text = text.replace("\n\nclass BuildingStore(Store):", WHERE.format(least=least), 1)
    if lower_name:
        assert "self.store.room.name.upper()" in text
        text = text.replace("self.store.room.name.upper()", "self.store.room.name.lower()", 1)
    views.write_text(text)
    return folder


def _room(n: int, capacity: int, building: str = "b1", name: str | None = None) -> Event:
    doc = {"name": name or f"room {n}", "capacity": capacity, "building": f"{P}{building}"}
    return upsert("plan_rooms", f"{P}r{n}", doc)


def _booking(n: int, room: int, hours: int) -> Event:
    return upsert("plan_bookings", f"{P}k{n}", {"room": f"{P}r{room}", "person": "ada", "hours": hours})


def _building(n: int, city: str) -> Event:
    return upsert("plan_buildings", f"{P}b{n}", {"name": f"Block {n}", "city": city})


def _oracle_rows(version: Path, events: list[Event]) -> dict[str, dict[str, dict]]:
    """The oracle's rows of `version`, per view topic (every version is the package `rooms`: the other ones
    are forgotten first, and this one's folder put first on sys.path, where the oracle imports from)."""
    for name in [m for m in sys.modules if m == "rooms" or m.startswith("rooms.")]:
        del sys.modules[name]
    folder = str(version.parent.resolve())
    if folder in sys.path:
        sys.path.remove(folder)
    sys.path.insert(0, folder)
    importlib.invalidate_caches()
    rows = oracle(compile_definitions(version), version, events)
    return {topic: only(rows[topic], P) for topic in VIEW_TOPICS}


def _staging_topics(bootstrap: str) -> list[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return sorted(t for t in admin.list_topics() if t.startswith(tuple(f"{v}.v" for v in VIEW_TOPICS)))
    finally:
        admin.close()


def _partitioned(bootstrap: str, topics: tuple[str, ...], partitions: int) -> None:
    """The topics with (at least) `partitions` partitions, whether an earlier test created them or not."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        existing = set(admin.list_topics())
        admin.create_topics([NewTopic(t, partitions, 1) for t in topics if t not in existing])
        described = admin.describe_topics([t for t in topics if t in existing])
        fewer = {d["topic"]: NewPartitions(partitions) for d in described if len(d["partitions"]) < partitions}
        if fewer:
            admin.create_partitions(fewer)
    finally:
        admin.close()


def _restarts(rest: FlinkRest, job_id: str) -> int:
    return int(float(rest.get(f"/jobs/{job_id}/metrics?get=numRestarts")[0]["value"]))


def test_deploy_v1_to_v4_under_a_live_producer_beside_a_bystander(cluster, tmp_path):
    v1 = _version(tmp_path, "v1", "base", 2)
    v2 = _version(tmp_path, "v2", "projection_only", 2)
    v3 = _version(tmp_path, "v3", "add_field", 6)
    v4 = _version(tmp_path, "v4", "add_field", 6, lower_name=True)
    settings = {
        "name": JOB,
        "create_topics": True,
        "topic_partitions": 2,
        "checkpoint_interval": "2s",
        "delivery_guarantee": "exactly-once",
        "mini_batch": "off",
    }
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    (jobs_dir / "rooms.toml").write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items()))
    # v4's settings cannot start: its new invalid-events topic asks for 3 replicas of the one broker
    broken_jobs = tmp_path / "broken-jobs"
    broken_jobs.mkdir()
    (broken_jobs / "rooms.toml").write_text(
        (jobs_dir / "rooms.toml").read_text() + 'invalid_events_topic = "e2e_deploy_invalid"\ntopic_replication = 3\n'
    )
    _partitioned(cluster.bootstrap, VIEW_TOPICS, 2)
    rest = FlinkRest(cluster.rest_url)
    where = ["--cluster", cluster.rest_url, "--bootstrap-servers", cluster.bootstrap, "--wait", "180"]
    readers = {topic: TopicReader(cluster.bootstrap, topic, read_committed=True) for topic in VIEW_TOPICS}
    rooms = readers["plan_room_cards"]
    events: list[Event] = []
    lock = threading.Lock()

    def send(batch: list[Event]) -> None:
        with lock:
            produce(cluster.bootstrap, batch)
            events.extend(batch)

    def deploy(version: Path, *more: object, jobs: Path = jobs_dir):
        args = ["deploy", version, "--jobs-dir", jobs, *where, "--savepoint-dir", tmp_path / "savepoints", *more]
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    def ours() -> list[dict]:
        return [j for j in rest.jobs() if str(j.get("name", "")).startswith(JOB)]

    def running() -> list[str]:
        return [j["jid"] for j in ours() if j.get("state") == "RUNNING"]

    def problems(version: Path) -> list[str]:
        with lock:
            expected = _oracle_rows(version, events)
        out = []
        for topic, reader in readers.items():
            reader.drain()
            out += [f"{topic}: {p}" for p in diff_views(reader.state(P), expected[topic], expected[topic])]
        return out

    def converged(version: Path, timeout: float) -> list[str]:
        wait_until(lambda: not problems(version), timeout, interval=2.0)
        return problems(version)

    bystander_job = replace(job_for_package("meeting_room"), name="e2e-deploy-bystander")
    bystander = submit_job(compile_definitions(DEFINITIONS / "meeting_room"), bystander_job, cluster).job_id
    pid = services.status(cluster.state)["taskmanager"].get("pid")
    assert pid and rest.state(bystander) == "RUNNING"
    try:
        # v1: started, and fed
        code, out, err = deploy(v1)
        assert code == 0 and "step 1: start e2e-deploy-rooms (no deployment recorded)" in out, out + err
        [first] = running()
        send(
            [
                _building(1, "Oslo"),
                _building(2, "Bergen"),
                *[_room(n, cap, "b1" if n % 2 else "b2") for n, cap in enumerate([1, 3, 5, 8, 10, 12], start=1)],
                *[_booking(n, n, n) for n in range(1, 7)],
            ]
        )
        assert converged(v1, 180) == []
        assert {f"{P}r2", f"{P}r3"} <= set(rooms.state(P))  # 3 and 5 seats: rows of v1, not of v3

        code, out, err = deploy(v1)
        assert code == 0 and f"nothing to do: job {first} runs this version" in out, out + err
        code, out, err = deploy(v2, "--dry-run")
        assert code == 0 and "RoomCard -> plan_room_cards: savepoint" in out and "(dry run: not done)" in out
        code, out, err = deploy(v3, "--dry-run")
        assert code == 0 and "RoomCard -> plan_room_cards: fresh-start" in out, out + err
        assert "without state from the earliest offsets" in out and "(dry run: not done)" in out
        assert running() == [first]

        # from here on, a producer sends events the whole time: rooms entering and leaving the rows of
        # v1 and v3, bookings added, a building moving
        stop = threading.Event()

        def live() -> None:
            n = 100
            while not stop.is_set():
                send(
                    [
                        _booking(n, 4 + n % 3, n % 5),
                        _room(2, 3 + n % 2),
                        _room(1, 1 if n % 2 else 7),
                        _building(2, "Bergen" if n % 2 else "Trondheim"),
                        not_json("plan_rooms", f"{P}garbled"),
                    ]
                )
                n += 1
                time.sleep(1.0)

        producer = threading.Thread(target=live, daemon=True)
        producer.start()
        try:
            # v2: projection only, through a savepoint
            code, out, err = deploy(v2)
            assert code == 0, out + err
            [second] = running()
            assert second != first and "upgraded; now running: " + second in out
            restored = rest.checkpoints(second)["latest"].get("restored")
            assert restored and restored.get("is_savepoint")

            # a staging job the cluster has too few free slots for: refused before anything changes
            free = rest.overview()["slots-available"]
            wide_jobs = tmp_path / "wide-jobs"
            wide_jobs.mkdir()
            (wide_jobs / "rooms.toml").write_text((jobs_dir / "rooms.toml").read_text() + f"parallelism = {free + 1}\n")
            code, out, err = deploy(v3, jobs=wide_jobs)
            assert code == 2, out + err
            assert f"the staging job {JOB}.v" in err and f"needs {free + 1} free task slot(s)" in err, err
            assert "nothing was changed" in err and running() == [second]

            # v3: a fresh start beside v2, then the switch
            code, out, err = deploy(v3, "--catch-up", "600")
            assert code == 0, out + err
            assert "upgraded (fresh start); now running" in out and "caught up" in out, out
            switched = [line.strip() for line in out.splitlines() if line.strip().startswith("plan_room_cards:")]
            assert switched and " 0 stale key(s)" not in switched[0], out
            [third] = running()
            assert third != second and rest.state(second) == "FINISHED"  # stopped with a savepoint
            # v2 served until the switch without a restart
            assert (rest.exceptions(second).get("exceptionHistory") or {}).get("entries") == []
            assert _staging_topics(cluster.bootstrap) == []

            # v4 cannot start: rolled back, v3 runs again from the same savepoint
            code, out, err = deploy(v4, jobs=broken_jobs)
            print(f"v4's deploy:\n{out}{err}")
            assert code == 1, out + err
            assert "RoomCard -> plan_room_cards: savepoint" in out and "step 4: roll back" in out, out
            assert "rolled back: job" in err and "did not start or failed" in err, out + err
            [fourth] = running()
            assert fourth != third
            recorded = Deployments.read(KafkaConnection(cluster.bootstrap)).by_name(JOB)
            assert recorded is not None and recorded.job_id == fourth
            time.sleep(5)  # events after the rollback, too
        finally:
            stop.set()
            producer.join(30)

        send([_room(6, 14, name="the big one"), _room(5, 2), _booking(999, 6, 4)])
        # v3's rows (v4 would lower-case the names) over every event, those of the deploys included
        assert converged(v3, 240) == []
        state = rooms.state(P)
        assert not {f"{P}r2", f"{P}r3", f"{P}r5"} & set(state)
        deleted = {key for key, value, _ in rooms.records if value is None}
        assert {f"{P}r2", f"{P}r3"} <= deleted  # the keys v1 had and v3 does not were tombstoned
        assert running() == [fourth]
        # every key's rows (the switch's and the rollback's included) in one partition of the two
        for topic, reader in readers.items():
            assert reader.partitions and all(len(p) == 1 for p in reader.partitions.values()), topic
        assert {q for p in rooms.partitions.values() for q in p} == {0, 1}

        # the bystander never restarted, on the same TaskManager
        assert rest.state(bystander) == "RUNNING"
        assert _restarts(rest, bystander) == 0
        assert (rest.exceptions(bystander).get("exceptionHistory") or {}).get("entries") == []
        assert services.status(cluster.state)["taskmanager"].get("pid") == pid
    finally:
        for reader in readers.values():
            reader.close()
        for job in ours():
            _cancel(rest, job["jid"])
        _cancel(rest, bystander)
