"""Definitions as of a git revision: `git archive` of their folder into a temporary directory.

Nothing in the work tree or the repository changes (no checkout, no worktree).
The copy keeps its path relative to the repository's top, and compiling from
the same relative working directory keeps the file names in the generated
SQL headers identical, so an unchanged view compares as unchanged.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path


class RevisionError(Exception):
    pass


@dataclass
class Checkout:
    definitions: Path | None  # the definitions at the revision; None when the path did not exist there
    cwd: Path  # where to compile from so that paths display as they do in the work tree
    commit: str


def _git(top: Path | None, *args: str, cwd: Path | None = None) -> bytes:
    cmd = ["git"] + (["-C", str(top)] if top else []) + list(args)
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise RevisionError("git is not installed") from exc
    if done.returncode != 0:
        raise RevisionError(done.stderr.decode("utf-8", "replace").strip() or f"`{' '.join(cmd)}` failed")
    return done.stdout


def checkout_definitions(definitions: Path, rev: str, into: Path) -> Checkout:
    definitions = Path(definitions).resolve()
    start = definitions if definitions.is_dir() else definitions.parent
    top = Path(_git(None, "rev-parse", "--show-toplevel", cwd=start).decode().strip()).resolve()
    try:
        commit = _git(top, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()
    except RevisionError as exc:
        raise RevisionError(f"unknown git revision `{rev}` in {top}") from exc
    relative = definitions.relative_to(top)
    try:
        here = Path.cwd().resolve().relative_to(top)
    except ValueError:
        here = Path(".")
    cwd = into / here
    cwd.mkdir(parents=True, exist_ok=True)
    try:
        _git(top, "cat-file", "-e", f"{commit}:{relative.as_posix()}")
    except RevisionError:
        return Checkout(None, cwd, commit)
    archive = _git(top, "archive", "--format=tar", commit, "--", relative.as_posix())
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return Checkout(into / relative, cwd, commit)
