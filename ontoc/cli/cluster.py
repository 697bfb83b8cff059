"""`ontoc submit` and `ontoc jobs list|cancel|savepoint`: views as Flink jobs on a cluster.

The main CLI adds them with `cli.add_command(submit)` and `cli.add_command(jobs)`.
Configuration (never hard-coded, never in a job file):

    --cluster             / ONTOC_FLINK_REST              Flink REST address
    --bootstrap-servers   / ONTOC_KAFKA_BOOTSTRAP         Kafka bootstrap servers (as the TaskManagers see them)
    --admin-bootstrap-servers / ONTOC_KAFKA_ADMIN_BOOTSTRAP  ... as ontoc sees them, to create topics
    --kafka-property k=v  (repeatable)                    Kafka client properties (security, ...)
    --kafka-properties-file / ONTOC_KAFKA_PROPERTIES_FILE a Java .properties file of them
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn

import click

from ..devenv.services import DEFAULT_KAFKA_PORT, HOST
from ..job_settings import DEFAULT_JOBS_DIR, JobFileError
from ..runtime.cluster.rest import DEFAULT_URL, FlinkRest, FlinkRestError
from ..secrets import redact

DEFAULT_BOOTSTRAP = f"{HOST}:{DEFAULT_KAFKA_PORT}"  # `ontoc dev up`

_CLUSTER = click.option(
    "--cluster",
    envvar="ONTOC_FLINK_REST",
    default=DEFAULT_URL,
    show_default=True,
    metavar="URL",
    help="Flink REST address (env ONTOC_FLINK_REST).",
)

_KAFKA_OPTIONS = [
    click.option(
        "--bootstrap-servers",
        envvar="ONTOC_KAFKA_BOOTSTRAP",
        default=DEFAULT_BOOTSTRAP,
        show_default=True,
        metavar="HOST:PORT[,...]",
        help="Kafka bootstrap servers, as the cluster's TaskManagers reach them (env ONTOC_KAFKA_BOOTSTRAP).",
    ),
    click.option(
        "--admin-bootstrap-servers",
        envvar="ONTOC_KAFKA_ADMIN_BOOTSTRAP",
        default=None,
        metavar="HOST:PORT[,...]",
        help="Where ontoc itself reaches Kafka to create topics, if not at --bootstrap-servers "
        "(docker-compose: localhost:9092, while the TaskManagers use kafka:19092; "
        "env ONTOC_KAFKA_ADMIN_BOOTSTRAP).",
    ),
    click.option(
        "--kafka-property",
        "kafka_properties",
        multiple=True,
        metavar="KEY=VALUE",
        help="A Kafka client property for every source and sink, e.g. security.protocol=SASL_SSL (repeatable).",
    ),
    click.option(
        "--kafka-properties-file",
        envvar="ONTOC_KAFKA_PROPERTIES_FILE",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="A Java .properties file of Kafka client properties (env ONTOC_KAFKA_PROPERTIES_FILE; a malformed "
        "line exits 2, naming its number); the values of properties named *password*, *secret*, *token* or "
        "*jaas* are masked in everything ontoc prints; --kafka-property wins over it.",
    ),
]


def _kafka_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--bootstrap-servers, --admin-bootstrap-servers, --kafka-property, --kafka-properties-file."""
    for option in reversed(_KAFKA_OPTIONS):
        fn = option(fn)
    return fn


def _kafka(
    bootstrap_servers: str,
    admin_bootstrap_servers: str | None,
    kafka_properties: tuple[str, ...],
    kafka_properties_file: Path | None,
) -> Any:
    from ..runtime.cluster.kafka import KafkaConnection, parse_properties

    return KafkaConnection(
        bootstrap_servers.strip(),
        parse_properties(kafka_properties, kafka_properties_file),
        admin_bootstrap_servers.strip() if admin_bootstrap_servers else None,
    )


