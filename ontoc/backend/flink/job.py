"""A submitted job, whole: every statement in order, its table settings and the functions it registers.

Built from the plans alone (nothing contacts Kafka or Flink); `ontoc submit` hands the JobSpec to
`runtime/cluster/submit.py`, which only executes it, and `--dry-run` prints `JobSpec.sql_text()`:

1. the validated sources of `validated_sources` (one raw 'kafka' table over every source topic,
   the JVM function ONTOC_VALIDATE_EVENT, keep-last deduplication, one view per topic named like the compiled source);
2. per view, the compiled upsert-kafka sink (`ddl.sink_ddl`) with the job's delivery guarantee added,
   and the compiled INSERT (`ddl.insert`) unchanged;
3. the invalid-events sink and its INSERT;
all INSERTs in one statement set, so one job reads each topic once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlglot import exp

from ...event_validation import VALIDATE_FUNCTION, FieldSpec, TopicSpec
from ...events import Model
from ...ir.expr import Func, Op
from ...ir.plan import ViewPlan
from ...ir.relations import Aggregate, Scan
from ...ir.types import DType, Kind
from ...job_settings import JobSettings, planner_options, python_options, state_options
from ...jvm.functions import CREATE_FUNCTIONS_SQL
from ...secrets import MASK, is_secret
from . import validated_sources as vs
from .ddl import KafkaOptions, insert, merged_sources, sink_ddl
from .dialect import sql
from .emit import (
    PY_DECIMAL_FUNCTION,
    PY_FLOAT_DIVMOD_FUNCTION,
    PY_ROUND_FUNCTION,
    PY_STR_FUNCTION,
    SORT_ROWS_FUNCTION,
)


@dataclass(frozen=True)
class Functions:
    """What the job calls besides Flink's own functions, for the runtime to register."""

    validator: tuple[TopicSpec, ...]  # what ONTOC_VALIDATE_EVENT's spec literal says, per topic
    jvm: tuple[str, ...]  # ontoc's JVM functions the job calls (jvm/functions; the validator always), sorted
    python: tuple[str, ...]  # SQL names of the package's Python UDFs (generated udfs.py), sorted


@dataclass(frozen=True)
class JobSpec:
    """The job as the cluster runs it: SET options, then the statements, then one statement set."""

    settings: JobSettings
    table_options: tuple[tuple[str, str], ...]  # job_settings: state, planner and Python options
    functions: Functions
    statements: tuple[exp.Expression, ...]  # CREATE TABLE / VIEW, in order
    inserts: tuple[tuple[str, exp.Insert], ...]  # (target topic, INSERT), in order
    source_topics: tuple[str, ...]
    view_topics: tuple[str, ...]

    @property
    def invalid_topic(self) -> str:
        return self.settings.invalid_events_topic

    def topics(self) -> list[str]:
        extra = [self.invalid_topic] if self.invalid_topic else []
        return list(dict.fromkeys([*self.source_topics, *self.view_topics, *extra]))

    def sql_text(self) -> str:
        """The job as SQL, for `--dry-run`: secret Kafka properties masked (the job itself gets them)."""
        head = [
            f"-- ontoc job {self.settings.name}: {len(self.view_topics)} view(s), one statement set",
            f"-- {self.settings.describe()}",
            f"-- {VALIDATE_FUNCTION} and the other ONTOC_ functions are JVM functions of ontoc's functions jar, "
            f"shipped by `ontoc submit`",
        ]
        if self.functions.python:
            head.append(
                f"-- Python UDFs of the package (generated udfs.py, registered by `ontoc submit`): "
                f"{', '.join(self.functions.python)}"
            )
        head.extend(f"{statement};" for statement in CREATE_FUNCTIONS_SQL)
        body = [sql(_set(k, v)) + ";" for k, v in self.table_options]
        body += [sql(_masked(s)) + ";" for s in self.statements]
        body.append("EXECUTE STATEMENT SET BEGIN\n" + "\n".join(sql(i) + ";" for _, i in self.inserts) + "\nEND;")
        return "\n".join(head) + "\n\n" + "\n\n".join(body) + "\n"


def _masked(statement: exp.Expression) -> exp.Expression:
    """`statement` with the value of every secret WITH option (`ontoc.secrets.is_secret`) masked, for printing."""
    secret = [
        p
        for p in statement.find_all(exp.Property)
        if isinstance(p.this, exp.Literal) and is_secret(p.this.name) and p.args.get("value") is not None
    ]
    if not secret:
        return statement
    out = statement.copy()
    for p in out.find_all(exp.Property):
        if isinstance(p.this, exp.Literal) and is_secret(p.this.name):
            p.set("value", exp.Literal.string(MASK))
    return out


def _set(key: str, value: str) -> exp.Set:
    item = exp.SetItem(this=exp.EQ(this=exp.Literal.string(key), expression=exp.Literal.string(value)))
    return exp.Set(expressions=[item])


