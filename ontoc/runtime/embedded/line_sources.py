"""The sources of `ontoc run --local`: the input files read, validated and deduplicated by Flink itself.

Each `<topic>.jsonl` is a `filesystem` table in the `raw` format (one BYTES record per line, a line's
trailing CR dropped); the statements of `backend/flink/validated_sources.py` judge every line with
ONTOC_VALIDATE_LINE and keep the latest valid event per doc_id, as a submitted job does with Kafka
records. Nothing per event crosses into Python. Flink's file source knows no line numbers, so the
invalid lines go to a side sink with their text, in the order read (one source per file, parallelism
1), and `invalid_lines` finds their numbers afterwards by walking only the files that have any.
docs/running.md ("How `ontoc run --local` works") tells the whole path.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...backend.flink import validated_sources as vs
from ...backend.flink.dialect import sql
from ...event_validation import TopicSpec
from ...events import UTF8_BOM, Invalid, InvalidEvent, TopicModel, parse_line
from ..java_errors import LocalRunError

LINES_TABLE = "__ontoc_lines_{}"
INVALID_SINK = "__ontoc_invalid_lines"
MAX_INVALID_VALUE_CHARS = 10_000  # EventValidator.MAX_INVALID_VALUE_CHARS: a longer line's text is cut


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


EVENTS_VIEW = "__ontoc_events_{}"


def register(
    t_env: Any, stmt_set: Any, specs: list[TopicSpec], read: set[str], files: list[InputFile], out: str
) -> None:
    """Per file (`files[i]` holds `specs[i]`'s topic) a line table and its validated events view, one source
    view per topic in `read` (named like the compiled source table the views' SELECTs read), and the
    invalid lines' sink under `out`."""
    from pyflink.table import DataTypes, FormatDescriptor, Schema, TableDescriptor

    views = []
    for i, (spec, f) in enumerate(zip(specs, files, strict=True)):
        table, view = LINES_TABLE.format(i), EVENTS_VIEW.format(i)
        descriptor = (
            TableDescriptor.for_connector("filesystem")
            .schema(Schema.new_builder().column(vs.LINE_COLUMN, DataTypes.BYTES()).build())
            .option("path", f.read.resolve().as_uri())
            .format("raw")
            .build()
        )
        t_env.create_temporary_table(table, descriptor)
        t_env.execute_sql(sql(vs.line_events_view(view, spec, table)))
        if spec.topic in read:
            t_env.execute_sql(sql(vs.source_view(spec, view)))
        views.append(view)
    sink_schema = Schema.new_builder()
    for column in ("topic", "reason", "value"):
        sink_schema = sink_schema.column(column, DataTypes.STRING())
    sink = (
        TableDescriptor.for_connector("filesystem")
        .schema(sink_schema.build())
        .option("path", "file://" + out)
        .format(FormatDescriptor.for_format("json").build())
        .build()
    )
    t_env.create_temporary_table(INVALID_SINK, sink)
    stmt_set.add_insert(INVALID_SINK, t_env.sql_query(sql(vs.invalid_lines_query(views))))


def _lines(path: Path) -> Iterator[tuple[int, bytes, bytes]]:
    """(line number, the line as Flink's reader gives it, the line as read) for every line of `path`."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number == 1 and raw.startswith(UTF8_BOM):
                raw = raw[len(UTF8_BOM) :]
            line = raw[:-1] if raw.endswith(b"\n") else raw
            yield number, (line[:-1] if line.endswith(b"\r") else line), raw


def _python_reason(model: TopicModel, raw: bytes) -> str | None:
    try:
        parse_line(model, raw, "", 0)
    except Invalid as exc:
        return str(exc)
    return None


def _is(line: bytes, raw: bytes, text: str, model: TopicModel) -> bool:
    """Whether `line` is the invalid line the validator reported as `text`.

    Every line between two invalid ones is valid, so it is enough to tell the reported line from VALID ones:
    the same bytes mean the same verdict. When the report is not the line's bytes (undecodable bytes shown as
    U+FFFD, a text cut at MAX_INVALID_VALUE_CHARS), only a line that is not UTF-8 or is that long can be it,
    and the Python rules (the same as the JVM's, tests/runtime/test_native_validator.py) say whether it is invalid."""
    if text.encode("utf-8", "surrogatepass") == line:
        return True
    if "\ufffd" not in text and not text.endswith("..."):
        return False
    if len(line) < MAX_INVALID_VALUE_CHARS:
        try:
            line.decode("utf-8")
            return False
        except UnicodeDecodeError:
            pass
    return _python_reason(model, raw) is not None


def _data_files(out_dir: str) -> list[str]:
    """The data files a filesystem sink wrote under `out_dir`, in order (no checksums, no `_`-prefixed files)."""
    files = []
    for dirpath, _dirs, fnames in os.walk(out_dir):
        files += [os.path.join(dirpath, f) for f in fnames if not (f.endswith(".crc") or f.startswith("_"))]
    return sorted(files)


def invalid_lines(files: list[InputFile], models: dict[str, TopicModel], out: str) -> tuple[list[InvalidEvent], int]:
    """The invalid lines the job wrote under `out`, located as file:line, and how many lines were blank.

    The sink holds each file's invalid lines in the order read; each is found by walking the file from the
    previous one (`_is`). Blank lines are skipped, not reported (the validator calls them not JSON). Only
    files with invalid lines are walked."""
    pending: dict[str, list[tuple[str, str]]] = {}
    for path in _data_files(out):
        # a text cut inside a surrogate pair is not UTF-8 (its end is never compared: it ends with "...")
        with open(path, encoding="utf-8", errors="replace") as fh:
            for text in fh:
                if text.strip():
                    rec = json.loads(text)
                    pending.setdefault(rec["topic"], []).append((rec["reason"], rec["value"]))
    found: list[InvalidEvent] = []
    blank = 0
    for f in files:
        wanted = pending.get(f.topic)
        if not wanted:
            continue
        at = 0
        for number, line, raw in _lines(f.path):
            reason, text = wanted[at]
            if not _is(line, raw, text, models[f.topic]):
                continue
            if raw.strip():
                found.append(InvalidEvent(str(f.path), number, reason))
            else:
                blank += 1
            at += 1
            if at == len(wanted):
                break
        if at != len(wanted):
            raise LocalRunError(
                f"{f.path}: {len(wanted) - at} invalid line(s) reported by the job not found in the file "
                f"(the next: {wanted[at][0]}); was the file changed during the run?"
            )
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
