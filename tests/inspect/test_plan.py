"""`ontoc plan`: field-by-field changes and the savepoint / fresh-start verdict, on pairs of versions.

tests/fixtures/plan/<version>/rooms is one version of a small package (see its README.md); each is
compiled from its own folder, so file names in the SQL match as they would at two commits of one repository.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess

import pytest

from .conftest import PLAN_FIXTURES, ROOT, ontoc

VERSIONS = ["projection_only", "add_field", "add_projected_field", "change_join", "change_aggregate"]


def compile_version(version: str, out) -> None:
    with contextlib.chdir(PLAN_FIXTURES / version):
        result = ontoc("compile", "rooms", "-o", out)
    assert result.code == 0, result.err


def plan(version: str, *args):
    with contextlib.chdir(PLAN_FIXTURES / version):
        return ontoc("plan", "rooms", *args)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    out = tmp_path_factory.mktemp("base") / "rooms"
    compile_version("base", out)
    return out


def views(doc) -> dict[str, dict]:
    return {v["view"]: v for v in doc["views"]}


def fields(view) -> dict[str, dict]:
    return {f["name"]: f for f in view["fields"]}


def changed_operators(view) -> dict[str, str]:
    return {c["operator"]: c["change"] for c in view["state_changes"]}


def test_projection_only_restores_from_a_savepoint(base):
    doc = plan("projection_only", "--against", base, "--format", "json").json("plan")
    room = views(doc)["RoomCard"]
    assert (room["status"], room["verdict"], room["replay"]) == ("changed", "savepoint", [])
    assert fields(room) == {
        "name": {
            "name": "name",
            "change": "changed",
            "old_type": "str | None",
            "new_type": "str | None",
            "what": ["expression"],
            "reads_added": [],
            "reads_removed": [],
        }
    }
    assert room["state_changes"] == [] and room["sql_changed"] is True
    assert any("only the final projection differs" in r for r in room["reasons"])
    assert views(doc)["BuildingCard"]["status"] == "unchanged"
    assert doc["summary"] == {"added": 0, "removed": 0, "changed": 1, "unchanged": 1, "fresh_start": 0, "savepoint": 1}


def test_adding_a_field_with_a_new_aggregate_needs_a_fresh_start(base):
    doc = plan("add_field", "--against", base, "--format", "json").json("plan")
    room = views(doc)["RoomCard"]
    assert room["verdict"] == "fresh-start"
    assert room["replay"] == ["plan_bookings", "plan_buildings", "plan_rooms"]
    added = fields(room)["bookings"]
    assert (added["change"], added["new_type"]) == ("added", "int | None")
    assert "plan_bookings.room" in added["reads_added"]
    assert changed_operators(room) == {
        "aggregate bookings_agg": "changed",
        "join bookings_agg": "changed",
        "sink": "changed",
    }
    aggregate = next(c for c in room["state_changes"] if c["operator"] == "aggregate bookings_agg")
    # the new COUNT(*) reads every booking, so the filter the SUM had alone leaves the subquery's WHERE
    assert aggregate["details"] == [
        # an int sum is exact (DECIMAL), then checked against 64 bits
        "calls: + SUM(CAST(`bookings`.`hours` AS DECIMAL(38, 10))) FILTER(WHERE NOT `bookings`.`cancelled`) "
        ":: DECIMAL(38, 10); + COUNT(*) :: BIGINT; "
        "- SUM(CAST(`bookings`.`hours` AS DECIMAL(38, 10))) :: DECIMAL(38, 10)",
        "where: NOT `bookings`.`cancelled` -> None",
    ]
    # a view without joins or filter keeps no state: a new field is still a savepoint restore
    building = views(doc)["BuildingCard"]
    assert (building["verdict"], list(fields(building))) == ("savepoint", ["shout"])
    assert any("no state besides its Kafka offsets" in r for r in building["reasons"])


def test_adding_a_field_over_read_columns_changes_the_sink_state(base):
    room = views(plan("add_projected_field", "--against", base, "--format", "json").json("plan"))["RoomCard"]
    assert room["verdict"] == "fresh-start"
    assert changed_operators(room) == {"sink": "changed"}  # no new source column, join or aggregate
    assert fields(room)["name_length"]["reads_added"] == ["plan_rooms.name"]
    assert any("upsert materializer" in r for r in room["reasons"])


def test_changing_a_join_needs_a_fresh_start(base):
    room = views(plan("change_join", "--against", base, "--format", "json").json("plan"))["RoomCard"]
    assert room["verdict"] == "fresh-start"
    ops = changed_operators(room)
    assert ops["join room__site"] == "added" and ops["join room__building"] == "removed"
    assert ops["source room"] == "changed"  # reads `site` instead of `building`
    city = fields(room)["city"]
    assert city["what"] == ["expression", "sources"]
    assert (city["reads_added"], city["reads_removed"]) == (["plan_rooms.site"], ["plan_rooms.building"])


def test_changing_an_aggregate_needs_a_fresh_start(base):
    room = views(plan("change_aggregate", "--against", base, "--format", "json").json("plan"))["RoomCard"]
    assert room["verdict"] == "fresh-start"
    assert changed_operators(room) == {"aggregate bookings_agg": "changed", "source bookings_agg/bookings": "changed"}
    hours = fields(room)["booked_hours"]
    assert hours["what"] == ["expression", "sources"] and hours["reads_removed"] == ["plan_bookings.cancelled"]


def test_text_output(base):
    result = plan("add_field", "--against", base)
    assert result.code == 0, result.err
    out = result.out
    assert out.startswith(
        f"plan: rooms against {base}: 2 changed, 0 added, 0 removed, 0 unchanged; 1 need a fresh start\n"
    )
    assert "~ RoomCard -> plan_room_cards: changed, fresh start + replay" in out
    assert "    field + bookings: int | None  (reads plan_bookings.room, plan_rooms.doc_id)" in out
    assert "    state changed: aggregate bookings_agg\n        calls: + SUM(" in out
    assert "+ COUNT(*) :: BIGINT" in out
    assert "    replay: plan_bookings, plan_buildings, plan_rooms" in out
    assert "~ BuildingCard -> plan_building_cards: changed, restore from a savepoint" in out
    unchanged = plan("projection_only", "--against", base).out
    assert "= unchanged: BuildingCard -> plan_building_cards" in unchanged
    assert "unchanged:" not in plan("projection_only", "--against", base, "--changed-only").out


def test_sql_diff(base):
    result = plan("projection_only", "--against", base, "--diff")
    assert "--- plan_room_cards.sql (old)\n+++ plan_room_cards.sql (new)" in result.out
    assert "-  UPPER(`room`.`name`) AS `name`," in result.out and "+  LOWER(`room`.`name`) AS `name`," in result.out
    doc = plan("projection_only", "--against", base, "--format", "json").json("plan")
    assert views(doc)["RoomCard"]["sql_diff"].count("\n-") == 1


def test_fail_on_fresh_start(base):
    assert plan("add_field", "--against", base, "--fail-on-fresh-start").code == 1
    assert plan("projection_only", "--against", base, "--fail-on-fresh-start").code == 0


def test_identical_versions_and_every_form_of_against(base, monkeypatch):
    doc = plan("base", "--against", base / "manifest.json", "--format", "json").json("plan")
    assert {v["status"] for v in doc["views"]} == {"unchanged"}
    monkeypatch.chdir(ROOT)  # a folder of packages against the folder of their outputs
    result = ontoc("plan", "definitions", "--against", "generated", "--format", "json")
    assert result.code == 0, result.err
    doc = result.json("plan")
    assert len(doc["views"]) == 4 and {v["status"] for v in doc["views"]} == {"unchanged"}
    assert {v["package"] for v in doc["views"]} == {"library", "meeting_room", "sensors", "shop"}
    # one package against the folder of all packages' outputs: its own sub-folder is used
    one = ontoc("plan", "definitions/meeting_room", "--against", "generated", "--format", "json").json("plan")
    assert [v["status"] for v in one["views"]] == ["unchanged"]


def test_a_moved_definitions_folder_is_not_a_sql_change(tmp_path):
    """Compiled from another path, only the header comment of each `.sql` differs: not a change for Flink."""
    moved = tmp_path / "elsewhere" / "rooms"
    shutil.copytree(PLAN_FIXTURES / "base" / "rooms", moved)
    with contextlib.chdir(tmp_path):
        assert ontoc("compile", "elsewhere/rooms", "-o", tmp_path / "out").code == 0
    assert "elsewhere/rooms" in (tmp_path / "out" / "plan_room_cards.sql").read_text().splitlines()[0]
    doc = plan("base", "--against", tmp_path / "out", "--format", "json").json("plan")
    assert {(v["view"], v["status"], v["verdict"], v["sql_changed"]) for v in doc["views"]} == {
        ("RoomCard", "unchanged", "none", False),
        ("BuildingCard", "unchanged", "none", False),
    }
    # the header is all that is ignored: a statement that differs is still a change
    sql_file = tmp_path / "out" / "plan_room_cards.sql"
    sql_file.write_text(sql_file.read_text().replace("CREATE TABLE", "CREATE  TABLE", 1))
    doc = plan("base", "--against", tmp_path / "out", "--format", "json").json("plan")
    assert views(doc)["RoomCard"]["sql_changed"] is True


def test_added_and_removed_views(base, tmp_path):
    old = json.loads((base / "manifest.json").read_text())
    gone = next(v for v in old["views"] if v["view"] == "BuildingCard")
    old["views"] = [v for v in old["views"] if v is not gone] + [{**gone, "view": "OldCard", "topic": "plan_old"}]
    (tmp_path / "manifest.json").write_text(json.dumps(old))
    doc = plan("base", "--against", tmp_path / "manifest.json", "--format", "json").json("plan")
    by_topic = {v["topic"]: v for v in doc["views"]}
    assert (by_topic["plan_building_cards"]["status"], by_topic["plan_building_cards"]["verdict"]) == ("added", "start")
    assert by_topic["plan_building_cards"]["replay"] == ["plan_buildings"]
    assert (by_topic["plan_old"]["status"], by_topic["plan_old"]["verdict"]) == ("removed", "stop")
    assert by_topic["plan_room_cards"]["status"] == "unchanged"


def test_a_manifest_without_state_is_a_conservative_fresh_start(base, tmp_path):
    old = json.loads((base / "manifest.json").read_text())
    for v in old["views"]:  # what ontoc wrote before manifest format 2
        for key in ("state", "projection_sha256", "filter_reads"):
            v.pop(key)
        for f in v["fields"]:
            f.pop("sha256"), f.pop("reads")
    old["format"] = 1
    (tmp_path / "manifest.json").write_text(json.dumps(old))
    doc = plan("projection_only", "--against", tmp_path, "--format", "json").json("plan")
    room = views(doc)["RoomCard"]
    assert room["verdict"] == "fresh-start" and "does not record the stateful operators" in room["reasons"][-1]
    assert views(doc)["BuildingCard"]["status"] == "unchanged"  # the same SQL is the same job


def test_field_hashes_of_a_format_2_manifest_are_unknown_not_changed(base, tmp_path):
    old = json.loads((base / "manifest.json").read_text())
    assert old["format"] == 3
    old["format"] = 2  # format 2 hashed each field's SQL: every value differs from the IR hashes of format 3
    for v in old["views"]:
        for f in v["fields"]:
            f["sha256"] = "0" * 64
    (tmp_path / "manifest.json").write_text(json.dumps(old))
    doc = plan("projection_only", "--against", tmp_path, "--format", "json").json("plan")
    room = views(doc)["RoomCard"]
    # the state fingerprint means the same in both formats: still a savepoint; the SQL file still differs
    assert (room["status"], room["verdict"], room["sql_changed"]) == ("changed", "savepoint", True)
    assert room["fields"] == []  # the changed expression cannot be told from the old hashes
    assert views(doc)["BuildingCard"]["status"] == "unchanged"
    old["format"] = 3  # the same hashes read as format 3 are changed expressions
    (tmp_path / "manifest.json").write_text(json.dumps(old))
    doc = plan("base", "--against", tmp_path, "--format", "json").json("plan")
    assert (
        all("expression" in f["what"] for v in doc["views"] for f in v["fields"]) and views(doc)["RoomCard"]["fields"]
    )


def test_bad_inputs_exit_2(base, tmp_path):
    usage = plan("base")
    assert usage.code == 2 and "exactly one of --against" in usage.err
    assert plan("base", "--against", base, "--against-rev", "HEAD").code == 2
    (tmp_path / "manifest.json").write_text("{not json")
    bad = plan("base", "--against", tmp_path, "--format", "json")
    assert bad.code == 2 and bad.diagnostics()[0]["code"] == "bad-manifest"
    (tmp_path / "empty").mkdir()
    assert "no manifest.json" in plan("base", "--against", tmp_path / "empty").err


# -- --against-rev ----------------------------------------------------------------------------------


def git(repo, *args):
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    """A repository whose `defs/rooms` is `base` at HEAD and `change_join` in the work tree."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "README").write_text("x\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "empty")
    shutil.copytree(PLAN_FIXTURES / "base" / "rooms", repo / "defs" / "rooms")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    shutil.rmtree(repo / "defs" / "rooms")
    shutil.copytree(PLAN_FIXTURES / "change_join" / "rooms", repo / "defs" / "rooms")
    return repo


