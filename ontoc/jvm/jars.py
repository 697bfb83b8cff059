"""The JVM jars that the local runtime needs, resolved once with Maven.

`jvm/pom.xml` declares them; `ensure_jars` copies them into an ignored
cache folder (default `<repo>/.cache/jars`, or `$ONTOC_JARS_DIR`):

    <cache>/flink/   flink-sql-connector-kafka-*.jar  (goes on Flink's classpath)
    <cache>/kafka/   the Kafka broker and its runtime dependencies
                     (a separate classpath: these must never reach Flink's)

Maven runs only when a jar is missing or the pom changed since the last copy.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# <repo>/ontoc/jvm/jars.py -> <repo>
REPO_ROOT = Path(__file__).resolve().parents[2]
POM_RELPATH = Path("jvm") / "pom.xml"
CACHE_RELPATH = Path(".cache") / "jars"
STAMP_NAME = ".complete"

CONNECTOR_GLOB = "flink-sql-connector-kafka-*.jar"
KAFKA_BROKER_GLOB = "kafka_2.13-*.jar"


class JarsError(RuntimeError):
    """The jars are missing and could not be resolved."""


@dataclass(frozen=True)
class JarPaths:
    cache_dir: Path
    flink_connector_jar: Path  # the one jar added to Flink's lib
    kafka_classpath_dir: Path  # every jar in it forms the broker's classpath

    @property
    def kafka_classpath(self) -> str:
        """A `java -cp` value: the folder's wildcard (expanded by the JVM)."""
        return str(self.kafka_classpath_dir / "*")


def default_cache_dir(repo_root: Path | str | None = None) -> Path:
    env = os.environ.get("ONTOC_JARS_DIR")
    if env and repo_root is None:
        return Path(env).expanduser().resolve()
    return (Path(repo_root) if repo_root else REPO_ROOT).resolve() / CACHE_RELPATH


def ensure_jars(
    repo_root: Path | str | None = None,
    *,
    cache_dir: Path | str | None = None,
    pom: Path | str | None = None,
    progress: Callable[[str], object] = print,
) -> JarPaths:
    """Return the jar paths, running Maven first if any jar is missing.

    `repo_root` locates `jvm/pom.xml` and the default cache
    (`<repo_root>/.cache/jars`); `cache_dir` overrides the cache folder.
    """
    root = Path(repo_root).resolve() if repo_root else REPO_ROOT
    pom_path = Path(pom).resolve() if pom else root / POM_RELPATH
    cache = Path(cache_dir).expanduser().resolve() if cache_dir else default_cache_dir(repo_root)
    cache.mkdir(parents=True, exist_ok=True)

    with file_lock(cache / ".lock"):
        found = _find(cache)
        pom_hash = _hash(pom_path) if pom_path.is_file() else None
        stamp = cache / STAMP_NAME
        stamp_ok = stamp.is_file() and (pom_hash is None or stamp.read_text().strip() == pom_hash)
        if found is not None and stamp_ok:
            return found
        if found is not None and pom_hash is None:
            # A pre-filled cache used without the repo (e.g. an installed package).
            return found
        if pom_hash is None:
            raise JarsError(
                f"jars are missing in {cache} and {pom_path} was not found to resolve them; "
                "run from the ontoc repository or set ONTOC_JARS_DIR to a filled cache"
            )
        _resolve(pom_path, cache, progress)
        found = _find(cache)
        if found is None:
            raise JarsError(f"Maven finished but the jars are not in {cache}/flink and {cache}/kafka")
        stamp.write_text(pom_hash + "\n")
        return found


def _find(cache: Path) -> JarPaths | None:
    flink_dir, kafka_dir = cache / "flink", cache / "kafka"
    connectors = sorted(flink_dir.glob(CONNECTOR_GLOB))
    if len(connectors) != 1 or not any(kafka_dir.glob(KAFKA_BROKER_GLOB)):
        return None
    return JarPaths(cache, connectors[0], kafka_dir)


def _resolve(pom: Path, cache: Path, progress: Callable[[str], object]) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarsError(
            "Maven (mvn) is needed once to download the Flink Kafka connector and the Kafka "
            "broker jars; install it (e.g. `apt-get install maven`) and retry"
        )
    # Old versions would sit next to new ones on the classpath: start clean.
    for sub in ("flink", "kafka"):
        shutil.rmtree(cache / sub, ignore_errors=True)
    (cache / STAMP_NAME).unlink(missing_ok=True)

    cmd = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(pom),
        "dependency:copy-dependencies@flink-jars",
        "dependency:copy-dependencies@kafka-jars",
        f"-Dontoc.jars.dir={cache}",
    ]
    progress(f"resolving JVM jars with Maven into {cache} (first run only) ...")
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip().splitlines()
        tail = "\n".join(out[-25:])
        raise JarsError(f"Maven failed to resolve the runtime jars (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    progress(f"jars ready in {time.monotonic() - t0:.1f}s")


def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class file_lock:
    """An exclusive file lock, so two processes never run Maven at once."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
