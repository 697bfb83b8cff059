"""The fresh-start path's pieces without a cluster: the staging job's SQL and the catch-up arithmetic."""

from __future__ import annotations

import contextlib

from ontoc.backend.flink.job import build_job
from ontoc.job_settings import JobSettings
from ontoc.pipeline import compile_definitions
from ontoc.runtime.cluster.fresh_start import behind, staging_spec
from ontoc.runtime.cluster.kafka import KafkaConnection
from tests.conftest import ROOT

PLAN = ROOT / "tests" / "fixtures" / "plan"


def _spec(**settings: object):
    with contextlib.chdir(PLAN / "base"):
        compiled = compile_definitions(PLAN / "base" / "rooms")
    job = JobSettings(name="ontoc-rooms", start_offsets="latest", **settings)  # type: ignore[arg-type]
    return build_job(compiled.plans, compiled.schema.models, job, KafkaConnection("k:9092").options())


def test_the_staging_job_differs_only_in_its_sinks_topics_and_name():
    spec = _spec()
    staged = staging_spec(spec, "v7")
    assert staged.view_topics == tuple(f"{t}.v7" for t in spec.view_topics)
    assert staged.settings.name == "ontoc-rooms.v7" and staged.settings.start_offsets == "earliest"
    before, after = spec.sql_text().splitlines(), staged.sql_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b and not a.startswith("--")]
    assert sorted(changed) == sorted((f"  'topic' = '{t}',", f"  'topic' = '{t}.v7',") for t in spec.view_topics)
    # the tables keep their names: the INSERTs, and with them the job graph, are the same
    assert [i for _, i in staged.inserts] == [i for _, i in spec.inserts]
    # the source is not retargeted
    assert not any(f"'{t}.v7'" in line for t in spec.source_topics for line in after)


def test_an_exactly_once_staging_job_has_transactional_ids_of_its_own():
    """Kafka fences the older producer of a transactional id: sharing the running job's would fail it."""
    spec = _spec(delivery_guarantee="exactly-once", checkpoint_interval_ms=2000)
    staged = staging_spec(spec, "v7")
    prefix = "'sink.transactional-id-prefix' = '"
    before = sorted(line.strip() for line in spec.sql_text().splitlines() if prefix in line)
    after = sorted(line.strip() for line in staged.sql_text().splitlines() if prefix in line)
    assert len(before) == len(spec.view_topics) + 1  # the views' sinks and the invalid-events sink
    assert after == sorted(line.replace("',", ".v7',") for line in before)


def test_behind_counts_what_is_left_by_the_best_reading():
    ends = {("a", 0): 10, ("a", 1): 0, ("b", 0): 5}
    assert behind(ends, {}, {}) == 15
    assert behind(ends, {("a", 0): 10}, {("b", 0): 3}) == 2
    assert behind(ends, {("a", 0): 4, ("b", 0): 5}, {("a", 0): 10}) == 0
