"""The stateful operators Flink's planner makes of a view, as ontoc predicts them from the plan.

Flink restores a savepoint operator by operator: each operator's state is
found by its uid (for SQL jobs, a hash of its position in the job graph) and
must be readable by the new job's serializers (for SQL, the exact row types
it keeps). So whether a changed view can keep its state depends on what the
change does to the stateful operators, not on how the SQL text changed.

What the planner builds for ontoc's queries (seen in `EXPLAIN` of the
emitted statements with Flink 2.2, `ontoc validate` prints it):

- an upsert-kafka source becomes `ChangelogNormalize` keyed by `doc_id`,
  holding the last row of every document (the columns the view reads), when
  the query joins or filters; a view that only projects its root keeps no
  state but the Kafka offsets;
- every join (LEFT, or INNER for a correlated collection's derived row) is
  a `Join` keeping both inputs' rows: the right side's columns, and the left
  side's columns that something above it still reads (the next joins, the
  WHERE, the final projection);
- every `many` collection is a `GroupAggregate` keeping one accumulator per
  aggregate call, in order;
- the WHERE is pushed into the root's `ChangelogNormalize` (or applied after
  the joins): it decides which rows the state holds;
- the sink gets `upsertMaterialize=[true]` (a `SinkUpsertMaterializer`
  keeping the emitted rows, of the sink's row type) whenever the query joins:
  the planner cannot prove that the joined rows are unique per `doc_id`.

The final projection is a stateless `Calc` chained to the last join: a
change that touches only the projection's expressions, reads the same
columns and keeps the sink's row type leaves every stateful operator as it was.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache

from ...ir.expr import Column, Expr
from ...ir.fingerprint import Canonical
from ...ir.plan import ViewPlan
from ...ir.relations import Aggregate, Derived, Filter, InnerJoin, Join, Rel, Scan, aliases
from .dialect import sql
from .emit import ExprEmitter, type_text


@lru_cache(maxsize=4096)
def expr_sql(e: Expr) -> str:
    """One expression as compact Flink SQL (what fingerprints hash); IR nodes are frozen, so cached."""
    # upper-cased function names: the spelling manifests of format 2 were written with
    return sql(ExprEmitter().visit(e), pretty=False, normalize_functions="upper", consume=True)


def sha256_json(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StatefulOperator:
    id: str  # "source meeting", "join meeting__location", "aggregate tickets_agg", "filter", "sink"
    kind: str  # source | join | aggregate | filter | sink
    state: dict  # what determines the operator's state (JSON-able, canonical)

    def to_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, **self.state}


def _columns_read(exprs: list[Expr], of: set[str]) -> list[str]:
    """`alias.column` of every column of the aliases `of` that `exprs` read, sorted."""
    return sorted(
        {f"{c.relation}.{c.name}" for e in exprs for c in e.walk() if isinstance(c, Column) and c.relation in of}
    )


def _chain(rel: Rel) -> tuple[Rel, list[Join]]:
    """The first relation of a FROM clause and its joins, innermost first."""
    joins = []
    while isinstance(rel, Join):
        joins.append(rel)
        rel = rel.left
    return rel, list(reversed(joins))


def _from_clause(rel: Rel, above: list[Expr], scope: str, out: list[StatefulOperator]) -> None:
    """Operators of one FROM clause; `above` = the expressions evaluated over its rows."""
    first, joins = _chain(rel)
    prefix = f"{scope}/" if scope else ""

    def relation(r: Rel) -> None:
        if isinstance(r, Scan):
            out.append(
                StatefulOperator(
                    f"source {prefix}{r.alias}",
                    "source",
                    {"topic": r.table, "columns": [f"{n} {type_text(t)}" for n, t in r.columns]},
                )
            )
        elif isinstance(r, Aggregate):
            _from_clause(r.parent, list(r.expressions()), r.alias, out)
            out.append(
                StatefulOperator(
                    f"aggregate {r.alias}",
                    "aggregate",
                    {
                        "group_by": expr_sql(r.key),
                        "calls": [f"{expr_sql(c)} :: {type_text(c.dtype)}" for _, c in r.aggregates],
                        # which rows reach the aggregate: part of its state
                        # (absent = all rows, as before the key existed)
                        **({"where": expr_sql(r.where)} if r.where is not None else {}),
                    },
                )
            )
        elif isinstance(r, Derived):  # a projection: only the operators of its FROM clause keep state
            _from_clause(r.parent, list(r.expressions()), r.alias, out)
        else:
            raise TypeError(r)

    relation(first)
    for i, join in enumerate(joins):
        relation(join.right)
        later = [j.condition for j in joins[i:]]
        right = join.right
        out.append(
            StatefulOperator(
                f"join {prefix}{right.alias}",
                "join",
                {
                    "right": right.table
                    if isinstance(right, Scan)
                    else f"{'aggregate' if isinstance(right, Aggregate) else 'derived'} {right.alias}",
                    "on": expr_sql(join.condition),
                    "left_columns": _columns_read(later + above, set(aliases(join.left))),
                    "right_columns": [n for n, _ in right.columns]
                    if isinstance(right, Scan)
                    else ["root_id"] + [n for n, _ in right.aggregates]
                    if isinstance(right, Aggregate)
                    else ["root_id"] + [n for n, _ in right.columns],
                    # an inner join keeps no count of matches per left row (absent = LEFT, as before the key)
                    **({"inner": True} if isinstance(join, InnerJoin) else {}),
                },
            )
        )


def stateful_operators(plan: ViewPlan) -> list[StatefulOperator]:
    """The operators of the view's job that keep state, in a stable order ([] for a stateless job)."""
    project = plan.rel
    rel, where = project.parent, None
    if isinstance(project.parent, Filter):
        rel, where = project.parent.parent, project.parent.predicate
    joins = any(isinstance(r, Join) for r in rel.walk())
    if not joins and where is None:
        return []
    out: list[StatefulOperator] = []
    above = [project.key, *(e for _, e in project.fields), *([where] if where is not None else [])]
    _from_clause(rel, above, "", out)
    if where is not None:
        out.append(StatefulOperator("filter", "filter", {"where": expr_sql(where)}))
    if joins:
        # the materializer's serializer compares field types, not names: a renamed field keeps its state
        row = [type_text(project.key.dtype)] + [type_text(f.dtype) for f in plan.fields]
        out.append(StatefulOperator("sink", "sink", {"upsert_materializer": True, "row_type": row}))
    return out


def state_fingerprint(operators: list[StatefulOperator]) -> str:
    return sha256_json([op.to_json() for op in operators])


def field_fingerprints(plan: ViewPlan, canonical: Canonical) -> dict[str, str]:
    """Each field's computation: its projection expression and the aggregate calls behind the columns it reads.

    Hashes the IR's canonical text (manifest format 3; format 2 hashed the SQL of each expression).
    """
    aggregates = {r.alias: r for r in plan.rel.walk() if isinstance(r, Aggregate)}
    calls = {alias: dict(agg.aggregates) for alias, agg in aggregates.items()}
    out = {}
    for name, e in plan.rel.fields:
        behind = []
        for alias, column in sorted(
            {(c.relation, c.name) for c in e.walk() if isinstance(c, Column) and c.relation in aggregates}
        ):
            agg = aggregates[alias]
            behind.append(
                [alias, column, canonical(agg.key), canonical(calls[alias].get(column)), canonical(agg.where)]
            )
        out[name] = sha256_json([canonical(e), behind])
    return out


def projection_fingerprint(plan: ViewPlan, canonical: Canonical) -> str:
    project = plan.rel
    return sha256_json([["doc_id", canonical(project.key)]] + [[n, canonical(e)] for n, e in project.fields])
