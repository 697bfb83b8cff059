"""Safe upgrades on the real services (issue 14): deployments recorded, restores checked before they are tried,
and a refused restore that takes no other job down.

The package is tests/fixtures/plan's `rooms` at three versions: `base` (running), `projection_only` (restores
from base's savepoint) and `add_field` (a new aggregate: needs a fresh start). Each is copied to its own
folder, so the job and the SQL differ only where the definitions do.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ontoc.cli.cluster import jobs, submit
from ontoc.cli.main import cli
from ontoc.devenv import services
from ontoc.runtime.cluster.deployments import Deployments
from ontoc.runtime.cluster.kafka import KafkaConnection
from ontoc.runtime.cluster.rest import FlinkRest

from .support import produce, upsert, wait_until

pytestmark = pytest.mark.services

PLAN = Path(__file__).resolve().parents[1] / "fixtures" / "plan"


def _versions(tmp_path: Path, job_name: str, **more: object) -> tuple[dict[str, Path], Path]:
    """Each version's `rooms` package in its own folder, and a jobs folder naming the job `job_name`."""
    out = {}
    for version in ("base", "projection_only", "add_field"):
        out[version] = tmp_path / version / "rooms"
        shutil.copytree(PLAN / version / "rooms", out[version])
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    settings = {"name": job_name, "create_topics": True, "checkpoint_interval": "2s", **more}
    (jobs_dir / "rooms.toml").write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items()))
    return out, jobs_dir


def _run(command, *args):
    result = CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _job_id(out: str) -> str:
    line = next(x for x in out.splitlines() if x.startswith("submitted job "))
    return line.split()[2]


def _events(prefix: str) -> list:
    return [
        upsert("plan_buildings", f"{prefix}b1", {"name": "Main", "city": "Oslo"}),
        upsert("plan_rooms", f"{prefix}r1", {"name": "Blue", "capacity": 8, "building": f"{prefix}b1"}),
        upsert("plan_bookings", f"{prefix}k1", {"room": f"{prefix}r1", "person": "ada", "hours": 2}),
    ]


def _cancel(rest: FlinkRest, *job_ids: str | None) -> None:
    for job_id in job_ids:
        if not job_id:
            continue
        try:
            if rest.state(job_id) not in ("CANCELED", "FAILED", "FINISHED"):
                rest.cancel(job_id)
            rest.wait_for_state(job_id, {"CANCELED"}, timeout=30)
        except Exception:
            pass