def _fail_cleanly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Failures are one `error:` line on stderr: exit 2 for bad input, 1 for the cluster's refusal.
    Secret Kafka properties are masked in every message (`ontoc.secrets.redact`)."""
    from ..errors import OntocError
    from ..runtime.cluster.errors import SubmitError
    from ..runtime.cluster.kafka import KafkaPropertiesError

    def fail(text: str, code: int) -> NoReturn:
        click.echo(redact(text), err=True)
        sys.exit(code)

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        verbose = kwargs.get("verbose", False)
        try:
            return fn(*args, **kwargs)
        except OntocError as e:
            fail(e.render("full"), 2)
        except (JobFileError, KafkaPropertiesError) as e:
            fail(f"error: {e}", 2)
        except SubmitError as e:
            if verbose and e.details:
                click.echo(redact(e.details), err=True)
            fail(f"error: {e}", 1)
        except FlinkRestError as e:
            fail(f"error: {e}", 1)
        except KeyboardInterrupt:
            fail("error: interrupted", 130)

    return wrapper


# --------------------------------------------------------------------------
# ontoc submit


@click.command("submit")
@click.argument("definitions", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--job",
    "job_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Job settings (TOML)  [default: JOBS_DIR/<package>.toml if it exists, else defaults]",
)
@click.option(
    "--jobs-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_JOBS_DIR,
    show_default=True,
    help="Where the packages' job files are.",
)
@_CLUSTER
@_kafka_options
@click.option(
    "--from-savepoint",
    "savepoint",
    default=None,
    metavar="PATH",
    help="Start from this savepoint or retained checkpoint.",
)
@click.option(
    "--allow-non-restored-state",
    is_flag=True,
    help="With --from-savepoint: skip state that no operator of the new job claims.",
)
@click.option(
    "--force",
    is_flag=True,
    help="With --from-savepoint: restore even when the savepoint's recorded version needs a fresh start "
    "(or has no record): Flink then refuses the state, or restores it wrongly.",
)
@click.option(
    "--record/--no-record",
    default=True,
    show_default=True,
    help="Record the deployment (manifest, ontoc version, git revision) in the topic ontoc_deployments.",
)
@click.option(
    "--wait",
    "wait_s",
    type=float,
    default=90.0,
    show_default=True,
    help="Seconds to wait until the job's tasks run (0: return once it is accepted).",
)
@click.option(
    "--static-methods",
    type=click.Choice(["inline", "udf"]),
    default="inline",
    show_default=True,
    help="How static methods run (see `ontoc compile --help`).",
)
@click.option("--dry-run", is_flag=True, help="Print the job's settings and SQL; contact nothing.")
@click.option("-v", "--verbose", is_flag=True, help="On failure, also print Flink's Java stack trace.")
@_fail_cleanly
def submit(
    definitions: Path,
    job_file: Path | None,
    jobs_dir: Path,
    cluster: str,
    bootstrap_servers: str,
    admin_bootstrap_servers: str | None,
    kafka_properties: tuple[str, ...],
    kafka_properties_file: Path | None,
    savepoint: str | None,
    allow_non_restored_state: bool,
    force: bool,
    record: bool,
    wait_s: float,
    static_methods: str,
    dry_run: bool,
    verbose: bool,
) -> None:
    """Run the views of DEFINITIONS as a Flink job on a cluster (one job per definitions package).

    Every view of a package goes into ONE statement set, so the job reads each source
    topic once. Source events that are not valid (spec section 1) are skipped, counted
    in the metric `ontoc_invalid_events` and written to the job's invalid-events topic.

    The deployment is recorded in the compacted topic `ontoc_deployments` (docs/runtime.md).
    With --from-savepoint, the savepoint's recorded version is compared with DEFINITIONS
    first (`ontoc plan`): a restore that needs a fresh start is refused (exit 2) unless --force.
    """
    from ..backend.flink.job import build_job
    from ..job_settings import job_for_package, load_job
    from ..pipeline import compile_definitions, definition_packages
    from ..runtime.cluster.errors import SubmitError
    from ..runtime.cluster.submit import submit as submit_job

    packages = definition_packages(definitions)
    if not packages:
        raise click.UsageError(f"no definitions packages under {definitions}")
    if job_file is not None and len(packages) > 1:
        raise click.UsageError(
            f"--job names one job, but {definitions} holds {len(packages)} packages; "
            f"submit one package at a time or use --jobs-dir"
        )
    if allow_non_restored_state and not savepoint:
        raise click.UsageError("--allow-non-restored-state goes with --from-savepoint")
    if force and not savepoint:
        raise click.UsageError("--force goes with --from-savepoint")
    kafka = _kafka(bootstrap_servers, admin_bootstrap_servers, kafka_properties, kafka_properties_file)

    for name, path in packages:
        package = name or path.name
        job = load_job(job_file, package) if job_file else job_for_package(package, jobs_dir)
        compiled = compile_definitions(path, static_methods)
        if not compiled.plans:
            raise SubmitError("the definitions hold no view model: there is nothing to submit")
        spec = build_job(compiled.plans, compiled.schema.models, job, kafka.options())
        if dry_run:
            click.echo(spec.sql_text())
            continue
        click.echo(f"{package}: {job.describe()} ({job.source})")
        if savepoint:
            mini_batch = dict(spec.table_options).get("table.exec.mini-batch.enabled") == "true"
            _check_restore(kafka, savepoint, compiled.files, str(path), allow_non_restored_state, force, mini_batch)
        done = submit_job(
            compiled,
            spec,
            cluster,
            kafka,
            savepoint=savepoint,
            allow_non_restored=allow_non_restored_state,
            wait_s=wait_s,
            progress=lambda m: click.echo(redact(f"  {m}")),
        )
        click.echo(f"submitted job {done.job_id} ({done.name}) to {done.cluster}: {done.state} ({done.seconds:.1f}s)")
        if record:
            _record(kafka, done.job_id, job, package, done.cluster, path, compiled.files, savepoint)
        click.echo(f"  views: {', '.join(spec.view_topics)}  <-  {', '.join(spec.source_topics)}")
        where = f"topic {spec.invalid_topic} and " if spec.invalid_topic else ""
        click.echo(f"  invalid events: skipped, counted in {where}the metric ontoc_invalid_events (`ontoc jobs list`)")
        click.echo(
            f"  stop it: ontoc jobs cancel {done.job_id}   (or `ontoc jobs savepoint "
            f"{done.job_id} --cancel` to resume later with --from-savepoint)"
        )


def _check_restore(
    kafka: Any,
    savepoint: str,
    files: dict[str, str],
    label: str,
    allow_non_restored: bool,
    force: bool,
    mini_batch: bool,
) -> None:
    """Refuse (exit 2) a restore the upgrade plan says cannot work, unless --force; with a mini-batch
    join even --force is refused, because the failed restore would take the TaskManager down."""
    from ..runtime.cluster import deployments as d

    found = d.Deployments.read(kafka).for_savepoint(savepoint)
    if found is None:
        click.echo(f"{'warning' if force else 'error'}: {d.describe_missing(savepoint)}", err=True)
        if not force:
            click.echo("  add --force to restore it all the same", err=True)
            sys.exit(2)
        return
    plan = d.restore_plan(found, files, label)
    reasons = d.refusals(plan, allow_non_restored)
    click.echo(f"  the savepoint holds the state of {d.deployed_label(found)}")
    if not reasons:
        verdicts = sorted({v.verdict for v in plan.views})
        click.echo(f"  upgrade plan against it: {', '.join(verdicts)}: the new job can restore it")
        return
    fatal = mini_batch and d.has_join(files)
    click.echo(f"{'warning' if force and not fatal else 'error'}: the new job cannot restore this savepoint:", err=True)
    for r in reasons:
        click.echo(f"  {r}", err=True)
    if force and fatal:
        click.echo(f"  --force cannot be honoured: {d.MINI_BATCH_JOIN_RESTORE}", err=True)
        sys.exit(2)
    if not force:
        click.echo(
            "  start it without the savepoint (a fresh start replays the source topics), "
            "or add --force to try all the same",
            err=True,
        )
        sys.exit(2)


def _record(
    kafka: Any,
    job_id: str,
    job: Any,
    package: str,
    cluster: str,
    definitions: Path,
    files: dict[str, str],
    savepoint: str | None,
) -> None:
    """Record the deployment; a failure to record is a warning (the job runs)."""
    from ..runtime.cluster import deployments as d
    from ..runtime.cluster.errors import SubmitError

    deployment = d.new_deployment(
        job.name, job_id, package, cluster, definitions, files, savepoint, settings=dataclasses.asdict(job)
    )
    try:
        d.record_deployment(kafka, deployment, job.topic_replication)
    except SubmitError as e:
        click.echo(f"warning: the deployment was not recorded: {e}", err=True)
        return
    click.echo(f"  recorded in topic {d.TOPIC}: {deployment.source()}")


# --------------------------------------------------------------------------
# ontoc deploy


@click.command("deploy")
@click.argument("definitions", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--job", "job_file", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Job settings (TOML)."
)
@click.option(
    "--jobs-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_JOBS_DIR,
    show_default=True,
    help="Where the packages' job files are.",
)
@_CLUSTER
@_kafka_options
@click.option("--savepoint-dir", default=None, metavar="DIR", help="Where the savepoints go (a path or URI).")
@click.option("--wait", "wait_s", type=float, default=90.0, show_default=True, help="Seconds a new job gets to run.")
@click.option(
    "--catch-up",
    "catch_up_s",
    type=float,
    default=600.0,
    show_default=True,
    help="Seconds a fresh start gets to read its sources up to their end offsets.",
)
@click.option("--delete-removed", is_flag=True, help="Delete the topics of views the new version removes.")
@click.option("--dry-run", is_flag=True, help="Print the steps; change nothing.")
@click.option("-v", "--verbose", is_flag=True, help="On failure, also print Flink's Java stack trace.")
@_fail_cleanly
def deploy(
    definitions: Path,
    job_file: Path | None,
    jobs_dir: Path,
    cluster: str,
    bootstrap_servers: str,
    admin_bootstrap_servers: str | None,
    kafka_properties: tuple[str, ...],
    kafka_properties_file: Path | None,
    savepoint_dir: str | None,
    wait_s: float,
    catch_up_s: float,
    delete_removed: bool,
    dry_run: bool,
    verbose: bool,
) -> None:
    """Upgrade the running job of each package of DEFINITIONS to them, step by step (docs/runtime.md).

    The upgrade plan from the running job's record decides: nothing to do; stop with a savepoint and
    start the new version from it; or a fresh start: recompute the views in a staging job beside the
    running one, then switch the view topics to its rows (stale keys tombstoned). A new version that
    does not start is rolled back to the previous one (exit 1); a job the cluster has too few free
    task slots for is refused before anything changes (exit 2). Ends with what runs now.
    """
    from ..backend.flink.job import build_job
    from ..job_settings import job_for_package, load_job
    from ..pipeline import compile_definitions, definition_packages
    from ..runtime.cluster.deploy import Deployer, Refused, RolledBack

    packages = definition_packages(definitions)
    if not packages:
        raise click.UsageError(f"no definitions packages under {definitions}")
    if job_file is not None and len(packages) > 1:
        raise click.UsageError(f"--job names one job, but {definitions} holds {len(packages)} packages")
    if savepoint_dir and "://" not in savepoint_dir:
        savepoint_dir = Path(savepoint_dir).expanduser().resolve().as_uri()
    kafka = _kafka(bootstrap_servers, admin_bootstrap_servers, kafka_properties, kafka_properties_file)
    deployer = Deployer(
        cluster, kafka, lambda m: click.echo(m), dry_run, savepoint_dir, wait_s, delete_removed, catch_up_s
    )
    failed = refused = 0
    for name, path in packages:
        package = name or path.name
        job = load_job(job_file, package) if job_file else job_for_package(package, jobs_dir)
        compiled = compile_definitions(path)
        spec = build_job(compiled.plans, compiled.schema.models, job, kafka.options())
        click.echo(f"{package}: deploying {path} as job {job.name}")
        try:
            outcome = deployer.deploy(package, path, compiled, spec)
        except RolledBack as e:
            click.echo(f"error: {e}", err=True)
            failed += 1
            continue
        except Refused as e:
            click.echo(f"error: {package}: {e}", err=True)
            refused += 1
            continue
        click.echo(f"{package}: {outcome.what}; now running: {outcome.job_id or '-'} ({job.name})")
    if failed or refused:
        sys.exit(1 if failed else 2)


# --------------------------------------------------------------------------
# ontoc jobs


@click.group("jobs")
def jobs() -> None:
    """Flink jobs on the cluster: list, cancel, savepoint (through Flink's REST API)."""


def _duration(ms: int | None) -> str:
    if ms is None or ms < 0:
        return "-"
    s = ms // 1000
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


@jobs.command("list")
@_CLUSTER
@_kafka_options
@click.option("--all", "show_all", is_flag=True, help="Also finished, failed and cancelled jobs.")
@_fail_cleanly
def list_cmd(
    cluster: str,
    bootstrap_servers: str,
    admin_bootstrap_servers: str | None,
    kafka_properties: tuple[str, ...],
    kafka_properties_file: Path | None,
    show_all: bool,
) -> None:
    """Jobs on the cluster, newest first, with their invalid-event counts and recorded versions."""
    from ..event_validation import METRIC_NAME
    from ..runtime.cluster.deployments import Deployments
    from ..runtime.cluster.errors import SubmitError

    rest = FlinkRest(cluster)
    rows = [j for j in rest.jobs() if show_all or j.get("state") not in ("FINISHED", "FAILED", "CANCELED")]
    if not rows:
        click.echo(f"no {'' if show_all else 'running '}jobs on {rest.base}")
        return
    kafka = _kafka(bootstrap_servers, admin_bootstrap_servers, kafka_properties, kafka_properties_file)
    try:
        recorded = Deployments.read(kafka)
    except SubmitError as e:
        click.echo(f"warning: the deployment records cannot be read: {e}", err=True)
        recorded = Deployments({})
    click.echo(f"{'JOB ID':<32}  {'STATE':<11}  {'STARTED':<19}  {'UPTIME':>8}  {'INVALID':>7}  NAME  (DEPLOYED FROM)")
    for j in rows:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(j.get("start-time", 0) / 1000))
        invalid = None
        deployment = recorded.by_job_id(j["jid"])
        if j.get("state") == "RUNNING":
            try:
                invalid = rest.operator_metric_total(j["jid"], METRIC_NAME)
            except FlinkRestError:
                invalid = None
        click.echo(
            f"{j['jid']:<32}  {j.get('state', '?'):<11}  {started:<19}  "
            f"{_duration(j.get('duration')):>8}  {'-' if invalid is None else invalid:>7}  "
            f"{j.get('name', '')}  ({deployment.source() if deployment else 'no record'})"
        )


