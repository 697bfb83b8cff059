"""Frontend: definitions (Python source, read with `ast`) -> IR view plans."""

from __future__ import annotations

from pathlib import Path

from ..errors import Diagnostic, OntocError
from ..ir.expr import Column
from ..ir.plan import ViewField, ViewPlan
from ..ir.relations import Filter, Project
from .schema import Schema, load_schema
from .translate import ViewTranslator


def build_plans(schema: Schema, static_methods: str = "inline") -> tuple[list[ViewPlan], list[Diagnostic]]:
    """Translate every view: the plans and the warnings; all errors of all views are raised together."""
    plans, warnings, diagnostics = [], [], []
    for view in sorted(schema.views.values(), key=lambda v: v.topic):
        try:
            plan, view_warnings = build_plan(schema, view, static_methods)
            plans.append(plan)
            warnings.extend(view_warnings)
        except OntocError as exc:
            diagnostics.extend(exc.diagnostics)
    if diagnostics:
        raise OntocError(diagnostics)
    return plans, warnings


def build_plan(schema: Schema, view, static_methods: str = "inline") -> tuple[ViewPlan, list[Diagnostic]]:
    """`static_methods`: "inline" translates static methods to SQL where their body allows (else a Python
    UDF), "udf" runs every one as a Python UDF."""
    translator = ViewTranslator(schema, view, static_methods)
    outputs, where = translator.translate()
    rel = translator.scope.relation()
    if where is not None:
        rel = Filter(rel, where)
    key = translator.scope.root.column("doc_id")
    project = Project(rel, Column(key.relation, key.name, key.dtype), tuple((o.name, o.value) for o in outputs))
    fields = tuple(ViewField(o.name, o.dtype, o.sort_keys, o.reverse) for o in outputs)
    udfs = tuple(sorted(translator.udfs.values(), key=lambda u: u.function))
    plan = ViewPlan(view.name, view.topic, view.store.root.model, fields, project, view.src.path, udfs)
    return plan, translator.warnings


def load_plans(path: Path) -> tuple[Schema, list[ViewPlan]]:
    schema = load_schema(path)
    return schema, build_plans(schema)[0]
