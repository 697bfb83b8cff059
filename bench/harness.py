"""One Flink job on ontoc's embedded MiniCluster over file-backed upsert sources, timed from Flink's own clock.

Why not `ontoc.runtime.embedded.runner.run_local`: it pickles every event in Python into the job graph (about
15 µs per event before the job starts, and a job graph of hundreds of MB for millions of events)
and collects every view change back into Python. Here:

* **Sources** are `filesystem` tables over Debezium-JSON files (data.py) with `PRIMARY KEY (doc_id)
  NOT ENFORCED` and `table.exec.source.cdc-events-duplicate = true`, so the planner puts a
  `ChangelogNormalize` keyed by doc_id after each source, exactly as after an upsert-kafka source (and
  after run_local's upsert collection sources): later events for a key replace the document, a
  tombstone deletes it. The files are read in the JVM; nothing per event crosses py4j.
* **Sinks** are `blackhole` tables with `PRIMARY KEY (doc_id) NOT ENFORCED`, like the upsert-kafka
  sink ontoc emits, so the planner takes the same decisions about the sink (upsert key, upsert
  materializer). `changelog_dir=` folds each view into its final rows instead (the correctness guard:
  ontoc's `ontoc-final-state` sink and the same reading code as run_local).
* **Time** is the job's processing time from the REST API of the MiniCluster: from the first
  subtask switching to RUNNING to the last one FINISHED (`/jobs/<id>/vertices/<v>/subtasktimes`).
  Planning, submission, deployment and operator initialisation are outside it. Events per second =
  source records / that time.

The JVM and the MiniCluster are ontoc's (`ontoc.runtime.embedded.session`), started once per process and
shared by every job of the run; calls hold its lock.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ontoc.jvm.functions import add_jar, ensure_functions_jar
from ontoc.runtime import java_errors
from ontoc.runtime.embedded import final_state, session, values

CDC_SOURCES = {"table.exec.source.cdc-events-duplicate": "true"}


@dataclass(frozen=True)
class FileSource:
    name: str  # the table name the SQL reads (the topic)
    columns: tuple[tuple[str, str], ...]  # (column, SQL type), doc_id first
    path: Path  # folder of Debezium-JSON files


@dataclass(frozen=True)
class Query:
    name: str
    sql: str  # a SELECT whose first column is the view key `doc_id`


@dataclass
class JobRun:
    seconds: float  # first subtask RUNNING -> last subtask FINISHED
    wall: float  # execute() -> finished, planning excluded, submission and start-up included
    events: int  # records the source tasks emitted
    cpu_seconds: float = float("nan")  # CPU time of the JVM and of this Python process (loopback UDF workers)
    vertices: list[dict] = field(default_factory=list)
    plan: str = ""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("nan")

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_seconds * 1e6 / self.events if self.events else float("nan")


def jvm_pid() -> int:
    from pyflink.java_gateway import get_gateway

    return int(get_gateway().jvm.java.lang.ProcessHandle.current().pid())


def process_cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process (all its threads), from /proc."""
    return _stat_cpu_seconds(Path(f"/proc/{pid}/stat").read_text())


