"""`ontoc validate`: Flink's planner on every statement; failures mapped back to getters with file:line."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest

import ontoc.inspect.packages as packages
import ontoc.runtime.embedded.validate as validate_module
from ontoc.ir.expr import Column, Func
from ontoc.ir.relations import Aggregate, Filter, LeftJoin
from ontoc.ir.types import BOOL, INT, STR
from ontoc.pipeline import compile_definitions
from ontoc.runtime.embedded.validate import PROBE_SUFFIX, probe_plans

from .conftest import ROOT

MEETING_ROOM = "definitions/meeting_room"
VIEWS_PY = "definitions/meeting_room/views.py"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def break_meeting_room(compiled):
    """The meeting room with SQL Flink must reject: `address` and the `where` read columns that do not exist."""
    [plan] = compiled.plans
    project = plan.rel
    fields = dict(project.fields)
    fields["address"] = Func("add", (Column("meeting", "status", STR), Column("meeting__location", "nope", INT)), INT)
    parent = replace(project.parent, predicate=Column("meeting", "bogus", BOOL))
    return replace(compiled, plans=[replace(plan, rel=replace(project, parent=parent, fields=tuple(fields.items())))])


@pytest.fixture
def broken(monkeypatch):
    real = packages.compile_definitions
    monkeypatch.setattr(packages, "compile_definitions", lambda path: break_meeting_room(real(path)))


# -- without the JVM ---------------------------------------------------------------------------------


def test_probes_are_the_views_own_ir_one_field_at_a_time():
    [plan] = compile_definitions(ROOT / MEETING_ROOM).plans
    probes = dict(probe_plans(plan))
    key = probes[""]
    assert key.topic == "meeting_sessions" + PROBE_SUFFIX and key.fields == () and key.rel.fields == ()
    assert isinstance(key.rel.parent, Filter)  # the where stays; every join it does not need is pruned
    assert not any(isinstance(r, LeftJoin) for r in key.rel.walk())
    address = probes["address"]
    assert [f.name for f in address.fields] == ["address"]
    assert [r.right.alias for r in address.rel.walk() if isinstance(r, LeftJoin)] == ["meeting__location"]
    attending = probes["attending"]
    assert any(isinstance(r, Aggregate) for r in attending.rel.walk())
    no_filter = dict(probe_plans(plan, keep_filter=False))["in_session"]
    assert not isinstance(no_filter.rel.parent, Filter)


def test_compile_errors_exit_2_before_planning(tmp_path, run):
    pkg = tmp_path / "meeting_room"
    shutil.copytree(ROOT / MEETING_ROOM, pkg)
    views = pkg / "views.py"
    views.write_text(
        views.read_text()
        .replace("self.store.meeting.location.address", "self.store.meeting.place")
        .replace('status != "deleted"', 'state != "deleted"')
    )
    result = run("validate", pkg, "--format", "json")
    assert result.code == 2 and result.out == ""
    codes = [d["code"] for d in result.diagnostics()]
    assert codes == ["unknown-field", "unknown-field"]  # every error of the run, not the first


# -- Flink's planner ---------------------------------------------------------------------------------


@pytest.mark.flink
def test_valid_package_exits_0(run):
    result = run("validate", MEETING_ROOM)
    assert result.code == 0, result.out + result.err
    assert result.out.splitlines() == [
        "ok    MeetingSession -> meeting_sessions",
        "1 view(s) planned by Flink: 1 ok, 0 failed",
    ]
    shown = run("validate", MEETING_ROOM, "--show-plan")
    assert "== Optimized Execution Plan ==" in shown.out and "upsertMaterialize=[true]" in shown.out


@pytest.mark.flink
def test_every_definitions_package_json(run):
    result = run("validate", "--format", "json")  # DEFINITIONS defaults to `definitions`
    assert result.code == 0, result.err
    doc = result.json("validate")
    assert doc["ok"] is True and doc["diagnostics"] == []
    assert sorted((v["package"], v["view"]) for v in doc["views"]) == [
        ("library", "BookCard"),
        ("meeting_room", "MeetingSession"),
        ("sensors", "DeviceStats"),
        ("shop", "OrderSummary"),
    ]
    assert all(v["ok"] and v["message"] is None and v["failures"] == [] for v in doc["views"])


@pytest.mark.flink
def test_failures_map_to_getters_with_their_source_lines(run, broken):
    result = run("validate", MEETING_ROOM)
    assert result.code == 1
    out = result.out
    assert out.startswith("FAIL  MeetingSession -> meeting_sessions\n")
    assert (
        f"{VIEWS_PY}:51:5: error: Flink's planner rejects the filter `MeetingSession.is_live`: "
        "Column 'bogus' not found in table 'meeting'  [planner-error]"
    ) in out
    assert (
        f"{VIEWS_PY}:23:5: error: Flink's planner rejects getter `MeetingSession.address`: "
        "Column 'nope' not found in table 'meeting__location'  [planner-error]"
    ) in out
    assert "   23 |     def address(self) -> str | None:\n      |     ^~~~~~~~~~~" in out
    assert "hint: ontoc compiled this but Flink rejects the SQL; `ontoc explain MeetingSession`" in out
    assert "MeetingSession.in_session" not in out and "MeetingSession.attending" not in out
    assert out.rstrip().endswith("1 view(s) planned by Flink: 0 ok, 1 failed")


@pytest.mark.flink
def test_failures_json(run, broken):
    result = run("validate", MEETING_ROOM, "--format", "json")
    assert result.code == 1
    doc = result.json("validate")
    [view] = doc["views"]
    assert doc["ok"] is False and view["ok"] is False
    assert view["message"] == "Column 'bogus' not found in table 'meeting'"
    assert [(f["kind"], f["getter"], f["line"]) for f in view["failures"]] == [
        ("where", "is_live", 51),
        ("getter", "address", 23),
    ]
    assert "INSERT INTO `meeting_sessions__ontoc_probe_1`" in view["failures"][1]["sql"]
    assert [(d["code"], d["file"], d["line"], d["col"]) for d in doc["diagnostics"]] == [
        ("planner-error", VIEWS_PY, 51, 5),
        ("planner-error", VIEWS_PY, 23, 5),
    ]


@pytest.mark.flink
def test_a_failure_no_getter_has_alone_blames_the_view(run, monkeypatch):
    """When every probe plans but the whole view does not, the diagnostic points at the view's class."""
    real = validate_module._explain

    def explain(env, plan):
        if PROBE_SUFFIX not in plan.topic:
            raise RuntimeError("the planner's complaint about the whole view")
        return real(env, plan)

    monkeypatch.setattr(validate_module, "_explain", explain)
    result = run("validate", MEETING_ROOM, "--format", "json")
    assert result.code == 1
    [view] = result.json("validate")["views"]
    assert [(f["kind"], f["getter"], f["line"]) for f in view["failures"]] == [("view", None, 13)]
    [d] = result.json()["diagnostics"]
    assert d["line"] == 13 and "no single getter fails alone" in d["message"]


@pytest.mark.flink
def test_a_lost_planner_is_planned_again_not_reported_as_a_rejected_view(run, monkeypatch):
    """FLINK-23020 (the planner's thread-local metadata provider lost to a py4j thread change) says
    nothing about the SQL: validate plans the view again with a fresh environment."""
    real, calls = validate_module._explain, []

    def lost_once(env, plan):
        calls.append(plan.view)
        if len(calls) == 1:
            raise RuntimeError("java.lang.NullPointerException: metadataHandlerProvider")
        return real(env, plan)

    monkeypatch.setattr(validate_module, "_explain", lost_once)
    result = run("validate", MEETING_ROOM)
    assert result.code == 0, result.out + result.err
    assert calls == ["MeetingSession", "MeetingSession"] and "FLINK-23020" in result.err
