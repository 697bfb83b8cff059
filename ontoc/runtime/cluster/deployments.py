"""What runs on the cluster, recorded where any later `ontoc` can read it: the compacted topic `ontoc_deployments`.

`ontoc submit` writes one record per submitted job, under two keys:

    job/<job name>     the latest deployment of that job name (what `plan --against-deployed` reads)
    id/<flink job id>  the same record, kept for as long as the topic is (what a savepoint points back to)

and `ontoc jobs savepoint` one more, `savepoint/<location>` -> the job id whose state it holds. A
record holds the package's manifest and `.sql` files, the ontoc version, the definitions' git
revision (when they are in git) and the Flink job id; the topic is compacted, so the latest record
per key stays. A savepoint written without ontoc is found by the job id in its path (a retained
checkpoint `<dir>/<job id>/chk-N`) or the id's first six characters (`savepoint-<id[:6]>-<random>`).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from ...backend.flink.manifest import Manifest, ManifestError, from_json
from ...inspect.upgrade import PackageManifest, UpgradeInputError, UpgradePlan, Version, upgrade_plan
from .errors import SubmitError
from .kafka import KafkaConnection, kafka_python_config, quiet_kafka, read_to_end

TOPIC = "ontoc_deployments"
FORMAT = 1
MAX_RECORD_BYTES = 8 << 20  # a record holds a package's manifest, SQL and Python files (gzip-compressed)


@dataclass
class Revision:
    commit: str
    dirty: bool  # the definitions differ from the commit (uncommitted changes)

    def describe(self) -> str:
        return self.commit[:12] + ("+dirty" if self.dirty else "")


@dataclass
class Deployment:
    """One submitted job: what it runs (manifest and SQL files) and where it came from."""

    job_name: str
    job_id: str
    package: str
    cluster: str
    submitted_at: str  # ISO 8601, UTC
    ontoc_version: str
    revision: Revision | None
    definitions: str  # the definitions folder as given to `ontoc submit`
    from_savepoint: str | None
    manifest: dict  # the package's manifest.json, parsed
    files: dict[str, str] = field(default_factory=dict)  # `.sql` file name -> text
    sources: dict[str, str] = field(default_factory=dict)  # the package's .py files (relative path -> text)
    settings: dict = field(default_factory=dict)  # the job's settings (job_settings.JobSettings), to roll back to

    def to_json(self) -> dict:
        return {"ontoc": "deployment", "format": FORMAT, **asdict(self)}

    @staticmethod
    def from_json(doc: dict) -> Deployment:
        rev = doc.get("revision")
        return Deployment(
            job_name=doc["job_name"],
            job_id=doc["job_id"],
            package=doc.get("package", ""),
            cluster=doc.get("cluster", ""),
            submitted_at=doc.get("submitted_at", ""),
            ontoc_version=doc.get("ontoc_version", "?"),
            revision=Revision(rev["commit"], bool(rev.get("dirty"))) if isinstance(rev, dict) else None,
            definitions=doc.get("definitions", ""),
            from_savepoint=doc.get("from_savepoint"),
            manifest=doc["manifest"],
            files=dict(doc.get("files") or {}),
            sources=dict(doc.get("sources") or {}),
            settings=dict(doc.get("settings") or {}),
        )

    def source(self) -> str:
        """`ontoc 0.1.0, rev 1a2b3c4d5e6f` for listings."""
        return f"ontoc {self.ontoc_version}" + (f", rev {self.revision.describe()}" if self.revision else "")


def ontoc_version() -> str:
    try:
        return metadata.version("ontoc")
    except metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[3] / "pyproject.toml"
        found = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(), re.M) if pyproject.is_file() else None
        return found.group(1) if found else "unknown"


def definitions_revision(definitions: Path) -> Revision | None:
    """The git commit of the repository holding `definitions`, and whether they differ from it; None outside git."""
    folder = definitions.resolve() if definitions.is_dir() else definitions.resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    status = git("status", "--porcelain", "--", ".")
    return Revision(commit, bool(status))


def new_deployment(
    job_name: str,
    job_id: str,
    package: str,
    cluster: str,
    definitions: Path,
    files: dict[str, str],
    from_savepoint: str | None,
    sources: dict[str, str] | None = None,
    settings: dict | None = None,
) -> Deployment:
    return Deployment(
        job_name=job_name,
        job_id=job_id,
        package=package,
        cluster=cluster,
        submitted_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        ontoc_version=ontoc_version(),
        revision=definitions_revision(definitions),
        definitions=str(definitions),
        from_savepoint=from_savepoint,
        manifest=json.loads(files["manifest.json"]),
        files={n: t for n, t in sorted(files.items()) if n.endswith(".sql")},
        sources=package_sources(definitions) if sources is None else sources,
        settings=settings or {},
    )


def package_sources(package: Path) -> dict[str, str]:
    """The package's Python files, so that a later `ontoc deploy` can rebuild this version to roll back to it."""
    root = package if package.is_dir() else package.parent
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def write_sources(deployment: Deployment, into: Path) -> Path:
    """The recorded package's Python files under `into/<package>`; returns that folder."""
    folder = into / (deployment.package or "definitions")
    for name, text in deployment.sources.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


