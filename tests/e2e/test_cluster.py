"""End to end on the real services: `ontoc submit` to a Flink 2.2 cluster reading and writing Kafka 4.

Nothing is mocked. The session fixture (`conftest.py`) starts one Kafka broker
and one Flink cluster (JobManager + one TaskManager with 2 slots) on free
ports; each test submits its own job, produces domain events with
kafka-python, reads the view topics back, compacts them to the latest value
per key (a tombstone deletes), and compares them with the Python oracle and
with `ontoc run --local` on the same events. Each test uses its own doc_id
prefix and job name and cancels its job at the end, so the tests share topics
without seeing each other's rows.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from ontoc.backend.flink.job import build_job
from ontoc.cli.cluster import jobs, submit
from ontoc.devenv import services
from ontoc.job_settings import job_for_package
from ontoc.pipeline import compile_definitions
from ontoc.runtime.cluster import submit as cluster_submit
from ontoc.runtime.cluster.kafka import KafkaConnection
from ontoc.runtime.cluster.rest import FlinkRest

from ..conftest import DEFINITIONS, ROOT
from .support import (
    TopicReader,
    delete,
    differences,
    expected_views,
    no_key,
    not_json,
    oracle,
    produce,
    random_events,
    upsert,
    wait_until,
)

pytestmark = pytest.mark.services


def submit_job(compiled, job, cluster):
    """`ontoc submit` without the CLI: the backend builds the job, the runtime submits it."""
    kafka = KafkaConnection(cluster.bootstrap)
    spec = build_job(compiled.plans, compiled.schema.models, job, kafka.options())
    return cluster_submit.submit(compiled, spec, cluster.rest_url, kafka, progress=lambda _m: None)


SEED_DEADLINE_S = 60.0  # the seed scenario's bound: a flip is re-emitted within this time
SETTLE_S = 120.0  # how long a test waits for the views to match in the end


def _cancel(rest: FlinkRest, job_id: str | None) -> None:
    if not job_id:
        return
    try:
        if rest.state(job_id) not in ("CANCELED", "FAILED", "FINISHED"):
            rest.cancel(job_id)
        rest.wait_for_state(job_id, {"CANCELED"}, timeout=30)
    except Exception:
        pass


def _job_file(tmp_path: Path, **keys) -> Path:
    lines = [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    path = tmp_path / f"{keys['name']}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------
# The seed scenario: the meeting room, through the CLI


P = "seed:"


def _people(P: str = P) -> list:
    users = [
        ("u1", "Ada", "Lovelace", "Analytical", True),
        ("u2", "Alan", "Turing", None, False),
        ("u3", "Grace", "Hopper", "Navy", False),
        ("u4", "Edsger", "Dijkstra", None, False),
    ]
    out = [upsert("locations", P + "loc-1", {"address": "1 Harbour Street", "latitude": 51.5, "longitude": -0.12})]
    for uid, first, last, org, aid in users:
        doc = {"first_name": first, "last_name": last, "hearing_aid_requested": aid}
        if org:
            doc["organization"] = org
        out.append(upsert("users", P + uid, doc))
    out += [
        upsert("meetings", P + "m1", {"status": "in-session", "location": P + "loc-1"}),
        upsert("meetings", P + "m2", {"status": "not-started", "location": P + "loc-1"}),
        upsert("meetings", P + "m3", {"status": "closed", "location": P + "loc-missing"}),
    ]
    for tid, meeting, user, role, attendance in [
        ("t1", "m1", "u1", "chair", True),
        ("t2", "m1", "u2", "guest", True),
        ("t3", "m1", "u3", "guest", True),
        ("t4", "m1", "u4", "guest", False),
        ("t5", "m2", "u1", "guest", True),
        ("t6", "m3", "u3", "chair", True),
    ]:
        out.append(
            upsert(
                "tickets", P + tid, {"meeting": P + meeting, "user": P + user, "role": role, "attendance": attendance}
            )
        )
    return out


def _names(row: dict | None) -> list[str] | None:
    return None if row is None else [d["name"] for d in row.get("attending") or []]


def test_meeting_room_seed_scenario(cluster, tmp_path):
    """Participants attend a meeting; one flips; invalid events change nothing; deletes are tombstones."""
    definitions = DEFINITIONS / "meeting_room"
    compiled = compile_definitions(definitions)
    rest = FlinkRest(cluster.rest_url)
    name = "e2e-seed"
    job_file = _job_file(
        tmp_path, name=name, checkpoint_interval="2s", delivery_guarantee="at-least-once", restart_delay="2s"
    )
    runner = CliRunner()
    t0 = time.monotonic()
    result = runner.invoke(
        submit,
        [
            str(definitions),
            "--job",
            str(job_file),
            "--cluster",
            cluster.rest_url,
            "--bootstrap-servers",
            cluster.bootstrap,
            "--kafka-property",
            "client.id=ontoc-e2e",
        ],
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    job_id = next(
        w for line in result.output.splitlines() if line.startswith("submitted job") for w in line.split()[2:3]
    )
    assert rest.state(job_id) == "RUNNING", result.output
    submit_s = time.monotonic() - t0
    # the job file's settings reached the job: checkpoints every 2 s, kept when the job is cancelled
    cp = rest.get(f"/jobs/{job_id}/checkpoints/config")
    assert cp["interval"] == 2000 and cp["mode"] == "exactly_once", cp
    assert cp["externalization"] == {"enabled": True, "delete_on_cancellation": False}, cp
    assert rest.job(job_id)["name"] == name
    views = TopicReader(cluster.bootstrap, "meeting_sessions")
    invalid_topic = TopicReader(cluster.bootstrap, "ontoc_invalid_events")
    events = []
    try:
        # 1. three of four participants attend m1
        events += _people()
        produce(cluster.bootstrap, events)

        def settled():
            views.poll()
            want = {
                k: v for k, v in oracle(compiled, definitions, events)["meeting_sessions"].items() if k.startswith(P)
            }
            return views.state(P) == want

        assert wait_until(settled, SETTLE_S), f"views never matched the oracle: {views.state(P)}"
        assert _names(views.state(P)[P + "m1"]) == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]

        # 2. the seed scenario: one participant's attendance flips; m1 is re-emitted in bounded time
        flip = upsert(
            "tickets", P + "t2", {"meeting": P + "m1", "user": P + "u2", "role": "guest", "attendance": False}
        )
        events.append(flip)
        seen_before = len(views.records)
        t_flip = time.monotonic()
        produce(cluster.bootstrap, [flip])

        def re_emitted():
            views.poll()
            return next(
                (
                    t
                    for k, v, t in views.records[seen_before:]
                    if k == P + "m1" and _names(v) == ["Ada Lovelace", "Grace Hopper"]
                ),
                None,
            )

        t_seen = wait_until(re_emitted, SEED_DEADLINE_S, interval=0.2)
        assert t_seen, f"m1 was not re-emitted with the updated list within {SEED_DEADLINE_S:.0f}s"
        flip_latency = t_seen - t_flip

        # 3. invalid events are skipped and counted; the documents keep their previous state
        bad = [
            upsert("tickets", P + "t1", {"meeting": P + "m1", "user": P + "u1", "role": "chair", "attendance": "yes"}),
            not_json("tickets", P + "t3"),
            upsert("tickets", P + "t1", {"meeting": P + "m1", "user": P + "u1", "attendance": False}),  # no role
            upsert("users", P + "u1", {"first_name": None, "last_name": "Lovelace"}),
            upsert("meetings", P + "m1", {"status": 5, "location": P + "loc-1"}),
            no_key("tickets", {"meeting": P + "m1", "user": P + "u4", "role": "guest", "attendance": True}),
            upsert("locations", P + "loc-1", {"address": "2 Harbour Street", "latitude": "51.5", "longitude": -0.12}),
        ]
        marker = upsert(
            "tickets", P + "t4", {"meeting": P + "m1", "user": P + "u4", "role": "guest", "attendance": True}
        )
        events += bad + [marker]
        produce(cluster.bootstrap, bad + [marker])
        assert wait_until(settled, SETTLE_S), f"views after invalid events: {views.state(P)}"
        m1 = views.state(P)[P + "m1"]
        assert _names(m1) == ["Ada Lovelace", "Edsger Dijkstra", "Grace Hopper"]
        assert m1["in_session"] is True and m1["address"] == "1 Harbour Street"

        # 4. deletes: a meeting (tombstone), a ticket (list shrinks), a `where` turning false (tombstone)
        gone = [
            delete("meetings", P + "m2"),
            delete("tickets", P + "t3"),
            upsert("meetings", P + "m3", {"status": "deleted", "location": P + "loc-missing"}),
        ]
        events += gone
        produce(cluster.bootstrap, gone)
        assert wait_until(settled, SETTLE_S), f"views after deletes: {views.state(P)}"
        last = {k: v for k, v, _ in views.records}
        assert P + "m2" in last and last[P + "m2"] is None, "deleting m2 wrote no tombstone"
        assert P + "m3" in last and last[P + "m3"] is None, "m3's where turning false wrote no tombstone"

        # the final views equal the oracle AND `ontoc run --local` on the same events
        expected = expected_views(compiled, definitions, events)
        views.drain()
        problems = differences("meeting_sessions", views.state(P), expected, P)
        assert not problems, "\n".join(problems)

        # invalid events: in the topic (one record each, with the reason) and in the metric
        def of_this_job():
            invalid_topic.poll()
            return [v for _, v, _ in invalid_topic.records if v and v["job"] == name]

        def ours(records):  # this test's events (the job also reads whatever else is in the topics)
            return [v for v in records if (v["key"] or "").startswith(P) or (v["key"] is None and P in v["value"])]

        mine = ours(wait_until(lambda: len(ours(of_this_job())) >= len(bad) and of_this_job(), 30) or [])
        assert len(mine) == len(bad) == expected.invalid_local, mine
        reasons = " | ".join(v["reason"] for v in mine)
        for word in ("attendance", "not JSON", "role", "first_name", "status", "no key", "latitude"):
            assert word in reasons, reasons
        # the metric counts what the job skipped: the records of this job in the topic
        metric = wait_until(
            lambda: (rest.operator_metric_total(job_id, "ontoc_invalid_events") or 0) == len(of_this_job()) or None, 30
        )
        assert metric, (rest.operator_metric_total(job_id, "ontoc_invalid_events"), len(of_this_job()))
        count = len(of_this_job())

        # `ontoc jobs list | savepoint | cancel`
        listed = runner.invoke(jobs, ["list", "--cluster", cluster.rest_url])
        assert listed.exit_code == 0 and job_id in listed.output and name in listed.output, listed.output
        row = next(line for line in listed.output.splitlines() if job_id in line)
        assert row.split()[1] == "RUNNING" and row.split()[5] == str(count), row
        sp = runner.invoke(
            jobs, ["savepoint", job_id, "--dir", str(tmp_path / "savepoints"), "--cluster", cluster.rest_url]
        )
        assert sp.exit_code == 0 and "savepoint-" in sp.output, sp.output
        assert any((tmp_path / "savepoints").iterdir())
        cancelled = runner.invoke(jobs, ["cancel", job_id, "--cluster", cluster.rest_url])
        assert cancelled.exit_code == 0 and "canceled" in cancelled.output, cancelled.output
        assert rest.state(job_id) == "CANCELED"
        print(
            f"\nseed: up {cluster.up_seconds:.1f}s, submit {submit_s:.1f}s, flip re-emitted after {flip_latency:.2f}s"
        )
    finally:
        views.close()
        invalid_topic.close()
        _cancel(rest, job_id)


# --------------------------------------------------------------------------
# Another package: the shop, random documents and updates (hypothesis), through the Python API


def test_shop_matches_oracle_and_local(cluster):
    """Random documents, updates and deletes over five topics, a few invalid events in between."""
    definitions = DEFINITIONS / "shop"
    compiled = compile_definitions(definitions)
    rest = FlinkRest(cluster.rest_url)
    job = replace(job_for_package("shop"), name="e2e-shop", checkpoint_interval_ms=2000)
    done = submit_job(compiled, job, cluster)
    reader = TopicReader(cluster.bootstrap, "shop_order_summaries")
    try:
        rnd = random.Random(20261127)
        events = []
        for scenario in range(8):
            events += random_events(compiled.schema, rnd, f"s{scenario}:", 60)
        line = next(e for e in events if e.topic == "shop_order_lines" and e.value)
        doc = json.loads(line.value)
        events[len(events) // 2 : len(events) // 2] = [
            upsert("shop_order_lines", line.key, {**doc, "quantity": "3"}),  # a string for an int
            upsert("shop_order_lines", line.key, {**doc, "quantity": 2.5}),  # a float for an int
            not_json("shop_orders", "s0:shop_orders-0", "[1, 2"),
        ]
        produce(cluster.bootstrap, events)
        expected = expected_views(compiled, definitions, events)
        assert expected.invalid_local == 3
        assert len(expected.forward["shop_order_summaries"]) >= 5  # the scenario is not trivial

        def settled():
            reader.poll()
            return not differences("shop_order_summaries", reader.state(), expected, "")

        ok = wait_until(settled, SETTLE_S)
        reader.drain()
        problems = differences("shop_order_summaries", reader.state(), expected, "")
        assert ok and not problems, "\n".join(problems[:30])
        assert wait_until(lambda: rest.operator_metric_total(done.job_id, "ontoc_invalid_events") == 3, 30), (
            rest.operator_metric_total(done.job_id, "ontoc_invalid_events")
        )
    finally:
        reader.close()
        _cancel(rest, done.job_id)


def test_decimals_format_as_python_on_the_cluster(cluster):
    """`str()` of Decimal fields through ONTOC_VALIDATE_EVENT's text columns: `1.50`, `1E+3`, `-0.0`, defaults, None,
    references (dangling ones too) and collection elements, against the oracle and `ontoc run --local`."""
    definitions = ROOT / "tests" / "fixtures" / "decimals"
    compiled = compile_definitions(definitions)
    rest = FlinkRest(cluster.rest_url)
    job = replace(job_for_package("decimals"), name="e2e-decimals", checkpoint_interval_ms=2000)
    done = submit_job(compiled, job, cluster)
    reader = TopicReader(cluster.bootstrap, "d_account_views")
    try:
        rnd = random.Random(20261129)
        events = []
        for scenario in range(8):
            events += random_events(compiled.schema, rnd, f"dec{scenario}:", 40)
        produce(cluster.bootstrap, events)
        expected = expected_views(compiled, definitions, events)
        rows = expected.forward["d_account_views"]
        assert len(rows) >= 5 and any("E" in (r["balance_text"] or "") for r in rows.values())  # not trivial

        def settled():
            reader.poll()
            return not differences("d_account_views", reader.state(), expected, "")

        ok = wait_until(settled, SETTLE_S)
        reader.drain()
        problems = differences("d_account_views", reader.state(), expected, "")
        assert ok and not problems, "\n".join(problems[:30])
    finally:
        reader.close()
        _cancel(rest, done.job_id)


def test_python_udfs_on_the_cluster(cluster):
    """The meeting room with its static method as a Python UDF (`--static-methods udf`): the view's own
    `display_name` runs in the TaskManager's Python workers, shipped with the job."""
    definitions = DEFINITIONS / "meeting_room"
    compiled = compile_definitions(definitions, "udf")
    assert any(p.udfs for p in compiled.plans)
    rest = FlinkRest(cluster.rest_url)
    job = replace(job_for_package("meeting_room"), name="e2e-udfs", checkpoint_interval_ms=2000)
    done = submit_job(compiled, job, cluster)
    reader = TopicReader(cluster.bootstrap, "meeting_sessions")
    prefix = "udf:"
    try:
        rnd = random.Random(99)
        events = []
        for scenario in range(6):
            events += random_events(compiled.schema, rnd, f"{prefix}{scenario}:", 50)
        events += _people(prefix)  # and a meeting that surely has names in it
        produce(cluster.bootstrap, events)
        expected = expected_views(compiled, definitions, events)

        def settled():
            reader.poll()
            return not differences("meeting_sessions", reader.state(prefix), expected, prefix)

        ok = wait_until(settled, SETTLE_S)
        reader.drain()
        problems = differences("meeting_sessions", reader.state(prefix), expected, prefix)
        assert ok and not problems, "\n".join(problems[:30])
        assert _names(reader.state(prefix)[prefix + "m1"]) == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    finally:
        reader.close()
        _cancel(rest, done.job_id)


