"""What `ontoc submit` sends, checked without a cluster: statements, settings, errors in plain words.

The job on the real cluster is tested in tests/e2e/.
"""

from __future__ import annotations

import re
import socket
from dataclasses import replace

import pytest
from click.testing import CliRunner

from ontoc.backend.flink.dialect import sql
from ontoc.backend.flink.job import JobSpec, build_job
from ontoc.cli.cluster import jobs, submit
from ontoc.job_settings import JobSettings, default_job, job_for_package
from ontoc.pipeline import Compiled
from ontoc.runtime.cluster.errors import SubmitError
from ontoc.runtime.cluster.kafka import KafkaConnection, KafkaPropertiesError, kafka_python_config, parse_properties
from ontoc.runtime.cluster.rest import FlinkRest, FlinkRestError, parse_url, root_cause_of_trace
from ontoc.runtime.cluster.submit import explain_job
from tests.conftest import DEFINITIONS, ROOT

KAFKA = KafkaConnection("broker-1:9093,broker-2:9093", (("security.protocol", "SASL_SSL"), ("sasl.mechanism", "PLAIN")))


def job_spec(compiled: Compiled, settings: JobSettings, kafka: KafkaConnection = KAFKA) -> JobSpec:
    return build_job(compiled.plans, compiled.schema.models, settings, kafka.options())


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_one_statement_set_per_package(compiled_packages):
    for name, compiled in compiled_packages.items():
        plan = job_spec(compiled, job_for_package(name, ROOT / "jobs"), KAFKA)
        assert [sql(i).split("`")[1] for _, i in plan.inserts] == [p.topic for p in compiled.plans] + [
            "__ontoc_invalid_events"
        ]
        text = plan.sql_text()
        assert text.count("EXECUTE STATEMENT SET BEGIN") == 1
        # connection settings come from configuration, in every Kafka table
        kafka_tables = text.count("'connector' = 'kafka'") + text.count("'connector' = 'upsert-kafka'")
        assert text.count("'properties.bootstrap.servers' = 'broker-1:9093,broker-2:9093'") == kafka_tables
        assert text.count("'properties.security.protocol' = 'SASL_SSL'") == kafka_tables
        assert "${KAFKA_BOOTSTRAP_SERVERS}" not in text and "127.0.0.1" not in text
        # every source topic is read once, validated, and deduplicated per doc_id
        assert text.count("CREATE TABLE IF NOT EXISTS `__ontoc_source_events`") == 1
        assert f"'topic' = '{';'.join(plan.source_topics)}'" in text
        for topic in plan.source_topics:
            assert f"CREATE TEMPORARY VIEW `{topic}` AS" in text
        assert text.count("ROW_NUMBER() OVER (PARTITION BY `doc_id` ORDER BY `pt` DESC)") == len(plan.source_topics)
        assert "'value.format' = 'raw'" in text and "ignore-parse-errors" not in text


def test_delivery_guarantees(compiled_packages):
    compiled = compiled_packages["meeting_room"]
    at_least = job_spec(compiled, default_job("meeting_room"), KAFKA).sql_text()
    assert at_least.count("'sink.delivery-guarantee' = 'at-least-once'") == 2  # the view and invalid events
    assert "transactional-id-prefix" not in at_least
    # the view's sink buffers (each key's last row per flush); the invalid events' append sink does not
    assert at_least.count("'sink.buffer-flush.interval' = '100 ms'") == 1
    job = replace(default_job("meeting_room"), delivery_guarantee="exactly-once", transactional_id_prefix="mr")
    exactly = job_spec(compiled, job, KAFKA).sql_text()
    assert exactly.count("'sink.delivery-guarantee' = 'exactly-once'") == 2
    assert "'sink.transactional-id-prefix' = 'mr-meeting_sessions'" in exactly
    assert "'sink.transactional-id-prefix' = 'mr-invalid'" in exactly
    assert "'properties.transaction.timeout.ms' = '900000'" in exactly


