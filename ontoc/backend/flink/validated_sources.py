"""Source topics on a cluster: validated change events with upsert semantics.

Why not the compiled `upsert-kafka` sources
===========================================

`ontoc compile` emits one `upsert-kafka` table per source topic with
`value.format = json` and `ignore-parse-errors`. That is right for valid
events, but Flink's JSON format is lax where the spec (section 1) is strict:
a missing field becomes NULL, `"12"` is read into a BIGINT, `1.5` is truncated
into one, `"yes"` becomes `false` for a BOOLEAN. Such an event would replace
the document with a wrong one, and a plain `WHERE` after the upsert source
cannot skip it: filtering the new row of a key retracts the old one, so the
document would be deleted instead of keeping its previous state.

What a submitted job does instead
=================================

    Kafka topics (all sources of the package)
      -> __ontoc_source_events    one 'kafka' (append-only) table: key and value as raw
                                  BYTES (value NULL for a tombstone), metadata topic /
                                  partition / offset
      -> __ontoc_events           ONTOC_VALIDATE_EVENT(spec, topic, partition, offset, key, value):
                                  a JVM function of ontoc's functions jar
                                  (`dev.ontoc.flink.ValidateEvent`) applying the rules
                                  `ontoc run --local` applies (`ontoc.events`); `spec` is the
                                  string literal `ontoc.events.validator_spec` writes (every
                                  field of each source topic, the columns its views read); it
                                  returns the topic, the kind 'upsert' | 'delete' | 'invalid',
                                  the reason, the doc_id (the key as text) and the typed
                                  fields of that topic
      -> <topic> views            per source topic, a temporary view named like the compiled
                                  table the views' INSERTs read: the latest VALID event per
                                  doc_id (ROW_NUMBER() OVER (PARTITION BY v.doc_id ORDER BY
                                  PROCTIME() DESC) = 1, Flink's keep-last-row deduplication,
                                  over the event's kind and that topic's fields only),
                                  kept while its kind is 'upsert'

An invalid event never takes part in the deduplication, so the latest valid
event of its key stays in place: the document keeps its previous state. A
tombstone (or the JSON text `null`) is a valid 'delete': it becomes the latest
event of its key and the filter `kind = 'upsert'` turns it into a retraction
of the document, so views drop or update their rows and the sinks write
tombstones. Flink's planner keeps UPDATE_BEFORE messages through a filter on an
updating stream (FLINK-9528), which is what makes the retraction reach
downstream. Partitioning by doc_id alone (per topic) lets the planner know that
doc_id is each view's unique key, as it would for an upsert-kafka source.

Every consumer of `__ontoc_events` reads only the function's result `v` (the
processing time of the deduplication is taken after it, with PROCTIME()), so
every consumer reads the same projection, which the planner computes once: the
function, declared non-deterministic, is called ONCE per record and the metric
counts each invalid event once (tests/runtime/test_submit_plan.py checks the
plan; a `pt` column read by some consumers only would make two projections). No event passes through
a Python worker: a job whose views call no Python UDF has no Python operator.
Like the compiled upsert sources, the deduplication keeps one row of state per
doc_id ever seen (deleted ones included).

Invalid events are counted and kept, in two places:

* the topic `invalid_events_topic` of the job (default `ontoc_invalid_events`):
  one JSON record per skipped event, `{"job", "topic", "partition", "offset",
  "key", "reason", "value"}` (value cut at 10,000 characters);
* the metric `ontoc_invalid_events` of the validating function (a counter per
  subtask, in Flink's web UI and REST API; `ontoc jobs list` sums it). It
  counts since the job's last (re)start; the topic is the durable record.

The statements are sqlglot trees rendered by `ontoc.backend.flink.dialect.sql`;
the compiled view INSERTs (`ddl.insert`) run unchanged on top of the views;
`job.py` puts the whole job together.

`ontoc run --local` builds the same views over input files instead of Kafka:
one table of raw lines per `<topic>.jsonl`, each line judged by
ONTOC_VALIDATE_LINE (the same rules, for a file line's envelope) in a
`line_events_view` per file, then the same `source_view` per topic over it;
`invalid_lines_query` gives the invalid lines with their text, from which the
runner finds their line numbers afterwards.
"""

from __future__ import annotations

from sqlglot import exp

from ...event_validation import INVALID, UPSERT, VALIDATE_FUNCTION, VALIDATE_LINE_FUNCTION, TopicSpec, direct
from ...events import validator_spec
from .ddl import KafkaOptions
from .emit import ident, sql_type

RAW_TABLE = "__ontoc_source_events"
EVENTS_VIEW = "__ontoc_events"
INVALID_TABLE = "__ontoc_invalid_events"

# --------------------------------------------------------------------------
# Statements (sqlglot)


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.Column(this=ident(name), table=ident(table) if table else None)


