"""Embedded-Flink runner used by ``ontoc run --local`` and the differential tests.

How it works
============

* **JVM and cluster.** PyFlink's py4j gateway (``pyflink.java_gateway``) is a
  process-wide singleton: the JVM starts on the first :func:`run_local` call
  and every later call reuses it. The first call also starts one Flink
  ``MiniCluster`` inside that JVM (REST on a random localhost port) and keeps
  it for the life of the process (closed at exit). Each call builds fresh,
  cheap environment objects (a ``StreamExecutionEnvironment`` with
  ``execution.target=remote`` pointing at that MiniCluster, and a
  ``StreamTableEnvironment`` in streaming mode, session time zone UTC,
  parallelism 1 by default) and submits ONE job. Reusing the MiniCluster
  saves ~0.6 s per call over PyFlink's default local executor, which starts
  and stops a MiniCluster for every job (``session_cluster=False`` gets that
  behaviour back). Calls are serialized by a lock.

* **Sources** behave like upsert-kafka topics. The events of a source become a
  bounded ``DataStream`` of ``Row`` objects (``INSERT`` for a key that is not
  live, ``UPDATE_AFTER`` for one that is, ``DELETE`` carrying only the key for a
  tombstone) built with ``StreamExecutionEnvironment.from_collection``: PyFlink
  pickles the rows to a temp file and the JVM reads them into a Java collection
  source, so the job contains *no Python operator and no Python worker*. The
  stream is turned into a table with ``from_changelog_stream(...,
  ChangelogMode.upsert())`` and a schema whose primary key is ``doc_id``, so
  the planner adds the same ``ChangelogNormalize`` that an upsert-kafka source
  gets. Columns whose SQL type has no direct Java collection type
  (``DECIMAL``, ``TIMESTAMP_LTZ``, ``TIMESTAMP``, ``DATE``, ``TIME``,
  ``VARCHAR(n)``, small ints, arrays of those) travel as exact strings (or
  ``ARRAY<STRING>``) and are ``CAST`` to the declared type in a temporary view
  registered under the source's ``name``; the physical table is
  ``__ontoc_src_<i>``.

* **Views** all run in ONE Flink job: each view's SELECT becomes a ``Table``
  whose resolved schema defines a temporary ``filesystem`` sink table with the
  ``debezium-json`` format, and one ``StatementSet`` inserts every view into its
  own sink. The filesystem sink accepts the format's full changelog (every
  ``+I/+U`` is written as ``{"op": "c", "after": row}``, every ``-U/-D`` as
  ``{"op": "d", "before": row}``). This was chosen over ``TableResult.collect()``
  because collect() runs one job per query (one MiniCluster start each), costs a
  py4j round trip per row, and PyFlink 2.2 cannot even unpickle
  ``TIMESTAMP_LTZ`` values from it. The JSON keeps nested ``ROW`` field names,
  writes DECIMAL as plain numbers and timestamps as ISO-8601.

* **Folding.** After the job finishes, the changelog files are read back and
  folded per view key (the first column) as a multiset: ``c`` adds the row,
  ``d`` removes it (so the result does not depend on the order in which
  retractions arrive). A key is live when exactly one row value remains. With
  ``strict=True`` (the default) a key left with several live rows or with a
  retraction of a row never emitted raises :class:`LocalRunError`: a view must
  have one row per key.

Value conversion (JSON-ready Python): ``ROW`` -> ``dict`` with the row's field
names (nested too), ``ARRAY`` -> ``list``, ``MAP`` -> ``dict`` (keys as the
JSON text gives them), ``MULTISET`` -> ``list`` (one entry per occurrence),
``DECIMAL`` -> ``decimal.Decimal`` (exact; ``decimal_as_float=True`` gives
``float``), ``DOUBLE``/``FLOAT`` -> ``float`` (NaN/inf included),
``TIMESTAMP_LTZ`` -> ISO-8601 string with offset in UTC
(``"2024-01-02T03:04:05.123456+00:00"``), ``TIMESTAMP`` -> ISO-8601 string
without offset, ``DATE``/``TIME`` -> ISO strings, ``BINARY`` -> base64 string,
NULL -> ``None``.

Python UDFs: pass ``setup=`` a callable that receives the
``StreamTableEnvironment`` after the sources are registered (e.g. to call
``create_temporary_function``); their Python workers run in this process's
PyFlink loopback worker pool.

Errors: when Flink rejects a statement or the job fails, :class:`LocalRunError`
is raised with the root-cause message of the Java exception (the full chain is
kept in ``.causes`` and the Java stack text in ``.java_trace``).
"""