# -- the topic --------------------------------------------------------------------------------------


def _ensure_topic(kafka: KafkaConnection, replication: int) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(
        **{"client_id": "ontoc-deployments", "request_timeout_ms": 10_000, **kafka_python_config(kafka)}
    )
    try:
        if TOPIC not in set(admin.list_topics()):
            try:
                configs = {"cleanup.policy": "compact", "max.message.bytes": str(MAX_RECORD_BYTES)}
                admin.create_topics([NewTopic(TOPIC, 1, replication, topic_configs=configs)], timeout_ms=30_000)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def _write(kafka: KafkaConnection, records: list[tuple[str, dict]], replication: int = 1) -> None:
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    with quiet_kafka():
        try:
            _ensure_topic(kafka, replication)
            config = {"acks": "all", "compression_type": "gzip", "max_request_size": MAX_RECORD_BYTES}
            producer = KafkaProducer(**{**config, **kafka_python_config(kafka)})
            try:
                for key, value in records:
                    producer.send(TOPIC, key=key.encode(), value=json.dumps(value, sort_keys=True).encode())
                producer.flush(30)
            finally:
                producer.close(10)
        except KafkaError as e:
            raise SubmitError(f"cannot write to the topic {TOPIC}: {type(e).__name__}: {e}") from None


def record_deployment(kafka: KafkaConnection, deployment: Deployment, replication: int = 1) -> None:
    doc = deployment.to_json()
    _write(kafka, [(f"job/{deployment.job_name}", doc), (f"id/{deployment.job_id}", doc)], replication)


def record_savepoint(kafka: KafkaConnection, location: str, job_id: str) -> None:
    taken = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    _write(kafka, [(f"savepoint/{location}", {"savepoint": location, "job_id": job_id, "taken_at": taken})])


def read_records(kafka: KafkaConnection, timeout_s: float = 20.0) -> dict[str, dict]:
    """Every key of the topic and its latest value (a tombstone removes the key); {} when there is no topic."""
    out: dict[str, dict] = {}
    for r in read_to_end(kafka, TOPIC, timeout_s):
        key = r.key.decode() if r.key else ""
        if r.value is None:
            out.pop(key, None)
        else:
            out[key] = json.loads(r.value)
    return out


class Deployments:
    """The topic's records, read once: look-ups by job name, job id and savepoint location."""

    def __init__(self, records: dict[str, dict]) -> None:
        self.records = records

    @classmethod
    def read(cls, kafka: KafkaConnection) -> Deployments:
        return cls(read_records(kafka))

    def _get(self, key: str) -> Deployment | None:
        doc = self.records.get(key)
        return Deployment.from_json(doc) if doc and doc.get("ontoc") == "deployment" else None

    def by_name(self, job_name: str) -> Deployment | None:
        return self._get(f"job/{job_name}")

    def by_job_id(self, job_id: str) -> Deployment | None:
        return self._get(f"id/{job_id.strip().lower()}")

    def for_savepoint(self, location: str) -> Deployment | None:
        """The deployment whose job wrote the savepoint (or retained checkpoint) at `location`."""
        wanted = location.rstrip("/")
        for key, doc in self.records.items():
            if key.startswith("savepoint/") and key[len("savepoint/") :].rstrip("/") in (wanted, _as_uri(wanted)):
                found = self.by_job_id(doc.get("job_id", ""))
                if found:
                    return found
        full = re.search(r"(?<![0-9a-f])([0-9a-f]{32})(?![0-9a-f])", wanted)
        if full and (found := self.by_job_id(full.group(1))):
            return found
        short = re.search(r"savepoint-([0-9a-f]{6})-", wanted)
        if short:
            ids = [k[3:] for k in self.records if k.startswith("id/") and k[3:].startswith(short.group(1))]
            if len(ids) == 1:
                return self.by_job_id(ids[0])
        return None