def test_settings_reach_the_source(compiled_packages):
    compiled = compiled_packages["shop"]
    job = replace(default_job("shop"), start_offsets="committed", invalid_events_topic="")
    plan = job_spec(compiled, job, KAFKA)
    text = plan.sql_text()
    assert "'scan.startup.mode' = 'group-offsets'" in text and "'properties.auto.offset.reset' = 'earliest'" in text
    assert "'properties.group.id' = 'ontoc-shop'" in text
    assert "__ontoc_invalid_events" not in text and plan.topics() == [*plan.source_topics, *plan.view_topics]


def test_sort_rows_function_is_declared_when_used(compiled_packages):
    plan = job_spec(compiled_packages["meeting_room"], default_job("meeting_room"), KAFKA)
    assert plan.functions.jvm and "CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS ONTOC_SORT_ROWS" in plan.sql_text()
    sensors = job_spec(compiled_packages["sensors"], default_job("sensors"), KAFKA)
    assert sensors.functions.jvm == ("ONTOC_PY_FLOAT_DIVMOD", "ONTOC_VALIDATE_EVENT")  # its float // and %


def test_the_jvm_functions_a_job_declares_are_those_its_sql_calls(compiled_packages):
    """`jvm_functions` reads the IR, `emit` writes the SQL: a function called but not declared fails the job."""
    from ontoc.pipeline import compile_definitions

    packages = dict(compiled_packages)
    for fixture in ("constructs", "constructs2", "decimals", "integers"):
        packages[fixture] = compile_definitions(ROOT / "tests" / "fixtures" / fixture)
    seen = set()
    for name, compiled in packages.items():
        plan = job_spec(compiled, default_job(name), KAFKA)
        inserts = "\n".join(sql(insert) for _, insert in plan.inserts)
        called = set(re.findall(r"\b(ONTOC_[A-Z_]+)\(", inserts))
        assert called == set(plan.functions.jvm) - {"ONTOC_VALIDATE_EVENT", "ONTOC_VALIDATE_LINE"}, name
        seen |= called
    assert {"ONTOC_PY_DECIMAL", "ONTOC_PY_ROUND", "ONTOC_PY_STR", "ONTOC_SORT_ROWS"} <= seen  # the check covers them


def test_kafka_properties(tmp_path):
    f = tmp_path / "client.properties"
    f.write_text(
        "# security\nsecurity.protocol=SASL_SSL\nsasl.jaas.config=org.apache.kafka.common.security.plain."
        'PlainLoginModule required \\\n    username="u" password="p";\nsasl.mechanism: PLAIN\n'
    )
    props = dict(parse_properties(["sasl.mechanism=SCRAM-SHA-512"], f))
    assert props["security.protocol"] == "SASL_SSL" and props["sasl.mechanism"] == "SCRAM-SHA-512"
    assert props["sasl.jaas.config"].endswith('username="u" password="p";')
    cfg = kafka_python_config(KafkaConnection("b:1", tuple(props.items())))
    assert cfg["sasl_plain_username"] == "u" and cfg["security_protocol"] == "SASL_SSL"
    with pytest.raises(KafkaPropertiesError, match="must be key=value"):
        parse_properties(["nonsense"])
    with pytest.raises(KafkaPropertiesError, match="--bootstrap-servers"):
        parse_properties(["bootstrap.servers=x:1"])
    with pytest.raises(SubmitError, match="create_topics = false"):
        kafka_python_config(KafkaConnection("b:1", (("ssl.keystore.location", "/k.jks"),)))


def test_dry_run_prints_the_job():
    out = CliRunner().invoke(
        submit,
        [
            str(DEFINITIONS / "meeting_room"),
            "--dry-run",
            "--bootstrap-servers",
            "kafka:19092",
            "--kafka-property",
            "client.id=x",
        ],
    )
    assert out.exit_code == 0, out.output
    assert "-- ontoc job ontoc-meeting_room: 1 view(s), one statement set" in out.output
    assert "'properties.bootstrap.servers' = 'kafka:19092'" in out.output
    assert "INSERT INTO `meeting_sessions`" in out.output


