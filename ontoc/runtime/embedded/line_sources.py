"""The sources of `ontoc run --local`: the input files read, validated and deduplicated by Flink itself.

Each `<topic>.jsonl` is a `filesystem` table in the `raw` format (one BYTES record per line, a line's
trailing CR dropped); the statements of `backend/flink/validated_sources.py` judge every line with
ONTOC_VALIDATE_LINE and keep the latest valid event per doc_id, as a submitted job does with Kafka
records. Nothing per event crosses into Python. Flink's file source knows no line numbers, so the
invalid lines go to a side sink with their bytes, in the order read (one source per file, parallelism
1), and `invalid_lines` finds their numbers afterwards by walking only the files that have any.
docs/running.md ("How `ontoc run --local` works") tells the whole path.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...backend.flink import validated_sources as vs
from ...backend.flink.dialect import sql
from ...event_validation import TopicSpec
from ...events import UTF8_BOM, InvalidEvent
from .changelog import changelog_files

LINES_TABLE = "__ontoc_lines_{}"
INVALID_SINK = "__ontoc_invalid_lines"


@dataclass(frozen=True)
class InputFile:
    topic: str
    path: Path  # the user's file, as reported in file:line (it may not exist: an empty topic)
    read: Path  # what Flink reads: the file, a copy without its byte-order mark, or an empty file


def input_files(topics: list[str], folder: Path, scratch: Path) -> list[InputFile]:
    """`folder/<topic>.jsonl` per topic; a missing file reads as an empty one, and a file that starts with a
    UTF-8 byte-order mark is read from a copy without it (Flink's reader would keep it in the first line)."""
    files = []
    for i, topic in enumerate(topics):
        path = folder / f"{topic}.jsonl"
        read = path
        if not path.is_file():
            read = scratch / f"{i}.empty.jsonl"
            read.write_bytes(b"")
        else:
            with path.open("rb") as fh:
                if fh.read(len(UTF8_BOM)) == UTF8_BOM:
                    read = scratch / f"{i}.jsonl"
                    with read.open("wb") as out:
                        shutil.copyfileobj(fh, out, 1 << 20)
        files.append(InputFile(topic, path, read))
    return files


def register(t_env: Any, stmt_set: Any, specs: list[TopicSpec], read: set[str], files: list[InputFile], out: str) -> None:
    """The line tables, the validated events view, one source view per topic in `read` (named like the
    compiled source table the views' SELECTs read), and the invalid lines' sink under `out`."""
    from pyflink.table import DataTypes, FormatDescriptor, Schema, TableDescriptor

    tables = []
    for i, f in enumerate(files):
        name = LINES_TABLE.format(i)
        descriptor = (
            TableDescriptor.for_connector("filesystem")
            .schema(Schema.new_builder().column(vs.LINE_COLUMN, DataTypes.BYTES()).build())
            .option("path", f.read.resolve().as_uri())
            .format("raw")
            .build()
        )
        t_env.create_temporary_table(name, descriptor)
        tables.append(name)
    t_env.execute_sql(sql(vs.line_events_view(specs, tables)))
    for spec in specs:
        if spec.topic in read:
            t_env.execute_sql(sql(vs.source_view(spec)))
    sink_schema = (
        Schema.new_builder()
        .column("topic", DataTypes.STRING())
        .column("reason", DataTypes.STRING())
        .column(vs.LINE_COLUMN, DataTypes.BYTES())
        .build()
    )
    sink = (
        TableDescriptor.for_connector("filesystem")
        .schema(sink_schema)
        .option("path", "file://" + out)
        .format(FormatDescriptor.for_format("json").build())
        .build()
    )
    t_env.create_temporary_table(INVALID_SINK, sink)
    stmt_set.add_insert(INVALID_SINK, t_env.sql_query(sql(vs.invalid_lines_query())))


def _flink_lines(path: Path) -> Iterator[tuple[int, bytes, bytes]]:
    """(line number, the line as Flink's reader gives it, the line as read) for every line of `path`."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number == 1 and raw.startswith(UTF8_BOM):
                raw = raw[len(UTF8_BOM) :]
            line = raw[:-1] if raw.endswith(b"\n") else raw
            yield number, (line[:-1] if line.endswith(b"\r") else line), raw


def invalid_lines(files: list[InputFile], out: str) -> tuple[list[InvalidEvent], int]:
    """The invalid lines the job wrote under `out`, located as file:line, and how many lines were blank.

    The sink holds each topic's invalid lines in file order with their bytes; a line's verdict depends on its
    bytes alone, so the n-th invalid record of a topic is the n-th line of its file with those bytes. Blank
    lines are skipped, not reported (the validator calls them not JSON). Only files with invalid lines are
    walked."""
    pending: dict[str, list[tuple[str, bytes]]] = {}
    for path in changelog_files(out):
        with open(path, encoding="utf-8") as fh:
            for text in fh:
                if text.strip():
                    rec = json.loads(text)
                    pending.setdefault(rec["topic"], []).append((rec["reason"], base64.b64decode(rec["line"])))
    found: list[InvalidEvent] = []
    blank = 0
    for f in files:
        wanted = pending.get(f.topic)
        if not wanted:
            continue
        at = 0
        for number, line, raw in _flink_lines(f.path):
            if line != wanted[at][1]:
                continue
            if raw.strip():
                found.append(InvalidEvent(str(f.path), number, wanted[at][0]))
            else:
                blank += 1
            at += 1
            if at == len(wanted):
                break
        if at != len(wanted):  # pragma: no cover - the file changed while the job read it
            raise RuntimeError(f"{f.path}: {len(wanted) - at} invalid line(s) of the job not found in the file")
    return found, blank


def count_lines(files: list[InputFile]) -> int:
    """The records Flink's line reader makes of the files: one per newline, and a last line without one."""
    total = 0
    for f in files:
        last = b"\n"
        with f.read.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                total += chunk.count(b"\n")
                last = chunk[-1:]
        total += last != b"\n"
    return total
