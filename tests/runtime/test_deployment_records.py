"""Deployment records without a cluster: look-ups by name, job id and savepoint path, and the restore check."""

from __future__ import annotations

import contextlib
import json
import subprocess

from ontoc.pipeline import compile_definitions
from ontoc.runtime.cluster.deployments import (
    Deployment,
    Deployments,
    definitions_revision,
    has_join,
    new_deployment,
    refusals,
    restore_plan,
)
from tests.conftest import ROOT

PLAN = ROOT / "tests" / "fixtures" / "plan"
JOB_A = "4894cda75e0746c38a8e22cccec962c9"
JOB_B = "77aa00e1e2a64bb1a0c5d6f7e8091a2b"


def _compiled(version: str):
    with contextlib.chdir(PLAN / version):
        return compile_definitions(PLAN / version / "rooms")


def _deployment(version: str, job_id: str) -> Deployment:
    compiled = _compiled(version)
    return new_deployment("ontoc-rooms", job_id, "rooms", "http://x", PLAN / version / "rooms", compiled.files, None)


def _records(*deployments: Deployment, savepoints: dict[str, str] | None = None) -> Deployments:
    records = {}
    for d in deployments:  # later ones win, as in the compacted topic
        doc = json.loads(json.dumps(d.to_json()))
        records[f"job/{d.job_name}"] = doc
        records[f"id/{d.job_id}"] = doc
    for location, job_id in (savepoints or {}).items():
        records[f"savepoint/{location}"] = {"savepoint": location, "job_id": job_id}
    return Deployments(records)


def test_records_round_trip_and_look_ups():
    a, b = _deployment("base", JOB_A), _deployment("projection_only", JOB_B)
    recorded = _records(a, b, savepoints={"file:/sp/savepoint-111111-aaaa": JOB_A})
    assert recorded.by_name("ontoc-rooms") == b and recorded.by_job_id(JOB_A.upper()) == a
    assert set(a.sources) == {"__init__.py", "models.py", "views.py"} and "upper()" in a.sources["views.py"]
    # recorded by `jobs savepoint`, else found by the job id in a checkpoint's path or a savepoint's name
    assert recorded.for_savepoint("file:/sp/savepoint-111111-aaaa/") == a
    assert recorded.for_savepoint(f"file:/checkpoints/{JOB_B}/chk-7") == b
    assert recorded.for_savepoint(f"/savepoints/savepoint-{JOB_B[:6]}-0123456789ab") == b
    assert recorded.for_savepoint("/savepoints/savepoint-abcdef-0123456789ab") is None


def test_the_restore_check_follows_the_upgrade_plan():
    base = _deployment("base", JOB_A)
    projection = _compiled("projection_only")
    plan = restore_plan(base, projection.files, "projection_only")
    assert {v.view: v.verdict for v in plan.views} == {"RoomCard": "savepoint", "BuildingCard": "none"}
    assert refusals(plan, allow_non_restored=False) == []
    added = _compiled("add_field")
    reasons = refusals(restore_plan(base, added.files, "add_field"), allow_non_restored=False)
    assert len(reasons) == 1 and reasons[0].startswith("RoomCard -> plan_room_cards: needs a fresh start")
    assert has_join(added.files)


def test_revision_of_definitions_in_git(tmp_path):
    assert definitions_revision(tmp_path) is None
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "v.py").write_text("x = 1\n")
    git = ["git", "-C", str(tmp_path), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "v1"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    rev = definitions_revision(tmp_path)
    assert rev is not None and (rev.commit, rev.dirty) == (head, False)
    (tmp_path / "v.py").write_text("x = 2\n")
    rev = definitions_revision(tmp_path)
    assert rev is not None and rev.dirty and rev.describe() == head[:12] + "+dirty"
