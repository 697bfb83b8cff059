"""The `ontoc` command line."""

from __future__ import annotations

import gc
import importlib
import sys
from pathlib import Path

import click

from ..errors import OntocError
from ..paths import inside


def _fail_on_diagnostics(exc: OntocError, fmt: str) -> None:
    click.echo(exc.render(fmt), err=True)
    count = len(exc.diagnostics)
    if fmt != "json":
        click.echo(f"ontoc: {count} error{'s' if count != 1 else ''}", err=True)
    sys.exit(2)


# Commands imported when they are invoked (or listed by --help): `submit`, `jobs` and `dev` pull in
# the cluster client and the dev environment, which `ontoc compile` does not need (about a third
# of its start-up on a loaded 2-core machine, `python -X importtime`).
_LAZY_COMMANDS = {
    "dev": ("ontoc.cli.dev", "dev"),
    "submit": ("ontoc.cli.cluster", "submit"),
    "jobs": ("ontoc.cli.cluster", "jobs"),
    "deploy": ("ontoc.cli.cluster", "deploy"),
    "explain": ("ontoc.cli.inspect", "explain"),
    "validate": ("ontoc.cli.inspect", "validate"),
    "plan": ("ontoc.cli.inspect", "plan"),
}


class _LazyGroup(click.Group):
    """A group whose other modules' commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY_COMMANDS and cmd_name not in self.commands:
            module, attribute = _LAZY_COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup)
@click.version_option(package_name="ontoc")
def cli() -> None:
    """Compile Python view models to Flink SQL and run them."""


@cli.command()
@click.argument("definitions", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("generated"),
    show_default=True,
    help="Folder for the .sql files and manifest.json.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the output folder is stale.")
@click.option("--diff", is_flag=True, help="With --check, print a unified diff of stale files.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["full", "concise", "json"]),
    default="full",
    show_default=True,
    help="Format of diagnostics.",
)
@click.option(
    "--static-methods",
    type=click.Choice(["inline", "udf"]),
    default="inline",
    show_default=True,
    help="inline: translate static methods to SQL where their body allows (faster), else run them as "
    "Python UDFs; udf: run every one as a Python UDF.",
)
@click.option("-v", "--verbose", is_flag=True, help="List every file written.")
def compile(
    definitions: Path, output: Path, check: bool, diff: bool, fmt: str, static_methods: str, verbose: bool
) -> None:
    """Compile DEFINITIONS into Flink SQL files under --output.

    DEFINITIONS is one definitions package, or a folder of packages (each
    compiled into a sub-folder of --output named after it).
    """
    from ..pipeline import check_output_folder, compile_definitions, definition_packages, stale_files, write_files

    packages = definition_packages(definitions)
    if not packages:
        click.echo(f"ontoc: no definitions packages under {definitions}", err=True)
        sys.exit(2)
    compiled_all, diagnostics = [], []
    for name, path in packages:
        try:
            compiled_all.append((output / name if name else output, compile_definitions(path, static_methods)))
        except OntocError as exc:
            diagnostics.extend(exc.diagnostics)
    # what the compile built lives until this process exits: moved out of the collector's reach, it is not
    # scanned again by the collections that writing the files would trigger, nor at exit (a long-lived
    # caller of compile_definitions must not do this: the cycles a compile leaves would never be freed)
    gc.freeze()
    if diagnostics:
        _fail_on_diagnostics(OntocError(diagnostics), fmt)
    warnings = [w for _, compiled in compiled_all for w in compiled.warnings]
    if warnings:
        click.echo(OntocError(warnings).render(fmt), err=True)
    if check:
        try:
            stale = [(out, n) for out, compiled in compiled_all for n in stale_files(compiled, out)]
        except OntocError as exc:
            _fail_on_diagnostics(exc, fmt)
        if not stale:
            click.echo(f"{output}: up to date ({sum(len(c.plans) for _, c in compiled_all)} views)")
            return
        for out, name in stale:
            click.echo(f"stale: {out / name}")
            if diff:
                import difflib

                compiled = dict((str(o), c) for o, c in compiled_all)[str(out)]
                path = out / name
                old = path.read_text(encoding="utf-8", errors="replace").splitlines(True) if path.is_file() else []
                new = compiled.files.get(name, "").splitlines(True)
                click.echo("".join(difflib.unified_diff(old, new, f"{out / name}", f"{out / name} (compiled)")))
        click.echo(f"{len(stale)} file(s) differ; run `ontoc compile {definitions} -o {output}`", err=True)
        sys.exit(1)
    try:
        for out, compiled in compiled_all:  # every folder checked before any is written
            check_output_folder(compiled, out)
        written = [(out, compiled, write_files(compiled, out)) for out, compiled in compiled_all]
    except OntocError as exc:
        _fail_on_diagnostics(exc, fmt)
    for out, compiled, names in written:
        listed = f": {', '.join(names)}" if verbose or len(names) <= _LISTED_FILES else ""
        click.echo(
            f"compiled {len(compiled.plans)} view(s) in {compiled.seconds * 1000:.1f} ms; "
            f"wrote {len(names)} file(s) to {out}/{listed}"
        )


_LISTED_FILES = 8  # more than this many files written are only counted, unless --verbose


@cli.command()
@click.argument("definitions", type=click.Path(exists=True, path_type=Path))
@click.option("--local", is_flag=True, required=True, help="Run on an embedded Flink (the only mode of `run`).")
@click.option(
    "--input",
    "input_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Folder of <topic>.jsonl change events.",
)
@click.option(
    "--output",
    "output_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for <view topic>.jsonl final view states.",
)
@click.option("--print/--no-print", "show", default=False, help="Also print the resulting views.")
@click.option(
    "--static-methods",
    type=click.Choice(["inline", "udf"]),
    default="inline",
    show_default=True,
    help="How static methods run (see `ontoc compile --help`).",
)
def run(definitions: Path, local: bool, input_dir: Path, output_dir: Path, show: bool, static_methods: str) -> None:
    """Run the views of DEFINITIONS over change events on an embedded Flink."""
    from ..pipeline import compile_definitions
    from ..runtime.embedded.compiled import run_folder
    from ..runtime.java_errors import LocalRunError

    try:
        compiled = compile_definitions(definitions, static_methods)
    except OntocError as exc:
        _fail_on_diagnostics(exc, "full")
    click.echo(f"compiled {len(compiled.plans)} view(s) in {compiled.seconds * 1000:.1f} ms")
    try:
        result = run_folder(compiled, input_dir, output_dir, progress=lambda m: click.echo(f"  {m}", err=True))
    except LocalRunError as exc:
        click.echo(f"ontoc: the embedded Flink job failed: {exc}", err=True)
        sys.exit(1)
    for topic, rows in sorted(result.views.items()):
        path = inside(output_dir, f"{topic}.jsonl")
        click.echo(f"{path}: {len(rows)} row(s)")
        if show:
            for line in path.read_text(encoding="utf-8").splitlines():
                click.echo(f"  {line}")
    if result.invalid:
        click.echo(f"{len(result.invalid)} invalid event(s) skipped (listed above)")


def main() -> None:
    cli()
