"""The package's Python functions (a view's static and class methods) for Flink: the generated udfs module
loaded and registered, and the definitions package (and `ontoc`) shipped to the Python workers as zips."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from ..backend.flink.udfs import UDF_MODULE
from ..pipeline import Compiled

ONTOC_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # shipped to the workers: they import ontoc


def registration(compiled: Compiled) -> Callable[[Any], None] | None:
    """A setup step registering the package's generated Python functions; None when it has none."""
    return python_functions(compiled) if UDF_MODULE in compiled.files else None


def python_functions(compiled: Compiled) -> Callable[[Any], None]:
    """A setup step that registers the package's generated Python functions."""
    folder = Path(tempfile.mkdtemp(prefix="ontoc-udfs-"))
    module = load_module(compiled.files[UDF_MODULE], folder, f"ontoc_udfs_{abs(hash(folder))}")
    package = top_package(compiled)

    def register_all(t_env: Any) -> None:
        register(t_env, module.FUNCTIONS, package)

    return register_all


def top_package(compiled: Compiled) -> Path:
    """The outermost package holding the definitions: what the Python workers must be able to import."""
    view = next(iter(compiled.schema.views.values()))
    folder = Path(view.src.absolute).parent
    while (folder.parent / "__init__.py").exists():
        folder = folder.parent
    return folder


def package_zip(package_dir: Path) -> Path:
    """A Python package's .py files as `<name>.zip` holding `<name>/...`, importable from PYTHONPATH
    (what the TaskManagers' Python workers get); cached by content in the temp folder."""
    package_dir = Path(package_dir).resolve()
    files = sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts)
    digest = hashlib.sha256(str(package_dir).encode())
    for p in files:
        digest.update(str(p.relative_to(package_dir)).encode())
        digest.update(p.read_bytes())
    target = Path(tempfile.gettempdir()) / f"ontoc-pyfiles-{digest.hexdigest()[:16]}" / f"{package_dir.name}.zip"
    if not target.is_file():
        for old in target.parent.parent.glob("ontoc-pyfiles-*"):  # earlier versions, unused for a day
            try:
                if time.time() - old.stat().st_mtime > 86_400:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for p in files:
                z.write(p, Path(package_dir.name) / p.relative_to(package_dir))
        tmp.replace(target)
    return target


def register(t_env: Any, functions: dict[str, dict[str, Any]], package_dir: Path) -> None:
    """Register every function under its SQL name and ship the definitions package to the Python workers.

    The package ships as a zip of its outermost package: Flink puts a shipped
    *directory* itself on the workers' PYTHONPATH, so its modules could not be
    imported by their package names (and its sub-folders could shadow the
    standard library, e.g. a `tests/inspect/`).
    """
    package_dir = Path(package_dir).resolve()
    if str(package_dir.parent) not in sys.path:
        sys.path.insert(0, str(package_dir.parent))
    t_env.add_python_file(str(package_zip(package_dir)))
    for name, parts in sorted(functions.items()):
        for suffix, function in parts.items():
            t_env.create_temporary_system_function(name + suffix, function)


def load_module(text: str, folder: Path, name: str) -> ModuleType:
    """Import a generated udfs module from its text (written to `folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