from __future__ import annotations

import atexit
import datetime
import decimal
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["SourceTable", "ViewQuery", "LocalRunError", "run_local"]


# --------------------------------------------------------------------------
# public interface
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceTable:
    """One upsert source: a table named ``name`` fed by ``events`` in order."""

    name: str
    columns: tuple[tuple[str, str], ...]
    events: tuple[tuple[str, tuple | None], ...]


@dataclass(frozen=True)
class ViewQuery:
    """One view: a SELECT whose first column is the view key."""

    name: str
    sql: str


PLANNER_THREAD_ERROR = "metadataHandlerProvider"  # Calcite's NPE when its thread-local provider is unset

T = TypeVar("T")


def lost_planner(exc: BaseException) -> bool:
    """Whether `exc` is Flink's planner without its metadata provider (FLINK-23020, not fixed in 2.2).

    The planner keeps Calcite's metadata provider in a thread-local of the Java
    thread that created it; py4j may run a later call on another thread, and
    planning then fails with a NullPointerException that says nothing about
    the SQL. A planner made afresh in the current thread plans it.
    """
    # py4j errors carry the Java trace in their text; ontoc's own errors keep it beside the message
    text = f"{exc} {getattr(exc, 'java_trace', '') or ''} {getattr(exc, 'details', '') or ''}"
    return PLANNER_THREAD_ERROR in text


def plan_again_if_lost(attempt: Callable[[], T], say: Callable[[str], None]) -> T:
    """`attempt()`, run once more (it must make its own environment) if the planner was lost (FLINK-23020)."""
    try:
        return attempt()
    except Exception as exc:
        if not lost_planner(exc):
            raise
    say("Flink's planner lost its metadata provider to a py4j thread change (FLINK-23020); planning again")
    return attempt()