def test_submit_records_the_deployment_and_checks_restores(cluster, tmp_path):
    versions, jobs_dir = _versions(tmp_path, "e2e-record-rooms")
    rest = FlinkRest(cluster.rest_url)
    where = ["--cluster", cluster.rest_url, "--bootstrap-servers", cluster.bootstrap]
    started: list[str] = []
    try:
        code, out, err = _run(submit, versions["base"], "--jobs-dir", jobs_dir, *where)
        assert code == 0, out + err
        job_id = _job_id(out)
        started.append(job_id)
        assert "recorded in topic ontoc_deployments: ontoc " in out
        produce(cluster.bootstrap, _events("rec:"))

        # the record: manifest, SQL files, version, revision (the copy is outside git: none)
        recorded = Deployments.read(KafkaConnection(cluster.bootstrap))
        deployment = recorded.by_name("e2e-record-rooms")
        assert deployment is not None and deployment.job_id == job_id
        assert recorded.by_job_id(job_id) == deployment
        assert {v["topic"] for v in deployment.manifest["views"]} == {"plan_room_cards", "plan_building_cards"}
        assert set(deployment.files) == {"plan_room_cards.sql", "plan_building_cards.sql"}
        assert deployment.revision is None and deployment.ontoc_version

        code, out, err = _run(jobs, "list", *where)
        assert code == 0, err
        row = next(x for x in out.splitlines() if x.startswith(job_id))
        assert f"(ontoc {deployment.ontoc_version})" in row

        # plan against the running job: the same definitions are unchanged, add_field needs a fresh start
        code, out, err = _run(
            cli, "plan", versions["base"], "--against-deployed", "--jobs-dir", jobs_dir, "--bootstrap-servers",
            cluster.bootstrap, "--format", "json",
        )  # fmt: skip
        assert code == 0, err
        assert {v["status"] for v in json.loads(out)["views"]} == {"unchanged"}
        code, out, err = _run(
            cli, "plan", versions["add_field"], "--against-deployed", "--jobs-dir", jobs_dir, "--bootstrap-servers",
            cluster.bootstrap, "--format", "json",
        )  # fmt: skip
        verdicts = {v["view"]: v["verdict"] for v in json.loads(out)["views"]}
        assert verdicts == {"RoomCard": "fresh-start", "BuildingCard": "savepoint"}

        # a savepoint, recorded; a state-incompatible restore is refused before Flink sees it
        code, out, err = _run(jobs, "savepoint", job_id, "--cancel", "--dir", tmp_path / "savepoints", *where)
        assert code == 0, err
        location = out.split(": ", 1)[1].splitlines()[0].strip()
        jobs_before = {j["jid"] for j in rest.jobs()}
        code, out, err = _run(
            submit, versions["add_field"], "--jobs-dir", jobs_dir, "--from-savepoint", location, *where
        )
        assert code == 2, out + err
        assert "cannot restore this savepoint" in err and "RoomCard -> plan_room_cards: needs a fresh start" in err
        assert "an aggregate's accumulators change" in err
        assert {j["jid"] for j in rest.jobs()} == jobs_before  # nothing was submitted

        # a savepoint nothing records: refused unless --force
        unknown = (tmp_path / "elsewhere" / "savepoint-0a1b2c-d3e4f5a6b7c8").as_uri()
        code, out, err = _run(submit, versions["base"], "--jobs-dir", jobs_dir, "--from-savepoint", unknown, *where)
        assert code == 2 and "no deployment record for the savepoint" in err

        # a compatible restore goes ahead, and is recorded with where it came from
        code, out, err = _run(
            submit, versions["projection_only"], "--jobs-dir", jobs_dir, "--from-savepoint", location, *where
        )
        assert code == 0, out + err
        assert "the new job can restore it" in out
        restored_id = _job_id(out)
        started.append(restored_id)
        restored = rest.checkpoints(restored_id)["latest"].get("restored")
        assert restored and restored.get("is_savepoint"), restored
        again = Deployments.read(KafkaConnection(cluster.bootstrap))
        latest = again.by_name("e2e-record-rooms")
        assert latest is not None and latest.job_id == restored_id and latest.from_savepoint == location
        assert again.for_savepoint(location) == deployment  # the savepoint still points at the job that wrote it
    finally:
        _cancel(rest, *started)


def _taskmanager_pid(cluster) -> int | None:
    return services.status(cluster.state)["taskmanager"].get("pid")


def _savepoint_of_a_running_base(versions, jobs_dir, where, tmp_path, prefix: str) -> tuple[str, str]:
    code, out, err = _run(submit, versions["base"], "--jobs-dir", jobs_dir, *where)
    assert code == 0, out + err
    job_id = _job_id(out)
    produce(where[3], _events(prefix))
    code, out, err = _run(jobs, "savepoint", job_id, "--cancel", "--dir", tmp_path / "savepoints", *where)
    assert code == 0, err
    return job_id, out.split(": ", 1)[1].splitlines()[0].strip()


def test_a_refused_restore_takes_no_other_job_down(cluster, tmp_path):
    """Issue 14.3: incompatible restores forced while another job (with a mini-batch join) runs on the same
    TaskManager. With mini-batch joins ontoc refuses even --force (the failed restore would be fatal to the
    TaskManager in Flink 2.2); without, Flink refuses the state and nothing else is touched."""
    versions, jobs_dir = _versions(tmp_path / "on", "e2e-force-rooms")
    _, plain_jobs = _versions(tmp_path / "off", "e2e-force-plain-rooms", mini_batch="off")
    other_jobs = tmp_path / "other-jobs"
    other_jobs.mkdir()
    (other_jobs / "rooms.toml").write_text('name = "e2e-bystander"\ncreate_topics = true\ncheckpoint_interval = "2s"\n')
    rest = FlinkRest(cluster.rest_url)
    where = ["--cluster", cluster.rest_url, "--bootstrap-servers", cluster.bootstrap]
    started: list[str | None] = []
    try:
        code, out, err = _run(submit, versions["projection_only"], "--jobs-dir", other_jobs, *where)
        assert code == 0, out + err
        bystander = _job_id(out)
        started.append(bystander)
        pid = _taskmanager_pid(cluster)
        assert pid

        # mini-batch on (the default for a package that aggregates): refused before Flink sees it
        job_id, location = _savepoint_of_a_running_base(versions, jobs_dir, where, tmp_path / "on", "force:")
        started.append(job_id)
        before = {j["jid"] for j in rest.jobs()}
        code, out, err = _run(
            submit, versions["add_field"], "--jobs-dir", jobs_dir, "--from-savepoint", location, "--force", *where
        )
        assert code == 2, out + err
        assert "--force cannot be honoured" in err and "MiniBatchStreamingJoinOperator" in err
        assert {j["jid"] for j in rest.jobs()} == before

        # mini-batch off: the forced restore reaches Flink, which refuses the state; ontoc cancels the job
        job_id, location = _savepoint_of_a_running_base(versions, plain_jobs, where, tmp_path / "off", "plain:")
        started.append(job_id)
        code, out, err = _run(
            submit, versions["add_field"], "--jobs-dir", plain_jobs, "--from-savepoint", location, "--force", *where
        )
        assert code == 1, out + err
        assert "warning: the new job cannot restore this savepoint" in err and "failed while starting" in err
        started += [j["jid"] for j in rest.jobs() if j.get("name") == "e2e-force-plain-rooms"]

        # the TaskManager and the bystander keep running; the bystander never restarted
        def down():
            return _taskmanager_pid(cluster) != pid or rest.state(bystander) != "RUNNING"

        assert not wait_until(down, 20.0), "the TaskManager or the other job went down"
        assert rest.overview().get("taskmanagers") == 1
        history = (rest.exceptions(bystander).get("exceptionHistory") or {}).get("entries") or []
        assert history == [], history
    finally:
        if services.status(cluster.state)["taskmanager"]["status"] != "running":
            services.start_taskmanager(cluster.state)
        _cancel(rest, *started)


