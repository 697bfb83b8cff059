"""docker-compose.yml cannot run here (no Docker engine): it must parse, and its versions and ports
must be the project's (jvm/pom.xml, jvm/functions/pom.xml, pyproject.toml, services.py)."""

from __future__ import annotations

import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ontoc.cli.cluster import DEFAULT_BOOTSTRAP
from ontoc.devenv import services
from ontoc.runtime.cluster.rest import DEFAULT_URL, parse_url

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def _pom_property(path: Path, name: str) -> str:
    value = ET.parse(path).getroot().find(f"m:properties/m:{name}", NS)
    assert value is not None, f"{path}: no <{name}>"
    return value.text.strip()


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (ROOT / "docker" / "flink" / "Dockerfile").read_text()


def _versions() -> dict:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pyflink = next(d.split("==")[1] for d in pyproject["project"]["dependencies"] if d.startswith("apache-flink=="))
    return {
        "pyflink": pyflink,
        "flink": _pom_property(ROOT / "jvm" / "functions" / "pom.xml", "flink.version"),
        "java": _pom_property(ROOT / "jvm" / "functions" / "pom.xml", "maven.compiler.release"),
        "connector": _pom_property(ROOT / "jvm" / "pom.xml", "flink.kafka.connector.version"),
        "kafka": _pom_property(ROOT / "jvm" / "pom.xml", "kafka.version"),
    }


def _flink_properties(service: dict) -> dict:
    text = service["environment"]["FLINK_PROPERTIES"]
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines() if line.strip())}


def _host_ports(service: dict) -> dict[int, str]:
    """container port -> host address:port."""
    out = {}
    for spec in service.get("ports", []):
        host, port, container = str(spec).rsplit(":", 2)
        out[int(container)] = f"{host}:{port}"
    return out


def test_it_parses_and_has_the_three_services(compose):
    assert set(compose["services"]) == {"kafka", "jobmanager", "taskmanager"}
    assert compose["services"]["taskmanager"]["command"] == "taskmanager"
    assert compose["services"]["jobmanager"]["command"] == "jobmanager"


def test_versions_match_the_project(compose, dockerfile):
    v = _versions()
    assert v["flink"] == v["pyflink"], "jvm/functions/pom.xml and pyproject.toml disagree on Flink"
    assert v["connector"].endswith("-" + ".".join(v["flink"].split(".")[:2])), v  # 5.0.0-2.2 is for Flink 2.2
    kafka = compose["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{v['kafka']}"
    args = compose["services"]["jobmanager"]["build"]["args"]
    assert args["FLINK_IMAGE"] == f"flink:{v['flink']}-java{v['java']}"
    assert args["PYFLINK_VERSION"] == v["pyflink"]
    assert args["KAFKA_CONNECTOR_VERSION"] == v["connector"]
    # the Dockerfile's defaults say the same
    assert f"ARG FLINK_IMAGE=flink:{v['flink']}-java{v['java']}" in dockerfile
    assert f"ARG PYFLINK_VERSION={v['pyflink']}" in dockerfile
    assert f"ARG KAFKA_CONNECTOR_VERSION={v['connector']}" in dockerfile
    assert "eclipse-temurin-" + v["java"] in dockerfile
    assert f"MIN_JAVA = {v['java']}" in (ROOT / "ontoc" / "devenv" / "services.py").read_text()
    # both Flink services run the image that build produces
    assert compose["services"]["taskmanager"]["image"] == compose["services"]["jobmanager"]["image"]


def test_ports_and_settings_match_the_local_services(compose):
    kafka = compose["services"]["kafka"]
    jm = compose["services"]["jobmanager"]
    assert _host_ports(kafka) == {services.DEFAULT_KAFKA_PORT: f"{services.HOST}:{services.DEFAULT_KAFKA_PORT}"}
    assert _host_ports(jm) == {services.DEFAULT_FLINK_PORT: f"{services.HOST}:{services.DEFAULT_FLINK_PORT}"}
    assert not compose["services"]["taskmanager"].get("ports")  # reached through the JobManager only
    # ontoc's defaults point at it
    assert DEFAULT_BOOTSTRAP == f"{services.HOST}:{services.DEFAULT_KAFKA_PORT}"
    assert parse_url(DEFAULT_URL)[1:] == (services.HOST, services.DEFAULT_FLINK_PORT)
    env = kafka["environment"]
    assert f"PLAINTEXT_HOST://{services.HOST}:{services.DEFAULT_KAFKA_PORT}" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, one node
    assert int(env["KAFKA_TRANSACTION_MAX_TIMEOUT_MS"]) >= 900_000  # exactly-once sinks' 15 min transactions
    for name in ("jobmanager", "taskmanager"):
        props = _flink_properties(compose["services"][name])
        assert props["rest.port"] == str(services.DEFAULT_FLINK_PORT)
        assert props["jobmanager.rpc.port"] == str(services.DEFAULT_FLINK_RPC_PORT)
        assert props["taskmanager.numberOfTaskSlots"] == str(services.TASK_SLOTS)
        assert props["jobmanager.memory.process.size"] == services.JOBMANAGER_MEMORY
        assert props["taskmanager.memory.process.size"] == services.TASKMANAGER_MEMORY
        assert props["python.executable"] == "/opt/pyflink/bin/python"


def test_the_image_has_python_pyflink_and_the_jars(dockerfile):
    assert "python3 -m venv /opt/pyflink" in dockerfile
    assert re.search(r'pip install .*"apache-flink==\$\{PYFLINK_VERSION\}"', dockerfile)
    assert "/opt/flink/opt/flink-python-" in dockerfile and "/opt/flink/lib/" in dockerfile
    assert "flink-sql-connector-kafka/${KAFKA_CONNECTOR_VERSION}/" in dockerfile
    assert "COPY jvm/functions" in dockerfile and "ontoc-functions.jar /opt/flink/lib/" in dockerfile
