"""`ontoc explain VIEW`: IR dump, SQL, column-level lineage; text and `--format json`."""

from __future__ import annotations

import shutil

import pytest

from ontoc.backend.flink.artifacts import select_sql
from ontoc.ir.dump import WIDTH, dump_plan, expr_lines
from ontoc.ir.lineage import lineage
from ontoc.pipeline import compile_definitions, definition_packages

from .conftest import ROOT

DEFINITIONS = ROOT / "definitions"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="module")
def meeting_room():
    return compile_definitions(DEFINITIONS / "meeting_room")


def non_key_reads(output) -> set[str]:
    return {r.name for r in output.reads if r.field != "doc_id"}


# -- lineage of the meeting room, derived from reading definitions/meeting_room/views.py ------------


def test_lineage_of_each_meeting_room_getter(meeting_room):
    lin = lineage(meeting_room.plans[0])
    # in_session: self.store.meeting.status == "in-session"
    assert non_key_reads(lin.field("in_session")) == {"meetings.status"}
    # address: self.store.meeting.location.address -> the meeting's location reference, then the address
    assert non_key_reads(lin.field("address")) == {"meetings.location", "locations.address"}
    # attending: the meeting's status (the `if`), every ticket of the meeting (tickets.meeting) that is
    # attended, and through t.user the user's names (display_name), organization and hearing aid flag
    assert non_key_reads(lin.field("attending")) == {
        "meetings.status",
        "tickets.meeting",
        "tickets.attendance",
        "tickets.user",
        "users.first_name",
        "users.last_name",
        "users.organization",
        "users.hearing_aid_requested",
    }
    # num_hearing_aid_requested: reads self.attending, but only its elements' hearing aid flag (and whether
    # attending raised: the status and a missing user); the names do not change the count
    assert non_key_reads(lin.field("num_hearing_aid_requested")) == {
        "meetings.status",
        "tickets.meeting",
        "tickets.attendance",
        "tickets.user",
        "users.hearing_aid_requested",
    }
    # the key and the @attrs.where
    assert {r.name for r in lin.key.reads} == {"meetings.doc_id"}
    assert non_key_reads(lin.filter) == {"meetings.status"}


def test_lineage_roles_and_paths(meeting_room):
    lin = lineage(meeting_room.plans[0])
    address = {(r.name, r.role, r.path) for r in lin.field("address").reads}
    assert ("meetings.location", "join", "store.meeting.location") in address
    assert ("locations.address", "value", "store.meeting.location.address") in address
    attending = {(r.name, r.role, r.path) for r in lin.field("attending").reads}
    assert ("tickets.meeting", "join", "store.tickets[].meeting") in attending  # many(Ticket, on="meeting")
    assert ("meetings.doc_id", "join", "store.meeting.doc_id") in attending  # ... = the root
    assert ("tickets.user", "join", "store.tickets[].user") in attending
    assert ("users.first_name", "value", "store.tickets[].user.first_name") in attending
    assert ("tickets.attendance", "value", "store.tickets[].attendance") in attending
    assert lin.sources()["users"] == ["doc_id", "first_name", "hearing_aid_requested", "last_name", "organization"]


def test_lineage_through_lookups_chains_and_other_getters():
    [plan] = compile_definitions(DEFINITIONS / "library").plans
    lin = lineage(plan)
    editor = {(r.name, r.role, r.path) for r in lin.field("editor_name").reads}
    # editor = one(Author, key=lambda s: s.book.editor_id): a lookup, found through the book's editor_id
    assert ("lib_books.editor_id", "join", "store.book.editor_id") in editor
    assert ("lib_authors.last", "value", "store.editor.last") in editor
    head = {r.path for r in lin.field("publisher_head_country").reads}
    assert "store.book.publisher.head.country.code" in head
    assert {"store.book.publisher", "store.book.publisher.head", "store.book.publisher.head.country"} <= head
    # late_members reads self.loan_cards: the loans' days, not their members
    assert non_key_reads(lin.field("late_members")) == {"lib_loans.book", "lib_loans.days"}


