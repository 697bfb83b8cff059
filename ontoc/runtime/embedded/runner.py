"""The embedded-Flink runner of `ontoc run --local` and the differential tests: sources and views in, the
final state of every view out. docs/running.md ("How `ontoc run --local` works") explains the design."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ...jvm.functions import add_jar, ensure_functions_jar
from ..java_errors import LocalRunError, plan_again_if_lost, to_local_error
from .final_state import add_final_state_sink, read_final_state
from .session import LOCK, gateway_started, make_envs
from .sources import SourceTable, register_source

__all__ = ["SourceTable", "ViewQuery", "LocalRunError", "run_local", "run_job"]

Say = Callable[[str], None]
State = dict[str, dict[str, dict[str, object]]]  # view name -> key -> {column: value}


@dataclass(frozen=True)
class ViewQuery:
    """One view: a SELECT whose first column is the view key."""

    name: str
    sql: str


def run_local(
    sources: Sequence[SourceTable],
    views: Sequence[ViewQuery],
    *,
    progress: Callable[[str], None] | None = None,
    parallelism: int = 1,
    decimal_as_float: bool = False,
    strict: bool = True,
    timeout_s: float | None = 600.0,
    work_dir: str | None = None,
    session_cluster: bool = True,
    setup: Callable[[Any], None] | None = None,
) -> State:
    """Return, for each view name, its final state: key -> {column name: JSON-ready Python value} for every live row.

    Every column of the view (the key column included) is in the row dict.
    All views run in one Flink job. Optional knobs: ``parallelism`` (default
    1), ``decimal_as_float`` (DECIMAL -> float instead of Decimal), ``strict``
    (raise when a key ends with several live rows or a dangling retraction),
    ``timeout_s`` (cancel and raise after it), ``work_dir`` (keep the final
    rows' files there instead of a deleted temp dir), ``session_cluster``
    (False: PyFlink's default per-job MiniCluster, ~0.6 s slower per call),
    ``setup`` (called with the StreamTableEnvironment after the sources are
    registered, e.g. to register Python UDFs).

    Raises :class:`LocalRunError` when Flink rejects a statement or the job
    fails, ``ValueError`` for malformed sources/events (wrong arity, a value
    of the wrong Python type, an unsupported column type).
    """
    sources = list(sources)
    if len({s.name for s in sources}) != len(sources):
        raise ValueError("source names must be unique")

    def prepare(env: Any, t_env: Any, _stmt_set: Any, _out_root: str) -> str:
        n_events = _register_sources(env, t_env, sources)
        if setup is not None:
            setup(t_env)
        return f"{n_events} events in"

    return run_job(
        prepare,
        views,
        progress=progress,
        parallelism=parallelism,
        decimal_as_float=decimal_as_float,
        strict=strict,
        timeout_s=timeout_s,
        work_dir=work_dir,
        session_cluster=session_cluster,
    )


Prepare = Callable[[Any, Any, Any, str], str]


def run_job(
    prepare: Prepare,
    views: Sequence[ViewQuery],
    *,
    progress: Callable[[str], None] | None = None,
    parallelism: int = 1,
    decimal_as_float: bool = False,
    strict: bool = True,
    timeout_s: float | None = 600.0,
    work_dir: str | None = None,
    session_cluster: bool = True,
) -> State:
    """`run_local` with the sources left to `prepare(env, t_env, statement_set, out_root)`, which registers the
    tables the views read (and may add INSERTs of its own to the statement set, writing under `out_root`) and
    returns what the job reads, for the progress line. The other arguments are `run_local`'s."""
    say = progress or (lambda _msg: None)
    views = list(views)
    if len({v.name for v in views}) != len(views):
        raise ValueError("view names must be unique")
    if not views:
        return {}
    jar = ensure_functions_jar(progress=say)  # the views' sinks are ontoc-final-state

    def attempt() -> State:  # makes its own environments, so it can run again (FLINK-23020)
        with LOCK:
            t_start = time.perf_counter()
            say("starting embedded Flink" if not gateway_started() else "starting embedded Flink (JVM already up)")
            try:
                env, t_env = make_envs(parallelism, session_cluster)
            except Exception as e:
                raise to_local_error(e, what="cannot start embedded Flink") from None
            out_root = work_dir or tempfile.mkdtemp(prefix="ontoc-local-")
            os.makedirs(out_root, exist_ok=True)
            try:
                add_jar(t_env, jar)
                stmt_set = t_env.create_statement_set()
                reads = prepare(env, t_env, stmt_set, out_root)
                layouts = _add_views(t_env, stmt_set, views, out_root)
                say(f"planned {len(views)} view(s); submitting one job")
                _execute(stmt_set, timeout_s, say, reads)
                out, total = _collect(layouts, decimal_as_float, strict)
                say(
                    f"collected {total} changes; {sum(len(s) for s in out.values())} live rows "
                    f"in {len(out)} view(s) ({time.perf_counter() - t_start:.1f}s)"
                )
                return out
            finally:
                if work_dir is None:
                    shutil.rmtree(out_root, ignore_errors=True)

    return plan_again_if_lost(attempt, say)


def _register_sources(env: Any, t_env: Any, sources: list[SourceTable]) -> int:
    n_events = 0
    for i, src in enumerate(sources):
        try:
            n_events += register_source(env, t_env, i, src)
        except ValueError:
            raise
        except Exception as e:  # Flink rejected the source definition
            raise to_local_error(e, what=f"source {src.name}") from None
    return n_events


Layout = tuple[ViewQuery, str, list[str], list[tuple]]  # view, its final rows' folder, column names and types


def _add_views(t_env: Any, stmt_set: Any, views: list[ViewQuery], out_root: str) -> list[Layout]:
    """Each view's SELECT inserted into its own final-state sink: all views run in ONE job."""
    layouts = []
    for i, view in enumerate(views):
        out_dir = os.path.join(out_root, f"view_{i}")
        try:
            table = t_env.sql_query(view.sql)
            names, types = add_final_state_sink(t_env, stmt_set, table, f"__ontoc_sink_{i}", out_dir)
        except Exception as e:
            raise to_local_error(e, view=view.name) from None
        layouts.append((view, out_dir, names, types))
    return layouts


def _execute(stmt_set: Any, timeout_s: float | None, say: Say, reads: str) -> None:
    """Run the job to its end; cancel it and raise after `timeout_s`."""
    try:
        result = stmt_set.execute()
    except Exception as e:
        raise to_local_error(e) from None
    say(f"job running: {reads}")
    t_submitted = time.perf_counter()
    try:
        if timeout_s:
            result.wait(int(timeout_s * 1000))
        else:
            result.wait()
        say(f"job finished in {time.perf_counter() - t_submitted:.2f}s")
    except Exception as e:
        err = to_local_error(e)
        if "TimeoutException" in (err.java_class or ""):
            try:
                client = result.get_job_client()
                if client is not None:
                    client.cancel().get()
            except Exception:
                pass
            raise LocalRunError(f"local Flink job did not finish within {timeout_s} s") from None
        raise err from None


def _collect(layouts: list[Layout], decimal_as_float: bool, strict: bool) -> tuple[State, int]:
    out: State = {}
    total = 0
    for view, out_dir, names, types in layouts:
        state, changes = read_final_state(
            view.name, out_dir, names, types, decimal_as_float=decimal_as_float, strict=strict
        )
        total += changes
        out[view.name] = state
    return out, total
