"""The machine, versions, date, commit and load a run was measured under."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _first(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def java_version() -> str | None:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
        return (out.stderr or out.stdout).splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def git_commit() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain"))
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def describe() -> dict:
    mem_kib = _first("/proc/meminfo", "MemTotal")
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu_model": _first("/proc/cpuinfo", "model name") or platform.processor() or None,
            "cores": os.cpu_count(),
            "memory_gib": round(int(mem_kib.split()[0]) / 1024 / 1024, 1) if mem_kib else None,
            "os": platform.platform(),
        },
        "versions": {
            "python": platform.python_version(),
            "pyflink": _version("apache-flink"),
            "sqlglot": _version("sqlglot"),
            "java": java_version(),
            "ontoc": _version("ontoc"),
        },
        "git": git_commit(),
        "load_average_start": load(),
    }
