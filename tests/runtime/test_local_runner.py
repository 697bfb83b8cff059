"""Tests of the embedded-Flink runner: they really run PyFlink (no mocks).

Every expected value is derived from the events with plain Python.
"""

from __future__ import annotations

import datetime
import decimal
import random
from collections import Counter

import pytest

from ontoc.ir import types as T
from ontoc.runtime.embedded.final_state import read_final_state
from ontoc.runtime.embedded.runner import LocalRunError, SourceTable, ViewQuery, run_local
from ontoc.runtime.java_errors import java_causes

UTC = datetime.UTC

pytestmark = pytest.mark.flink


# --------------------------------------------------------------------------
# helpers: the oracle side
# --------------------------------------------------------------------------


def final_docs(src: SourceTable) -> dict[str, dict[str, object]]:
    """Upsert semantics in plain Python: the live documents after all events."""
    names = [c for c, _ in src.columns]
    docs: dict[str, dict[str, object]] = {}
    for doc_id, values in src.events:
        if values is None:
            docs.pop(doc_id, None)
        else:
            docs[doc_id] = dict(zip(names, values, strict=False))
    return docs


def as_multiset(rows):
    return Counter(repr(sorted(r.items())) if isinstance(r, dict) else repr(r) for r in rows)


MEETING_COLS = (("doc_id", T.STR), ("status", T.STR), ("room", T.STR))
TICKET_COLS = (
    ("doc_id", T.STR),
    ("meeting", T.STR),
    ("role", T.STR),
    ("seats", T.INT),
    ("attendance", T.BOOL),
)


def meetings_and_tickets():
    meetings = SourceTable(
        "src_meetings",
        MEETING_COLS,
        (
            ("m1", ("m1", "not-started", "A")),
            ("m2", ("m2", "in-session", "B")),
            ("m3", ("m3", "closed", None)),
            ("m1", ("m1", "in-session", "A2")),  # update
            ("m4", ("m4", "closed", "D")),
            ("m4", None),  # delete
            ("m9", None),  # delete of a key that never existed
            ("m5", ("m5", "not-started", "E")),
        ),
    )
    tickets = SourceTable(
        "src_tickets",
        TICKET_COLS,
        (
            ("t1", ("t1", "m1", "speaker", 3, True)),
            ("t2", ("t2", "m1", "guest", 9, False)),
            ("t3", ("t3", "m2", "guest", 4, True)),
            ("t4", ("t4", "m3", "host", 1, True)),
            ("t5", ("t5", "m1", "guest", 5, True)),
            ("t2", ("t2", "m1", "guest", 2, True)),  # update: m1's MAX must retract 9
            ("t4", None),  # m3 loses its last ticket
            ("t6", ("t6", "m2", "host", 7, False)),
            ("t6", ("t6", "m5", "host", 7, False)),  # moves to another meeting
            ("t3", None),
            ("t3", ("t3", "m2", "speaker", 6, True)),  # re-inserted after delete
            ("t7", ("t7", "m4", "guest", 8, True)),  # points at a deleted meeting
        ),
    )
    return meetings, tickets


SUMMARY_SQL = """
SELECT m.doc_id,
       m.status,
       COUNT(t.doc_id) AS n_tickets,
       COUNT(t.doc_id) FILTER (WHERE t.attendance) AS n_attending,
       SUM(t.seats) AS seats,
       MIN(t.seats) AS min_seats,
       MAX(t.seats) AS max_seats,
       ARRAY_AGG(CAST(ROW(t.role, t.seats) AS ROW<role STRING, seats BIGINT>))
           FILTER (WHERE t.doc_id IS NOT NULL) AS tickets
FROM src_meetings AS m
LEFT JOIN src_tickets AS t ON t.meeting = m.doc_id
GROUP BY m.doc_id, m.status
"""


def expected_summary(meetings: SourceTable, tickets: SourceTable):
    ms = final_docs(meetings)
    ts = final_docs(tickets)
    out = {}
    for mid, m in ms.items():
        mine = [t for t in ts.values() if t["meeting"] == mid]
        seats = [t["seats"] for t in mine]
        out[mid] = {
            "doc_id": mid,
            "status": m["status"],
            "n_tickets": len(mine),
            "n_attending": len([t for t in mine if t["attendance"]]),
            "seats": sum(seats) if seats else None,
            "min_seats": min(seats) if seats else None,
            "max_seats": max(seats) if seats else None,
            "tickets": [{"role": t["role"], "seats": t["seats"]} for t in mine] or None,
        }
    return out


