"""`ontoc explain`, `ontoc validate` and `ontoc plan`: what CI runs besides `ontoc compile --check`.

Exit codes, for all three: 0 success; 1 the command's own verdict is
negative (`validate`: the planner rejects a view; `plan --fail-on-fresh-start`:
a job needs a fresh start); 2 the input is wrong (compile errors, an unknown
view, an unreadable manifest, a bad git revision, bad usage). Errors are
diagnostics in ontoc's one format on stderr (a JSON list with `--format json`);
reports go to stdout.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

import click

from ..errors import Diagnostic, OntocError
from ..job_settings import DEFAULT_JOBS_DIR
from .cluster import _kafka, _kafka_options

FORMATS = click.Choice(["text", "json"])
DEFAULT_DEFINITIONS = Path("definitions")


def _fail(diagnostics: list[Diagnostic], fmt: str, header: str | None = None) -> NoReturn:
    if header and fmt != "json":
        click.echo(f"ontoc: {header}", err=True)
    click.echo(OntocError(diagnostics).render("json" if fmt == "json" else "full"), err=True)
    if fmt != "json":
        count = len(diagnostics)
        click.echo(f"ontoc: {count} error{'s' if count != 1 else ''}", err=True)
    sys.exit(2)


def _emit_json(doc: dict) -> None:
    click.echo(json.dumps(doc, indent=2))


def _definitions_argument(required: bool = False):
    return click.argument(
        "definitions",
        required=required,
        default=None if required else DEFAULT_DEFINITIONS,
        type=click.Path(exists=True, path_type=Path),
    )


@click.command()
@click.argument("view")
@_definitions_argument()
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option(
    "--only",
    "only",
    multiple=True,
    type=click.Choice(["ir", "sql", "lineage", "state"]),
    help="Print only these sections (text format; repeatable).",
)
def explain(view: str, definitions: Path, fmt: str, only: tuple[str, ...]) -> None:
    """Show VIEW's IR, SQL, column-level lineage and stateful operators.

    VIEW is a view class name or its sink topic (`package:View` when several
    packages of DEFINITIONS, default `definitions`, have one).
    """
    from ..inspect.explain import SECTIONS, explain_report, find_view, render_text
    from ..inspect.packages import compile_packages

    packages, diagnostics = compile_packages(definitions)
    found, problem = find_view(packages, view)
    if found is None:
        assert problem is not None  # find_view says why it found nothing
        _fail(diagnostics or [problem], fmt)
    if diagnostics and fmt != "json":
        click.echo(
            f"ontoc: note: {len(diagnostics)} compile error(s) in other packages (`ontoc compile` lists them)", err=True
        )
    report = explain_report(found)
    if fmt == "json":
        _emit_json(report)
    else:
        click.echo(render_text(report, only or SECTIONS), nl=False)


@click.command()
@_definitions_argument()
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--show-plan", is_flag=True, help="Also print Flink's optimized plan of every view (text format).")
def validate(definitions: Path, fmt: str, show_plan: bool) -> None:
    """Plan every emitted statement with Flink's own planner (no cluster needed).

    A view the planner rejects is mapped back to the getters responsible (each
    planned alone); exits 1 when any view fails.
    """
    from ..inspect.checks import run_checks, validate_report
    from ..inspect.packages import compile_packages

    packages, diagnostics = compile_packages(definitions)
    if diagnostics:
        _fail(diagnostics, fmt)
    results = run_checks(packages, progress=lambda m: click.echo(f"  {m}", err=True) if fmt == "text" else None)
    report, failures = validate_report(results)
    if fmt == "json":
        _emit_json(report)
    else:
        for pkg, check in results:
            name = f"{pkg.name + ':' if pkg.name else ''}{check.view} -> {check.topic}"
            click.echo(f"{'ok  ' if check.ok else 'FAIL'}  {name}")
            if show_plan and check.ok:
                click.echo(check.message.rstrip("\n"))
        if failures:
            click.echo(OntocError(failures).render("full"))
        bad = sum(1 for v in report["views"] if not v["ok"])
        click.echo(f"{len(report['views'])} view(s) planned by Flink: {len(report['views']) - bad} ok, {bad} failed")
    sys.exit(0 if report["ok"] else 1)


@click.command()
@_definitions_argument()
@click.option(
    "--against",
    "against",
    type=click.Path(exists=True, path_type=Path),
    help="The old version: a manifest.json, an output folder, or a folder of package output folders.",
)
@click.option(
    "--against-rev",
    "against_rev",
    metavar="GIT_REV",
    help="The old version: DEFINITIONS as of this git revision, compiled by this ontoc.",
)
@click.option(
    "--against-deployed",
    is_flag=True,
    help="The old version: what runs on the cluster, as `ontoc submit` recorded it (topic ontoc_deployments; "
    "the job of each package's job file in --jobs-dir).",
)
@click.option("--jobs-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_JOBS_DIR)
@_kafka_options
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--diff", is_flag=True, help="Print a unified diff of each changed .sql file (text format).")
@click.option("--changed-only", is_flag=True, help="Leave unchanged views out of the text.")
@click.option("--fail-on-fresh-start", is_flag=True, help="Exit 1 when a changed job needs a fresh start.")
def plan(
    definitions: Path,
    against: Path | None,
    against_rev: str | None,
    against_deployed: bool,
    jobs_dir: Path,
    bootstrap_servers: str,
    admin_bootstrap_servers: str | None,
    kafka_properties: tuple[str, ...],
    kafka_properties_file: Path | None,
    fmt: str,
    diff: bool,
    changed_only: bool,
    fail_on_fresh_start: bool,
) -> None:
    """What changed between DEFINITIONS and an old version, view by view and field by field.

    For every changed job it says whether the running job can be restored from
    a savepoint or needs a fresh start with a replay of its source topics.
    """
    from ..inspect.packages import Package, compile_packages
    from ..inspect.revision import RevisionError, checkout_definitions
    from ..inspect.upgrade import (
        UpgradeInputError,
        render_text,
        upgrade_report,
        version_from_packages,
        version_from_path,
    )
    from ..pipeline import definition_packages
    from ..runtime.cluster.deployments import deployed_version
    from ..runtime.cluster.errors import SubmitError

    if [against is not None, against_rev is not None, against_deployed].count(True) != 1:
        raise click.UsageError("give exactly one of --against PATH, --against-rev GIT_REV and --against-deployed")
    packages, diagnostics = compile_packages(definitions)
    if diagnostics:
        _fail(diagnostics, fmt)
    new = version_from_packages(packages, str(definitions))
    try:
        if against is not None:
            old = version_from_path(against)
        elif against_deployed:
            old = deployed_version(
                definition_packages(definitions),
                _kafka(bootstrap_servers, admin_bootstrap_servers, kafka_properties, kafka_properties_file),
                jobs_dir,
            )
        else:
            assert against_rev is not None  # exactly one of the three was given
            with tempfile.TemporaryDirectory(prefix="ontoc-plan-") as tmp:
                checkout = checkout_definitions(definitions, against_rev, Path(tmp))
                label = f"{definitions} at {against_rev} ({checkout.commit[:12]})"
                old_packages: list[Package] = []
                if checkout.definitions is not None:
                    with contextlib.chdir(checkout.cwd):
                        old_packages, old_diagnostics = compile_packages(checkout.definitions)
                    if old_diagnostics:
                        _fail(old_diagnostics, fmt, f"the definitions at {against_rev} do not compile:")
                old = version_from_packages(old_packages, label)
        report = upgrade_report(old, new, definitions.resolve().name)
    except (UpgradeInputError, RevisionError, SubmitError) as exc:
        code = "bad-revision" if isinstance(exc, RevisionError) else "bad-manifest"
        _fail([Diagnostic(code, str(exc), None)], fmt)
    if fmt == "json":
        _emit_json(report)
    else:
        click.echo(render_text(report, show_unchanged=not changed_only, diff=diff), nl=False)
    sys.exit(1 if fail_on_fresh_start and report["summary"]["fresh_start"] else 0)