def _as_uri(location: str) -> str:
    return Path(location).resolve().as_uri() if location.startswith("/") else location


def describe_missing(location: str) -> str:
    return (
        f"no deployment record for the savepoint {location} in the topic {TOPIC}: ontoc cannot tell "
        "which version wrote it, so it cannot check that the new job can restore it"
    )


def package_manifest(deployment: Deployment) -> PackageManifest:
    """The deployment's manifest and SQL files as one side of the upgrade plan (`inspect/upgrade.py`)."""
    try:
        return PackageManifest(from_json(Manifest, deployment.manifest), dict(deployment.files))
    except ManifestError as e:
        raise UpgradeInputError(f"the deployment record of job {deployment.job_id} holds no manifest ({e})") from e


def deployed_label(deployment: Deployment) -> str:
    return (
        f"job {deployment.job_name} ({deployment.job_id}, {deployment.source()}, submitted {deployment.submitted_at})"
    )


def restore_plan(deployment: Deployment, files: dict[str, str], label: str) -> UpgradePlan:
    """The upgrade plan from what the savepoint's job ran to the compiled `files` (manifest.json and .sql)."""
    new = PackageManifest(from_json(Manifest, json.loads(files["manifest.json"])), dict(files))
    return upgrade_plan(
        Version(deployed_label(deployment), {"": package_manifest(deployment)}), Version(label, {"": new}), ""
    )


MINI_BATCH_JOIN_RESTORE = (
    "the job joins with mini-batch on, and in Flink 2.2 a mini-batch join whose restore fails "
    "(MiniBatchStreamingJoinOperator.open throws before it creates its buffers, and close() then "
    "throws a NullPointerException in the task's exception handler, which Flink treats as fatal) "
    'takes its TaskManager and every job on it down; set `mini_batch = "off"` in the job file of '
    "both versions, or start the new version without the savepoint"
)


def has_join(files: dict[str, str]) -> bool:
    """Whether a view of the compiled package (its manifest.json) has a regular join operator."""
    doc = json.loads(files["manifest.json"])
    return any(
        str(op.get("id", "")).startswith("join")
        for v in doc.get("views", [])
        for op in (v.get("state") or {}).get("operators", [])
    )


def refusals(plan: UpgradePlan, allow_non_restored: bool) -> list[str]:
    """Why the new job cannot restore the savepoint, one line per view; [] when it can."""
    out = []
    for v in plan.views:
        if v.verdict == "fresh-start":
            out.append(f"{v.view} -> {v.topic}: needs a fresh start: " + "; ".join(v.reasons))
        elif v.verdict == "stop" and not allow_non_restored:
            out.append(
                f"{v.view} -> {v.topic}: the view is gone and its state is in the savepoint: "
                "add --allow-non-restored-state to drop it"
            )
    return out


def deployed_version(packages: list[tuple[str, Path]], kafka: KafkaConnection, jobs_dir: Path) -> Version:
    """What runs now, per package: the latest record of each package's job (its job file's name)."""
    from ...job_settings import job_for_package

    recorded = Deployments.read(kafka)
    found: dict[str, PackageManifest] = {}
    labels = []
    for name, path in packages:
        job_name = job_for_package(name or path.name, jobs_dir).name
        deployment = recorded.by_name(job_name)
        if deployment is None:
            raise UpgradeInputError(f"no deployment of job {job_name} is recorded in the topic {TOPIC}")
        found[name] = package_manifest(deployment)
        labels.append(deployed_label(deployment))
    return Version("; ".join(labels), found)
