"""CREATE TABLE statements for source topics and view sinks, and the INSERT.

Connection settings are never baked in: the emitted DDL holds `${NAME}`
placeholders (`${KAFKA_BOOTSTRAP_SERVERS}`) and extra Kafka properties
(security settings and the like) come from configuration when a job is
submitted (see `runtime`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from ...ir import types as T
from ...ir.plan import ViewPlan
from ...ir.relations import Scan, text_field
from .emit import ident, sql_type, view_query

BOOTSTRAP_PLACEHOLDER = "${KAFKA_BOOTSTRAP_SERVERS}"


@dataclass(frozen=True)
class KafkaOptions:
    bootstrap_servers: str = BOOTSTRAP_PLACEHOLDER
    properties: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # e.g. ("security.protocol", "SSL")
    source_options: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # extra WITH options

    def common(self) -> list[tuple[str, str]]:
        return [("properties.bootstrap.servers", self.bootstrap_servers)] + [
            (f"properties.{k}", v) for k, v in self.properties
        ]


def _options(pairs: list[tuple[str, str]]) -> exp.Properties:
    return exp.Properties(
        expressions=[exp.Property(this=exp.Literal.string(k), value=exp.Literal.string(v)) for k, v in pairs]
    )


def _column(name: str, dtype: T.DType) -> exp.ColumnDef:
    field = text_field(name)
    if field is None:
        return exp.ColumnDef(this=ident(name), kind=sql_type(dtype))
    note = (
        f"str({field}) as Python prints it: ontoc submit and ontoc run --local fill it from the event's number "
        f"text; Flink's JSON format cannot (it reads a field named `{name}`)"
    )
    comment = exp.ColumnConstraint(kind=exp.CommentColumnConstraint(this=exp.Literal.string(note)))
    return exp.ColumnDef(this=ident(name), kind=sql_type(dtype), constraints=[comment])


def _create(name: str, columns: list[tuple[str, T.DType]], options: list[tuple[str, str]]) -> exp.Create:
    defs: list[exp.Expression] = [_column(c, t) for c, t in columns]
    defs.append(exp.PrimaryKey(expressions=[ident("doc_id")], options=[exp.var("NOT ENFORCED")]))
    schema = exp.Schema(this=exp.Table(this=ident(name)), expressions=defs)
    return exp.Create(kind="TABLE", this=schema, properties=_options(options), exists=True)


def source_ddl(scan: Scan, kafka: KafkaOptions) -> exp.Create:
    """An upsert-kafka source: key = doc_id (raw string), value = the document as JSON.

    Unparseable values are skipped by `ignore-parse-errors`; a null value is a delete.
    """
    options = [
        ("connector", "upsert-kafka"),
        ("topic", scan.table),
        *kafka.common(),
        ("key.format", "raw"),
        ("value.format", "json"),
        ("value.fields-include", "EXCEPT_KEY"),
        ("value.json.ignore-parse-errors", "true"),
        ("value.json.timestamp-format.standard", "ISO-8601"),
        *kafka.source_options,
    ]
    return _create(scan.table, list(scan.columns), options)


def sink_ddl(plan: ViewPlan, kafka: KafkaOptions) -> exp.Create:
    """An upsert-kafka sink keyed by the root doc_id; deletes become tombstones."""
    columns = [("doc_id", T.STR)] + [(f.name, f.dtype) for f in plan.fields]
    options = [
        ("connector", "upsert-kafka"),
        ("topic", plan.topic),
        *kafka.common(),
        ("key.format", "raw"),
        ("value.format", "json"),
        ("value.fields-include", "EXCEPT_KEY"),
        ("value.json.timestamp-format.standard", "ISO-8601"),
        ("value.json.encode.decimal-as-plain-number", "true"),
    ]
    return _create(plan.topic, columns, options)


def insert(plan: ViewPlan) -> exp.Insert:
    return exp.Insert(this=exp.Table(this=ident(plan.topic)), expression=view_query(plan.rel))


def merged_sources(plans: list[ViewPlan]) -> list[Scan]:
    """One scan per source table with the union of columns every view reads, in model order."""
    by_table: dict[str, Scan] = {}
    for plan in plans:
        for scan in plan.scans():
            known = by_table.get(scan.table)
            if known is None:
                by_table[scan.table] = scan
            else:
                names = {c for c, _ in known.columns} | {c for c, _ in scan.columns}
                order = list(known.columns) + [c for c in scan.columns if c not in known.columns]
                by_table[scan.table] = Scan(
                    known.table, known.model, known.alias, tuple(c for c in order if c[0] in names)
                )
    return [by_table[t] for t in sorted(by_table)]