# --------------------------------------------------------------------------
# Delivery guarantee: exactly-once, checkpoints, the real TaskManager killed mid-stream


def _stream(E: str, seed: int, n: int) -> list:
    """Many small updates over a few meetings: attendance flips, status changes, renames, deletes."""
    rnd = random.Random(seed)
    users = [f"{E}u{i}" for i in range(6)]
    meetings = [f"{E}m{i}" for i in range(3)]
    tickets = [f"{E}t{i}" for i in range(12)]
    out = [upsert("locations", E + "loc", {"address": "Main Hall", "latitude": 1.0, "longitude": 2.0})]
    out += [
        upsert("users", u, {"first_name": f"U{i}", "last_name": "Doe", "hearing_aid_requested": i % 2 == 0})
        for i, u in enumerate(users)
    ]
    out += [upsert("meetings", m, {"status": "in-session", "location": E + "loc"}) for m in meetings]
    while len(out) < n:
        r = rnd.random()
        if r < 0.7:
            t = rnd.choice(tickets)
            out.append(
                upsert(
                    "tickets",
                    t,
                    {
                        "meeting": rnd.choice(meetings),
                        "user": rnd.choice(users),
                        "role": "guest",
                        "attendance": rnd.random() < 0.6,
                    },
                )
            )
        elif r < 0.8:
            out.append(
                upsert(
                    "meetings",
                    rnd.choice(meetings),
                    {"status": rnd.choice(["in-session", "closed", "not-started"]), "location": E + "loc"},
                )
            )
        elif r < 0.9:
            u = rnd.choice(users)
            out.append(
                upsert(
                    "users",
                    u,
                    {
                        "first_name": u[-2:].upper(),
                        "last_name": rnd.choice("ABCDE"),
                        "organization": rnd.choice([None, "Org"]),
                        "hearing_aid_requested": rnd.random() < 0.5,
                    },
                )
            )
        elif r < 0.95:
            out.append(delete("tickets", rnd.choice(tickets)))
        else:
            out.append(not_json("tickets", rnd.choice(tickets)))
    return out


