"""`ontoc explain VIEW`: one view's IR, its SQL, its column-level lineage and its stateful operators."""

from __future__ import annotations

from dataclasses import dataclass

from ..backend.flink.artifacts import select_sql
from ..backend.flink.state import state_fingerprint, stateful_operators
from ..errors import Diagnostic
from ..ir.dump import dump_plan
from ..ir.expr import Column
from ..ir.lineage import OutputLineage, lineage
from ..ir.plan import ViewPlan
from ..ir.relations import Aggregate
from .packages import Package, location, method_span, view_span

FORMAT = 1
SECTIONS = ("ir", "sql", "lineage", "state")


@dataclass
class Found:
    package: Package
    plan: ViewPlan


def find_view(packages: list[Package], name: str) -> tuple[Found | None, Diagnostic | None]:
    """The view whose class name or sink topic is `name` (`package:name` picks a package)."""
    wanted_package, _, wanted = name.rpartition(":")
    matches = [
        Found(pkg, plan)
        for pkg in packages
        for plan in pkg.compiled.plans
        if wanted in (plan.view, plan.topic) and wanted_package in ("", pkg.name)
    ]
    if len(matches) == 1:
        return matches[0], None
    known = sorted(
        f"{p.name + ':' if p.name else ''}{plan.view} ({plan.topic})" for p in packages for plan in p.compiled.plans
    )
    if not matches:
        return None, Diagnostic(
            "unknown-view",
            f"no view or sink topic named `{name}`",
            None,
            "views: " + (", ".join(known) if known else "none"),
        )
    return None, Diagnostic(
        "ambiguous-view",
        f"`{name}` names a view in several packages",
        None,
        "say which: " + ", ".join(f"{m.package.name}:{wanted}" for m in matches),
    )


def explain_report(found: Found) -> dict:
    """The JSON document of `ontoc explain --format json` (schema in docs/inspect.md)."""
    plan, compiled = found.plan, found.package.compiled
    view = compiled.schema.views[plan.view]
    lines = lineage(plan)
    operators = stateful_operators(plan)

    def output(o: OutputLineage, extra: dict) -> dict:
        return {**extra, **o.to_json()}

    where = view.where
    return {
        "ontoc": "explain",
        "format": FORMAT,
        "package": found.package.name,
        "view": plan.view,
        "topic": plan.topic,
        "root_model": plan.root_model,
        "definition": location(view_span(view)),
        "fields": [
            {"name": f.name, "type": str(f.dtype), "getter": location(method_span(view, f.name))} for f in plan.fields
        ],
        "where": {"name": where, **location(method_span(view, where))} if where else None,
        "ir": dump_plan(plan),
        "sql": {
            "file": f"{plan.topic}.sql",
            "query": select_sql(plan) + "\n",
            "statements": compiled.files[f"{plan.topic}.sql"],
        },
        "lineage": {
            "key": output(lines.key, {}),
            "fields": [output(o, {"type": str(f.dtype)}) for f, o in zip(plan.fields, lines.fields, strict=False)],
            "filter": output(lines.filter, {"getter": where}) if lines.filter else None,
            "sources": lines.sources(),
        },
        "state": {
            "stateful": bool(operators),
            "sha256": state_fingerprint(operators),
            "operators": [op.to_json() for op in operators],
        },
        "python_udfs": python_udfs(plan),
    }


def python_udfs(plan: ViewPlan) -> list[dict]:
    """The generated Python functions the view calls, and which fields call them (directly or through an
    aggregate of a collection)."""
    aggregates = {r.alias: dict(r.aggregates) for r in plan.rel.walk() if isinstance(r, Aggregate)}
    callers: dict[str, list[str]] = {}
    for name, expr in plan.rel.fields:
        called = set()
        for node in expr.walk():
            if isinstance(node, Column) and node.name in aggregates.get(node.relation, {}):
                node = aggregates[node.relation][node.name]
            for sub in node.walk():
                function = getattr(sub, "function", None)
                if isinstance(function, str):
                    called.add(function.removesuffix("__empty"))
        for function in called:
            callers.setdefault(function, []).append(name)
    return [
        {
            "function": u.function,
            "kind": u.kind,
            "method": f"{u.view}.{u.method}",
            "fields": callers.get(u.function, []),
        }
        for u in getattr(plan, "udfs", ())
    ]


def _lineage_text(name: str, where: str, o: dict) -> list[str]:
    out = [f"{name}{'  (' + where + ')' if where else ''}"]
    roles: dict[tuple[str, str], list[str]] = {}  # one line per path, its roles together
    for r in o["reads"]:
        roles.setdefault((f"{r['topic']}.{r['field']}", r["path"]), []).append(r["role"])
    width = max((len(name) for name, _ in roles), default=0)
    for (source, path), rs in roles.items():
        out.append(f"    {'+'.join(sorted(set(rs), reverse=True)):<10}  {source.ljust(width)}  {path}")
    if not roles:
        out.append("    (reads no source field)")
    return out


def render_text(report: dict, sections: tuple[str, ...] = SECTIONS) -> str:
    d = report["definition"]
    title = (
        f"{report['view']} -> {report['topic']}  ({d['file']}:{d['line']}, root {report['root_model']}"
        f"{', package ' + report['package'] if report['package'] else ''})"
    )
    out = [title]
    if "ir" in sections:
        out += ["", "== IR ==", report["ir"].rstrip("\n")]
    if "sql" in sections:
        out += [
            "",
            f"== SQL (the INSERT's query; every statement is in {report['sql']['file']}) ==",
            report["sql"]["query"].rstrip("\n"),
        ]
    if "lineage" in sections:
        lin = report["lineage"]
        out += ["", "== Lineage (role, source topic.field, path in the definitions) =="]
        out += _lineage_text("doc_id: str (the key)", "", lin["key"])
        for f, spec in zip(lin["fields"], report["fields"], strict=False):
            g = spec["getter"]
            out += _lineage_text(f"{f['name']}: {f['type']}", f"{g['file']}:{g['line']}", f)
        if lin["filter"]:
            w = report["where"]
            out += _lineage_text(f"where {w['name']}", f"{w['file']}:{w['line']}", lin["filter"])
        out += ["sources: " + "; ".join(f"{t} ({', '.join(fs)})" for t, fs in lin["sources"].items())]
    if report["python_udfs"] and "sql" in sections:
        out += ["", "== Python UDFs (run on Python workers, not as native SQL) =="]
        out += [
            f"{u['function']}: {u['kind']} function {u['method']}, called by {', '.join(u['fields']) or '-'}"
            for u in report["python_udfs"]
        ]
    if "state" in sections:
        st = report["state"]
        out += ["", "== Stateful operators (what `ontoc plan` compares) =="]
        if not st["stateful"]:
            out.append("none: no joins and no filter, the job keeps only its Kafka offsets")
        for op in st["operators"]:
            out.append(
                f"{op['id']}: "
                + "; ".join(
                    f"{k}={', '.join(v) if isinstance(v, list) else v}"
                    for k, v in op.items()
                    if k not in ("id", "kind")
                )
            )
    return "\n".join(out) + "\n"
