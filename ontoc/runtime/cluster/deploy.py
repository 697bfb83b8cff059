"""`ontoc deploy`: carry the upgrade plan out against the running job, step by step, with a rollback.

    deployer = Deployer(cluster, kafka, progress=print, dry_run=False)
    outcome = deployer.deploy(package, path, compiled, spec)

What it does follows the upgrade plan from the running job's record (`deployments.py`) to the new
version, for one package's job (docs/runtime.md, "Changing views in production"):

- no running job recorded: start the new version;
- every view `none`: nothing to do;
- only `savepoint`, `start` and `stop` verdicts: stop the running job with a savepoint, start the
  new version from it (a removed view's state is dropped: its topic keeps its rows), check that it
  restored the savepoint and completes a checkpoint without a restart; if it does not, cancel it, take
  back the rows it wrote, start the previous version again from the same savepoint (rebuilt from the
  record's Python files) and report the failure;
- a `fresh-start` or `start` verdict: recompute every view in a staging job beside the running one,
  then switch the view topics to its rows (`fresh_start.py`); a removed view's topic is deleted only
  with `delete_removed`.
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
from .fresh_start import (
    Offsets,
    Rows,
    behind,
    committed_offsets,
    converge,
    delete_topics,
    end_offsets,
    read_rows,
    source_positions,
    staging_spec,
    staging_suffix,
    undo_since,
)
from .kafka import KafkaConnection
from .rest import FlinkRest, FlinkRestError
from .submit import submit

Progress = Callable[[str], object]


class RolledBack(Exception):
    """The new version did not start, or failed after it started; the previous one runs again from the same
    savepoint."""


class Refused(Exception):
    """The deploy was refused before anything was changed (too few free task slots): exit 2."""


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
    delete_removed: bool = False
    catch_up_s: float = 600.0

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
            self._check_slots(rest, job.parallelism, f"the job {job.name}")
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
        removed_topics = [v.topic for v in changed if v.verdict == "stop"]
        rebuild = [v for v in changed if v.verdict in ("fresh-start", "start")]
        if rebuild:
            # a new view too: the job has one Kafka source, so a view added to a restored job would
            # only see the events after the savepoint
            return self._fresh_start(rest, current, package, path, compiled, spec, removed_topics)
        removed = any(v.verdict == "stop" for v in changed)
        self._step(1, f"stop job {current.job_id} with a savepoint")
        self._step(
            2, "start the new version from the savepoint" + (" (dropping removed views' state)" if removed else "")
        )
        self._step(
            3,
            "check that it restored the savepoint and completes a checkpoint without a restart; "
            "else roll back to the running version",
        )
        if self.dry_run:
            return Outcome(current.job_id, "dry run")
        # the new version takes the slots the running one frees; only a higher parallelism needs more
        running_parallelism = int((current.settings or {}).get("parallelism", 1))
        self._check_slots(rest, job.parallelism - running_parallelism, f"the new version of {job.name}")
        location = rest.savepoint(current.job_id, self.savepoint_dir, stop=True)
        self.progress(f"  savepoint: {location}")
        try:
            record_savepoint(self.kafka, location, current.job_id)
        except SubmitError as e:
            self.progress(f"  warning: the savepoint was not recorded: {e}")
        view_topics = sorted(set(spec.view_topics) | {v["topic"] for v in current.manifest.get("views", [])})
        stopped_at = end_offsets(self.kafka, view_topics)
        job_id: str | None = None
        try:
            job_id = self._submit(compiled, spec, package, path, location, removed)
            self._check_runs(rest, job_id, spec)
        except SubmitError as e:
            self.progress(f"  the new version did not start or failed: {e}")
            if job_id:
                _cancel_quietly(rest, job_id)
            for topic in view_topics:
                undone = undo_since(self.kafka, topic, stopped_at)
                if undone:
                    self.progress(f"  {topic}: {undone} key(s) the new version wrote given back their previous rows")
            back = self._roll_back(current, spec, location)
            raise RolledBack(
                f"the new version did not start or failed ({e}); rolled back: job {back} runs the previous version"
            ) from None
        self._delete_removed(removed_topics, 4)
        return Outcome(job_id, "upgraded")

    def _delete_removed(self, topics: list[str], n: int) -> None:
        if not topics:
            return
        if not self.delete_removed:
            self.progress(f"  the removed views' topics keep their rows: {', '.join(topics)}")
            return
        self._step(n, f"delete the removed views' topics {', '.join(topics)}")
        if not self.dry_run:
            delete_topics(self.kafka, topics)

    def _fresh_start(
        self,
        rest: FlinkRest,
        current: Deployment,
        package: str,
        path: Path,
        compiled: Compiled,
        spec: JobSpec,
        removed_topics: list[str],
    ) -> Outcome:
        """Recompute every view in a staging job beside the running one, then switch (module docstring)."""
        suffix = staging_suffix()
        staged = staging_spec(spec, suffix)
        pairs = list(zip(spec.view_topics, staged.view_topics, strict=True))
        self._step(
            1,
            f"start {staged.settings.name} without state from the earliest offsets, writing to "
            + ", ".join(s for _, s in pairs)
            + f", while job {current.job_id} serves",
        )
        self._step(2, "wait until it has read its sources up to their end offsets as of its start")
        self._step(3, f"stop {staged.settings.name} with a savepoint, then job {current.job_id} with a savepoint")
        self._step(4, "make each view topic hold exactly its staging topic's rows (stale keys tombstoned)")
        self._step(5, f"start {spec.settings.name} from the staging job's savepoint, writing to the view topics")
        self._step(6, "delete the staging topics" + (" and the removed views' topics" if self.delete_removed else ""))
        if self.dry_run:
            return Outcome(current.job_id, "dry run")
        self._check_slots(rest, staged.settings.parallelism, f"the staging job {staged.settings.name}")
        ends = end_offsets(self.kafka, list(spec.source_topics))
        staging_id: str | None = None
        try:
            staging_id = self._submit_only(compiled, staged)
            self._wait_caught_up(rest, staging_id, staged.settings.group_id, ends)
            new_savepoint = rest.savepoint(staging_id, self.savepoint_dir, stop=True)
            self.progress(f"  {staged.settings.name} stopped; savepoint: {new_savepoint}")
        except (SubmitError, FlinkRestError) as e:
            if staging_id:
                _cancel_quietly(rest, staging_id)
            delete_topics(self.kafka, list(staged.view_topics))
            raise RolledBack(f"the new version did not catch up ({e}); job {current.job_id} serves on") from None
        old_savepoint = rest.savepoint(current.job_id, self.savepoint_dir, stop=True)
        self.progress(f"  job {current.job_id} stopped; savepoint: {old_savepoint}")
        try:
            record_savepoint(self.kafka, old_savepoint, current.job_id)
        except SubmitError as e:
            self.progress(f"  warning: the savepoint was not recorded: {e}")
        before: dict[str, Rows] = {}
        job_id: str | None = None
        try:
            for live, staging in pairs:
                before[live] = read_rows(self.kafka, live)
                written, tombstoned = converge(self.kafka, live, read_rows(self.kafka, staging), before[live])
                self.progress(f"  {live}: {written} row(s) written, {tombstoned} stale key(s) tombstoned")
            job_id = self._submit(compiled, spec, package, path, new_savepoint, False)
            self._check_runs(rest, job_id, spec)
        except SubmitError as e:
            self.progress(f"  the new version did not start or failed: {e}")
            if job_id:
                _cancel_quietly(rest, job_id)
            for live, rows in before.items():
                converge(self.kafka, live, rows, read_rows(self.kafka, live))
            self.progress("  the view topics hold the previous version's rows again")
            back = self._roll_back(current, spec, old_savepoint)
            raise RolledBack(
                f"the new version did not start or failed ({e}); rolled back: job {back} runs the previous version"
            ) from None
        finally:
            delete_topics(self.kafka, list(staged.view_topics))
        self._delete_removed(removed_topics, 6)
        return Outcome(job_id, "upgraded (fresh start)")

    def _check_slots(self, rest: FlinkRest, needed: int, what: str) -> None:
        """Refuse (before anything changes) a job the cluster has no free slots for: Flink would keep it
        waiting for slots until `wait_s` runs out, with the running job already stopped or a staging job
        half-started. A job at parallelism N takes N slots (its operators share them)."""
        if needed <= 0:
            return
        try:
            overview = rest.overview()
        except FlinkRestError as e:
            raise SubmitError(f"cannot read the cluster's free task slots: {e}") from None
        free, total = int(overview.get("slots-available", 0)), int(overview.get("slots-total", 0))
        if free < needed:
            raise Refused(
                f"{what} needs {needed} free task slot(s) (its parallelism), and the cluster has {free} of {total} "
                "free: nothing was changed. Free slots (stop a job, add a TaskManager, raise "
                "taskmanager.numberOfTaskSlots) or lower the job file's `parallelism`, then deploy again"
            )
        self.progress(f"  free task slots: {free} of {total}; {what} needs {needed}")

    def _submit_only(self, compiled: Compiled, spec: JobSpec) -> str:
        """Submit a job that is not recorded (the staging job)."""
        done = submit(
            compiled, spec, self.cluster, self.kafka, wait_s=self.wait_s, progress=lambda m: self.progress(f"  {m}")
        )
        if done.state != "RUNNING":
            _cancel_quietly(FlinkRest(self.cluster), done.job_id)
            raise SubmitError(f"job {done.job_id} is {done.state}, not running, after {self.wait_s:.0f}s: cancelled")
        self.progress(f"  job {done.job_id} ({spec.settings.name}) runs")
        return done.job_id

    def _wait_caught_up(self, rest: FlinkRest, job_id: str, group: str, ends: Offsets) -> None:
        deadline = time.monotonic() + self.catch_up_s
        last = -1
        while True:
            if _state(rest, job_id) != "RUNNING":
                raise SubmitError(f"job {job_id} is {_state(rest, job_id)} while catching up")
            left = behind(ends, source_positions(rest, job_id), committed_offsets(self.kafka, group))
            if left == 0:
                self.progress(f"  caught up: read {sum(ends.values())} record(s) of the sources")
                return
            if left != last:
                self.progress(f"  {left} record(s) behind")
                last = left
            if time.monotonic() > deadline:
                raise SubmitError(f"job {job_id} is still {left} record(s) behind after {self.catch_up_s:.0f}s")
            time.sleep(2)

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
            _cancel_quietly(FlinkRest(self.cluster), done.job_id)
            raise SubmitError(f"job {done.job_id} is {done.state}, not running, after {self.wait_s:.0f}s: cancelled")
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

    def _check_runs(self, rest: FlinkRest, job_id: str, spec: JobSpec) -> None:
        """The new job restored the savepoint and works: it completes a checkpoint after the restore, with no
        restart meanwhile (a version can start and then fail on its first records, e.g. a sink the broker
        refuses). For an exactly-once job that checkpoint is also its first commit."""
        interval_ms = spec.settings.checkpoint_interval_ms
        deadline = time.monotonic() + 60 + 3 * (interval_ms or 0) / 1000
        restored_id = None
        while True:
            state = _state(rest, job_id)
            if state != "RUNNING" or _restarts(rest, job_id):
                cause = _root_cause(rest, job_id)
                raise SubmitError(f"job {job_id} failed after it started ({state}): {cause}")
            try:
                latest = rest.checkpoints(job_id).get("latest") or {}
            except FlinkRestError:
                latest = {}
            restored = latest.get("restored")
            if restored and restored.get("is_savepoint") and restored_id is None:
                restored_id = restored.get("id", 0)
                self.progress(f"  restored savepoint {restored.get('external_path', '')}")
            completed = latest.get("completed") or {}
            if restored_id is not None and (interval_ms is None or completed.get("id", 0) > restored_id):
                if interval_ms is not None:
                    self.progress(f"  checkpoint {completed.get('id')} completed after the restore, no restart")
                return
            if time.monotonic() > deadline:
                what = "no restored savepoint" if restored_id is None else "no checkpoint completed after the restore"
                raise SubmitError(f"job {job_id} runs but reports {what}")
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
            try:
                return self._submit(
                    old, old_spec, previous.package, Path(previous.definitions), location, False, previous.sources
                )
            except SubmitError as e:
                raise SubmitError(
                    f"the rollback failed too ({e}); once the cluster can run it, start the previous version "
                    f"({previous.source()}) from {location}: ontoc submit DEFINITIONS --from-savepoint {location}"
                ) from None


def _cancel_quietly(rest: FlinkRest, job_id: str) -> None:
    try:
        rest.cancel(job_id)
    except FlinkRestError:
        pass


def _restarts(rest: FlinkRest, job_id: str) -> int:
    try:
        found = rest.get(f"/jobs/{job_id}/metrics?get=numRestarts")
        return int(float(found[0]["value"])) if found else 0
    except (FlinkRestError, LookupError, ValueError):
        return 0


def _root_cause(rest: FlinkRest, job_id: str) -> str:
    try:
        return rest.root_cause(job_id) or "no exception reported"
    except FlinkRestError as e:
        return str(e)


def _state(rest: FlinkRest, job_id: str) -> str:
    try:
        return rest.state(job_id)
    except FlinkRestError:
        return "UNKNOWN"
