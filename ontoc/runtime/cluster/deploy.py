"""`ontoc deploy`: carry the upgrade plan out against the running job, step by step, with a rollback.

    deployer = Deployer(cluster, kafka, progress=print, dry_run=False)
    outcome = deployer.deploy(package, path, compiled, spec)

What it does follows the upgrade plan from the running job's record (`deployments.py`) to the new
version, for one package's job (docs/runtime.md, "Changing views in production"):

- no running job recorded: start the new version;
- every view `none`: nothing to do;
- only `savepoint`, `start` and `stop` verdicts: stop the running job with a savepoint, start the
  new version from it (a removed view's state is dropped: its topic keeps its rows), check that it
  restored the savepoint and runs; if it does not, start the previous version again from the same
  savepoint (rebuilt from the record's Python files) and report the failure;
- a `fresh-start` verdict: not carried out (yet): the steps are printed and the deploy refuses.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...backend.flink.job import JobSpec, build_job
from ...job_settings import JobSettings
from ...pipeline import Compiled, compile_definitions
from .deployments import (
    Deployment,
    Deployments,
    deployed_label,
    new_deployment,
    record_deployment,
    record_savepoint,
    restore_plan,
    write_sources,
)
from .errors import SubmitError
from .kafka import KafkaConnection
from .rest import FlinkRest, FlinkRestError
from .submit import submit

Progress = Callable[[str], object]


class DeployRefused(Exception):
    """The deploy cannot be carried out automatically (a fresh start): nothing was changed."""


class RolledBack(Exception):
    """The new version did not start; the previous one runs again from the same savepoint."""


@dataclass
class Outcome:
    job_id: str | None  # what runs now
    what: str  # "unchanged", "started", "upgraded", "dry run"
    steps: list[str] = field(default_factory=list)


@dataclass
class Deployer:
    cluster: str
    kafka: KafkaConnection
    progress: Progress = print
    dry_run: bool = False
    savepoint_dir: str | None = None
    wait_s: float = 90.0

    def _step(self, n: int, text: str) -> None:
        self.progress(f"step {n}: {text}" + ("  (dry run: not done)" if self.dry_run else ""))

    def deploy(self, package: str, path: Path, compiled: Compiled, spec: JobSpec) -> Outcome:
        job = spec.settings
        rest = FlinkRest(self.cluster)
        current = Deployments.read(self.kafka).by_name(job.name)
        running = current is not None and _state(rest, current.job_id) == "RUNNING"
        if current is None or not running:
            why = "no deployment recorded" if current is None else f"its last job {current.job_id} is not running"
            self._step(1, f"start {job.name} ({why}): every view reads its sources from the beginning")
            if self.dry_run:
                return Outcome(None, "dry run")
            done = self._submit(compiled, spec, package, path, None, False)
            return Outcome(done, "started")
        assert current is not None
        plan = restore_plan(current, compiled.files, str(path))
        changed = [v for v in plan.views if v.verdict != "none"]
        self.progress(f"running: {deployed_label(current)}")
        for v in changed:
            self.progress(f"  {v.view} -> {v.topic}: {v.verdict}")
        if not changed:
            self.progress(f"nothing to do: job {current.job_id} runs this version")
            return Outcome(current.job_id, "unchanged")
        fresh = [v for v in changed if v.verdict == "fresh-start"]
        if fresh:
            self.progress("a fresh start is needed (its state cannot be restored); by hand:")
            self.progress(f"  1. submit the new version under another job name while {current.job_id} serves")
            self.progress("  2. when it has caught up, cancel the old job")
            self.progress("  3. tombstone the keys of the view topics that the new version no longer has")
            raise DeployRefused(
                "the fresh-start path is not automated yet: "
                + "; ".join(f"{v.view} -> {v.topic}: {v.reasons[0] if v.reasons else 'state changed'}" for v in fresh)
            )
        removed = any(v.verdict == "stop" for v in changed)
        self._step(1, f"stop job {current.job_id} with a savepoint")
        self._step(
            2, "start the new version from the savepoint" + (" (dropping removed views' state)" if removed else "")
        )
        self._step(3, "check that it restored the savepoint and runs; else roll back to the running version")
        if self.dry_run:
            return Outcome(current.job_id, "dry run")
        location = rest.savepoint(current.job_id, self.savepoint_dir, cancel_job=True)
        self.progress(f"  savepoint: {location}")
        try:
            record_savepoint(self.kafka, location, current.job_id)
        except SubmitError as e:
            self.progress(f"  warning: the savepoint was not recorded: {e}")
        try:
            job_id = self._submit(compiled, spec, package, path, location, removed)
            self._check_restored(rest, job_id)
        except SubmitError as e:
            self.progress(f"  the new version did not start: {e}")
            back = self._roll_back(current, spec, location)
            raise RolledBack(
                f"the new version did not start ({e}); rolled back: job {back} runs the previous version"
            ) from None
        return Outcome(job_id, "upgraded")

    def _submit(
        self,
        compiled: Compiled,
        spec: JobSpec,
        package: str,
        path: Path,
        savepoint: str | None,
        drop: bool,
        sources: dict[str, str] | None = None,
    ) -> str:
        done = submit(
            compiled,
            spec,
            self.cluster,
            self.kafka,
            savepoint=savepoint,
            allow_non_restored=drop,
            wait_s=self.wait_s,
            progress=lambda m: self.progress(f"  {m}"),
        )
        if done.state != "RUNNING":
            raise SubmitError(f"job {done.job_id} is {done.state}, not running, after {self.wait_s:.0f}s")
        self.progress(f"  job {done.job_id} runs")
        deployment = new_deployment(
            spec.settings.name,
            done.job_id,
            package,
            done.cluster,
            path,
            compiled.files,
            savepoint,
            sources,
            asdict(spec.settings),
        )
        try:
            record_deployment(self.kafka, deployment, spec.settings.topic_replication)
        except SubmitError as e:
            self.progress(f"  warning: the deployment was not recorded: {e}")
        return done.job_id

    def _check_restored(self, rest: FlinkRest, job_id: str) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                restored = (rest.checkpoints(job_id).get("latest") or {}).get("restored")
            except FlinkRestError:
                restored = None
            if restored and restored.get("is_savepoint"):
                self.progress(f"  restored savepoint {restored.get('external_path', '')}")
                return
            if time.monotonic() > deadline:
                raise SubmitError(f"job {job_id} runs but reports no restored savepoint")
            time.sleep(1)

    def _roll_back(self, previous: Deployment, spec: JobSpec, location: str) -> str:
        self.progress(f"step 4: roll back: start the previous version ({previous.source()}) from {location}")
        if not previous.sources:
            raise SubmitError(f"cannot roll back: the record of job {previous.job_id} holds no Python files")
        with tempfile.TemporaryDirectory(prefix="ontoc-rollback-") as tmp:
            folder = write_sources(previous, Path(tmp))
            old = compile_definitions(folder)
            settings = JobSettings(**previous.settings) if previous.settings else spec.settings
            old_spec = build_job(old.plans, old.schema.models, settings, self.kafka.options())
            return self._submit(
                old, old_spec, previous.package, Path(previous.definitions), location, False, previous.sources
            )


def _state(rest: FlinkRest, job_id: str) -> str:
    try:
        return rest.state(job_id)
    except FlinkRestError:
        return "UNKNOWN"