def assert_summary_equal(got, want):
    assert set(got) == set(want)
    for key, row in want.items():
        g = dict(got[key])
        w = dict(row)
        g_tickets, w_tickets = g.pop("tickets"), w.pop("tickets")
        assert g == w, key
        if w_tickets is None:
            assert g_tickets is None, key
        else:  # ARRAY_AGG order is unspecified: compare as multisets
            assert as_multiset(g_tickets) == as_multiset(w_tickets), key


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------


def test_left_join_group_by_with_updates_and_deletes():
    meetings, tickets = meetings_and_tickets()
    result = run_local([meetings, tickets], [ViewQuery("meeting_summary", SUMMARY_SQL)])
    assert set(result) == {"meeting_summary"}
    assert_summary_equal(result["meeting_summary"], expected_summary(meetings, tickets))


def test_several_views_in_one_call_and_where_filter():
    meetings, tickets = meetings_and_tickets()
    views = [
        ViewQuery("meeting_summary", SUMMARY_SQL),
        ViewQuery(
            "live_meetings",
            "SELECT doc_id, UPPER(status) AS status, room FROM src_meetings WHERE status <> 'closed'",
        ),
        ViewQuery(
            "ticket_view",
            "SELECT t.doc_id, t.role, m.room FROM src_tickets t LEFT JOIN src_meetings m ON m.doc_id = t.meeting",
        ),
    ]
    result = run_local([meetings, tickets], views)
    assert set(result) == {"meeting_summary", "live_meetings", "ticket_view"}
    assert_summary_equal(result["meeting_summary"], expected_summary(meetings, tickets))

    ms, ts = final_docs(meetings), final_docs(tickets)
    assert result["live_meetings"] == {
        mid: {"doc_id": mid, "status": m["status"].upper(), "room": m["room"]}
        for mid, m in ms.items()
        if m["status"] != "closed"
    }
    assert result["ticket_view"] == {
        tid: {
            "doc_id": tid,
            "role": t["role"],
            "room": ms[t["meeting"]]["room"] if t["meeting"] in ms else None,
        }
        for tid, t in ts.items()
    }


@pytest.mark.parametrize("seed", [1, 2])
def test_random_changelog_matches_python(seed):
    """Many random upserts/deletes: MIN/MAX/SUM/COUNT and joins under retraction."""
    rng = random.Random(seed)
    meeting_ids = [f"m{i}" for i in range(5)]
    ticket_ids = [f"t{i}" for i in range(25)]
    m_events, t_events = [], []
    for _ in range(60):
        mid = rng.choice(meeting_ids)
        if rng.random() < 0.2:
            m_events.append((mid, None))
        else:
            m_events.append((mid, (mid, rng.choice(["not-started", "in-session", "closed"]), rng.choice(["A", None]))))
    for _ in range(250):
        tid = rng.choice(ticket_ids)
        if rng.random() < 0.25:
            t_events.append((tid, None))
        else:
            t_events.append(
                (
                    tid,
                    (
                        tid,
                        rng.choice(meeting_ids + [None]),
                        rng.choice(["guest", "host"]),
                        rng.randint(-5, 20),
                        rng.random() < 0.5,
                    ),
                )
            )
    meetings = SourceTable("src_meetings", MEETING_COLS, tuple(m_events))
    tickets = SourceTable("src_tickets", TICKET_COLS, tuple(t_events))
    result = run_local([meetings, tickets], [ViewQuery("meeting_summary", SUMMARY_SQL)])
    assert_summary_equal(result["meeting_summary"], expected_summary(meetings, tickets))