def test_against_a_git_revision(repo, monkeypatch):
    monkeypatch.chdir(repo)
    result = ontoc("plan", "defs/rooms", "--against-rev", "HEAD", "--format", "json")
    assert result.code == 0, result.err
    doc = result.json("plan")
    head = git(repo, "rev-parse", "HEAD").strip()
    assert doc["old"] == f"defs/rooms at HEAD ({head[:12]})"
    assert views(doc)["RoomCard"]["verdict"] == "fresh-start"
    assert views(doc)["BuildingCard"]["status"] == "unchanged"  # same file names in the SQL headers
    diff = views(doc)["RoomCard"]["sql_diff"]
    assert "-- Generated by ontoc" not in diff and "`room__site`" in diff
    status = git(repo, "status", "--porcelain").splitlines()  # only our own edits: nothing checked out or added
    assert status and all(line.startswith(" M defs/rooms/") for line in status)
    assert git(repo, "worktree", "list").count("\n") == 1


def test_against_a_revision_without_the_definitions(repo, monkeypatch):
    monkeypatch.chdir(repo)
    doc = ontoc("plan", "defs/rooms", "--against-rev", "HEAD~1", "--format", "json").json("plan")
    assert {v["status"] for v in doc["views"]} == {"added"} and doc["summary"]["added"] == 2


