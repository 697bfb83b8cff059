"""Every emitted statement passes Flink's own planner (TableEnvironment.explain_sql)."""

from __future__ import annotations

import pytest

from ontoc.pipeline import compile_definitions
from ontoc.runtime.embedded.validate import validate

from .test_golden import PACKAGES

pytestmark = pytest.mark.flink


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_flink_planner_accepts_emitted_sql(name):
    checks = validate(compile_definitions(PACKAGES[name]))
    assert checks and all(c.ok for c in checks), "\n".join(f"{c.view}: {c.message}" for c in checks if not c.ok)
    for c in checks:
        assert "Sink(table=[default_catalog.default_database." in c.message