@pytest.mark.parametrize("name", [n for n, _ in definition_packages(DEFINITIONS)] + ["constructs", "udfs"])
def test_every_column_resolves_and_every_scan_column_is_read(name):
    path = DEFINITIONS / name if (DEFINITIONS / name).exists() else ROOT / "tests" / "fixtures" / name
    for plan in compile_definitions(path).plans:
        lin = lineage(plan)
        read = {
            (r.topic, r.field) for o in (lin.key, *lin.fields, *([lin.filter] if lin.filter else [])) for r in o.reads
        }
        for scan in plan.scans():  # prune_columns keeps only read columns (and doc_id)
            for column, _ in scan.columns:
                assert column == "doc_id" or (scan.table, column) in read, (plan.view, scan.alias, column)


# -- the IR dump -------------------------------------------------------------------------------------


def test_dump_shows_the_relation_tree(meeting_room):
    text = dump_plan(meeting_room.plans[0])
    assert text.startswith("View MeetingSession -> meeting_sessions (root Meeting, definitions/meeting_room/views.py)")
    for line in [
        "Project",
        "  Filter",
        "    where = not(eq(meeting.status, 'deleted'))",
        "    LeftJoin tickets_agg",
        "      on = eq(tickets_agg.root_id, meeting.doc_id)",
        "        Scan meetings AS meeting (Meeting) [doc_id: str, status: str, location: str | None]",
        "      Aggregate AS tickets_agg",
        "        group by root_id = tickets.meeting",
        "  in_session: bool = eq(meeting.status, 'in-session')",
    ]:
        assert line in text.splitlines(), line
    assert "        agg_1: int | None = count(*) filter(where is_null(tickets__user.doc_id))" in text.splitlines()
    assert "        where = tickets.attendance" in text.splitlines()  # the filter every aggregate shared


def _atomic(line: str) -> bool:
    """A line that cannot break further: one literal or column (after a when/then/else, before `,` `)`)."""
    core = line.strip().rstrip(",)")
    for keyword in ("when ", "then ", "else "):
        core = core.removeprefix(keyword)
    return core.startswith("'") or "(" not in core


def test_long_expressions_break_within_the_width(meeting_room):
    expr = dict(meeting_room.plans[0].rel.fields)["attending"]
    lines = expr_lines(expr, indent=1, width=60)
    assert len(lines) > 5
    assert all(len(line) <= 60 or _atomic(line) for line in lines)
    assert lines[0] == "  case(" and lines[1] == "    when and("


@pytest.mark.parametrize("name", ["constructs", "udfs"])
def test_dump_handles_every_construct(name):
    for plan in compile_definitions(ROOT / "tests" / "fixtures" / name).plans:
        text = dump_plan(plan)
        for f in plan.fields:
            assert f"  field {f.name}: " in text
        body = [line for line in text.splitlines() if "Scan " not in line and "field " not in line]
        assert all(len(line) <= WIDTH or _atomic(line) or line.rstrip().endswith(" =") for line in body)


# -- the command ------------------------------------------------------------------------------------


def test_explain_text(run):
    result = run("explain", "MeetingSession")
    assert result.code == 0, result.err
    out = result.out
    assert out.startswith(
        "MeetingSession -> meeting_sessions  (definitions/meeting_room/views.py:13, root Meeting, package meeting_room)"
    )
    for heading in [
        "== IR ==",
        "== SQL (the INSERT's query; every statement is in meeting_sessions.sql) ==",
        "== Lineage (role, source topic.field, path in the definitions) ==",
        "== Stateful operators (what `ontoc plan` compares) ==",
    ]:
        assert heading in out
    assert "FROM `meetings` AS `meeting`" in out
    assert "address: str | None  (definitions/meeting_room/views.py:23)" in out
    assert "    join        meetings.location  store.meeting.location" in out
    assert "where is_live  (definitions/meeting_room/views.py:51)" in out
    assert "aggregate tickets_agg: group_by=`tickets`.`meeting`" in out


def test_explain_by_topic_package_and_sections(run):
    by_topic = run("explain", "meeting_sessions", "definitions/meeting_room", "--only", "lineage")
    assert by_topic.code == 0
    assert "== Lineage" in by_topic.out and "== IR ==" not in by_topic.out and "== SQL" not in by_topic.out
    qualified = run("explain", "meeting_room:MeetingSession", "--only", "sql")
    assert qualified.code == 0 and "== SQL" in qualified.out and "== Lineage" not in qualified.out