def test_against_an_unknown_revision(repo, monkeypatch):
    monkeypatch.chdir(repo)
    result = ontoc("plan", "defs/rooms", "--against-rev", "no-such-branch", "--format", "json")
    assert result.code == 2
    [d] = result.diagnostics()
    assert d["code"] == "bad-revision" and "no-such-branch" in d["message"]


def test_old_revision_with_compile_errors(repo, monkeypatch):
    monkeypatch.chdir(repo)
    views_py = repo / "defs" / "rooms" / "views.py"
    views_py.write_text(views_py.read_text().replace("self.store.room.site.city", "self.store.room.nope"))
    git(repo, "commit", "-q", "-am", "broken")
    shutil.rmtree(repo / "defs" / "rooms")
    shutil.copytree(PLAN_FIXTURES / "base" / "rooms", repo / "defs" / "rooms")
    result = ontoc("plan", "defs/rooms", "--against-rev", "HEAD")
    assert result.code == 2
    assert "ontoc: the definitions at HEAD do not compile:" in result.err
    assert re.search(r"defs/rooms/views\.py:\d+:\d+: error: .*\[unknown-field\]", result.err)


# -- the verdicts against Flink's own plans -----------------------------------------------------------

STATEFUL = ("ChangelogNormalize(", "Join(", "GroupAggregate(", "Sink(")