class LocalRunError(Exception):
    """Flink rejected a statement or the local job failed.

    ``str(err)`` is the root-cause message of the Java exception. Extra
    attributes: ``view`` (name of the view being planned, or None),
    ``java_class`` (root-cause exception class), ``causes`` (list of
    ``(java class, message)`` from outermost to root) and ``java_trace``
    (the Java stack text, for debugging).
    """

    def __init__(
        self,
        message: str,
        *,
        view: str | None = None,
        java_class: str | None = None,
        causes: Sequence[tuple[str, str]] = (),
        java_trace: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.view = view
        self.java_class = java_class
        self.causes = list(causes)
        self.java_trace = java_trace


# --------------------------------------------------------------------------
# Java exception -> LocalRunError
# --------------------------------------------------------------------------

_EXC_HEAD = re.compile(
    r"^(?:Caused by: )?([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+(?:Exception|Error|Throwable)?)(?::\s?(.*))?$"
)


def _java_causes(trace: str) -> list[tuple[str, str]]:
    """Parse a Java stack trace text into [(class, message), ...] outermost first."""
    causes: list[tuple[str, str]] = []
    current: list[Any] | None = None
    in_frames = False
    for line in trace.splitlines():
        stripped = line.strip()
        if current is not None and stripped.startswith("at "):
            in_frames = True
            continue
        if stripped.startswith("... ") and stripped.endswith(" more"):
            in_frames = True
            continue
        if stripped.startswith("Suppressed: "):
            in_frames = True
            continue
        m = _EXC_HEAD.match(stripped)
        if m and (current is None or in_frames or line.startswith("Caused by: ")):
            if current is not None:
                causes.append((current[0], "\n".join(current[1]).strip()))
            current = [m.group(1), [m.group(2) or ""]]
            in_frames = False
            continue
        if current is not None and not in_frames:
            current[1].append(line)
    if current is not None:
        causes.append((current[0], "\n".join(current[1]).strip()))
    return causes


def _to_local_error(exc: BaseException, *, view: str | None = None, what: str = "") -> LocalRunError:
    java_exception = getattr(exc, "java_exception", None)
    causes: list[tuple[str, str]] = []
    trace: str | None = None
    if java_exception is not None:  # raw py4j.protocol.Py4JJavaError
        try:
            e = java_exception
            seen = 0
            while e is not None and seen < 50:
                causes.append((e.getClass().getName(), e.getMessage() or ""))
                nxt = e.getCause()
                if nxt is None or nxt.equals(e):
                    break
                e = nxt
                seen += 1
            trace = str(exc)
        except Exception:  # pragma: no cover - gateway trouble
            causes = []
    if not causes:
        trace = getattr(exc, "stack_trace", None) or str(exc)
        text = trace
        # py4j prefixes "An error occurred while calling oNN.method.\n: "
        marker = text.find("\n: ")
        if text.startswith("An error occurred") and marker >= 0:
            text = text[marker + 3 :]
        causes = _java_causes(text)
    if not causes:
        causes = [(type(exc).__name__, str(exc))]
    root_class, root_msg = causes[-1]
    # Flink often wraps a terse root ("Invalid input arguments.") in a parent
    # whose message is the same text extended with the useful part ("...
    # Expected signatures are: ..."): take the longest such extension.
    for _cls, msg in reversed(causes[:-1]):
        if root_msg.strip() and msg.strip().startswith(root_msg.strip()):
            root_msg = msg
        else:
            break
    # a root cause without a message (e.g. a bare NullPointerException) is not
    # helpful alone: name the class and keep the closest ancestor's message
    if not root_msg.strip():
        for _cls, msg in reversed(causes[:-1]):
            if msg.strip():
                root_msg = f"{root_class.rsplit('.', 1)[-1]} ({msg.strip()})"
                break
        else:
            root_msg = root_class
    message = root_msg.strip()
    if what:
        message = f"{what}: {message}"
    return LocalRunError(message, view=view, java_class=root_class, causes=causes, java_trace=trace)


# --------------------------------------------------------------------------
# source column types
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _ColType:
    kind: str  # string bigint int double float boolean decimal ts_ltz ts date time array smallint
    sql: str  # declared type text, NOT NULL stripped
    elem: _ColType | None = None

    @property
    def direct(self) -> bool:
        """True when a Java collection type carries it without a CAST."""
        if self.kind == "array":
            assert self.elem is not None
            return self.elem.direct
        return self.kind in ("string", "bigint", "int", "double", "float", "boolean")


_SCALAR_PATTERNS: list[tuple[str, str]] = [
    (r"STRING|VARCHAR\(\s*2147483647\s*\)", "string"),
    (r"VARCHAR(\(\s*\d+\s*\))?|CHAR(\(\s*\d+\s*\))?|CHARACTER VARYING(\(\s*\d+\s*\))?", "varchar"),
    (r"BIGINT", "bigint"),
    (r"INT|INTEGER", "int"),
    (r"SMALLINT|TINYINT", "smallint"),
    (r"DOUBLE|DOUBLE PRECISION", "double"),
    (r"FLOAT|REAL", "float"),
    (r"BOOLEAN", "boolean"),
    (r"(DECIMAL|DEC|NUMERIC)(\(\s*\d+\s*(,\s*\d+\s*)?\))?", "decimal"),
    (r"TIMESTAMP_LTZ(\(\s*\d\s*\))?|TIMESTAMP(\(\s*\d\s*\))? WITH LOCAL TIME ZONE", "ts_ltz"),
    (r"TIMESTAMP(\(\s*\d\s*\))?( WITHOUT TIME ZONE)?", "ts"),
    (r"DATE", "date"),
    (r"TIME(\(\s*\d\s*\))?( WITHOUT TIME ZONE)?", "time"),
]


def _parse_type(text: str) -> _ColType:
    s = re.sub(r"\s+", " ", text.strip())
    s = re.sub(r"\s+NOT NULL$", "", s, flags=re.I)
    s = re.sub(r"\s+NULL$", "", s, flags=re.I)
    up = s.upper()
    if up.startswith("ARRAY<") and up.endswith(">"):
        elem = _parse_type(s[6:-1])
        if elem.kind == "array":
            raise ValueError(f"unsupported source column type {text!r} (nested arrays)")
        return _ColType("array", s, elem)
    for pattern, kind in _SCALAR_PATTERNS:
        if re.fullmatch(pattern, up):
            if kind == "varchar":
                kind = "string_cast"
            return _ColType(kind, s)
    raise ValueError(f"unsupported source column type {text!r}")


def _type_info_and_data_type(t: _ColType):
    """(TypeInformation, DataType) of the physical column carrying ``t``."""
    from pyflink.common import Types
    from pyflink.table import DataTypes

    if t.kind == "array":
        assert t.elem is not None
        if t.direct:
            ti, dt = _type_info_and_data_type(t.elem)
            return Types.BASIC_ARRAY(ti), DataTypes.ARRAY(dt)
        return Types.BASIC_ARRAY(Types.STRING()), DataTypes.ARRAY(DataTypes.STRING())
    if t.kind == "bigint" or t.kind == "smallint":
        return Types.LONG(), DataTypes.BIGINT()
    if t.kind == "int":
        return Types.INT(), DataTypes.INT()
    if t.kind == "double":
        return Types.DOUBLE(), DataTypes.DOUBLE()
    if t.kind == "float":
        return Types.FLOAT(), DataTypes.FLOAT()
    if t.kind == "boolean":
        return Types.BOOLEAN(), DataTypes.BOOLEAN()
    # string, string_cast, decimal, timestamps, date, time: exact text + CAST
    return Types.STRING(), DataTypes.STRING()


_UTC = datetime.UTC


def _fmt_dt(v: Any) -> str:
    """Text Flink CASTs to TIMESTAMP / TIMESTAMP_LTZ (session time zone is UTC)."""
    if isinstance(v, str):
        v = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(_UTC).replace(tzinfo=None)
        return v.isoformat(sep=" ", timespec="microseconds")  # not strftime: its %Y drops the zeros of year 999
    if isinstance(v, datetime.date):
        return f"{v.isoformat()} 00:00:00.000000"
    raise TypeError(f"expected datetime, got {type(v).__name__}")


def _fmt_decimal(v: Any) -> str:
    if isinstance(v, bool):
        raise TypeError("expected a number, got bool")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        v = decimal.Decimal(repr(v))
    if isinstance(v, str):
        v = decimal.Decimal(v)
    if isinstance(v, decimal.Decimal):
        if not v.is_finite():
            raise TypeError(f"non-finite decimal {v}")
        return format(v, "f")
    raise TypeError(f"expected Decimal, got {type(v).__name__}")


def _encode(v: Any, t: _ColType) -> Any:
    """Python value -> value of the physical column (None stays None)."""
    if v is None:
        return None
    k = t.kind
    if k == "array":
        if isinstance(v, (str, bytes, dict)) or not hasattr(v, "__iter__"):
            raise TypeError(f"expected list, got {type(v).__name__}")
        assert t.elem is not None
        elem = t.elem
        if t.direct:
            return [_encode(x, elem) for x in v]
        return [None if x is None else _to_text(_encode(x, elem)) for x in v]
    if k in ("string", "string_cast"):
        if not isinstance(v, str):
            raise TypeError(f"expected str, got {type(v).__name__}")
        return v
    if k in ("bigint", "int", "smallint"):
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, int):
            if k == "int" and not -(2**31) <= v < 2**31:
                raise TypeError(f"{v} out of INT range")
            if not -(2**63) <= v < 2**63:
                raise TypeError(f"{v} out of BIGINT range")
            return v
        raise TypeError(f"expected int, got {type(v).__name__}")
    if k in ("double", "float"):
        if isinstance(v, (int, float, decimal.Decimal)) and not isinstance(v, bool):
            return float(v)
        raise TypeError(f"expected float, got {type(v).__name__}")
    if k == "boolean":
        if isinstance(v, bool):
            return v
        raise TypeError(f"expected bool, got {type(v).__name__}")
    if k == "decimal":
        return _fmt_decimal(v)
    if k == "ts_ltz":
        return _fmt_dt(v)
    if k == "ts":
        return _fmt_dt(v)
    if k == "date":
        if isinstance(v, datetime.datetime):
            v = v.date()
        return v.isoformat() if isinstance(v, datetime.date) else str(v)
    if k == "time":
        return v.isoformat() if isinstance(v, datetime.time) else str(v)
    raise TypeError(f"unsupported kind {k}")  # pragma: no cover