def test_explain_json(run, meeting_room):
    doc = run("explain", "MeetingSession", "--format", "json").json("explain")
    plan = meeting_room.plans[0]
    assert (doc["view"], doc["topic"], doc["package"], doc["root_model"]) == (
        "MeetingSession",
        "meeting_sessions",
        "meeting_room",
        "Meeting",
    )
    assert doc["definition"] == {"file": "definitions/meeting_room/views.py", "line": 13, "col": 1}
    assert [f["name"] for f in doc["fields"]] == ["in_session", "address", "attending", "num_hearing_aid_requested"]
    assert doc["fields"][1]["getter"] == {"file": "definitions/meeting_room/views.py", "line": 23, "col": 5}
    assert doc["where"] == {"name": "is_live", "file": "definitions/meeting_room/views.py", "line": 51, "col": 5}
    assert doc["ir"] == dump_plan(plan)
    assert doc["sql"]["query"] == select_sql(plan) + "\n"
    assert doc["sql"]["statements"] == (ROOT / "generated" / "meeting_room" / "meeting_sessions.sql").read_text()
    fields = {f["name"]: f for f in doc["lineage"]["fields"]}
    assert fields["address"]["sources"] == {"locations": ["address", "doc_id"], "meetings": ["location"]}
    assert {
        "topic": "users",
        "model": "User",
        "field": "first_name",
        "path": "store.tickets[].user.first_name",
        "role": "value",
    } in fields["attending"]["reads"]
    assert doc["lineage"]["filter"]["getter"] == "is_live"
    assert doc["lineage"]["sources"]["tickets"] == ["attendance", "meeting", "user"]
    assert doc["state"]["stateful"] is True
    assert [op["kind"] for op in doc["state"]["operators"]].count("join") == 3


def test_unknown_view_exits_2(run):
    result = run("explain", "Nope")
    assert result.code == 2 and result.out == ""
    assert "ontoc: error: no view or sink topic named `Nope`  [unknown-view]" in result.err
    assert "meeting_room:MeetingSession (meeting_sessions)" in result.err
    [d] = run("explain", "Nope", "--format", "json").diagnostics()
    assert d["code"] == "unknown-view" and "shop:OrderSummary" in d["hint"]


def test_ambiguous_view_asks_for_the_package(tmp_path, run):
    for name in ("a", "b"):
        shutil.copytree(DEFINITIONS / "meeting_room", tmp_path / name)
    result = run("explain", "MeetingSession", tmp_path, "--format", "json")
    assert result.code == 2
    [d] = result.diagnostics()
    assert d["code"] == "ambiguous-view" and "a:MeetingSession" in d["hint"]
    assert run("explain", "b:MeetingSession", tmp_path).code == 0


def test_compile_errors_exit_2_in_the_common_format(tmp_path, run):
    pkg = tmp_path / "meeting_room"
    shutil.copytree(DEFINITIONS / "meeting_room", pkg)
    views = pkg / "views.py"
    views.write_text(views.read_text().replace("self.store.meeting.location.address", "self.store.meeting.place"))
    result = run("explain", "MeetingSession", pkg)
    assert result.code == 2
    assert "views.py:24:" in result.err and "[unknown-field]" in result.err and "^" in result.err


def test_explain_lists_the_python_udfs_and_their_callers(run):
    doc = run("explain", "AuctionView", "tests/fixtures/udfs", "--format", "json").json("explain")
    udfs = {u["method"]: (u["kind"], u["fields"]) for u in doc["python_udfs"]}
    assert udfs["AuctionView.slugify"] == ("scalar", ["slug"])
    assert udfs["AuctionView.median"] == ("aggregate", ["median_price"])
    text = run("explain", "AuctionView", "tests/fixtures/udfs", "--only", "sql").out
    assert "ontoc__auctionview__median: aggregate function AuctionView.median, called by median_price" in text
    assert run("explain", "MeetingSession", "--format", "json").json()["python_udfs"] == []