def cpu_seconds_per_thread(pid: int) -> dict[tuple[str, str], float]:
    """user + system CPU time of each thread of a process, by (thread id, name: /proc `comm`), or {} when the
    process is gone; a thread that ends while it is read is left out."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return {}
    out = {}
    for task in tasks:
        try:
            out[(task.name, (task / "comm").read_text().strip())] = _stat_cpu_seconds((task / "stat").read_text())
        except OSError:
            continue
    return out


def _stat_cpu_seconds(stat: str) -> float:
    fields = stat.rsplit(")", 1)[1].split()  # after the name, which may hold spaces and parentheses
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def source_ddl(src: FileSource, continuous: bool = False) -> str:
    cols = ",\n  ".join(f"{_q(c)} {t}" for c, t in src.columns)
    extra = ",\n  'source.monitor-interval' = '1s'" if continuous else ""
    return (
        f"CREATE TEMPORARY TABLE {_q(src.name)} (\n  {cols},\n  PRIMARY KEY (`doc_id`) NOT ENFORCED\n) WITH (\n"
        f"  'connector' = 'filesystem',\n  'path' = 'file://{src.path}',\n  'format' = 'debezium-json',\n"
        f"  'debezium-json.timestamp-format.standard' = 'ISO-8601'{extra}\n)"
    )


def _rest(path: str, data: dict | None = None, method: str | None = None) -> Any:
    port = session.SESSION["port"]
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(
        f"http://localhost:{port}{path}",
        data=body,
        method=method,
        headers={"Content-Type": "application/json"} if body else {},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def _java_error(exc: BaseException, what: str) -> RuntimeError:
    err = java_errors.to_local_error(exc, what=what)
    return RuntimeError(str(err))


@dataclass
class _Prepared:
    env: Any
    t_env: Any
    stmt_set: Any
    layouts: list[tuple[Query, str, list[str], list[tuple]]]


def _prepare(
    sources: list[FileSource],
    queries: list[Query],
    options: dict[str, str],
    setup: Callable[[Any], None] | None,
    changelog_dir: str | None,
    continuous: bool,
) -> _Prepared:
    env, t_env = session.make_envs(1, True)
    cfg = t_env.get_config()
    for k, v in {**CDC_SOURCES, **options}.items():
        cfg.set(k, str(v))
    for src in sources:
        try:
            t_env.execute_sql(source_ddl(src, continuous))
        except Exception as e:
            raise _java_error(e, f"source {src.name}") from None
    if setup is not None:
        setup(t_env)
    from pyflink.java_gateway import get_gateway
    from pyflink.table import Schema, TableDescriptor

    jschema = get_gateway().jvm.org.apache.flink.table.api.Schema
    stmt_set = t_env.create_statement_set()
    layouts = []
    for i, q in enumerate(queries):
        try:
            table = t_env.sql_query(q.sql)
            resolved, cols, names, types = values.resolved_columns(table)
            sink = f"__bench_sink_{i}"
            if changelog_dir is None:
                # the key column NOT NULL, as a primary key column must be (and is in ontoc's sink DDL)
                builder = jschema.newBuilder()
                for j, c in enumerate(cols):
                    dt = c.getDataType()
                    builder.column(c.getName(), dt.notNull() if j == 0 else dt)
                schema = Schema(builder.primaryKey([names[0]]).build())
                descriptor = TableDescriptor.for_connector("blackhole").schema(schema).build()
                out_dir = ""
                t_env.create_temporary_table(sink, descriptor)
                stmt_set.add_insert(sink, table)
            else:
                out_dir = os.path.join(changelog_dir, f"view_{i}")
                add_jar(t_env, ensure_functions_jar(progress=lambda _m: None))
                final_state.add_final_state_sink(t_env, stmt_set, table, sink, out_dir)
        except Exception as e:
            raise _java_error(e, f"query {q.name}") from None
        layouts.append((q, out_dir, names, types))
    return _Prepared(env, t_env, stmt_set, layouts)


def explain(
    sources: list[FileSource],
    queries: list[Query],
    options: dict[str, str] | None = None,
    setup: Callable[[Any], None] | None = None,
) -> str:
    """The optimized execution plan Flink would run (no job)."""
    with session.LOCK:
        p = _prepare(sources, queries, options or {}, setup, None, False)
        return _optimized(p.stmt_set.explain())


def scanned_tables(plan: str) -> list[str]:
    """The source tables a plan scans."""
    return sorted(set(re.findall(r"TableSourceScan\(table=\[\[default_catalog, default_database, ([^,\]]+)", plan)))


def _optimized(text: str) -> str:
    marker = "== Optimized Execution Plan =="
    return text[text.index(marker) :].strip() if marker in text else text


def _timing(job_id: str) -> tuple[float, list[dict], int]:
    detail = _rest(f"/jobs/{job_id}")
    started, finished, vertices, events = None, None, [], 0
    for v in detail["vertices"]:
        times = _rest(f"/jobs/{job_id}/vertices/{v['id']}/subtasktimes")
        for sub in times["subtasks"]:
            ts = sub["timestamps"]
            if ts.get("RUNNING"):
                started = ts["RUNNING"] if started is None else min(started, ts["RUNNING"])
            if ts.get("FINISHED"):
                finished = ts["FINISHED"] if finished is None else max(finished, ts["FINISHED"])
        m = v.get("metrics", {})
        vertices.append(
            {
                "name": v["name"],
                "read_records": m.get("read-records"),
                "write_records": m.get("write-records"),
                "duration_ms": v.get("duration"),
            }
        )
        if v["name"].startswith("Source:"):
            events += int(m.get("write-records") or 0)
    if started is None or finished is None:
        raise RuntimeError(f"job {job_id}: no RUNNING/FINISHED timestamps")
    return (finished - started) / 1000.0, vertices, events


def run(
    sources: list[FileSource],
    queries: list[Query],
    *,
    options: dict[str, str] | None = None,
    setup: Callable[[Any], None] | None = None,
    changelog_dir: str | None = None,
    with_plan: bool = False,
    timeout_s: float = 1800,
) -> JobRun:
    """Run the queries as one job over the bounded sources; time it."""
    with session.LOCK:
        p = _prepare(sources, queries, options or {}, setup, changelog_dir, False)
        plan = _optimized(p.stmt_set.explain()) if with_plan else ""
        pid = jvm_pid()
        cpu0 = process_cpu_seconds(pid) + time.process_time()
        t0 = time.perf_counter()
        try:
            result = p.stmt_set.execute()
            result.wait(int(timeout_s * 1000))
        except Exception as e:
            raise _java_error(e, "job") from None
        wall = time.perf_counter() - t0
        cpu = process_cpu_seconds(pid) + time.process_time() - cpu0
        job_id = str(result.get_job_client().get_job_id())
        seconds, vertices, events = _timing(job_id)
        return JobRun(seconds, wall, events, cpu, vertices, plan)


def final_states(
    sources: list[FileSource],
    queries: list[Query],
    *,
    options: dict[str, str] | None = None,
    setup: Callable[[Any], None] | None = None,
) -> dict[str, dict]:
    """Run the queries and fold their changes into final states (key -> row), as run_local does."""
    out_root = tempfile.mkdtemp(prefix="ontoc-bench-")
    try:
        with session.LOCK:
            p = _prepare(sources, queries, options or {}, setup, out_root, False)
            try:
                p.stmt_set.execute().wait(600_000)
            except Exception as e:
                raise _java_error(e, "job") from None
            states = {}
            for q, out_dir, names, types in p.layouts:
                state, _changes = final_state.read_final_state(
                    q.name, out_dir, names, types, decimal_as_float=True, strict=True
                )
                states[q.name] = state
            return states
    finally:
        shutil.rmtree(out_root, ignore_errors=True)


# --------------------------------------------------------------------------
# state size: a savepoint of the running job once every event is processed
# --------------------------------------------------------------------------


@dataclass
class StateSize:
    total_bytes: int  # the savepoint's files on disk
    operators: list[dict]  # per job vertex: name, state bytes (Flink's checkpoint statistics)
    events: int


def state_size(
    sources: list[FileSource],
    queries: list[Query],
    expected_events: int,
    *,
    options: dict[str, str] | None = None,
    setup: Callable[[Any], None] | None = None,
    timeout_s: float = 600,
) -> StateSize:
    """Run the queries over sources that keep watching their folders (the job never finishes), wait until
    every event went through every operator, take a canonical savepoint and cancel the job.

    The savepoint holds each operator's state in Flink's canonical (backend-independent) format with the
    default hashmap state backend, so its size is the serialized size of the state: keys, rows and
    timers of every stateful operator.
    """
    savepoints = tempfile.mkdtemp(prefix="ontoc-bench-sp-")
    # state goes to files, not to the JobManager's memory (which caps a snapshot at a few MB)
    storage = {
        "execution.checkpointing.storage": "filesystem",
        "execution.checkpointing.dir": "file://" + os.path.join(savepoints, "checkpoints"),
        "execution.checkpointing.savepoint-dir": "file://" + savepoints,
    }
    with session.LOCK:
        p = _prepare(sources, queries, {**storage, **(options or {})}, setup, None, True)
        result = p.stmt_set.execute()
        job_id = str(result.get_job_client().get_job_id())
        try:
            _wait_drained(job_id, expected_events, timeout_s)
            trigger = _rest(
                f"/jobs/{job_id}/savepoints",
                {"target-directory": "file://" + savepoints, "cancel-job": True, "formatType": "CANONICAL"},
                "POST",
            )["request-id"]
            deadline = time.time() + timeout_s
            while True:
                status = _rest(f"/jobs/{job_id}/savepoints/{trigger}")
                if status["status"]["id"] == "COMPLETED":
                    op = status.get("operation") or {}
                    if "failure-cause" in op:
                        trace = op["failure-cause"].get("stack-trace", "")
                        causes = [ln.strip() for ln in trace.splitlines() if ln.startswith("Caused by")]
                        raise RuntimeError(f"savepoint failed: {(causes or [trace[:500]])[-1][:1000]}")
                    location = op["location"]
                    break
                if time.time() > deadline:
                    raise RuntimeError("savepoint did not complete")
                time.sleep(0.5)
            operators = _savepoint_operators(job_id)
        finally:
            try:
                _rest(f"/jobs/{job_id}", method="PATCH")  # cancel if still running
            except Exception:
                pass
        path = Path(location.replace("file:", "", 1))
        total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        shutil.rmtree(savepoints, ignore_errors=True)
        return StateSize(total, operators, expected_events)


def _source_records(job_id: str) -> tuple[int, list[int]]:
    detail = _rest(f"/jobs/{job_id}")
    src, others = 0, []
    for v in detail["vertices"]:
        m = v.get("metrics", {})
        if v["name"].startswith("Source:"):
            src += int(m.get("write-records") or 0)
        others.append(int(m.get("read-records") or 0))
    return src, others


def _wait_drained(job_id: str, expected: int, timeout_s: float) -> None:
    """Until the sources emitted `expected` records and no vertex read anything new for two polls."""
    deadline = time.time() + timeout_s
    last = None
    stable = 0
    while time.time() < deadline:
        src, others = _source_records(job_id)
        if src >= expected and others == last:
            stable += 1
            if stable >= 2:
                return
        else:
            stable = 0
        last = others
        time.sleep(3)
    raise RuntimeError(f"job {job_id} did not process {expected} events within {timeout_s} s")


def _savepoint_operators(job_id: str) -> list[dict]:
    stats = _rest(f"/jobs/{job_id}/checkpoints")
    latest = (stats.get("latest") or {}).get("savepoint") or (stats.get("latest") or {}).get("completed")
    if not latest:
        return []
    detail = _rest(f"/jobs/{job_id}/checkpoints/details/{latest['id']}")
    names = {v["id"]: v["name"] for v in _rest(f"/jobs/{job_id}")["vertices"]}
    ops = []
    for vid, task in (detail.get("tasks") or {}).items():
        ops.append(
            {
                "name": names.get(vid, vid),
                "state_bytes": int(task.get("state_size") or 0),
                "checkpointed_bytes": int(task.get("checkpointed_size") or 0),
            }
        )
    return ops