def _to_text(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


# --------------------------------------------------------------------------
# result types and JSON -> Python values
# --------------------------------------------------------------------------


def resolved_columns(table: Any) -> tuple[Any, list, list[str], list[tuple]]:
    """A planned query's resolved schema, its columns, their names and their `_describe`d types."""
    j_resolved = table._j_table.getResolvedSchema()
    cols = list(j_resolved.getColumns())
    return j_resolved, cols, [c.getName() for c in cols], [_describe(c.getDataType().getLogicalType()) for c in cols]


def _describe(lt: Any) -> tuple:
    """Walk a Java LogicalType into a small Python descriptor tuple."""
    root = lt.getTypeRoot().toString()
    if root == "ROW":
        names = list(lt.getFieldNames())
        return ("ROW", tuple(names), tuple(_describe(c) for c in lt.getChildren()))
    if root in ("ARRAY", "MULTISET"):
        return (root, _describe(lt.getElementType()))
    if root == "MAP":
        return ("MAP", _describe(lt.getKeyType()), _describe(lt.getValueType()))
    if root == "STRUCTURED_TYPE":
        children = list(lt.getChildren())
        names = [a.getName() for a in lt.getAttributes()]
        return ("ROW", tuple(names), tuple(_describe(c) for c in children))
    if root == "DISTINCT_TYPE":
        return _describe(lt.getSourceType())
    return (root,)


_TS_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$")


def _parse_ts(s: str) -> datetime.datetime:
    m = _TS_RE.match(s.strip())
    if not m:
        raise ValueError(f"unparseable timestamp {s!r}")
    date, hh, mm, ss, frac, tz = m.groups()
    y, mo, d = (int(x) for x in date.split("-"))
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tzinfo = None
    if tz:
        if tz == "Z":
            tzinfo = _UTC
        else:
            sign = -1 if tz[0] == "-" else 1
            tzd = tz[1:].replace(":", "")
            tzinfo = datetime.timezone(sign * datetime.timedelta(hours=int(tzd[:2]), minutes=int(tzd[2:])))
    return datetime.datetime(y, mo, d, int(hh), int(mm), int(ss or 0), micro, tzinfo=tzinfo)


_FLOAT_SPECIAL = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _convert(v: Any, t: tuple, decimal_as_float: bool) -> Any:
    if v is None:
        return None
    root = t[0]
    if root == "ROW":
        names, types = t[1], t[2]
        if isinstance(v, list):  # defensive: positional encoding
            return {n: _convert(x, ft, decimal_as_float) for n, x, ft in zip(names, v, types, strict=False)}
        return {n: _convert(v.get(n), ft, decimal_as_float) for n, ft in zip(names, types, strict=False)}
    if root == "ARRAY":
        return [_convert(x, t[1], decimal_as_float) for x in v]
    if root == "MULTISET":
        out = []
        for k, n in v.items():
            out.extend([_convert_key(k, t[1], decimal_as_float)] * int(n))
        return out
    if root == "MAP":
        return {k: _convert(x, t[2], decimal_as_float) for k, x in v.items()}
    if root == "DECIMAL":
        d = v if isinstance(v, decimal.Decimal) else decimal.Decimal(str(v))
        return float(d) if decimal_as_float else d
    if root in ("DOUBLE", "FLOAT"):
        if isinstance(v, str):
            return _FLOAT_SPECIAL[v] if v in _FLOAT_SPECIAL else float(v)
        return float(v)
    if root == "TIMESTAMP_WITH_LOCAL_TIME_ZONE":
        dt = _parse_ts(v)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=_UTC)
        return dt.astimezone(_UTC).isoformat()
    if root == "TIMESTAMP_WITH_TIME_ZONE":
        return _parse_ts(v).isoformat()
    if root == "TIMESTAMP_WITHOUT_TIME_ZONE":
        return _parse_ts(v).replace(tzinfo=None).isoformat()
    return v


