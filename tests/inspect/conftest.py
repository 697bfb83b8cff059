"""Helpers for the CLI tests: run `ontoc` in-process and parse what it prints."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from ontoc.cli.main import cli
from ontoc.inspect.schemas import SCHEMAS

ROOT = Path(__file__).resolve().parents[2]
PLAN_FIXTURES = ROOT / "tests" / "fixtures" / "plan"


class Run:
    def __init__(self, result):
        self.code = result.exit_code
        self.out = result.stdout
        self.err = result.stderr
        self.exception = result.exception

    def json(self, schema: str | None = None):
        doc = json.loads(self.out)
        if schema:
            jsonschema.validate(doc, SCHEMAS[schema])
        return doc

    def diagnostics(self) -> list[dict]:
        """The JSON diagnostics of a failed `--format json` run (stderr), checked against their schema."""
        doc = json.loads(self.err)
        jsonschema.validate(doc, SCHEMAS["diagnostics"])
        return doc


def ontoc(*args: str) -> Run:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result)


@pytest.fixture
def run():
    return ontoc