def _field(base: exp.Expression, *names: str) -> exp.Expression:
    """`base`.`a`.`b`: nested ROW field access."""
    out = base
    for n in names:
        out = exp.Dot(this=out, expression=ident(n))
    return out


def _str(text: str) -> exp.Literal:
    return exp.Literal.string(text)


def _options(pairs: list[tuple[str, str]]) -> exp.Properties:
    return exp.Properties(expressions=[exp.Property(this=_str(k), value=_str(v)) for k, v in pairs])


def _column_def(name: str, type_text: str, constraint: str | None = None) -> exp.ColumnDef:
    kind = exp.DataType.build(type_text, dialect="hive")
    constraints = [exp.ColumnConstraint(kind=exp.Var(this=constraint))] if constraint else []
    return exp.ColumnDef(this=ident(name), kind=kind, constraints=constraints)


def raw_source_ddl(topics: list[str], kafka: KafkaOptions, *, group_id: str, startup_mode: str) -> exp.Create:
    """The one append-only 'kafka' table over every source topic: raw key and value."""
    columns: list[exp.Expression] = [
        _column_def("topic", "STRING", "METADATA VIRTUAL"),
        _column_def("partition", "INT", "METADATA VIRTUAL"),
        _column_def("offset", "BIGINT", "METADATA VIRTUAL"),
        _column_def("key", "VARBINARY"),  # BYTES in Flink's dialect
        _column_def("value", "VARBINARY"),
    ]
    options = [
        ("connector", "kafka"),
        ("topic", ";".join(topics)),
        *kafka.common(),
        ("properties.group.id", group_id),
        ("properties.isolation.level", "read_committed"),
        ("scan.startup.mode", startup_mode),
        ("key.format", "raw"),
        ("key.fields", "key"),
        ("value.format", "raw"),
        ("value.fields-include", "EXCEPT_KEY"),
        *kafka.source_options,
    ]
    if startup_mode == "group-offsets":
        options.append(("properties.auto.offset.reset", "earliest"))
    schema = exp.Schema(this=exp.Table(this=ident(RAW_TABLE)), expressions=columns)
    return exp.Create(kind="TABLE", this=schema, properties=_options(options), exists=True)


def _temporary_view(name: str, query: exp.Expression) -> exp.Create:
    return exp.Create(
        kind="VIEW",
        this=exp.Table(this=ident(name)),
        expression=query,
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
    )


def events_view(specs: list[TopicSpec]) -> exp.Create:
    """Every record with ONTOC_VALIDATE_EVENT's verdict as `v` (the topic and doc_id included).

    Every consumer (one deduplication per topic, the invalid-events sink) reads
    only `v`: one projection, computed once per record for all of them.
    """
    call = exp.Anonymous(
        this=VALIDATE_FUNCTION,
        expressions=[
            _str(validator_spec(specs)),
            _col("topic", "r"),
            _col("partition", "r"),
            _col("offset", "r"),
            _col("key", "r"),
            _col("value", "r"),
        ],
    )
    query = exp.select(exp.alias_(call, "v", quoted=True)).from_(
        exp.Table(this=ident(RAW_TABLE), alias=exp.TableAlias(this=ident("r")))
    )
    return _temporary_view(EVENTS_VIEW, query)


LINE_COLUMN = "line"  # the one BYTES column of a line table: one line of an input file


def line_events_view(name: str, spec: TopicSpec, table: str) -> exp.Create:
    """The lines of one topic's input file (`table`) with ONTOC_VALIDATE_LINE's verdict as `v`, the only
    column: `source_view` and `invalid_lines_query` read the same projection, so the function runs once per
    line. The spec literal names this topic alone (the file holds no other)."""
    call = exp.Anonymous(
        this=VALIDATE_LINE_FUNCTION,
        expressions=[_str(validator_spec([spec])), _str(spec.topic), _col(LINE_COLUMN)],
    )
    return _temporary_view(name, exp.select(exp.alias_(call, "v", quoted=True)).from_(exp.Table(this=ident(table))))


def invalid_lines_query(views: list[str]) -> exp.Select | exp.Union:
    """The invalid lines of the `line_events_view`s, each file's in the order read: topic, reason and the
    line's text as the validator reports it (`value`)."""
    v = _col("v")
    branches = [
        exp.select(
            exp.alias_(_field(v, "topic"), "topic", quoted=True),
            exp.alias_(_field(v, "reason"), "reason", quoted=True),
            exp.alias_(_field(v, "value"), "value", quoted=True),
        )
        .from_(exp.Table(this=ident(view)))
        .where(exp.EQ(this=_field(v, "kind"), expression=_str(INVALID)))
        for view in views
    ]
    query: exp.Select | exp.Union = branches[0]
    for branch in branches[1:]:
        query = exp.union(query, branch, distinct=False)
    return query


