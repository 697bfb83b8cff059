"""`ontoc validate`: the planner's verdict on every view, its failures as located diagnostics."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import Diagnostic, Span
from ..runtime.embedded.validate import GetterFailure, PlanCheck, validate
from .packages import Package, location, method_span, view_span

FORMAT = 1
CODE = "planner-error"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "(no message)"


def failure_span(package: Package, check: PlanCheck, failure: GetterFailure) -> Span:
    """Where a failure points: the getter or filter method Flink rejects, else the view's class."""
    view = package.compiled.schema.views[check.view]
    return method_span(view, failure.getter) if failure.kind in ("getter", "where") else view_span(view)


def failure_diagnostic(package: Package, check: PlanCheck, failure: GetterFailure) -> Diagnostic:
    span = failure_span(package, check, failure)
    cause = _first_line(failure.message)
    hint = (
        f"ontoc compiled this but Flink rejects the SQL; `ontoc explain {check.view}` shows the IR and SQL, "
        "rewrite the getter or report it as an ontoc bug"
    )
    if failure.kind == "getter":
        return Diagnostic(
            CODE,
            f"Flink's planner rejects getter `{check.view}.{failure.getter}`: {cause}",
            span,
            hint,
        )
    if failure.kind == "where":
        return Diagnostic(
            CODE,
            f"Flink's planner rejects the filter `{check.view}.{failure.getter}`: {cause}",
            span,
            hint,
        )
    return Diagnostic(
        CODE,
        f"Flink's planner rejects view `{check.view}` (no single getter fails alone): {cause}",
        span,
        hint,
    )


def run_checks(
    packages: list[Package], progress: Callable[[str], None] | None = None
) -> list[tuple[Package, PlanCheck]]:
    return [(pkg, check) for pkg in packages for check in validate(pkg.compiled, progress)]


def validate_report(results: list[tuple[Package, PlanCheck]]) -> tuple[dict, list[Diagnostic]]:
    """The JSON document of `ontoc validate --format json` and the diagnostics of the failures."""
    views, diagnostics = [], []
    for pkg, check in results:
        view = pkg.compiled.schema.views[check.view]
        failures = []
        for f in [] if check.ok else check.failures:
            diagnostics.append(failure_diagnostic(pkg, check, f))
            span = failure_span(pkg, check, f)
            failures.append(
                {
                    "kind": f.kind,
                    "getter": f.getter or None,
                    "message": f.message,
                    "file": span.file,
                    "line": span.line,
                    "col": span.col,
                    "sql": f.sql or None,
                }
            )
        views.append(
            {
                "package": pkg.name,
                "view": check.view,
                "topic": check.topic,
                "definition": location(view_span(view)),
                "ok": check.ok,
                "message": None if check.ok else check.message,
                "failures": failures,
            }
        )
    report = {
        "ontoc": "validate",
        "format": FORMAT,
        "ok": all(v["ok"] for v in views),
        "views": views,
        "diagnostics": [d.to_json() for d in diagnostics],
    }
    return report, diagnostics