def test_dev_up_restarts_a_taskmanager_that_died(cluster):
    """A TaskManager that crashed (its pid file left behind) is started again by `up`, and `status` says so."""
    import os
    import signal

    from click.testing import CliRunner as Runner

    from ontoc.cli.dev import dev

    pid = _taskmanager_pid(cluster)
    assert pid
    before = len(services.status(cluster.state)["taskmanager"]["restarts"])
    os.killpg(pid, signal.SIGKILL)  # a crash: nothing removes the pid file
    assert wait_until(lambda: services.status(cluster.state)["taskmanager"]["status"] == "stopped", 20.0)
    lines: list[str] = []
    st = services.up(
        cluster.state,
        kafka_port=cluster.kafka_port,
        flink_port=cluster.flink_port,
        progress=lines.append,
        kafka_controller_port=cluster.kafka_controller_port,
        flink_rpc_port=cluster.flink_rpc_port,
    )
    assert any(f"taskmanager died (pid {pid} is gone)" in x for x in lines), lines
    tm = st["taskmanager"]
    assert tm["status"] == "running" and tm["pid"] != pid
    assert len(tm["restarts"]) == before + 1 and tm["restarts"][-1]["died_pid"] == pid
    assert st["kafka"]["restarts"] == [] or all(r["died_pid"] != pid for r in st["kafka"]["restarts"])
    out = Runner().invoke(dev, ["status", "--state-dir", str(cluster.state)]).stdout
    assert f"died and was restarted by `ontoc dev up` {before + 1} time(s)" in out and f"(pid {pid} -> " in out
    assert FlinkRest(cluster.rest_url).overview().get("taskmanagers", 0) >= 1


def test_deploy_refuses_a_job_the_cluster_has_no_free_slots_for(cluster, tmp_path):
    """A job at a parallelism above the cluster's free slots is refused before anything changes: no job
    submitted, no topic created, no deployment recorded (Flink would otherwise keep it waiting for slots)."""
    from kafka.admin import KafkaAdminClient

    free = FlinkRest(cluster.rest_url).overview()["slots-available"]
    versions, jobs_dir = _versions(tmp_path, "e2e-no-slots-rooms", parallelism=free + 1, create_topics=True)
    (jobs_dir / "rooms.toml").write_text(
        (jobs_dir / "rooms.toml").read_text() + 'invalid_events_topic = "e2e_no_slots_invalid"\n'
    )
    rest = FlinkRest(cluster.rest_url)
    jobs_before = {j["jid"] for j in rest.jobs()}
    where = ["--cluster", cluster.rest_url, "--bootstrap-servers", cluster.bootstrap]
    code, out, err = _run(cli, "deploy", versions["base"], "--jobs-dir", jobs_dir, *where)
    assert code == 2, out + err
    assert f"the job e2e-no-slots-rooms needs {free + 1} free task slot(s) (its parallelism)" in err
    assert f"the cluster has {free} of " in err and "nothing was changed" in err
    assert {j["jid"] for j in rest.jobs()} == jobs_before
    assert Deployments.read(KafkaConnection(cluster.bootstrap)).by_name("e2e-no-slots-rooms") is None
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    try:
        assert "e2e_no_slots_invalid" not in admin.list_topics()
    finally:
        admin.close()
