"""The state folder of the local services: where each file lives, the processes found through their pid
files (a pid only counts when its command line names this state folder), and their logs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
DEFAULT_STATE_DIR = Path(".state")


class ServiceError(RuntimeError):
    """A service could not be started or stopped.

    `str(err)` is one line; `details` holds the log tail, if any.
    """

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


# --------------------------------------------------------------------------
# Layout


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def kafka(self) -> Path:
        return self.root / "kafka"

    @property
    def kafka_data(self) -> Path:
        return self.kafka / "data"

    @property
    def kafka_logs(self) -> Path:
        return self.kafka / "logs"

    @property
    def kafka_props(self) -> Path:
        return self.kafka / "server.properties"

    @property
    def kafka_log4j(self) -> Path:
        return self.kafka / "log4j2.properties"

    @property
    def flink(self) -> Path:
        return self.root / "flink"

    @property
    def flink_conf(self) -> Path:
        return self.flink / "conf"

    @property
    def flink_lib(self) -> Path:
        return self.flink / "lib"

    @property
    def flink_log(self) -> Path:
        return self.flink / "log"

    @property
    def flink_tmp(self) -> Path:
        return self.flink / "tmp"

    @property
    def flink_run(self) -> Path:
        return self.flink / "run"

    def pid_file(self, service: str) -> Path:
        return self._dir(service) / f"{service}.pid"

    def info_file(self, service: str) -> Path:
        return self._dir(service) / f"{service}.json"

    def launcher_out(self, service: str) -> Path:
        """stdout/stderr of the launched command (Kafka's console; Flink's scripts)."""
        logs = self.kafka_logs if service == "kafka" else self.flink_log
        return logs / f"{service}.out"

    def marker(self, service: str) -> str:
        """A string found in the service's command line, and in no other's."""
        return str(self.kafka_props) if service == "kafka" else f"io.tmp.dirs={self.flink_tmp}"

    def _dir(self, service: str) -> Path:
        return self.kafka if service == "kafka" else self.flink


SERVICES = ("kafka", "jobmanager", "taskmanager")


def layout(state_dir: Path | str | None) -> Layout:
    return Layout(Path(state_dir if state_dir is not None else DEFAULT_STATE_DIR).resolve())


# --------------------------------------------------------------------------
# Processes and pid files


def spawn(cmd: list[str], out: Path, env: dict[str, str], cwd: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "ab") as f:
        f.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n".encode())
        f.flush()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=f,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
    return proc.pid


def write_pid(lay: Layout, service: str, pid: int, info: dict) -> None:
    lay.pid_file(service).write_text(f"{pid}\n")
    lay.info_file(service).write_text(json.dumps({"pid": pid, "started_at": time.time(), **info}, indent=2) + "\n")


def read_pid(lay: Layout, service: str) -> int | None:
    try:
        return int(lay.pid_file(service).read_text().strip())
    except (OSError, ValueError):
        return None


def read_info(lay: Layout, service: str) -> dict:
    try:
        return json.loads(lay.info_file(service).read_text())
    except (OSError, ValueError):
        return {}


def clear_pid(lay: Layout, service: str) -> None:
    lay.pid_file(service).unlink(missing_ok=True)


def running_pid(lay: Layout, service: str) -> int | None:
    pid = read_pid(lay, service)
    if pid and alive(pid):
        cmd = cmdline(pid)
        if lay.marker(service) in cmd and any(t in cmd for t in _TOKENS[service]):
            return pid
    return None


# Before `exec` the Flink process is bash running the script; after, java.
_TOKENS = {
    "kafka": ("kafka.Kafka",),
    "jobmanager": ("jobmanager.sh", "StandaloneSessionClusterEntrypoint"),
    "taskmanager": ("taskmanager.sh", "TaskManagerRunner"),
}


def alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def send_signal(pid: int, sig: int, group: bool = False) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group and os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return not alive(pid)


def stop_pid(pid: int, grace: float, already_signalled: bool = False) -> str:
    """SIGTERM, wait `grace` seconds, then SIGKILL the process group."""
    if not already_signalled:
        send_signal(pid, signal.SIGTERM)
    if wait_dead(pid, grace):
        how = "stopped"
    else:
        send_signal(pid, signal.SIGKILL, group=True)
        wait_dead(pid, 10.0)
        how = "killed"
    # Leftover children in its group (e.g. Python UDF workers).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    return how


def check_alive(lay: Layout, service: str) -> None:
    pid = read_pid(lay, service)
    if pid and not alive(pid):
        raise ServiceError(f"{service} exited during startup (pid {pid})", log_tail(lay, service))


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def addr_suffix(lay: Layout, service: str) -> str:
    info = read_info(lay, service)
    if service == "kafka" and "port" in info:
        return f", {HOST}:{info['port']}"
    if service == "jobmanager" and "port" in info:
        return f", http://{HOST}:{info['port']}"
    return ""


# --------------------------------------------------------------------------
# Logs


_FLINK_ENTRY = {"jobmanager": "standalonesession", "taskmanager": "taskexecutor"}


def main_log(lay: Layout, service: str) -> Path | None:
    if service == "kafka":
        p = lay.kafka_logs / "server.log"
        return p if p.exists() else None
    logs = sorted(lay.flink_log.glob(f"flink-*-{_FLINK_ENTRY[service]}-*.log"), key=lambda p: p.stat().st_mtime)
    return logs[-1] if logs else None


def log_tail(lay: Layout, service: str, lines: int = 30) -> str:
    """The last lines of the service's log files that say anything."""
    files: list[Path] = []
    main = main_log(lay, service)
    if main:
        files.append(main)
        if service != "kafka":
            files += [main.with_suffix(".err"), main.with_suffix(".out")]
    files.append(lay.launcher_out(service))
    parts = []
    for f in files:
        try:
            text = f.read_text(errors="replace").splitlines()
        except OSError:
            continue
        if any(t.strip() for t in text):
            parts.append(tail_text(text, str(f), lines))
    return "\n".join(parts)


def tail_text(text: list[str], title: str, lines: int = 30) -> str:
    return f"==> {title} (last {min(lines, len(text))} lines) <==\n" + "\n".join(text[-lines:])