def source_view(spec: TopicSpec, events: str = EVENTS_VIEW) -> exp.Create:
    """The live documents of one topic, named like the compiled source table, from the validated `events`.

    The latest valid event per doc_id (Flink's keep-last-row deduplication,
    so the planner knows doc_id is the view's unique key, as it would for an
    upsert-kafka source), kept while it is an upsert. The deduplication keeps
    only what the view needs of an event (its kind and the topic's fields, as
    `doc`), not the whole verdict: the planner does not push the projection
    below it, and the verdict's other parts (topic name, the other topics'
    rows) would be (de)serialized with every state access and shuffle."""
    v = _col("v")
    doc_id = _field(v, "doc_id")
    rn = exp.Window(
        this=exp.Anonymous(this="ROW_NUMBER", expressions=[]),
        partition_by=[_col("doc_id")],
        order=exp.Order(expressions=[exp.Ordered(this=_col("pt"), desc=True)]),
    )
    inner = (
        exp.select(
            exp.alias_(doc_id.copy(), "doc_id", quoted=True),
            exp.alias_(_field(v, "kind"), "kind", quoted=True),
            exp.alias_(_field(v, spec.slot), "doc", quoted=True),
            exp.alias_(exp.Anonymous(this="PROCTIME", expressions=[]), "pt", quoted=True),
        )
        .from_(exp.Table(this=ident(events)))
        .where(
            exp.and_(
                exp.EQ(this=_field(v, "topic"), expression=_str(spec.topic)),
                exp.NEQ(this=_field(v, "kind"), expression=_str(INVALID)),
                exp.Not(this=exp.Is(this=doc_id.copy(), expression=exp.Null())),
            )
        )
    )
    ranked = exp.select(_col("doc_id"), _col("kind"), _col("doc"), exp.alias_(rn, "rn", quoted=True)).from_(
        exp.Subquery(this=inner, alias=exp.TableAlias(this=ident("e")))
    )
    selects: list[exp.Expr] = [_col("doc_id", "l")]
    for name, dtype in spec.columns:
        value = _field(_col("doc", "l"), name)
        if not direct(dtype):
            value = exp.Cast(this=value, to=sql_type(dtype))
        selects.append(exp.alias_(value, name, quoted=True))
    where = exp.and_(
        exp.EQ(this=_col("rn", "l"), expression=exp.Literal.number(1)),
        exp.EQ(this=_col("kind", "l"), expression=_str(UPSERT)),
    )
    query = exp.select(*selects).from_(exp.Subquery(this=ranked, alias=exp.TableAlias(this=ident("l")))).where(where)
    return _temporary_view(spec.topic, query)


INVALID_COLUMNS = (
    ("job", "STRING"),
    ("topic", "STRING"),
    ("partition", "INT"),
    ("offset", "BIGINT"),
    ("key", "STRING"),
    ("reason", "STRING"),
    ("value", "STRING"),
)


def invalid_sink_ddl(topic: str, kafka: KafkaOptions, sink_options: list[tuple[str, str]]) -> exp.Create:
    """An append-only JSON topic of skipped events."""
    columns = [_column_def(c, t) for c, t in INVALID_COLUMNS]
    options = [("connector", "kafka"), ("topic", topic), *kafka.common(), ("value.format", "json"), *sink_options]
    schema = exp.Schema(this=exp.Table(this=ident(INVALID_TABLE)), expressions=columns)
    return exp.Create(kind="TABLE", this=schema, properties=_options(options), exists=True)


def invalid_insert(job_name: str) -> exp.Insert:
    v = _col("v", "e")
    query = (
        exp.select(
            exp.alias_(_str(job_name), "job", quoted=True),
            exp.alias_(_field(v, "topic"), "topic", quoted=True),
            exp.alias_(_field(v, "partition"), "partition", quoted=True),
            exp.alias_(_field(v, "offset"), "offset", quoted=True),
            exp.alias_(_field(v, "doc_id"), "key", quoted=True),
            exp.alias_(_field(v, "reason"), "reason", quoted=True),
            exp.alias_(_field(v, "value"), "value", quoted=True),
        )
        .from_(exp.Table(this=ident(EVENTS_VIEW), alias=exp.TableAlias(this=ident("e"))))
        .where(exp.EQ(this=_field(v, "kind"), expression=_str(INVALID)))
    )
    return exp.Insert(this=exp.Table(this=ident(INVALID_TABLE)), expression=query)


def with_options(create: exp.Create, extra: list[tuple[str, str]]) -> exp.Create:
    """A copy of a CREATE TABLE with more WITH options (e.g. the sink's delivery guarantee)."""
    out = create.copy()
    props = out.args["properties"]
    for k, v in extra:
        props.append("expressions", exp.Property(this=_str(k), value=_str(v)))
    return out