def test_plain_errors():
    runner = CliRunner()
    url = f"http://127.0.0.1:{_closed_port()}"
    out = runner.invoke(submit, [str(DEFINITIONS / "meeting_room"), "--cluster", url])
    assert out.exit_code == 1
    assert out.output.strip().splitlines()[-1].startswith(f"error: cannot reach Flink's REST API at {url}")
    out = runner.invoke(jobs, ["list", "--cluster", url])
    assert out.exit_code == 1 and "is the cluster up?" in out.output
    out = runner.invoke(jobs, ["cancel", "nope", "--cluster", url])
    assert out.exit_code == 1 and "is not a Flink job id" in out.output
    out = runner.invoke(submit, [str(DEFINITIONS / "meeting_room"), "--job", "missing.toml"])
    assert out.exit_code == 2 and "error: missing.toml: no such job file" in out.output
    out = runner.invoke(submit, [str(DEFINITIONS), "--job", str(ROOT / "jobs" / "shop.toml")])
    assert out.exit_code == 2 and re.search(r"holds \d+ packages", out.output), out.output


def test_rest_helpers():
    assert parse_url("127.0.0.1:8081") == ("http", "127.0.0.1", 8081)
    assert parse_url("https://flink.example.com") == ("https", "flink.example.com", 443)
    with pytest.raises(FlinkRestError):
        parse_url("ftp://x")
    with pytest.raises(FlinkRestError, match="not a Flink job id"):
        FlinkRest("http://127.0.0.1:1").cancel("123")
    trace = (
        "org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy\n"
        "\tat org.apache.flink.runtime.executiongraph.failover.ExecutionFailureHandler.handleFailure(X.java:1)\n"
        "Caused by: java.lang.RuntimeException: Failed to get metadata for topics [a].\n"
        "\t... 3 more\n"
        "Caused by: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not "
        "host this topic-partition.\n"
    )
    assert (
        root_cause_of_trace(trace)
        == "UnknownTopicOrPartitionException: This server does not host this topic-partition."
    )
    python = (
        "java.lang.RuntimeException: Error received from SDK harness\nTraceback (most recent call last):\n"
        "  File \"x.py\", line 1, in <module>\nAttributeError: 'tuple' object has no attribute 'x'\n\n"
        "\tat org.apache.beam.X.y(X.java:1)\n"
    )
    assert root_cause_of_trace(python) == "RuntimeException: AttributeError: 'tuple' object has no attribute 'x'"


def _executed_plan(compiled: Compiled) -> str:
    plan_text = explain_job(compiled, job_spec(compiled, default_job("meeting_room")))
    return plan_text[plan_text.index("== Optimized Execution Plan ==") :]


@pytest.mark.flink
def test_flink_plans_one_validator_call_no_python_and_a_deduplication_per_topic(compiled_packages):
    """The JVM validator runs once per record (its metric counts each invalid event once); views
    calling no Python UDF leave no Python operator in the job."""
    executed = _executed_plan(compiled_packages["meeting_room"])
    assert executed.count("ONTOC_VALIDATE_EVENT(") == 1, executed
    assert "Python" not in executed, executed
    assert len(re.findall(r"Deduplicate\(keep=\[LastRow\], key=\[[^,\]]+\], order=\[PROCTIME\]", executed)) == 4, (
        executed
    )
    # each deduplication holds the doc_id, the kind and its topic's fields, not the whole verdict `v`
    # (its topic name, the other topics' rows): they would be serialized at every shuffle and state access
    lines = executed.splitlines()
    feeding = [lines[i + 2] for i, line in enumerate(lines) if "Deduplicate(" in line]
    assert len(feeding) == 4 and all("+- Exchange(" in lines[i + 1] for i, x in enumerate(lines) if "Deduplicate(" in x)
    for line in feeding:
        select = re.search(r"\+- Calc\(select=\[([^\]]*)\]", line)
        assert select, line
        assert re.fullmatch(r"v\.doc_id AS \$0, v\.kind AS \$1, v\.t_\w+ AS \$2, PROCTIME\(\) AS \$3", select[1]), line


