"""Shared fixtures: definitions compiled once, the embedded Flink JVM started once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = ROOT / "definitions"


@pytest.fixture(scope="session")
def compiled_packages():
    """Every definitions package, compiled once per session."""
    from ontoc.pipeline import compile_definitions, definition_packages

    return {name: compile_definitions(path) for name, path in definition_packages(DEFINITIONS)}


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ from the compiler's output (review the diff)",
    )


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")