def _convert_key(k: str, t: tuple, decimal_as_float: bool) -> Any:
    """MULTISET / MAP keys arrive as JSON object keys (text)."""
    root = t[0]
    try:
        if root in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT"):
            return int(k)
        if root in ("DOUBLE", "FLOAT"):
            return float(k)
        if root == "DECIMAL":
            return float(k) if decimal_as_float else decimal.Decimal(k)
        if root == "BOOLEAN":
            return k.lower() == "true"
    except ValueError:
        pass
    return k


# --------------------------------------------------------------------------
# the runner
# --------------------------------------------------------------------------

_LOCK = threading.RLock()


def _gateway_started() -> bool:
    try:
        from pyflink import java_gateway

        return java_gateway._gateway is not None
    except Exception:  # pragma: no cover
        return False


_SESSION: dict[str, Any] = {}
_SESSION_SLOTS = 4


def _shutdown_session() -> None:
    cluster = _SESSION.pop("cluster", None)
    _SESSION.clear()
    if cluster is not None:
        try:
            cluster.close()
        except Exception:  # pragma: no cover - JVM already gone at exit
            pass


def _session_rest(parallelism: int) -> tuple[str, int]:
    """Start (once per process) a MiniCluster in the gateway JVM; return its REST host/port."""
    from pyflink.java_gateway import get_gateway

    cluster = _SESSION.get("cluster")
    if cluster is not None and parallelism <= _SESSION["slots"]:
        try:
            if cluster.isRunning():
                return _SESSION["host"], _SESSION["port"]
        except Exception:
            pass
    _shutdown_session()
    jvm = get_gateway().jvm
    jconf = jvm.org.apache.flink.configuration.Configuration()
    for k, v in {
        "rest.bind-port": "0",
        "rest.bind-address": "localhost",
        "rest.address": "localhost",
        # keep the dispatcher's job archive small: one entry per run_local call
        "jobstore.max-capacity": "8",
        "jobstore.expiration-time": "60",
        "restart-strategy.type": "none",
    }.items():
        jconf.setString(k, v)
    slots = max(_SESSION_SLOTS, parallelism)
    mc_conf = (
        jvm.org.apache.flink.runtime.minicluster.MiniClusterConfiguration.Builder()
        .setConfiguration(jconf)
        .setNumTaskManagers(1)
        .setNumSlotsPerTaskManager(slots)
        .build()
    )
    cluster = jvm.org.apache.flink.runtime.minicluster.MiniCluster(mc_conf)
    cluster.start()
    uri = cluster.getRestAddress().get()
    if not _SESSION.get("atexit"):
        atexit.register(_shutdown_session)
    _SESSION.update(cluster=cluster, host=uri.getHost(), port=int(uri.getPort()), slots=slots, atexit=True)
    return _SESSION["host"], _SESSION["port"]