@jobs.command("cancel")
@click.argument("job_id")
@_CLUSTER
@_fail_cleanly
def cancel_cmd(job_id: str, cluster: str) -> None:
    """Cancel JOB_ID (its last checkpoint is kept: resume with `ontoc submit --from-savepoint`)."""
    rest = FlinkRest(cluster)
    rest.cancel(job_id)
    state = rest.wait_for_state(job_id, {"CANCELED"}, timeout=30)
    click.echo(f"job {job_id.strip().lower()}: {state.lower() if state == 'CANCELED' else 'cancelling'}")


@jobs.command("savepoint")
@click.argument("job_id")
@click.option(
    "--dir",
    "target_dir",
    default=None,
    metavar="DIR",
    help="Where to write it (a path or URI the JobManager can write)  "
    "[default: the cluster's execution.checkpointing.savepoint-dir]",
)
@click.option("--cancel", "cancel_job", is_flag=True, help="Cancel the job once the savepoint is written.")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait for it.")
@_CLUSTER
@_kafka_options
@_fail_cleanly
def savepoint_cmd(
    job_id: str,
    target_dir: str | None,
    cancel_job: bool,
    timeout: float,
    cluster: str,
    bootstrap_servers: str,
    admin_bootstrap_servers: str | None,
    kafka_properties: tuple[str, ...],
    kafka_properties_file: Path | None,
) -> None:
    """Write a savepoint of JOB_ID and print its location (recorded in the topic ontoc_deployments)."""
    from ..runtime.cluster.deployments import record_savepoint
    from ..runtime.cluster.errors import SubmitError

    if target_dir and "://" not in target_dir:
        target_dir = Path(target_dir).expanduser().resolve().as_uri()
    rest = FlinkRest(cluster)
    location = rest.savepoint(job_id, target_dir, cancel_job=cancel_job, timeout=timeout)
    click.echo(f"savepoint of job {job_id.strip().lower()}: {location}")
    try:
        record_savepoint(
            _kafka(bootstrap_servers, admin_bootstrap_servers, kafka_properties, kafka_properties_file),
            location,
            job_id.strip().lower(),
        )
    except SubmitError as e:
        click.echo(f"warning: the savepoint was not recorded: {e}", err=True)
    if cancel_job:
        click.echo(f"the job was cancelled; resume with `ontoc submit DEFINITIONS --from-savepoint {location}`")
