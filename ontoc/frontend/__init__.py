"""Frontend: definitions (Python source, read with `ast`) -> IR view plans."""

from __future__ import annotations

from pathlib import Path

from ..errors import OntocError
from ..ir.expr import Column
from ..ir.plan import ViewField, ViewPlan
from ..ir.relations import Filter, Project
from .schema import Schema, load_schema
from .translate import ViewTranslator


def build_plans(schema: Schema) -> list[ViewPlan]:
    """Translate every view; all diagnostics of all views are raised together."""
    plans, diagnostics = [], []
    for view in sorted(schema.views.values(), key=lambda v: v.topic):
        try:
            plans.append(build_plan(schema, view))
        except OntocError as exc:
            diagnostics.extend(exc.diagnostics)
    if diagnostics:
        raise OntocError(diagnostics)
    return plans


def build_plan(schema: Schema, view) -> ViewPlan:
    translator = ViewTranslator(schema, view)
    outputs, where = translator.translate()
    rel = translator.scope.relation()
    if where is not None:
        rel = Filter(rel, where)
    key = translator.scope.root.column("doc_id")
    project = Project(rel, Column(key.relation, key.name, key.dtype), tuple((o.name, o.value) for o in outputs))
    fields = tuple(ViewField(o.name, o.dtype, o.sort_keys, o.reverse) for o in outputs)
    return ViewPlan(view.name, view.topic, view.store.root.model, fields, project, view.src.path)


def load_plans(path: Path) -> tuple[Schema, list[ViewPlan]]:
    schema = load_schema(path)
    return schema, build_plans(schema)
