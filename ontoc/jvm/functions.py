"""ontoc's JVM system functions for Flink SQL: build the jar, register it.

``jvm/functions`` is a tiny Maven project (one class per function, no
bundled dependencies) built into ``ontoc-functions.jar``:

    ONTOC_SORT_ROWS(arr ARRAY<ROW<...>>, ascending BOOLEAN) -> same type
        stable sort of the rows, lexicographic by field 0, 1, ...; strings
        in Unicode code point order, false < true, numbers numerically,
        NULL first; ascending = FALSE reverses the comparison (still
        stable). NULL array (or NULL flag) -> NULL. Emitted for
        ``sorted(rows, key=lambda d: d["name"])`` because Flink 2.2's
        ARRAY_SORT rejects arrays of ROW and ARRAY_AGG ignores ORDER BY.
    ONTOC_PY_STR(x DOUBLE) -> STRING
        ``str(x)`` as Python prints a float (shortest round-trip digits).
    ONTOC_PY_ROUND(x DOUBLE | BIGINT | DECIMAL(38, 10), ndigits BIGINT) -> type of x
        ``round(x, ndigits)`` as Python rounds: the exact value, ties to
        even; NULL where Python raises (overflow, Decimal past 28 digits).
    ONTOC_PY_FLOAT_DIVMOD(x DOUBLE, y DOUBLE, floor_div BOOLEAN) -> DOUBLE
        Python's ``x // y`` or ``x % y`` of floats (from the exact remainder,
        as CPython computes them); NULL for a zero ``y``.
    ONTOC_PY_DECIMAL(x DECIMAL(38, 10), y DECIMAL(38, 10), op STRING) -> DECIMAL(38, 10)
        Python's ``x + y``, ``x - y``, ``x * y``, ``x / y`` of Decimals (28 significant digits,
        half to even), rounded to 10 digits after the point; NULL past 28 digits before it.
    ONTOC_VALIDATE_EVENT(spec STRING literal, topic, partition, offset, key BYTES, value BYTES) -> ROW
        spec section 1's verdict on one Kafka record (docs/running.md "Invalid events"); every
        submitted job calls it (backend/flink/validated_sources.py).
    ONTOC_VALIDATE_LINE(spec STRING literal, topic, line BYTES) -> ROW
        the same rules for one line of an input file.

and one table connector, ``ontoc-final-state`` (:data:`FINAL_STATE_CONNECTOR`,
``dev.ontoc.flink.FinalStateFactory``, found by Flink's factory discovery in the
jar): a sink that folds a view's changelog and writes its final rows when the
input ends (``ontoc run --local``, ``runtime/embedded/final_state.py``).

:func:`ensure_functions_jar` builds the jar with Maven when it is missing or
older than its sources and copies it to ``<repo>/.cache/jars/``;
:func:`register_functions` makes the functions callable in a PyFlink
``TableEnvironment`` (embedded or remote): the jar is added to the table
environment's ``pipeline.jars`` (which PyFlink also hot-loads into the
gateway JVM's context class loader, so the planner can load the class) and
the function is created with :data:`CREATE_FUNCTION_SQL`. At job submission
``pipeline.jars`` ships the jar with the job, so the task managers' user-code
class loader can deserialize the function.

A cluster job (SQL client, SQL gateway, application) puts the jar on the
classpath (``/opt/flink/lib``, ``-j``/``--jar`` or ``pipeline.jars``) and runs
:data:`CREATE_FUNCTION_SQL` before its queries; :func:`create_function_sql`
gives the ``USING JAR`` variant for a jar reachable from the cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .jars import file_lock

__all__ = [
    "FINAL_STATE_CONNECTOR",
    "FUNCTION_NAME",
    "FUNCTION_CLASS",
    "CREATE_FUNCTION_SQL",
    "JAR_NAME",
    "FunctionsJarError",
    "add_jar",
    "create_function_sql",
    "ensure_functions_jar",
    "register_functions",
]

# <repo>/ontoc/jvm/functions.py -> <repo>
REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_RELPATH = Path("jvm") / "functions"
CACHE_RELPATH = Path(".cache") / "jars"
BUILD_RELPATH = Path(".cache") / "build" / "functions"

JAR_NAME = "ontoc-functions.jar"
FUNCTION_NAME = "ONTOC_SORT_ROWS"
FUNCTION_CLASS = "dev.ontoc.flink.SortRows"
#: every function of the jar: SQL name -> Java class
FUNCTIONS = {
    FUNCTION_NAME: FUNCTION_CLASS,
    "ONTOC_PY_STR": "dev.ontoc.flink.PyFloatStr",
    "ONTOC_PY_ROUND": "dev.ontoc.flink.PyRound",
    "ONTOC_PY_FLOAT_DIVMOD": "dev.ontoc.flink.PyFloatDivMod",
    "ONTOC_PY_DECIMAL": "dev.ontoc.flink.PyDecimalArith",
    "ONTOC_VALIDATE_EVENT": "dev.ontoc.flink.ValidateEvent",
    "ONTOC_VALIDATE_LINE": "dev.ontoc.flink.ValidateLine",
}
FINAL_STATE_CONNECTOR = "ontoc-final-state"  # dev.ontoc.flink.FinalStateFactory.IDENTIFIER


def _create(name: str, cls: str) -> str:
    return f"CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS {name} AS '{cls}' LANGUAGE JAVA"


#: What a cluster job runs before its queries (the jar on the cluster's classpath).
CREATE_FUNCTION_SQL = _create(FUNCTION_NAME, FUNCTION_CLASS)
CREATE_FUNCTIONS_SQL = tuple(_create(name, cls) for name, cls in FUNCTIONS.items())


class FunctionsJarError(RuntimeError):
    """The functions jar is missing and could not be built."""


def create_function_sql(jar_uri: str | None = None) -> str:
    """:data:`CREATE_FUNCTION_SQL`, with ``USING JAR '<jar_uri>'`` when given."""
    if not jar_uri:
        return CREATE_FUNCTION_SQL
    return f"{CREATE_FUNCTION_SQL} USING JAR '{jar_uri.replace(chr(39), chr(39) * 2)}'"


# --------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------


def _sources(project: Path) -> list[Path]:
    files = [project / "pom.xml"]
    src = project / "src"
    if src.is_dir():
        files.extend(p for p in src.rglob("*") if p.is_file())
    return [p for p in files if p.is_file()]


def _newest_mtime(paths: list[Path]) -> float:
    return max((p.stat().st_mtime for p in paths), default=0.0)


def ensure_functions_jar(
    cache_dir: Path | None = None,
    progress: Callable[[str], object] = print,
) -> Path:
    """Return the path of ``ontoc-functions.jar`` in the cache, building it first if needed.

    Maven (``mvn -q -f jvm/functions/pom.xml package``) runs only when the
    cached jar is missing or a file of ``jvm/functions`` (the Java
    sources, the pom) is newer than it. ``cache_dir`` defaults to
    ``<repo>/.cache/jars`` (git-ignored). Without the repository (an
    installed package), an existing cached jar is used as is.
    """
    cache = Path(cache_dir).expanduser().resolve() if cache_dir else REPO_ROOT / CACHE_RELPATH
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / JAR_NAME
    project = REPO_ROOT / PROJECT_RELPATH
    pom = project / "pom.xml"

    with file_lock(cache / ".functions.lock"):
        if not pom.is_file():
            if target.is_file():
                return target
            raise FunctionsJarError(
                f"{target} is missing and {pom} was not found to build it; run from the ontoc repository"
            )
        # strictly newer: a source saved in the same timestamp tick as the
        # last copy counts as changed (one extra build at worst)
        if target.is_file() and target.stat().st_mtime > _newest_mtime(_sources(project)):
            return target

        mvn = shutil.which("mvn")
        if mvn is None:
            raise FunctionsJarError(
                f"Maven (mvn) is needed to build {JAR_NAME} (ontoc's Flink SQL functions); "
                "install it (e.g. `apt-get install maven`) and retry"
            )
        build_dir = REPO_ROOT / BUILD_RELPATH
        build_dir.mkdir(parents=True, exist_ok=True)
        built = build_dir / JAR_NAME
        cmd = [mvn, "-B", "-q", "-f", str(pom), "package", f"-Dontoc.build.dir={build_dir}"]
        progress(f"building {JAR_NAME} with Maven ...")
        t0 = time.monotonic()
        # the build folder is shared by every cache folder: one Maven at a time
        with file_lock(build_dir.parent / ".functions-build.lock"):
            built.unlink(missing_ok=True)
            proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if proc.returncode != 0 or not built.is_file():
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
                raise FunctionsJarError(
                    f"Maven failed to build {JAR_NAME} (exit {proc.returncode}): {' '.join(cmd)}\n{tail}"
                )
            # atomic replace, so a concurrent reader never sees half a jar
            fd, tmp = tempfile.mkstemp(prefix=".ontoc-functions-", suffix=".jar", dir=cache)
            os.close(fd)
            try:
                shutil.copyfile(built, tmp)
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        progress(f"{JAR_NAME} built in {time.monotonic() - t0:.1f}s")
        return target


# --------------------------------------------------------------------------
# registration
# --------------------------------------------------------------------------


def _split_list(value: str | None) -> list[str]:
    if not value:
        return []
    from pyflink.common import Configuration

    return [v for v in Configuration.parse_list_value(value) if v]


def add_jar(t_env: Any, jar: Path) -> None:
    """Append the jar to ``t_env``'s ``pipeline.jars`` (once): its classes load in the planner and ship with
    the job (the ``ontoc-final-state`` connector needs only this)."""
    uri = Path(jar).resolve().as_uri()
    config = t_env.get_config()
    jars = _split_list(config.get("pipeline.jars", None))
    if uri not in jars:
        config.set("pipeline.jars", ";".join([*jars, uri]))


def register_functions(t_env: Any, jar: Path) -> None:
    """Make ``ONTOC_SORT_ROWS`` callable in the PyFlink ``TableEnvironment`` ``t_env``.

    1. appends the jar's ``file://`` URI to the table config's
       ``pipeline.jars`` (PyFlink's ``TableConfig.set`` also adds it to the
       gateway JVM's context class loader, so the planner can load the
       class; at submission the jar ships with the job, so the task
       managers can load it too);
    2. runs :data:`CREATE_FUNCTION_SQL` (a temporary system function:
       callable unqualified from any catalog/database; idempotent).
    """
    add_jar(t_env, jar)
    for statement in CREATE_FUNCTIONS_SQL:
        t_env.execute_sql(statement)