@pytest.mark.parametrize("guarantee", ["exactly-once", "at-least-once"])
def test_views_survive_a_killed_taskmanager(cluster, guarantee):
    """With checkpoints, SIGKILL the real TaskManager mid-stream, restart it, keep producing:
    the job restarts from its last checkpoint and the final views equal the oracle."""
    E = f"{guarantee}:"
    definitions = DEFINITIONS / "meeting_room"
    compiled = compile_definitions(definitions)
    rest = FlinkRest(cluster.rest_url)
    job = replace(
        job_for_package("meeting_room"),
        name=f"e2e-{guarantee}",
        checkpoint_interval_ms=1500,
        delivery_guarantee=guarantee,
        restart_attempts=50,
        restart_delay_ms=1000,
    )
    done = submit_job(compiled, job, cluster)
    # exactly-once views are read as a transactional consumer must read them
    reader = TopicReader(cluster.bootstrap, "meeting_sessions", read_committed=guarantee == "exactly-once")
    events = _stream(E, seed=7, n=600)
    batches = [events[:150], events[150:300], events[300:450], events[450:]]
    timings = {}
    try:
        # batch 1, then wait until a checkpoint has committed it (read_committed sees it)
        produce(cluster.bootstrap, batches[0])
        want1 = {
            k: v for k, v in oracle(compiled, definitions, batches[0])["meeting_sessions"].items() if k.startswith(E)
        }
        assert wait_until(lambda: reader.poll() is not None and reader.state(E) == want1, SETTLE_S), (
            f"batch 1 never committed: {reader.state(E)} != {want1}"
        )
        completed = rest.checkpoints(done.job_id)["counts"]["completed"]
        assert completed >= 1

        # batch 2 streams in slowly; the TaskManager process is SIGKILLed in the middle of it
        producer = threading.Thread(
            target=lambda: [
                produce(cluster.bootstrap, batches[1][i : i + 10]) or time.sleep(0.05) for i in range(0, 150, 10)
            ]
        )
        producer.start()
        time.sleep(0.3)
        t_kill = time.monotonic()
        killed = services.kill_taskmanager(cluster.state)
        producer.join()
        produce(cluster.bootstrap, batches[2])  # while no TaskManager runs
        services.start_taskmanager(cluster.state)
        timings["taskmanager back"] = time.monotonic() - t_kill
        assert rest.wait_for_state(done.job_id, {"RUNNING"}, timeout=SETTLE_S, all_tasks_running=True) == "RUNNING"
        timings["job running again"] = time.monotonic() - t_kill
        produce(cluster.bootstrap, batches[3])

        # restarted from the last completed checkpoint, and nothing lost: the views equal the oracle
        restored = rest.checkpoints(done.job_id)["latest"].get("restored")
        assert restored and not restored.get("is_savepoint"), restored
        expected = expected_views(compiled, definitions, events)

        def settled():
            reader.poll()
            return not differences("meeting_sessions", reader.state(E), expected, E)

        ok = wait_until(settled, SETTLE_S)
        timings["views equal the oracle"] = time.monotonic() - t_kill
        reader.drain()
        problems = differences("meeting_sessions", reader.state(E), expected, E)
        assert ok and not problems, "\n".join(problems[:30])
        assert rest.state(done.job_id) == "RUNNING"
        print(
            f"\n{guarantee}: killed TaskManager pid {killed}; restored checkpoint {restored['id']}; "
            + ", ".join(f"{k} after {v:.1f}s" for k, v in timings.items())
        )
    finally:
        reader.close()
        if services.status(cluster.state)["taskmanager"]["status"] != "running":
            services.start_taskmanager(cluster.state)
        _cancel(rest, done.job_id)