def test_typed_values_round_trip_to_json_ready_python():
    events = (
        (
            "a",
            (
                "a",
                decimal.Decimal("12.3400000001"),
                datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
                ["x", None, "y"],
                [3, 1],
                0.1,
                True,
                7,
            ),
        ),
        (
            "b",
            (
                "b",
                decimal.Decimal("-1"),
                datetime.datetime(2024, 5, 6, 9, 8, 9, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
                [],
                None,
                -2.5,
                False,
                None,
            ),
        ),
        ("c", ("c", None, None, None, [], None, None, 1)),
        ("c", None),
    )
    src = SourceTable(
        "src_typed",
        (
            ("doc_id", T.STR),
            ("price", T.DECIMAL),
            ("at", T.DATETIME),
            ("tags", T.list_of(T.STR)),
            ("nums", T.list_of(T.INT)),
            ("ratio", T.FLOAT),
            ("flag", T.BOOL),
            ("n", T.INT),
        ),
        events,
    )
    sql = """
    SELECT doc_id, price, `at`, tags, nums, ratio, flag, n,
           CAST(ROW(flag, ROW(n, tags)) AS ROW<flag BOOLEAN, inner_row ROW<n BIGINT, tags ARRAY<STRING>>>) AS nested,
           CAST(ARRAY[ROW(doc_id, price)] AS ARRAY<ROW<name STRING, price DECIMAL(38, 10)>>) AS arr_of_rows,
           CAST(NULL AS STRING) AS nothing
    FROM src_typed
    """
    got = run_local([src], [ViewQuery("typed", sql)])["typed"]
    docs = final_docs(src)
    assert set(got) == set(docs)
    for key, d in docs.items():
        row = got[key]
        assert row["doc_id"] == key
        assert row["price"] == d["price"] and isinstance(row["price"], decimal.Decimal)
        assert row["at"] == d["at"].astimezone(UTC).isoformat()
        assert row["at"].endswith("+00:00")
        assert row["tags"] == d["tags"]
        assert row["nums"] == d["nums"]
        assert row["ratio"] == d["ratio"] and isinstance(row["ratio"], float)
        assert row["flag"] is d["flag"]
        assert row["n"] == d["n"]
        assert row["nested"] == {"flag": d["flag"], "inner_row": {"n": d["n"], "tags": d["tags"]}}
        assert row["arr_of_rows"] == [{"name": key, "price": d["price"]}]
        assert row["nothing"] is None


def test_decimal_as_float_option():
    src = SourceTable("s", (("doc_id", T.STR), ("p", T.DECIMAL)), (("k", ("k", decimal.Decimal("2.50"))),))
    got = run_local([src], [ViewQuery("v", "SELECT doc_id, p FROM s")], decimal_as_float=True)
    assert got == {"v": {"k": {"doc_id": "k", "p": 2.5}}}
    assert isinstance(got["v"]["k"]["p"], float)


def test_empty_source_and_only_deletes():
    empty = SourceTable("src_empty", (("doc_id", T.STR), ("x", T.INT)), ())
    gone = SourceTable("src_gone", (("doc_id", T.STR), ("x", T.INT)), (("a", ("a", 1)), ("a", None), ("b", None)))
    got = run_local(
        [empty, gone],
        [
            ViewQuery("v_empty", "SELECT doc_id, x FROM src_empty"),
            ViewQuery("v_gone", "SELECT doc_id, x FROM src_gone"),
        ],
    )
    assert got == {"v_empty": {}, "v_gone": {}}


def test_progress_lines_and_jvm_reuse():
    from pyflink.java_gateway import get_gateway

    src = SourceTable("s", (("doc_id", T.STR), ("x", T.INT)), (("a", ("a", 1)), ("b", ("b", 2)), ("a", ("a", 3))))
    view = ViewQuery("v", "SELECT doc_id, x * 2 AS y FROM s")
    lines: list[str] = []
    first = run_local([src], [view], progress=lines.append)
    gateway = get_gateway()
    pid = gateway.jvm.java.lang.ProcessHandle.current().pid()
    lines2: list[str] = []
    second = run_local([src], [view], progress=lines2.append)
    assert get_gateway() is gateway
    assert gateway.jvm.java.lang.ProcessHandle.current().pid() == pid
    expected = {k: {"doc_id": k, "y": d["x"] * 2} for k, d in final_docs(src).items()}
    assert first == second == {"v": expected}
    assert any(line.startswith("starting embedded Flink") for line in lines)
    assert f"job running: {len(src.events)} events in" in lines
    assert any(line.startswith("collected ") and " changes" in line for line in lines)
    assert "starting embedded Flink (JVM already up)" in lines2


def test_sql_error_is_root_cause_message():
    src = SourceTable("s", (("doc_id", T.STR), ("x", T.INT)), (("a", ("a", 1)),))
    with pytest.raises(LocalRunError) as info:
        run_local([src], [ViewQuery("bad", "SELECT doc_id, no_such_column FROM s")])
    msg = str(info.value)
    assert "no_such_column" in msg and "not found" in msg
    assert "\tat " not in msg and "Caused by" not in msg
    assert info.value.view == "bad"
    assert len(info.value.causes) >= 2  # the whole chain is kept for debugging


def test_unknown_function_and_table_errors():
    src = SourceTable("s", (("doc_id", T.STR), ("x", T.INT)), (("a", ("a", 1)),))
    with pytest.raises(LocalRunError, match="No match found for function signature NO_SUCH_FN"):
        run_local([src], [ViewQuery("bad", "SELECT doc_id, NO_SUCH_FN(x) FROM s")])
    with pytest.raises(LocalRunError, match="not found"):
        run_local([src], [ViewQuery("bad", "SELECT doc_id FROM no_such_table")])


def test_runtime_failure_is_reported():
    src = SourceTable("s", (("doc_id", T.STR), ("x", T.INT), ("z", T.INT)), (("a", ("a", 1, 0)),))
    with pytest.raises(LocalRunError) as info:
        run_local([src], [ViewQuery("div", "SELECT doc_id, x / z AS q FROM s")])
    assert str(info.value) == "/ by zero"
    assert info.value.java_class == "java.lang.ArithmeticException"


def test_duplicate_keys_are_reported_in_strict_mode():
    _, tickets = meetings_and_tickets()
    view = ViewQuery("by_meeting", "SELECT meeting, role FROM src_tickets")
    with pytest.raises(LocalRunError, match="live rows"):
        run_local([tickets], [view])
    # non-strict mode still returns one of the rows per key
    got = run_local([tickets], [view], strict=False)["by_meeting"]
    ts = final_docs(tickets)
    assert set(got) == {t["meeting"] for t in ts.values()}
    for key, row in got.items():
        assert row["role"] in {t["role"] for t in ts.values() if t["meeting"] == key}


def test_parallel_writers_fold_to_the_same_state(tmp_path):
    """At parallelism 2 the final-state sink has two writers and a key's changes may reach both (the join
    and the aggregate shuffle by other keys): their counts add up to the oracle's state."""
    rng = random.Random(7)
    meetings = SourceTable(
        "src_meetings",
        MEETING_COLS,
        tuple((f"m{i % 6}", (f"m{i % 6}", rng.choice(["a", "b"]), "R")) for i in range(40)),
    )
    tickets = SourceTable(
        "src_tickets",
        TICKET_COLS,
        tuple(
            (f"t{i % 30}", None if i % 7 == 0 else (f"t{i % 30}", f"m{rng.randrange(6)}", "guest", i, True))
            for i in range(300)
        ),
    )
    got = run_local(
        [meetings, tickets], [ViewQuery("meeting_summary", SUMMARY_SQL)], parallelism=2, work_dir=str(tmp_path)
    )
    assert_summary_equal(got["meeting_summary"], expected_summary(meetings, tickets))
    assert sorted(f.name for f in (tmp_path / "view_0").iterdir()) == [
        "changes-0",
        "changes-1",
        "rows-0.jsonl",
        "rows-1.jsonl",
    ]


def test_writers_counts_add_up_and_a_dangling_retraction_is_an_error(tmp_path):
    """The reader of the sink's files: a row retracted by one writer and inserted by another cancels out;
    a retraction left over, or two live rows of one key, is the view's error (strict) or skipped."""
    names, types = ["doc_id", "n"], [("VARCHAR",), ("BIGINT",)]

    def write(rows0, rows1):
        for i, rows in enumerate((rows0, rows1)):
            (tmp_path / f"rows-{i}.jsonl").write_text("".join(f"{c} {text}\n" for c, text in rows))
            (tmp_path / f"changes-{i}").write_text(str(len(rows)))

    a1, a2, b1 = '{"doc_id":"a","n":1}', '{"doc_id":"a","n":2}', '{"doc_id":"b","n":1}'
    write([(1, a1), (-1, a2)], [(1, a2), (1, b1)])
    state, changes = read_final_state("v", str(tmp_path), names, types, decimal_as_float=False, strict=True)
    assert (state, changes) == ({"a": {"doc_id": "a", "n": 1}, "b": {"doc_id": "b", "n": 1}}, 4)
    write([(-1, a2)], [(1, b1)])
    with pytest.raises(LocalRunError, match=r"key 'a' has 1 retraction\(s\) of rows never emitted"):
        read_final_state("v", str(tmp_path), names, types, decimal_as_float=False, strict=True)
    assert read_final_state("v", str(tmp_path), names, types, decimal_as_float=False, strict=False)[0] == {
        "b": {"doc_id": "b", "n": 1}
    }
    write([(1, a1)], [(1, a2)])
    with pytest.raises(LocalRunError, match="key 'a' has 2 live rows"):
        read_final_state("v", str(tmp_path), names, types, decimal_as_float=False, strict=True)


def test_per_job_minicluster_mode_gives_same_result():
    meetings, tickets = meetings_and_tickets()
    got = run_local([meetings, tickets], [ViewQuery("meeting_summary", SUMMARY_SQL)], session_cluster=False)
    assert_summary_equal(got["meeting_summary"], expected_summary(meetings, tickets))


def test_bad_source_value_is_a_value_error():
    src = SourceTable("s", (("doc_id", T.STR), ("x", T.INT)), (("a", ("a", "not an int")),))
    with pytest.raises(ValueError, match="column 'x'"):
        run_local([src], [ViewQuery("v", "SELECT doc_id, x FROM s")])


def test_java_trace_parser():
    trace = (
        "org.apache.flink.table.api.ValidationException: SQL validation failed. Bad thing\n"
        "\tat org.apache.flink.Foo.bar(Foo.java:1)\n"
        "Caused by: org.apache.calcite.runtime.CalciteContextException: From line 1: Column 'q' not found\n"
        "second line of message\n"
        "\tat org.apache.calcite.X.y(X.java:2)\n"
        "\t... 3 more\n"
        "Caused by: org.apache.calcite.sql.validate.SqlValidatorException: Column 'q' not found\n"
        "\tat org.apache.calcite.Z.z(Z.java:3)\n"
    )
    assert java_causes(trace) == [
        ("org.apache.flink.table.api.ValidationException", "SQL validation failed. Bad thing"),
        (
            "org.apache.calcite.runtime.CalciteContextException",
            "From line 1: Column 'q' not found\nsecond line of message",
        ),
        ("org.apache.calcite.sql.validate.SqlValidatorException", "Column 'q' not found"),
    ]


def test_a_planner_that_lost_its_metadata_provider_plans_again(monkeypatch):
    """FLINK-23020: Calcite's metadata provider is a thread-local of the Java thread that made the
    planner, and py4j may switch threads; the run starts over once in the current thread."""
    import ontoc.runtime.embedded.runner as runner

    real, calls, said = runner.make_envs, [], []

    def lost_once(*args):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("java.lang.NullPointerException: metadataHandlerProvider")
        return real(*args)

    monkeypatch.setattr(runner, "make_envs", lost_once)
    meetings = SourceTable("src_meetings", MEETING_COLS, (("m1", ("m1", "open", "r1")),))
    view = ViewQuery("rooms", "SELECT doc_id, room FROM src_meetings")
    out = run_local([meetings], [view], progress=said.append)
    assert out["rooms"]["m1"]["room"] == "r1" and len(calls) == 2
    assert any("FLINK-23020" in m for m in said)
    monkeypatch.setattr(runner, "make_envs", lambda *a: (_ for _ in ()).throw(RuntimeError("other failure")))
    with pytest.raises(LocalRunError, match="other failure"):
        run_local([meetings], [view])


def test_plan_again_if_lost_retries_only_a_lost_planner_and_only_once():
    from ontoc.runtime.cluster.errors import SubmitError
    from ontoc.runtime.java_errors import lost_planner, plan_again_if_lost

    said, calls = [], []

    def lost(times):
        def attempt():
            calls.append(1)
            if len(calls) <= times:
                raise SubmitError(
                    "Flink rejected the INSERT", "java.lang.NullPointerException: metadataHandlerProvider"
                )
            return "planned"

        return attempt

    assert plan_again_if_lost(lost(1), said.append) == "planned" and len(calls) == 2 and "FLINK-23020" in said[0]
    calls.clear()
    with pytest.raises(SubmitError):
        plan_again_if_lost(lost(2), said.append)  # lost twice: not a race, reported
    assert len(calls) == 2
    calls.clear()
    with pytest.raises(ValueError):
        plan_again_if_lost(
            lambda: calls.append(1) or (_ for _ in ()).throw(ValueError("Column 'q' not found")), said.append
        )
    assert len(calls) == 1
    assert lost_planner(LocalRunError("metadataHandlerProvider")) and not lost_planner(LocalRunError("other"))
