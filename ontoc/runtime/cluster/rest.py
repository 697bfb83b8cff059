"""A small client of Flink's REST API (urllib only): jobs, cancel, savepoints, status.

    rest = FlinkRest("http://127.0.0.1:8081")
    rest.jobs()                       # [{"jid", "name", "state", "start-time", ...}], newest first
    rest.cancel(job_id)
    rest.savepoint(job_id, "file:///tmp/sp")   # waits; returns the savepoint's location
    rest.wait_for_state(job_id, {"RUNNING"}, timeout=60)
    rest.root_cause(job_id)           # the failure's root cause in one line, or None

Every failure is a `FlinkRestError` whose message is one plain sentence
(unreachable cluster, unknown job, Flink's own error text).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from ...devenv.services import DEFAULT_FLINK_PORT, HOST

DEFAULT_URL = f"http://{HOST}:{DEFAULT_FLINK_PORT}"  # `ontoc dev up`
TERMINAL_STATES = {"FINISHED", "FAILED", "CANCELED"}
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class FlinkRestError(RuntimeError):
    """A REST call failed; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def parse_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a REST address; `127.0.0.1:8081` and `http://host` work too."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FlinkRestError(f"{url!r} is not a Flink REST address (e.g. http://127.0.0.1:8081)")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 8081)
    except ValueError:
        raise FlinkRestError(f"{url!r} has an invalid port") from None
    return parts.scheme, parts.hostname, port


def check_job_id(job_id: str) -> str:
    jid = job_id.strip().lower()
    if not _JOB_ID.match(jid):
        raise FlinkRestError(f"{job_id!r} is not a Flink job id (32 hexadecimal digits, see `ontoc jobs list`)")
    return jid


@dataclass
class FlinkRest:
    url: str = DEFAULT_URL
    timeout: float = 10.0

    def __post_init__(self) -> None:
        scheme, host, port = parse_url(self.url)
        self.base = f"{scheme}://{host}:{port}"
        self.host, self.port = host, port

    # ----------------------------------------------------------------- transport

    def request(self, method: str, path: str, body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"} if data else {}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                text = r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            raise FlinkRestError(self._http_error(e, path), e.code) from None
        except urllib.error.URLError as e:
            reason = e.reason.strerror if isinstance(e.reason, OSError) and e.reason.strerror else e.reason
            raise FlinkRestError(
                f"cannot reach Flink's REST API at {self.base} ({reason}); is the cluster up? "
                f"(`ontoc dev up` starts a local one; --cluster or ONTOC_FLINK_REST points elsewhere)"
            ) from None
        except TimeoutError:
            raise FlinkRestError(f"Flink's REST API at {self.base} did not answer within {self.timeout:.0f}s") from None
        except OSError as e:
            raise FlinkRestError(f"cannot reach Flink's REST API at {self.base} ({e})") from None
        if not text.strip():
            return {}
        try:
            return json.loads(text)
        except ValueError:
            raise FlinkRestError(f"{self.base}{path} did not answer with JSON; is it Flink's REST API?") from None

    def _http_error(self, e: urllib.error.HTTPError, path: str) -> str:
        try:
            errors = json.loads(e.read().decode("utf-8", "replace")).get("errors") or []
        except Exception:
            errors = []
        first = str(errors[0]).strip() if errors else ""
        if e.code == 404 and path.startswith("/jobs/"):
            jid = path.split("/")[2].split("?")[0]
            if "NotFound" in first or "Could not find" in first or not first or "not found" in first.lower():
                return f"no job {jid} on {self.base} (see `ontoc jobs list`)"
        if first:
            # Flink puts a Java stack trace in the error text: keep the first line with words
            line = next((ln.strip() for ln in first.splitlines() if ln.strip()), first)
            line = re.sub(r"^(?:[\w$]+\.)+[\w$]*(?:Exception|Error): ", "", line)
            return f"Flink answered {e.code} to {path}: {line}"
        return f"Flink answered {e.code} ({e.reason}) to {path}"

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    # ----------------------------------------------------------------- cluster

    def overview(self) -> dict:
        """{"taskmanagers", "slots-total", "slots-available", "jobs-running", "flink-version", ...}"""
        return self.get("/overview")

    def config(self) -> dict:
        return self.get("/config")

    # ----------------------------------------------------------------- jobs

    def jobs(self) -> list[dict]:
        jobs = self.get("/jobs/overview").get("jobs", [])
        return sorted(jobs, key=lambda j: j.get("start-time", 0), reverse=True)

    def job(self, job_id: str) -> dict:
        return self.get(f"/jobs/{check_job_id(job_id)}")

    def state(self, job_id: str) -> str:
        return self.job(job_id).get("state", "UNKNOWN")

    def cancel(self, job_id: str) -> None:
        jid = check_job_id(job_id)
        state = self.state(jid)
        if state in TERMINAL_STATES:
            raise FlinkRestError(f"job {jid} is already {state.lower()}")
        self.request("PATCH", f"/jobs/{jid}?mode=cancel")

    def exceptions(self, job_id: str) -> dict:
        return self.get(f"/jobs/{check_job_id(job_id)}/exceptions?maxExceptions=5")

    def root_cause(self, job_id: str) -> str | None:
        """The root cause of the job's latest failure, as `ExceptionClass: message` (one paragraph)."""
        data = self.exceptions(job_id)
        entries = (data.get("exceptionHistory") or {}).get("entries") or []
        trace = entries[0].get("stacktrace", "") if entries else data.get("root-exception") or ""
        return root_cause_of_trace(trace) if trace else None

    def checkpoints(self, job_id: str) -> dict:
        return self.get(f"/jobs/{check_job_id(job_id)}/checkpoints")

    def wait_for_state(
        self, job_id: str, states: set[str], timeout: float = 60.0, all_tasks_running: bool = False
    ) -> str:
        """Poll until the job is in one of `states` (or terminal); returns the state reached.

        `all_tasks_running` waits, for RUNNING, until every task is running too
        (a job is RUNNING while its tasks still deploy)."""
        deadline = time.monotonic() + timeout
        state = "UNKNOWN"
        while True:
            info = self.job(job_id)
            state = info.get("state", "UNKNOWN")
            if state in TERMINAL_STATES and state not in states:
                return state
            if state in states:
                if not (all_tasks_running and state == "RUNNING"):
                    return state
                tasks = [v.get("status") for v in info.get("vertices", [])]
                if tasks and all(t in ("RUNNING", "FINISHED") for t in tasks):
                    return state
            if time.monotonic() >= deadline:
                return state
            time.sleep(0.5)

    # ----------------------------------------------------------------- savepoints

    def savepoint(
        self,
        job_id: str,
        target_dir: str | None = None,
        *,
        cancel_job: bool = False,
        stop: bool = False,
        timeout: float = 300.0,
    ) -> str:
        """Trigger a savepoint and wait for it; returns its location.

        `stop`: Flink's stop-with-savepoint, which lets the sinks commit what the savepoint covers before
        the job finishes (an exactly-once sink's last transactions); `cancel_job` does not wait for that."""
        jid = check_job_id(job_id)
        if stop:
            body: dict = {"drain": False, "formatType": "CANONICAL"}
            if target_dir:
                body["targetDirectory"] = target_dir
            trigger = self.request("POST", f"/jobs/{jid}/stop", body)
        else:
            body = {"cancel-job": cancel_job, "formatType": "CANONICAL"}
            if target_dir:
                body["target-directory"] = target_dir
            trigger = self.request("POST", f"/jobs/{jid}/savepoints", body)
        request_id = trigger.get("request-id")
        if not request_id:
            raise FlinkRestError(f"Flink did not accept the savepoint request for job {jid}: {trigger}")
        deadline = time.monotonic() + timeout
        while True:
            status = self.get(f"/jobs/{jid}/savepoints/{request_id}")
            if (status.get("status") or {}).get("id") == "COMPLETED":
                op = status.get("operation") or {}
                if "failure-cause" in op:
                    cause = op["failure-cause"]
                    text = cause.get("stack-trace") or cause.get("class") or str(cause)
                    raise FlinkRestError(f"the savepoint of job {jid} failed: {root_cause_of_trace(text)}")
                return op.get("location", "")
            if time.monotonic() >= deadline:
                raise FlinkRestError(f"the savepoint of job {jid} did not complete within {timeout:.0f}s")
            time.sleep(0.5)

    # ----------------------------------------------------------------- metrics

    def operator_metric_total(self, job_id: str, metric: str, attempts: int = 3) -> int | None:
        """Sum over subtasks of an operator metric (the largest value when several operators
        of a task report the same metric); None when no vertex has it.

        The JobManager fetches metrics from the TaskManagers lazily: the first query
        after a while may list nothing, so an empty answer is asked again."""
        jid = check_job_id(job_id)
        total, found = 0, False
        for vertex in self.job(jid).get("vertices", []):
            vid = vertex["id"]
            names: list[str] = []
            for attempt in range(attempts):
                try:
                    names = [m["id"] for m in self.get(f"/jobs/{jid}/vertices/{vid}/metrics")]
                except FlinkRestError:
                    names = []
                if names:
                    break
                if attempt + 1 < attempts:
                    time.sleep(0.5)
            wanted = [n for n in names if n.endswith("." + metric)]
            if not wanted:
                continue
            query = urllib.parse.quote(",".join(wanted), safe=",")
            values = self.get(f"/jobs/{jid}/vertices/{vid}/metrics?get={query}")
            per_subtask: dict[str, int] = {}
            for m in values:
                subtask = m["id"].split(".", 1)[0]
                try:
                    v = int(float(m.get("value", 0)))
                except ValueError:
                    continue
                per_subtask[subtask] = max(per_subtask.get(subtask, 0), v)
            total += sum(per_subtask.values())
            found = True
        return total if found else None


# --------------------------------------------------------------------------
# Java stack traces -> one line


_EXC_LINE = re.compile(r"^(?:Caused by: )?((?:[\w$]+\.)+[\w$]+)(?::\s?(.*))?$")


def root_cause_of_trace(trace: str) -> str:
    """`SimpleClassName: message` of the innermost `Caused by:` of a Java stack trace text.

    Messages spanning several lines (Python tracebacks inside Java exceptions)
    are cut to their last meaningful line."""
    heads: list[tuple[str, list[str]]] = []
    current: tuple[str, list[str]] | None = None
    for line in trace.splitlines():
        s = line.strip()
        if s.startswith("at ") or (s.startswith("...") and s.endswith("more")) or s.startswith("Suppressed:"):
            current = None
            continue
        m = _EXC_LINE.match(s)
        if m and (line.startswith("Caused by: ") or not heads) and "." in m.group(1):
            current = (m.group(1), [m.group(2) or ""])
            heads.append(current)
        elif current is not None:
            current[1].append(line)
    if not heads:
        return trace.strip().splitlines()[0] if trace.strip() else ""
    cls, lines = heads[-1]
    text = "\n".join(lines).strip()
    if "Traceback (most recent call last)" in text:
        body = [ln.strip() for ln in text.splitlines() if ln.strip()]
        text = body[-1] if body else text
    elif text:
        text = " ".join(ln.strip() for ln in text.splitlines() if ln.strip())
    name = cls.rsplit(".", 1)[-1]
    if not text and len(heads) > 1:
        text = " ".join(heads[-2][1]).strip()
    return f"{name}: {text}" if text else name
