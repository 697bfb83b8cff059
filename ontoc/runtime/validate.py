"""Check every emitted statement with Flink's own planner, without a cluster.

The DDL runs in an embedded TableEnvironment with the Kafka connector on the
classpath (tables are only declared, nothing connects), then each view's
INSERT goes through `explain_sql`, which parses, validates and optimizes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..backend.flink.ddl import KafkaOptions, insert, merged_sources, sink_ddl, source_ddl
from ..backend.flink.dialect import sql
from ..pipeline import Compiled

PLANNING_OPTIONS = KafkaOptions(bootstrap_servers="127.0.0.1:9")  # never contacted: planning only


@dataclass
class PlanCheck:
    view: str
    topic: str
    ok: bool
    message: str  # the optimized plan, or the planner's root cause


def validate(compiled: Compiled, progress: Callable[[str], None] | None = None) -> list[PlanCheck]:
    from pyflink.table import EnvironmentSettings, TableEnvironment

    from .embedded import job_setup
    from .jars import ensure_jars
    from .local import _to_local_error

    say = progress or (lambda _m: None)
    connector = ensure_jars(progress=say).flink_connector_jar
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("pipeline.jars", connector.resolve().as_uri())
    job_setup(compiled, say)(env)
    for scan in merged_sources(compiled.plans):
        env.execute_sql(sql(source_ddl(scan, PLANNING_OPTIONS)))
    checks = []
    for plan in compiled.plans:
        say(f"planning {plan.view} -> {plan.topic}")
        try:
            env.execute_sql(sql(sink_ddl(plan, PLANNING_OPTIONS)))
            explained = env.explain_sql(sql(insert(plan)))
            checks.append(PlanCheck(plan.view, plan.topic, True, explained))
        except Exception as exc:  # the planner's verdict, as plain words
            checks.append(PlanCheck(plan.view, plan.topic, False, str(_to_local_error(exc))))
    return checks