def build_job(
    plans: Sequence[ViewPlan], models: Mapping[str, Model], settings: JobSettings, kafka: KafkaOptions
) -> JobSpec:
    """Every statement of the job, as sqlglot trees; `models` are the package's (validation reads their fields)."""
    specs = topic_specs(merged_sources(list(plans)), models)
    source_topics = [s.topic for s in specs]
    statements: list[exp.Expression] = [
        vs.raw_source_ddl(source_topics, kafka, group_id=settings.group_id, startup_mode=settings.startup_mode),
        vs.events_view(specs),
        *[vs.source_view(s) for s in specs],
    ]
    inserts: list[tuple[str, exp.Insert]] = []
    for plan in plans:
        options = sink_options(settings, plan.topic) + buffer_options(settings)
        statements.append(vs.with_options(sink_ddl(plan, kafka), options))
        inserts.append((plan.topic, insert(plan)))
    if settings.invalid_events_topic:
        statements.append(vs.invalid_sink_ddl(settings.invalid_events_topic, kafka, sink_options(settings, "invalid")))
        inserts.append((settings.invalid_events_topic, vs.invalid_insert(settings.name)))
    functions = Functions(
        validator=tuple(specs),
        jvm=tuple(sorted({VALIDATE_FUNCTION, *jvm_functions(plans)})),
        python=tuple(sorted({u.function for p in plans for u in p.udfs})),
    )
    return JobSpec(
        settings,
        tuple(table_options(settings, plans).items()),
        functions,
        tuple(statements),
        tuple(inserts),
        tuple(source_topics),
        tuple(p.topic for p in plans),
    )


def topic_specs(scans: Iterable[Scan], models: Mapping[str, Model]) -> list[TopicSpec]:
    """One validator spec per merged source scan (`ddl.merged_sources`): the model's fields, the columns read."""
    return [model_spec(models[scan.model], scan.table, scan.columns) for scan in scans]


def model_spec(model: Model, topic: str, columns: Iterable[tuple[str, DType]] = ()) -> TopicSpec:
    """The validator spec of one model's topic: every field of the model, the `columns` the views read."""
    fields = tuple(FieldSpec(name, f.dtype, f.has_default, f.default) for name, f in model.fields.items())
    return TopicSpec(topic, fields, tuple((c, t) for c, t in columns if c != "doc_id"))


def sink_options(settings: JobSettings, sink: str) -> list[tuple[str, str]]:
    """The Kafka sink options of the job's delivery guarantee (a transactional id prefix per sink)."""
    if settings.exactly_once:
        # 15 min: the largest transaction a broker allows by default (transaction.max.timeout.ms);
        # Flink's own default (1 h) is refused by such brokers.
        return [
            ("sink.delivery-guarantee", "exactly-once"),
            ("sink.transactional-id-prefix", f"{settings.tx_prefix}-{sink}"),
            ("properties.transaction.timeout.ms", "900000"),
        ]
    return [("sink.delivery-guarantee", "at-least-once")]


SINK_BUFFER_ROWS = 10_000  # a flush's rows at most (Flink needs both bounds above zero to buffer)


def buffer_options(settings: JobSettings) -> list[tuple[str, str]]:
    """The upsert-kafka sink's buffer: within a flush it keeps the last record per key, so the tombstone and
    the new row a LEFT JOIN chain emits for one update reach Kafka as the row alone. Costs up to
    `sink_buffer` of latency per row."""
    if settings.sink_buffer_ms is None:
        return []
    return [
        ("sink.buffer-flush.max-rows", str(SINK_BUFFER_ROWS)),
        ("sink.buffer-flush.interval", f"{settings.sink_buffer_ms} ms"),
    ]


def table_options(settings: JobSettings, plans: Sequence[ViewPlan]) -> dict[str, str]:
    """The table options of the job: its state backend, mini-batch where a view aggregates a collection, and
    the bundles of its Python functions where a view calls one."""
    aggregates = any(isinstance(r, Aggregate) for p in plans for r in p.rel.walk())
    udfs = any(p.udfs for p in plans)
    return {**state_options(settings), **planner_options(settings, aggregates), **python_options(udfs)}


def jvm_functions(plans: Iterable[ViewPlan]) -> tuple[str, ...]:
    """ontoc's JVM functions the views call, read off the IR: the operators `emit` spells with them."""
    names = set()
    for plan in plans:
        for rel in plan.rel.walk():
            for root in rel.expressions():
                for e in root.walk():
                    if isinstance(e, Func):
                        name = _jvm_function(e)
                        if name:
                            names.add(name)
    return tuple(sorted(names))


# the operators `ExprEmitter` always spells with one of ontoc's JVM functions
JVM_FUNCTION_OF_OP = {
    Op.PY_STR: PY_STR_FUNCTION,
    Op.PY_ROUND: PY_ROUND_FUNCTION,
    Op.PY_FLOAT_DIVMOD: PY_FLOAT_DIVMOD_FUNCTION,
    Op.PY_DECIMAL: PY_DECIMAL_FUNCTION,
}


def _jvm_function(e: Func) -> str | None:
    """Which JVM function `ExprEmitter` emits for `e` (see its `py_str`, `py_round` and `array_sort` rules)."""
    if e.op is Op.ARRAY_SORT and e.dtype.elem is not None and e.dtype.elem.kind is Kind.ROW:
        return SORT_ROWS_FUNCTION  # a sort of rows only: a sort of scalars is Flink's own
    return JVM_FUNCTION_OF_OP.get(e.op)
