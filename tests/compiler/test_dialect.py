"""The Flink dialect's environment: sqlglot's pure-Python build."""

from __future__ import annotations

import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES

from ontoc.backend.flink.dialect import is_compiled


def test_importing_the_dialect_with_sqlglots_compiled_build_says_what_to_do():
    # sqlglotc cannot be installed beside the tests (it replaces sqlglot's modules), so a fresh
    # interpreter is told that sqlglot's generator came from a native extension before the import
    probe = (
        "import sqlglot.generator as g; "
        f"g.__file__ = 'generator' + {EXTENSION_SUFFIXES[0]!r}\nimport ontoc.backend.flink.dialect"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 1
    assert "ImportError: ontoc's Flink dialect needs sqlglot's pure-Python build" in result.stderr
    assert "pip uninstall sqlglotc" in result.stderr


def test_is_compiled_tells_native_modules_from_python_ones():
    import sqlglot.generator

    native = next(
        (m for m in list(sys.modules.values()) if str(getattr(m, "__file__", "")).endswith(tuple(EXTENSION_SUFFIXES))),
        None,
    )
    assert native is not None and is_compiled(native)
    assert not is_compiled(sqlglot.generator) and not is_compiled(sys)  # Python source; built in
