"""bench.udf_timeline on a tiny input: the warm run's timeline and bundles are printed; bad options refused."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from bench.udf_timeline import main


def test_bad_setting_is_refused():
    result = CliRunner().invoke(main, ["--set", "python.fn-execution.bundle.size"])
    assert result.exit_code == 2
    assert "is not KEY=VALUE" in result.output


@pytest.mark.flink
def test_timeline_of_a_warm_run(tmp_path):
    args = ["--events", "4000", "--runs", "2", "--cache", str(tmp_path), "--set", "python.fn-execution.bundle.size=500"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "'python.fn-execution.bundle.size': '500'" in result.output  # the --set reached the options
    assert re.search(r"^run 2/2: [\d,]+ ev/s", result.output, re.M), result.output
    bundles = re.search(r"^bundles (\d+): ", result.output, re.M)
    assert bundles, result.output
    # about 9,000 rows reach the worker (2.27 per event): bundles of 500 rows make more than one
    assert int(bundles.group(1)) > 1, result.output
