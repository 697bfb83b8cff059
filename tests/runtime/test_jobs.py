"""jobs/<package>.toml: defaults, every key, and errors in plain words."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ontoc.cli.cluster import submit
from ontoc.job_settings import (
    JobFileError,
    default_job,
    format_duration,
    job_for_package,
    job_from_dict,
    load_job,
    parse_duration,
    planner_options,
    state_options,
)
from ontoc.pipeline import definition_packages

ROOT = Path(__file__).resolve().parents[2]


def test_every_definitions_package_has_a_valid_job_file():
    for name, _ in definition_packages(ROOT / "definitions"):
        path = ROOT / "jobs" / f"{name}.toml"
        assert path.is_file(), f"jobs/{name}.toml is missing"
        job = load_job(path)
        assert job.name == f"ontoc-{name}"


def test_meeting_room_job_file():
    job = load_job(ROOT / "jobs" / "meeting_room.toml")
    assert (job.parallelism, job.checkpoint_interval_ms, job.delivery_guarantee, job.start_offsets) == (
        1,
        10_000,
        "at-least-once",
        "earliest",
    )
    assert job.startup_mode == "earliest-offset" and job.group_id == "ontoc-meeting_room"
    assert job.invalid_events_topic == "ontoc_invalid_events" and job.create_topics


def test_defaults_without_a_file(tmp_path):
    job = job_for_package("nothing_here", tmp_path)
    assert job == default_job("nothing_here")
    assert job.name == "ontoc-nothing_here" and job.source == "<defaults>"


def test_every_key():
    job = job_from_dict(
        {
            "name": "views",
            "parallelism": 4,
            "checkpoint_interval": "1min",
            "delivery_guarantee": "exactly-once",
            "transactional_id_prefix": "tx",
            "start_offsets": "committed",
            "invalid_events_topic": "",
            "restart_attempts": 0,
            "restart_delay": "250ms",
            "create_topics": False,
            "topic_partitions": 6,
            "topic_replication": 3,
            "python_executable": "/usr/bin/python3",
        },
        "x.toml",
    )
    assert job.parallelism == 4 and job.checkpoint_interval_ms == 60_000 and job.exactly_once
    assert job.tx_prefix == "tx" and job.startup_mode == "group-offsets" and job.invalid_events_topic == ""
    assert job.restart_attempts == 0 and job.restart_delay_ms == 250 and not job.create_topics
    assert (job.topic_partitions, job.topic_replication, job.python_executable) == (6, 3, "/usr/bin/python3")


def test_checkpoints_can_be_off_and_exactly_once_spelling_is_forgiving():
    assert job_from_dict({"checkpoint_interval": "off"}).checkpoint_interval_ms is None
    assert job_from_dict({"checkpoint_interval": False}).checkpoint_interval_ms is None
    assert job_from_dict({"delivery_guarantee": "Exactly_Once"}).delivery_guarantee == "exactly-once"
    assert job_from_dict({"delivery_guarantee": "exactly-once"}, package="p").tx_prefix == "ontoc-p-tx"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"paralelism": 2}, "unknown key `paralelism`; did you mean `parallelism`?"),
        ({"kafka": {"bootstrap": "x"}}, "unknown table `kafka`"),
        ({"parallelism": 0}, "`parallelism` must be a whole number of at least 1, not 0"),
        ({"parallelism": "2"}, '`parallelism` must be a whole number of at least 1, not "2"'),
        ({"checkpoint_interval": 10}, 'not 10 (write the unit too, e.g. "10s")'),
        ({"checkpoint_interval": "10 parsecs"}, "`checkpoint_interval` must be a duration"),
        (
            {"delivery_guarantee": "maybe"},
            '`delivery_guarantee` must be "at-least-once" or "exactly-once", not "maybe"',
        ),
        ({"delivery_guarantee": "exactly-once", "checkpoint_interval": "off"}, "needs checkpoints"),
        ({"transactional_id_prefix": "tx"}, 'only used with `delivery_guarantee = "exactly-once"`'),
        ({"start_offsets": "beginning"}, '`start_offsets` must be "earliest", "latest" or "committed"'),
        ({"invalid_events_topic": "no spaces"}, "letters, digits"),
        ({"create_topics": "yes"}, "`create_topics` must be true or false"),
        ({"restart_delay": "0s"}, "`restart_delay` must be a duration"),
        ({"name": ""}, "`name` must be the Flink job name"),
        ({"mini_batch": "sometimes"}, '`mini_batch` must be "auto", "on" or "off", not "sometimes"'),
        ({"mini_batch_latency": "soon"}, "`mini_batch_latency` must be a duration"),
    ],
)
def test_errors_name_the_file_and_key(data, message):
    with pytest.raises(JobFileError) as err:
        job_from_dict(data, "jobs/x.toml")
    assert str(err.value).startswith("jobs/x.toml: ")
    assert message in str(err.value)


def test_file_errors(tmp_path):
    with pytest.raises(JobFileError, match="no such job file"):
        load_job(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(JobFileError, match=r"bad.toml: not valid TOML"):
        load_job(bad)


def test_durations():
    assert [parse_duration(t) for t in ("500ms", "10s", "1.5s", "2min", "2m", "1h")] == [
        500,
        10_000,
        1_500,
        120_000,
        120_000,
        3_600_000,
    ]
    assert [format_duration(ms) for ms in (500, 10_000, 120_000, 3_600_000, 1_500)] == [
        "500ms",
        "10s",
        "2min",
        "1h",
        "1500ms",
    ]


def test_mini_batch_is_on_for_aggregates_by_default_and_configurable():
    auto = default_job("p")
    assert planner_options(auto, aggregates=False) == {}
    options = planner_options(auto, aggregates=True)
    assert options["table.exec.mini-batch.enabled"] == "true"
    assert options["table.exec.mini-batch.allow-latency"] == "1000 ms"
    assert options["table.optimizer.agg-phase-strategy"] == "ONE_PHASE"
    assert planner_options(job_from_dict({"mini_batch": "off"}), aggregates=True) == {}
    on = job_from_dict({"mini_batch": True, "mini_batch_latency": "200ms"})
    assert planner_options(on, aggregates=False)["table.exec.mini-batch.allow-latency"] == "200 ms"


def test_python_bundle_time():
    assert default_job("p").python_bundle_time_ms == 50
    assert job_from_dict({"python_bundle_time": "1s"}).python_bundle_time_ms == 1000


def test_sink_buffer_keeps_each_keys_last_row_per_flush_of_the_view_sinks_only():
    from ontoc.backend.flink.job import SINK_BUFFER_ROWS, buffer_options

    assert default_job("p").sink_buffer_ms == 100
    assert buffer_options(default_job("p")) == [
        ("sink.buffer-flush.max-rows", str(SINK_BUFFER_ROWS)),
        ("sink.buffer-flush.interval", "100 ms"),
    ]
    assert job_from_dict({"sink_buffer": "1s"}).sink_buffer_ms == 1000
    off = job_from_dict({"sink_buffer": "off"})
    assert off.sink_buffer_ms is None and buffer_options(off) == []
    with pytest.raises(JobFileError, match="`sink_buffer` must be a duration"):
        job_from_dict({"sink_buffer": "soon"}, "x.toml")


def test_state_backend_defaults_to_rocksdb_with_incremental_checkpoints():
    job = default_job("p")
    assert job.state_backend == "rocksdb"
    assert state_options(job) == {"state.backend.type": "rocksdb", "execution.checkpointing.incremental": "true"}
    heap = job_from_dict({"state_backend": " HashMap "})
    assert heap.state_backend == "hashmap" and state_options(heap) == {"state.backend.type": "hashmap"}
    with pytest.raises(JobFileError, match=r'`state_backend` must be "rocksdb" or "hashmap", not "forst"'):
        job_from_dict({"state_backend": "forst"}, "x.toml")
    with pytest.raises(JobFileError, match="did you mean `state_backend`"):
        job_from_dict({"state_backed": "rocksdb"}, "x.toml")


@pytest.mark.parametrize("backend", ["rocksdb", "hashmap"])
def test_state_backend_is_set_in_the_dry_run_sql(tmp_path, backend):
    (tmp_path / "meeting_room.toml").write_text(f'state_backend = "{backend}"\n', encoding="utf-8")
    out = CliRunner().invoke(
        submit,
        [str(ROOT / "definitions" / "meeting_room"), "--dry-run", "--jobs-dir", str(tmp_path)],
    )
    assert out.exit_code == 0, out.output
    assert f"SET 'state.backend.type' = '{backend}';" in out.output
    incremental = "SET 'execution.checkpointing.incremental' = 'true';"
    assert (incremental in out.output) == (backend == "rocksdb")


def test_dev_taskmanager_is_sized_for_the_machine():
    from ontoc.devenv.services import TASKMANAGER_MEMORY, taskmanager_memory

    gib = 1024**3
    assert taskmanager_memory(4 * gib) == TASKMANAGER_MEMORY == "2048m"  # never below 2 GB
    assert taskmanager_memory(24 * gib) == "6144m"  # a quarter
    assert taskmanager_memory(256 * gib) == "8192m"  # never above 8 GB
    assert int(taskmanager_memory().removesuffix("m")) >= 2048