def _make_envs(parallelism: int, session: bool):
    from pyflink.common import Configuration
    from pyflink.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
    from pyflink.java_gateway import get_gateway
    from pyflink.table import EnvironmentSettings, StreamTableEnvironment

    conf = Configuration()
    conf.set_string("execution.runtime-mode", "STREAMING")
    conf.set_string("parallelism.default", str(parallelism))
    conf.set_string("restart-strategy.type", "none")
    conf.set_string("table.local-time-zone", "UTC")
    conf.set_string("python.executable", sys.executable)
    conf.set_string("python.client.executable", sys.executable)
    if session:
        host, port = _session_rest(parallelism)
        conf.set_string("execution.target", "remote")
        conf.set_string("rest.address", host)
        conf.set_string("rest.port", str(port))
        j_env = get_gateway().jvm.org.apache.flink.streaming.api.environment.StreamExecutionEnvironment(
            conf._j_configuration
        )
        env = StreamExecutionEnvironment(j_env)
    else:
        env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.set_parallelism(parallelism)
    env.set_runtime_mode(RuntimeExecutionMode.STREAMING)
    settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(conf).build()
    t_env = StreamTableEnvironment.create(env, environment_settings=settings)
    cfg = t_env.get_config()
    cfg.set("table.local-time-zone", "UTC")
    cfg.set("table.exec.resource.default-parallelism", str(parallelism))
    if session:
        # Python UDFs (if the caller's setup registers any) run in this
        # process's loopback worker pool, as PyFlink does for local jobs
        try:
            from pyflink.fn_execution.beam.beam_worker_pool_service import (
                BeamFnLoopbackWorkerPoolServicer,
            )

            cfg.set("python.loopback-server.address", BeamFnLoopbackWorkerPoolServicer().start())
        except Exception:  # pragma: no cover - falls back to process mode
            pass
    return env, t_env


def _register_source(env, t_env, index: int, src: SourceTable) -> int:
    """Register ``src`` as a view named ``src.name``; return the number of events."""
    from pyflink.common import Row, Types
    from pyflink.common.types import RowKind
    from pyflink.table import Schema
    from pyflink.table.changelog_mode import ChangelogMode

    if not src.columns or src.columns[0][0] != "doc_id":
        raise ValueError(f"source {src.name!r}: column 0 must be ('doc_id', 'STRING')")
    names = [c for c, _ in src.columns]
    if len(set(names)) != len(names):
        raise ValueError(f"source {src.name!r}: duplicate column names")
    types = [_parse_type(t) for _, t in src.columns]
    if types[0].kind != "string":
        raise ValueError(f"source {src.name!r}: doc_id must be STRING, not {src.columns[0][1]!r}")

    phys = [_type_info_and_data_type(t) for t in types]
    type_info = Types.ROW_NAMED(names, [ti for ti, _ in phys])
    builder = Schema.new_builder()
    for i, (name, (_, dt)) in enumerate(zip(names, phys, strict=False)):
        builder = builder.column(name, dt.not_null() if i == 0 else dt)
    schema = builder.primary_key("doc_id").build()

    rows = []
    live: set[str] = set()
    for n, event in enumerate(src.events):
        try:
            doc_id, values = event
        except (TypeError, ValueError):
            raise ValueError(f"source {src.name!r}: event {n} is not (doc_id, values)") from None
        if not isinstance(doc_id, str):
            raise ValueError(f"source {src.name!r}: event {n}: doc_id must be str, got {doc_id!r}")
        if values is None:
            rows.append(Row.of_kind(RowKind.DELETE, doc_id, *([None] * (len(names) - 1))))
            live.discard(doc_id)
            continue
        if len(values) != len(names):
            raise ValueError(f"source {src.name!r}: event {n} has {len(values)} values for {len(names)} columns")
        if values[0] != doc_id:
            raise ValueError(f"source {src.name!r}: event {n}: values[0] {values[0]!r} != doc_id {doc_id!r}")
        encoded = [doc_id]
        for col, t, v in zip(names[1:], types[1:], values[1:], strict=False):
            try:
                encoded.append(_encode(v, t))
            except (TypeError, ValueError, decimal.InvalidOperation) as e:
                raise ValueError(f"source {src.name!r}: event {n}: column {col!r} ({t.sql}): {e}") from None
        kind = RowKind.UPDATE_AFTER if doc_id in live else RowKind.INSERT
        live.add(doc_id)
        rows.append(Row.of_kind(kind, *encoded))

    raw_name = f"__ontoc_src_{index}"
    ds = env.from_collection(rows, type_info)
    table = t_env.from_changelog_stream(ds, schema, ChangelogMode.upsert())
    t_env.create_temporary_view(raw_name, table)
    select = []
    for name, t in zip(names, types, strict=False):
        if t.direct:
            select.append(_q(name))
        else:
            select.append(f"CAST({_q(name)} AS {t.sql}) AS {_q(name)}")
    view = t_env.sql_query(f"SELECT {', '.join(select)} FROM {_q(raw_name)}")
    t_env.create_temporary_view(_q(src.name), view)
    return len(rows)


