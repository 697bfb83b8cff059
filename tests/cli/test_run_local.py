"""`ontoc run --local` end to end (in-process, sharing the session's JVM): the README's main job."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ontoc.cli.main import cli
from ontoc.events import final_documents, read_events
from ontoc.oracle import import_definitions, view_rows
from ontoc.pipeline import compile_definitions

from ..conftest import DEFINITIONS, ROOT
from ..support.compare import diff_views

EVENTS = ROOT / "examples" / "meeting_room" / "events"


@pytest.mark.flink
def test_meeting_room_sample_run_matches_oracle_and_reports_invalid_lines(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(DEFINITIONS / "meeting_room"),
            "--local",
            "--input",
            str(EVENTS),
            "--output",
            str(tmp_path),
            "--print",
        ],
    )
    assert result.exit_code == 0, result.output
    text = result.output
    assert "meetings.jsonl:5: skipped invalid event: not JSON" in text
    assert "users.jsonl:4: skipped invalid event: field `last_name` is missing" in text
    assert "tickets.jsonl:7: skipped invalid event: field `attendance` should be bool" in text
    assert "3 invalid event(s) skipped" in text

    lines = (tmp_path / "meeting_sessions.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    keys = [r["key"] for r in records]
    assert keys == sorted(keys)
    got = {r["key"]: r["value"] for r in records}

    compiled = compile_definitions(DEFINITIONS / "meeting_room")
    valid, invalid = read_events(list(compiled.schema.models.values()), EVENTS)
    assert len(invalid) == 3
    docs = final_documents(valid)
    classes = import_definitions(compiled.schema)
    forward = view_rows(compiled.schema, classes, docs)["meeting_sessions"]
    backward = view_rows(compiled.schema, classes, docs, reverse=True)["meeting_sessions"]
    assert diff_views(got, forward, backward) == []
    # the sample exercises updates and deletes: t-2 left, t-3 joined, t-4 was deleted
    assert [a["name"] for a in got["m-1"]["attending"]] == ["Ada Lovelace", "Grace Hopper"]
    assert got["m-2"]["attending"] == []