@pytest.mark.flink
def test_only_the_package_python_udfs_run_in_python(compiled_packages):
    from ontoc.pipeline import compile_definitions

    executed = _executed_plan(compile_definitions(DEFINITIONS / "meeting_room", "udf"))
    assert executed.count("ONTOC_VALIDATE_EVENT(") == 1, executed
    python_calcs = re.findall(r"PythonCalc\(.*", executed)
    assert python_calcs and all("ontoc__" in c and "ONTOC_VALIDATE" not in c for c in python_calcs), executed


@pytest.mark.flink
def test_the_job_reuses_objects_between_chained_operators():
    """Without it Flink deep-copies each record per chained consumer (bench part 4: 2x the CPU per event)."""
    from ontoc.runtime.cluster.submit import _config

    conf = _config(default_job("shop"), "http://127.0.0.1:8081", [], None, False, False)
    assert conf.get_string("pipeline.object-reuse", "") == "true"


def test_planner_options_are_part_of_the_job(compiled_packages):
    text = job_spec(compiled_packages["meeting_room"], default_job("meeting_room"), KAFKA).sql_text()
    assert "SET 'table.exec.mini-batch.enabled' = 'true';" in text
    off = replace(default_job("meeting_room"), mini_batch="off")
    assert "SET 'table.exec.mini-batch" not in job_spec(compiled_packages["meeting_room"], off, KAFKA).sql_text()


@pytest.mark.flink
def test_flink_plans_mini_batch_for_a_package_with_aggregates(compiled_packages):
    executed = explain_job(
        compiled_packages["meeting_room"], job_spec(compiled_packages["meeting_room"], default_job("meeting_room"))
    )
    executed = executed[executed.index("== Optimized Execution Plan ==") :]
    assert "MiniBatchAssigner(interval=[1000ms]" in executed, executed
    assert "GlobalGroupAggregate" not in executed, executed  # one phase


def test_python_udfs_of_the_package_are_listed():
    from ontoc.pipeline import compile_definitions

    plan = job_spec(compile_definitions(DEFINITIONS / "meeting_room", "udf"), default_job("meeting_room"), KAFKA)
    assert plan.functions.python and all(name.startswith("ontoc__") for name in plan.functions.python)
    assert "-- Python UDFs of the package" in plan.sql_text()
    assert not job_spec(
        compile_definitions(DEFINITIONS / "meeting_room"), default_job("meeting_room"), KAFKA
    ).functions.python


def test_a_job_with_python_functions_ends_their_bundles_by_time_not_every_1000_rows():
    """Flink's default bundle (1,000 rows) made the task thread and the Python worker take turns."""
    from ontoc.job_settings import PYTHON_ARROW_BATCH_ROWS, PYTHON_BUNDLE_ROWS
    from ontoc.pipeline import compile_definitions

    udf = job_spec(compile_definitions(DEFINITIONS / "meeting_room", "udf"), default_job("meeting_room"), KAFKA)
    text = udf.sql_text()
    assert f"SET 'python.fn-execution.bundle.size' = '{PYTHON_BUNDLE_ROWS}';" in text
    assert f"SET 'python.fn-execution.arrow.batch.size' = '{PYTHON_ARROW_BATCH_ROWS}';" in text
    native = job_spec(compile_definitions(DEFINITIONS / "meeting_room"), default_job("meeting_room"), KAFKA)
    assert "python.fn-execution" not in native.sql_text()


def test_package_zip_is_importable(tmp_path):
    import subprocess
    import sys

    from ontoc.runtime.python_udfs import ONTOC_PACKAGE_DIR, package_zip

    for package in (ONTOC_PACKAGE_DIR, DEFINITIONS / "meeting_room"):
        z = package_zip(package)
        assert z.name == f"{package.name}.zip" and package_zip(package) == z  # cached by content
        module = "ontoc.events" if package == ONTOC_PACKAGE_DIR else "meeting_room.views"
        out = subprocess.run(
            [sys.executable, "-c", f"import {module} as m; print(m.__file__)"],
            env={"PYTHONPATH": str(z)},
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0 and str(z) in out.stdout, out.stderr