def _fold(
    view: ViewQuery,
    files: list[str],
    names: list[str],
    types: list[tuple],
    *,
    decimal_as_float: bool,
    strict: bool,
) -> tuple[dict[Any, dict[str, Any]], int]:
    # key -> canonical row text -> [count, raw row]
    acc: dict[Any, dict[str, list]] = {}
    changes = 0
    key_name = names[0]
    for path in files:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                rec = json.loads(line, parse_float=decimal.Decimal)
                op = rec.get("op")
                if op == "c":
                    row, sign = rec["after"], 1
                elif op == "d":
                    row, sign = rec["before"], -1
                else:  # pragma: no cover - debezium-json only writes c/d
                    raise LocalRunError(f"view {view.name}: unexpected changelog record {line[:200]}")
                changes += 1
                key = row.get(key_name)
                ident = json.dumps(row, sort_keys=True, default=str)
                slot = acc.setdefault(key if not isinstance(key, (dict, list)) else json.dumps(key, default=str), {})
                entry = slot.get(ident)
                if entry is None:
                    slot[ident] = [sign, row]
                else:
                    entry[0] += sign
                    if entry[0] == 0:
                        del slot[ident]

    state: dict[Any, dict[str, Any]] = {}
    for key, slot in acc.items():
        live = [(c, row) for c, row in slot.values() if c > 0]
        dangling = [(c, row) for c, row in slot.values() if c < 0]
        if strict and (dangling or len(live) > 1 or any(c > 1 for c, _ in live)):
            detail = []
            if dangling:
                detail.append(f"{len(dangling)} retraction(s) of rows never emitted")
            if len(live) > 1 or any(c > 1 for c, _ in live):
                detail.append(f"{sum(c for c, _ in live)} live rows")
            raise LocalRunError(
                f"view {view.name}: key {key!r} has {' and '.join(detail)} (a view must have exactly one row per key)",
                view=view.name,
            )
        if not live:
            continue
        row = live[-1][1]
        converted = {n: _convert(row.get(n), t, decimal_as_float) for n, t in zip(names, types, strict=False)}
        state[converted[key_name]] = converted
    return state, changes


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
) -> dict[str, dict[str, dict[str, object]]]:
    """Return, for each view name, its final state: key -> {column name: JSON-ready Python value} for every live row.

    Every column of the view (the key column included) is in the row dict.
    All views run in one Flink job. Optional knobs: ``parallelism`` (default
    1), ``decimal_as_float`` (DECIMAL -> float instead of Decimal), ``strict``
    (raise when a key ends with several live rows or a dangling retraction),
    ``timeout_s`` (cancel and raise after it), ``work_dir`` (keep the raw
    changelog files there instead of a deleted temp dir), ``session_cluster``
    (False: PyFlink's default per-job MiniCluster, ~0.6 s slower per call),
    ``setup`` (called with the StreamTableEnvironment after the sources are
    registered, e.g. to register Python UDFs).

    Raises :class:`LocalRunError` when Flink rejects a statement or the job
    fails, ``ValueError`` for malformed sources/events (wrong arity, a value
    of the wrong Python type, an unsupported column type).
    """
    say = progress or (lambda _msg: None)
    views = list(views)
    sources = list(sources)
    if len({v.name for v in views}) != len(views):
        raise ValueError("view names must be unique")
    if len({s.name for s in sources}) != len(sources):
        raise ValueError("source names must be unique")
    if not views:
        return {}

    def attempt() -> dict[str, dict[str, dict[str, object]]]:
        with _LOCK:
            t_start = time.perf_counter()
            say("starting embedded Flink" if not _gateway_started() else "starting embedded Flink (JVM already up)")
            try:
                env, t_env = _make_envs(parallelism, session_cluster)
            except Exception as e:
                raise _to_local_error(e, what="cannot start embedded Flink") from None

            n_events = 0
            for i, src in enumerate(sources):
                try:
                    n_events += _register_source(env, t_env, i, src)
                except ValueError:
                    raise
                except Exception as e:  # Flink rejected the source definition
                    raise _to_local_error(e, what=f"source {src.name}") from None
            if setup is not None:
                setup(t_env)

            out_root = work_dir or tempfile.mkdtemp(prefix="ontoc-local-")
            os.makedirs(out_root, exist_ok=True)
            try:
                from pyflink.table import FormatDescriptor, Schema, TableDescriptor

                gateway_schema = None
                stmt_set = t_env.create_statement_set()
                layouts: list[tuple[ViewQuery, str, list[str], list[tuple]]] = []
                for i, view in enumerate(views):
                    try:
                        table = t_env.sql_query(view.sql)
                        j_resolved, _cols, names, types = resolved_columns(table)
                        if gateway_schema is None:
                            from pyflink.java_gateway import get_gateway

                            gateway_schema = get_gateway().jvm.org.apache.flink.table.api.Schema
                        sink_schema = Schema(gateway_schema.newBuilder().fromResolvedSchema(j_resolved).build())
                        out_dir = os.path.join(out_root, f"view_{i}")
                        descriptor = (
                            TableDescriptor.for_connector("filesystem")
                            .schema(sink_schema)
                            .option("path", "file://" + out_dir)
                            .format(
                                FormatDescriptor.for_format("debezium-json")
                                .option("encode.decimal-as-plain-number", "true")
                                .option("timestamp-format.standard", "ISO-8601")
                                .option("map-null-key.mode", "LITERAL")
                                .option("map-null-key.literal", "null")
                                .build()
                            )
                            .build()
                        )
                        sink_name = f"__ontoc_sink_{i}"
                        t_env.create_temporary_table(sink_name, descriptor)
                        stmt_set.add_insert(sink_name, table)
                    except Exception as e:
                        raise _to_local_error(e, view=view.name) from None
                    layouts.append((view, out_dir, names, types))

                say(f"planned {len(views)} view(s) over {len(sources)} source(s); submitting one job")
                try:
                    result = stmt_set.execute()
                except Exception as e:
                    raise _to_local_error(e) from None
                say(f"job running: {n_events} events in")
                try:
                    if timeout_s:
                        result.wait(int(timeout_s * 1000))
                    else:
                        result.wait()
                except Exception as e:
                    err = _to_local_error(e)
                    if "TimeoutException" in (err.java_class or ""):
                        try:
                            client = result.get_job_client()
                            if client is not None:
                                client.cancel().get()
                        except Exception:
                            pass
                        raise LocalRunError(f"local Flink job did not finish within {timeout_s} s") from None
                    raise err from None

                out: dict[str, dict[str, dict[str, object]]] = {}
                total = 0
                for view, out_dir, names, types in layouts:
                    files = []
                    for dirpath, _dirs, fnames in os.walk(out_dir):
                        for f in fnames:
                            if f.endswith(".crc") or f.startswith("_"):
                                continue
                            files.append(os.path.join(dirpath, f))
                    files.sort()
                    state, changes = _fold(view, files, names, types, decimal_as_float=decimal_as_float, strict=strict)
                    total += changes
                    out[view.name] = state
                say(
                    f"collected {total} changes; {sum(len(s) for s in out.values())} live rows "
                    f"in {len(out)} view(s) ({time.perf_counter() - t_start:.1f}s)"
                )
                return out
            finally:
                if work_dir is None:
                    shutil.rmtree(out_root, ignore_errors=True)

    return plan_again_if_lost(attempt, say)  # attempt() makes fresh environments
