"""Output paths that cannot leave their folder, whatever names the definitions or events hold.

Topics are checked when the definitions are read (spec section 2), but files
are named after them in several places (compile's output folder, the local
runner's view files): each writer resolves the path it writes through
`inside`, so a name that slipped past the checks fails loudly instead of
writing elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from .errors import Diagnostic, OntocError


def inside(folder: Path | str, name: str) -> Path:
    """`folder / name`, refused unless it is a plain file name that stays inside `folder`.

    A plain name that is not a symbolic link stays in `folder` whatever `folder`
    resolves to, so only a link is resolved (on both sides): one that points
    elsewhere is refused. That keeps the check to one `lstat` per file, where
    a compile writes one file per view.
    """
    folder = Path(folder)
    if not name or "\0" in name or name != Path(name).name or name in (".", ".."):
        raise unsafe_path(folder, name)
    path = folder / name
    if path.is_symlink() and path.resolve().parent != folder.resolve():
        raise unsafe_path(folder, name)
    return path


def unsafe_path(folder: Path, name: str) -> OntocError:
    return OntocError(
        Diagnostic(
            "unsafe-output-path",
            f"refusing to write {name!r}: it is not a file name inside {folder}",
            None,
            "output files are named after topics: 1 to 249 characters of [A-Za-z0-9._-] (spec section 2)",
        )
    )