def stateful_plan_lines(version: str) -> dict[str, list[str]]:
    """Per view, the stateful operators of Flink's optimized execution plan, as Flink prints them."""
    from ontoc.pipeline import compile_definitions
    from ontoc.runtime.embedded.validate import validate

    with contextlib.chdir(PLAN_FIXTURES / version):
        compiled = compile_definitions("rooms")
    out = {}
    for check in validate(compiled):
        assert check.ok, check.message
        lines = [
            re.sub(r"^[\s:|+-]*", "", line)
            for line in check.message.split("== Optimized Execution Plan ==")[1].splitlines()
        ]
        out[check.topic] = [
            line
            for line in lines
            if line.startswith(STATEFUL) and (not line.startswith("Sink(") or "upsertMaterialize=[true]" in line)
        ]
    return out


@pytest.mark.flink
def test_verdicts_agree_with_flinks_stateful_operators(base):
    """A savepoint verdict exactly when Flink's plan keeps the same stateful operators (their printed
    inputs, aggregate calls and sink fields), a fresh start exactly when they differ."""
    old = stateful_plan_lines("base")
    assert any("upsertMaterialize=[true]" in line for line in old["plan_room_cards"])
    assert not old["plan_building_cards"]  # no joins, no filter: no state
    for version in VERSIONS:
        new = stateful_plan_lines(version)
        doc = plan(version, "--against", base, "--format", "json").json("plan")
        for v in doc["views"]:
            same_operators = new[v["topic"]] == old[v["topic"]]
            assert (v["verdict"] in ("savepoint", "none")) == same_operators, (version, v["view"], v["verdict"])
