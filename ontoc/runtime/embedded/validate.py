"""Check every emitted statement with Flink's own planner, without a cluster.

The DDL runs in an embedded TableEnvironment with the Kafka connector on the
classpath (tables are only declared, nothing connects), then each view's
INSERT goes through `explain_sql`, which parses, validates and optimizes it.

When the planner rejects a view, `locate` finds the getters responsible:
the view's key alone (with its `@attrs.where`) and then each field alone,
`INSERT INTO <probe sink> SELECT doc_id, <field>` over the joins that field
needs, are planned one by one. Each probe is the view's own IR with a
one-field projection, optimized and emitted by the usual passes and backend,
so it is exactly the SQL the view would contain for that getter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ...backend.flink.ddl import KafkaOptions, insert, merged_sources, sink_ddl, source_ddl
from ...backend.flink.dialect import sql
from ...ir.plan import ViewPlan
from ...ir.relations import Filter
from ...jvm.jars import ensure_jars
from ...passes import optimize
from ...pipeline import Compiled
from ..java_errors import lost_planner, to_local_error
from .compiled import job_setup

PLANNING_OPTIONS = KafkaOptions(bootstrap_servers="127.0.0.1:9")  # never contacted: planning only
PROBE_SUFFIX = "__ontoc_probe"


@dataclass
class GetterFailure:
    """What the planner rejects when one part of a view is planned alone."""

    getter: str  # the getter (field) name, the `@attrs.where` method's name, or "" for the whole view
    kind: str  # getter | where | view
    message: str  # the planner's root cause
    sql: str = ""  # the probe statement that failed


@dataclass
class PlanCheck:
    view: str
    topic: str
    ok: bool
    message: str  # the optimized plan, or the planner's root cause
    failures: list[GetterFailure] = field(default_factory=list)  # filled when not ok (and locate=True)


def _environment(compiled: Compiled, say: Callable[[str], None]) -> Any:
    from pyflink.table import EnvironmentSettings, TableEnvironment

    connector = ensure_jars(progress=say).flink_connector_jar
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("pipeline.jars", connector.resolve().as_uri())
    job_setup(compiled, say)(env)  # ontoc's JVM functions and the package's Python functions, as a run has
    for scan in merged_sources(compiled.plans):
        env.execute_sql(sql(source_ddl(scan, PLANNING_OPTIONS)))
    return env


def _explain(env: Any, plan: ViewPlan) -> str:
    env.execute_sql(sql(sink_ddl(plan, PLANNING_OPTIONS)))
    return env.explain_sql(sql(insert(plan)))


def _cause(exc: BaseException) -> str:
    return str(to_local_error(exc))


def validate(compiled: Compiled, progress: Callable[[str], None] | None = None, locate: bool = True) -> list[PlanCheck]:
    say = progress or (lambda _m: None)
    env = _environment(compiled, say)
    checks = []
    for plan in compiled.plans:
        say(f"planning {plan.view} -> {plan.topic}")
        try:
            try:
                explained = _explain(env, plan)
            except Exception as exc:
                if not lost_planner(exc):
                    raise
                # FLINK-23020: not a verdict on the SQL; a planner made afresh in this thread plans it
                say("Flink's planner lost its metadata provider to a py4j thread change (FLINK-23020); planning again")
                env = _environment(compiled, say)
                explained = _explain(env, plan)
            checks.append(PlanCheck(plan.view, plan.topic, True, explained))
        except Exception as exc:  # the planner's verdict, as plain words
            check = PlanCheck(plan.view, plan.topic, False, _cause(exc))
            if locate:
                check.failures = locate_failures(env, compiled, plan, check.message, say)
            checks.append(check)
    return checks


def probe_plans(plan: ViewPlan, keep_filter: bool = True) -> list[tuple[str, ViewPlan]]:
    """("", the key and the filter alone), then (field name, that field alone) per field; each optimized.

    Without `keep_filter` the field probes drop the view's `@attrs.where`, so
    that a filter the planner rejects does not hide which getters fail too.
    """
    project = plan.rel
    probes = [
        ("", optimize(replace(plan, topic=plan.topic + PROBE_SUFFIX, fields=(), rel=replace(project, fields=()))))
    ]
    parent = project.parent if keep_filter or not isinstance(project.parent, Filter) else project.parent.parent
    for i, (f, (name, expr)) in enumerate(zip(plan.fields, project.fields, strict=False)):
        one = replace(
            plan,
            topic=f"{plan.topic}{PROBE_SUFFIX}_{i}",
            fields=(f,),
            rel=replace(project, parent=parent, fields=((name, expr),)),
        )
        probes.append((name, optimize(one)))
    return probes


def locate_failures(
    env: Any, compiled: Compiled, plan: ViewPlan, message: str, say: Callable[[str], None] = lambda _m: None
) -> list[GetterFailure]:
    """The getters whose SQL the planner rejects on its own; the whole view when none does."""
    view = compiled.schema.views.get(plan.view)
    where = view.where if view is not None else None
    failures = []
    (_, key_probe), *_ = probe_plans(plan)
    say(f"  probing {plan.view}: key and filter")
    try:
        _explain(env, key_probe)
        keep_filter = True
    except Exception as exc:
        # the key is the root's doc_id: alone it can only fail through the filter (or the sources)
        failures.append(GetterFailure(where or "", "where" if where else "view", _cause(exc), sql(insert(key_probe))))
        keep_filter = False
    for name, probe in probe_plans(plan, keep_filter)[1:]:
        say(f"  probing {plan.view}.{name}")
        try:
            _explain(env, probe)
        except Exception as exc:
            failures.append(GetterFailure(name, "getter", _cause(exc), sql(insert(probe))))
    return failures or [GetterFailure("", "view", message)]
