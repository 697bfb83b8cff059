"""The benchmark harness on tiny inputs: every part runs and writes its results. No timing is asserted."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

pytestmark = pytest.mark.flink


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from bench.__main__ import cli

    out = tmp_path_factory.mktemp("bench")
    args = [
        "run",
        "--tiny",
        "--only",
        "projection,two_many,udf,compile,memory,local",
        "--out",
        str(out),
        "--cache",
        str(out / "cache"),
        "--no-e2e",
    ]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def test_results_files(results):
    doc = json.loads((results / "results.json").read_text())
    env = doc["environment"]
    assert {"cpu_model", "cores", "memory_gib"} <= set(env["machine"])
    assert {"python", "pyflink", "sqlglot", "java"} <= set(env["versions"])
    assert "commit" in env["git"] and env["date"]
    assert len(env["load_average_start"]) == 3 and len(doc["load_average_end"]) == 3

    sql = doc["sections"]["sql_vs_handwritten"]["workloads"]
    assert set(sql) == {"projection", "two_many"}
    for name, w in sql.items():
        assert w["guard"]["equal"], (name, w["guard"]["details"])
        for variant in ("emitted", "handwritten"):
            assert w["variants"][variant]["events_per_s"]["median"] > 0
            assert "plan" in w["variants"][variant]
        assert "emitted/handwritten" in w["ratios"]
    # ontoc sets mini-batch on a job with aggregates only; the bench runs what ontoc submits
    assert sql["projection"]["variants"]["emitted"]["options"] == {}
    two_many = sql["two_many"]
    assert two_many["variants"]["emitted"]["options"]["table.exec.mini-batch.enabled"] == "true"
    assert two_many["variants"]["handwritten"]["options"] == {}
    assert {"emitted/handwritten+ontoc-options", "emitted/emitted+flink-defaults"} <= set(two_many["ratios"])
    assert (results / "plans" / "projection.emitted.txt").exists()

    udf = doc["sections"]["udf"]["workloads"]
    assert set(udf) == {"udf_documents", "udf_scalars"}
    for w in udf.values():
        assert w["guard"]["equal"], w["guard"]["details"]
        assert "udf-process/inline" in w["ratios"]

    compile_speed = doc["sections"]["compile_speed"]
    assert [r["views"] for r in compile_speed["sizes"]] == [5, 10, 20]
    assert {"marginal_ms_per_view", "growth", "stages", "parse_marginal_ms_per_view"} <= set(compile_speed)
    assert list(compile_speed["stages"]["ms_per_view"]) == [
        "parse and resolve",
        "translate",
        "passes",
        "emit SQL",
        "manifest",
        "other",
    ]

    memory = doc["sections"]["memory"]
    assert memory["compile_rss"]["sizes"] and memory["compile_rss"]["baseline_mib"]["median"] > 0
    state = memory["state"]["meeting_room"]
    for q in ("emitted", "handwritten"):
        assert state["variants"][q]["view_rows"] > 0 and state["variants"][q]["state_bytes"] > 0
    assert "emitted/handwritten state" in state["ratios"]

    local = doc["sections"]["local"]["sizes"]
    assert [r["events"] for r in local] == [2_000]
    assert local[0]["cli_events_per_s"] > 0 and local[0]["harness_events_per_s"] > 0
    assert local[0]["python_peak_rss_mib"] > 0 and local[0]["jvm_peak_rss_mib"] > 0

    text = (results / "results.md").read_text()
    for heading in (
        "## 1. Emitted SQL vs hand-written SQL",
        "## 2. Native SQL vs Python UDFs",
        "## 3. Compile speed",
        "## 5. Memory",
        "## 7. `ontoc run --local` end to end",
    ):
        assert heading in text
