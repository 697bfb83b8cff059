"""`ontoc dev up|down|status`: the local Kafka broker and Flink cluster.

The main CLI adds this group with `cli.add_command(dev)`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from ontoc.devenv import services
from ontoc.jvm.jars import JarsError

_STATE_DIR = click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default=str(services.DEFAULT_STATE_DIR),
    show_default=True,
    envvar="ONTOC_STATE_DIR",
    help="Folder for the services' config, data, logs and pid files.",
)


def _progress(msg: str) -> None:
    click.echo(msg)


def _fail_cleanly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A failure is one line on stderr and exit 1 (a log tail may precede it)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (services.ServiceError, JarsError) as e:
            lines = str(e).splitlines() or [type(e).__name__]
            details = getattr(e, "details", "") or "\n".join(lines[1:])
            if details:
                click.echo(details, err=True)
            click.echo(f"error: {lines[0]}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)

    return wrapper


@click.group("dev")
def dev() -> None:
    """Local Kafka broker and Flink cluster, on 127.0.0.1 only."""


@dev.command("up")
@_STATE_DIR
@click.option(
    "--kafka-port", type=int, default=services.DEFAULT_KAFKA_PORT, show_default=True, help="Kafka listener port."
)
@click.option(
    "--flink-port", type=int, default=services.DEFAULT_FLINK_PORT, show_default=True, help="Flink REST / web UI port."
)
@click.option(
    "--kafka-controller-port", type=int, default=None, help="Kafka KRaft controller port  [default: kafka port + 1]"
)
@click.option(
    "--flink-rpc-port",
    type=int,
    default=services.DEFAULT_FLINK_RPC_PORT,
    show_default=True,
    help="Flink JobManager RPC port.",
)
@click.option("--timeout", type=float, default=None, help="Seconds to wait for each service to answer.")
@_fail_cleanly
def up_cmd(
    state_dir: str,
    kafka_port: int,
    flink_port: int,
    kafka_controller_port: int | None,
    flink_rpc_port: int,
    timeout: float | None,
) -> None:
    """Start Kafka and Flink (whatever is not running) and wait until they answer."""
    st = services.up(
        state_dir,
        kafka_port=kafka_port,
        flink_port=flink_port,
        progress=_progress,
        kafka_controller_port=kafka_controller_port,
        flink_rpc_port=flink_rpc_port,
        timeout=timeout,
    )
    _print_status(st)


@dev.command("down")
@_STATE_DIR
@_fail_cleanly
def down_cmd(state_dir: str) -> None:
    """Stop Flink and Kafka (gracefully, then killed after a grace period)."""
    services.down(state_dir, progress=_progress)


@dev.command("status")
@_STATE_DIR
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@_fail_cleanly
def status_cmd(state_dir: str, as_json: bool) -> None:
    """Show each service: running/stopped, pid, address."""
    st = services.status(state_dir)
    if as_json:
        click.echo(json.dumps(st, indent=2))
    else:
        _print_status(st)


def _print_status(st: dict) -> None:
    click.echo(f"state: {st['state_dir']}")
    for name in services.SERVICES:
        s = st[name]
        parts = [f"{name:<12}", f"{s['status']:<8}"]
        if s["pid"]:
            parts.append(f"pid {s['pid']}")
        if s["address"]:
            parts.append(s["address"])
        if s["rss_mb"] is not None:
            parts.append(f"rss {s['rss_mb']:.0f} MiB")
        click.echo("  ".join(parts))
        if s.get("restarts"):
            last = s["restarts"][-1]
            click.echo(
                f"{'':<12}  died and was restarted by `ontoc dev up` {len(s['restarts'])} time(s); "
                f"last at {last['restarted_at']} (pid {last['died_pid']} -> {last['new_pid']})"
            )
