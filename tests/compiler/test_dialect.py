"""The Flink dialect's environment: sqlglot's pure-Python build."""

from __future__ import annotations


def test_the_compiled_sqlglot_build_is_told_apart_from_the_python_one():
    # with sqlglotc installed, importing the dialect fails with a message saying so (it cannot be
    # installed in the same environment as the tests: it replaces sqlglot's modules)
    import _json
    import sqlglot.generator
    from ontoc.backend.flink.dialect import is_compiled

    assert is_compiled(_json) and not is_compiled(sqlglot.generator)
