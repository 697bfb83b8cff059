"""`ontoc plan`: the upgrade plan, what changes between two compiled versions and what each changed job needs.

Both sides are manifests (`manifest.json`, written by `ontoc compile`): the
new side compiled from the definitions, the old side read from a manifest or
an output folder, or compiled from a git revision. Views are matched by sink
topic (the job's identity). Per view the plan lists added, removed and
changed fields (type, expression, the source fields read, sort order), added
and removed sources, whether the SQL file changed, and a verdict:

- `savepoint`: the stateful operators are the same (`state.sha256` equal):
  stop the job with a savepoint and start the new SQL from it;
- `fresh-start`: a stateful operator changed (a source's columns, a join, an
  aggregate, the filter, the sink's row type): Flink cannot map the old state
  onto the new job, so start without state and replay the source topics;
- `start` for a new view (reads its sources from the beginning), `stop` for
  a removed one, `none` for an unchanged one.

See ontoc/backend/flink/state.py for which operators keep state and why, and
ontoc/backend/flink/manifest.py for the manifest's types. ("Plan" here is the
upgrade plan, not the compiler's view plan nor Flink's execution plan.)
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Final, Literal

from ..backend.flink.manifest import Manifest, ManifestError, ManifestField, ManifestView, from_json
from .packages import Package

FORMAT: Final = 1


class UpgradeInputError(Exception):
    """The old side cannot be read (no manifest, bad JSON, packages that do not match)."""


# -- the upgrade plan: the document of `ontoc plan --format json` (its schema derives from these) ----

Change = Literal["added", "removed", "changed"]


@dataclass
class FieldChange:
    name: str
    change: Change
    old_type: str | None
    new_type: str | None
    what: list[Literal["type", "expression", "sources", "sort"]]
    reads_added: list[str]
    reads_removed: list[str]


@dataclass
class OperatorChange:
    operator: str  # a stateful operator's id, or "job graph"
    change: Change
    details: list[str]


@dataclass
class UdfChange:
    function: str
    method: str
    change: Change


@dataclass
class ViewUpgrade:
    """What one view's job needs: its verdict, the reasons, and every change behind them."""

    package: str
    view: str
    topic: str
    old_view: str | None
    definition: str | None
    status: Literal["added", "removed", "changed", "unchanged"] = "unchanged"
    verdict: Literal["none", "savepoint", "fresh-start", "start", "stop"] = "none"
    reasons: list[str] = field(default_factory=list)
    replay: list[str] = field(default_factory=list)
    fields: list[FieldChange] = field(default_factory=list)
    sources_added: list[str] = field(default_factory=list)
    sources_removed: list[str] = field(default_factory=list)
    state_changes: list[OperatorChange] = field(default_factory=list)
    udf_changes: list[UdfChange] = field(default_factory=list)
    sql_changed: bool = False
    sql_diff: str | None = None


@dataclass
class UpgradeSummary:
    added: int
    removed: int
    changed: int
    unchanged: int
    fresh_start: int
    savepoint: int


@dataclass
class UpgradePlan:
    ontoc: Literal["plan"]
    format: Literal[1]
    old: str  # the versions' labels
    new: str
    summary: UpgradeSummary
    views: list[ViewUpgrade]


@dataclass
class PackageManifest:
    manifest: Manifest
    files: dict[str, str] = field(default_factory=dict)  # file name -> text, where known

    def views(self) -> dict[str, ManifestView]:
        return {v.topic: v for v in self.manifest.views}


@dataclass
class Version:
    label: str
    packages: dict[str, PackageManifest]


def version_from_packages(packages: list[Package], label: str) -> Version:
    return Version(
        label,
        {
            p.name: PackageManifest(
                from_json(Manifest, json.loads(p.compiled.files["manifest.json"])), dict(p.compiled.files)
            )
            for p in packages
        },
    )


def _read_manifest(path: Path) -> PackageManifest:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UpgradeInputError(f"{path}: not a readable manifest ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("views"), list):
        raise UpgradeInputError(f"{path}: not an ontoc manifest (no `views` list)")
    try:
        manifest = from_json(Manifest, doc)
    except ManifestError as exc:
        raise UpgradeInputError(f"{path}: not an ontoc manifest ({exc})") from exc
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(path.parent.glob("*.sql"))}
    return PackageManifest(manifest, files)


def version_from_path(path: Path) -> Version:
    """A manifest file, an output folder holding one, or a folder of such folders (one per package)."""
    path = Path(path)
    if path.is_file():
        return Version(str(path), {"": _read_manifest(path)})
    if (path / "manifest.json").is_file():
        return Version(str(path), {"": _read_manifest(path / "manifest.json")})
    subs = sorted(p for p in path.glob("*/manifest.json")) if path.is_dir() else []
    if not subs:
        raise UpgradeInputError(f"{path}: no manifest.json in it or in its sub-folders")
    return Version(str(path), {p.parent.name: _read_manifest(p) for p in subs})


def pair_packages(
    old: Version, new: Version, definitions_name: str
) -> list[tuple[str, PackageManifest | None, PackageManifest | None]]:
    if not old.packages:  # the definitions did not exist yet: every view is new
        return [(n, None, p) for n, p in sorted(new.packages.items())]
    if set(new.packages) == {""}:
        if "" in old.packages:
            return [("", old.packages[""], new.packages[""])]
        if definitions_name in old.packages:
            return [("", old.packages[definitions_name], new.packages[""])]
        raise UpgradeInputError(
            f"{old.label} holds packages {', '.join(sorted(old.packages))}, "
            f"none named `{definitions_name}`: point --against at that package's manifest"
        )
    if set(old.packages) == {""}:
        raise UpgradeInputError(
            f"{old.label} is one package's manifest but the definitions are a folder of "
            "packages: point --against at the output folder of all of them"
        )
    names = sorted(set(old.packages) | set(new.packages))
    return [(n, old.packages.get(n), new.packages.get(n)) for n in names]


# -- comparing one view -----------------------------------------------------------------------------


def _field_changes(old: list[ManifestField], new: list[ManifestField]) -> list[FieldChange]:
    old_fields = {f.name: f for f in old}
    new_fields = {f.name: f for f in new}
    out: list[FieldChange] = []
    for name, f in new_fields.items():
        if name not in old_fields:
            out.append(FieldChange(name, "added", None, f.type, [], f.reads or [], []))
    for name, f in old_fields.items():
        if name not in new_fields:
            out.append(FieldChange(name, "removed", f.type, None, [], [], f.reads or []))
    for name, f in new_fields.items():
        o = old_fields.get(name)
        if o is None:
            continue
        what: list[Literal["type", "expression", "sources", "sort"]] = []
        if o.type != f.type or o.sql_type != f.sql_type:
            what.append("type")
        if o.sha256 is None or f.sha256 is None:
            pass  # an old manifest without expression fingerprints: only types and reads compare
        elif o.sha256 != f.sha256:
            what.append("expression")
        new_reads = set(f.reads or [])
        old_reads = set(o.reads) if o.reads is not None else new_reads  # unknown in old manifests
        if old_reads != new_reads:
            what.append("sources")
        if (o.sorted_by, o.reverse) != (f.sorted_by, f.reverse):
            what.append("sort")
        if what:
            out.append(
                FieldChange(
                    name, "changed", o.type, f.type, what, sorted(new_reads - old_reads), sorted(old_reads - new_reads)
                )
            )
    return out


def _operator_changes(old_ops: list[dict], new_ops: list[dict]) -> list[OperatorChange]:
    old_by, new_by = {o["id"]: o for o in old_ops}, {o["id"]: o for o in new_ops}
    out = []
    for op_id in new_by:
        if op_id not in old_by:
            out.append(OperatorChange(op_id, "added", []))
    for op_id in old_by:
        if op_id not in new_by:
            out.append(OperatorChange(op_id, "removed", []))
    for op_id, op in new_by.items():
        before = old_by.get(op_id)
        if before is None or before == op:
            continue
        details = []
        for key in sorted(set(op) | set(before)):
            a, b = before.get(key), op.get(key)
            if a == b:
                continue
            if isinstance(a, list) and isinstance(b, list) and key != "row_type":
                plus, minus = Counter(map(str, b)) - Counter(map(str, a)), Counter(map(str, a)) - Counter(map(str, b))
                parts = [f"+ {x}" for x in plus.elements()] + [f"- {x}" for x in minus.elements()]
                details.append(f"{key}: " + "; ".join(parts or ["order changed"]))
            elif isinstance(a, list) and isinstance(b, list):
                details.append(f"{key}: ({', '.join(map(str, a))}) -> ({', '.join(map(str, b))})")
            else:
                details.append(f"{key}: {a} -> {b}")
        out.append(OperatorChange(op_id, "changed", details))
    if not out and [o["id"] for o in old_ops] != [o["id"] for o in new_ops]:
        out.append(OperatorChange("job graph", "changed", ["operators in another order"]))
    return out


STATE_REASONS = {
    "source": "a source's stored rows (ChangelogNormalize) change",
    "join": "a join's stored rows change",
    "aggregate": "an aggregate's accumulators change",
    "filter": "the filter decides which rows the state holds",
    "sink": "the sink's row type changes (Flink's upsert materializer stores the emitted rows)",
}


def _kind(op_id: str) -> str:
    return op_id.split(" ", 1)[0] if op_id != "job graph" else "job"


def compare_view(
    old: ManifestView | None,
    new: ManifestView | None,
    old_files: dict[str, str],
    new_files: dict[str, str],
    package: str,
) -> ViewUpgrade:
    base = new or old
    if base is None:
        raise ValueError("a view to compare needs an old or a new side")
    entry = ViewUpgrade(package, base.view, base.topic, old.view if old else None, base.definition)
    if new is not None and old is None:
        entry.status, entry.verdict, entry.sql_changed = "added", "start", True
        entry.replay = new.sources or []
        entry.reasons = ["a new job: start it without state; it reads its source topics from the beginning"]
        entry.fields = _field_changes([], new.fields or [])
        entry.sources_added = new.sources or []
        return entry
    if old is not None and new is None:
        entry.status, entry.verdict, entry.sql_changed = "removed", "stop", True
        entry.reasons = ["the view is gone: stop its job (its sink topic keeps the records written so far)"]
        entry.fields = _field_changes(old.fields or [], [])
        entry.sources_removed = old.sources or []
        return entry
    assert old is not None and new is not None  # `base` is one of them
    fields = _field_changes(old.fields or [], new.fields or [])
    old_sources, new_sources = set(old.sources or []), set(new.sources or [])
    sql_changed = old.sha256 != new.sha256
    order_changed = [f.name for f in old.fields or []] != [f.name for f in new.fields or []] and not any(
        f.change in ("added", "removed") for f in fields
    )
    udf_changes = _udf_changes(old, new)
    entry.fields = fields
    entry.sources_added = sorted(new_sources - old_sources)
    entry.sources_removed = sorted(old_sources - new_sources)
    entry.sql_changed = sql_changed
    entry.udf_changes = udf_changes
    if new.udfs and old.udfs is None:
        entry.reasons.append(
            "the old manifest does not record the UDFs' Python code (made before manifest "
            "format 3): a change in their bodies is not seen"
        )
    name = new.file
    if sql_changed and name in old_files and name in new_files:
        entry.sql_diff = "".join(
            difflib.unified_diff(
                old_files[name].splitlines(True), new_files[name].splitlines(True), f"{name} (old)", f"{name} (new)"
            )
        )
    if not sql_changed and not fields and not order_changed and not udf_changes:  # the same job
        entry.status, entry.verdict = "unchanged", "none"
        return entry
    entry.status = "changed"
    if order_changed:
        entry.reasons.append("the fields are in another order")
    for u in udf_changes:
        entry.reasons.append(UDF_REASONS[u.change].format(method=u.method, function=u.function))
    old_state, new_state = old.state, new.state
    if new_state is None:
        raise ValueError(f"the manifest of {new.topic} has no state: not written by this ontoc")
    if old_state is None:
        entry.verdict, entry.replay = "fresh-start", sorted(new_sources)
        entry.reasons.append(
            "the old manifest does not record the stateful operators (made before manifest format 2): "
            "assuming they changed"
        )
        return entry
    changes = _operator_changes([o.to_json() for o in old_state.operators], [o.to_json() for o in new_state.operators])
    entry.state_changes = changes
    if old_state.sha256 == new_state.sha256:
        entry.verdict = "savepoint"
        if new_state.stateful:
            entry.reasons.append(
                "the stateful operators are unchanged (same sources and columns, joins, "
                "aggregates, filter and sink row type)" + (": only the final projection differs" if sql_changed else "")
            )
            entry.reasons.append(
                f"rows already in `{new.topic}` keep their old values until one of their "
                "inputs changes; a fresh start with a replay recomputes every row"
            )
        else:
            entry.reasons.append("the job keeps no state besides its Kafka offsets (no joins, no filter)")
        return entry
    entry.verdict, entry.replay = "fresh-start", sorted(new_sources)
    kinds = []
    for c in changes:
        kind = _kind(c.operator)
        if kind not in kinds:
            kinds.append(kind)
    entry.reasons += [STATE_REASONS.get(k, "the job graph changes, so operators get other ids") for k in kinds]
    entry.reasons.append(
        "Flink cannot restore the old state into the new job: start it without state and "
        "replay the source topics from the beginning"
    )
    return entry


UDF_REASONS = {
    "changed": "the Python code of `{method}` ({function}) changed: the job runs the new code once restarted",
    "added": "`{method}` now runs as a Python UDF ({function})",
    "removed": "`{method}` no longer runs as a Python UDF ({function})",
}


def _udf_changes(old: ManifestView, new: ManifestView) -> list[UdfChange]:
    """UDFs whose Python code changed; none known when the old manifest does not record them (format < 3).

    A UDF added or removed changes the SQL too; listed all the same, so the reason names it.
    """
    if old.udfs is None:
        return []
    before = {u.function: u for u in old.udfs}
    after = {u.function: u for u in new.udfs or []}
    out = []
    for function in sorted(set(before) | set(after)):
        o, n = before.get(function), after.get(function)
        either = n or o
        if either is None:
            continue
        if o is None:
            out.append(UdfChange(function, either.method, "added"))
        elif n is None:
            out.append(UdfChange(function, either.method, "removed"))
        elif o.sha256 != n.sha256:
            out.append(UdfChange(function, either.method, "changed"))
    return out


FIELD_HASHES_SINCE = 3  # the manifest format whose field fingerprints hash what this ontoc hashes (the IR)


def _without_field_hashes(view: ManifestView) -> ManifestView:
    """An old view whose field fingerprints hash something else (format 2: the SQL): unknown, not different.

    Its fields then compare by type, sort and sources read only; the SQL file's hash
    and the stateful operators (same in both formats) still decide the verdict.
    """
    return replace(view, fields=[replace(f, sha256=None) for f in view.fields or []])


def upgrade_report(old: Version, new: Version, definitions_name: str) -> dict:
    """The JSON document of `ontoc plan --format json` (docs/inspect.md; schema: `UpgradePlan`)."""
    return asdict(upgrade_plan(old, new, definitions_name))


def upgrade_plan(old: Version, new: Version, definitions_name: str) -> UpgradePlan:
    """What every view's job needs to go from `old` to `new`."""
    views = []
    for package, old_pkg, new_pkg in pair_packages(old, new, definitions_name):
        old_views = old_pkg.views() if old_pkg else {}
        new_views = new_pkg.views() if new_pkg else {}
        for topic in list(new_views) + [t for t in old_views if t not in new_views]:
            old_view = old_views.get(topic)
            if old_view is not None and old_pkg is not None and old_pkg.manifest.format < FIELD_HASHES_SINCE:
                old_view = _without_field_hashes(old_view)
            views.append(
                compare_view(
                    old_view,
                    new_views.get(topic),
                    old_pkg.files if old_pkg else {},
                    new_pkg.files if new_pkg else {},
                    package,
                )
            )
    statuses = [v.status for v in views]
    verdicts = [v.verdict for v in views]
    summary = UpgradeSummary(
        added=statuses.count("added"),
        removed=statuses.count("removed"),
        changed=statuses.count("changed"),
        unchanged=statuses.count("unchanged"),
        fresh_start=verdicts.count("fresh-start"),
        savepoint=verdicts.count("savepoint"),
    )
    return UpgradePlan("plan", FORMAT, old.label, new.label, summary, views)


# -- text -------------------------------------------------------------------------------------------

MARK = {"added": "+", "removed": "-", "changed": "~", "unchanged": "="}
VERDICT_TEXT = {
    "none": "nothing to do",
    "savepoint": "restore from a savepoint",
    "fresh-start": "fresh start + replay",
    "start": "new job: start",
    "stop": "stop the job",
}


def _field_line(f: dict) -> str:
    if f["change"] == "added":
        text = f"+ {f['name']}: {f['new_type']}"
    elif f["change"] == "removed":
        text = f"- {f['name']}: {f['old_type']}"
    else:
        parts = []
        if "type" in f["what"]:
            parts.append(f"type {f['old_type']} -> {f['new_type']}")
        if "expression" in f["what"]:
            parts.append("expression")
        if "sort" in f["what"]:
            parts.append("sort order")
        text = f"~ {f['name']}: " + ", ".join(parts or ["sources"])
    reads = [f"+{r}" for r in f["reads_added"]] + [f"-{r}" for r in f["reads_removed"]]
    if reads and f["change"] == "changed":
        text += f"  (reads {' '.join(reads)})"
    elif f["change"] == "added" and f["reads_added"]:
        text += f"  (reads {', '.join(f['reads_added'])})"
    return text


def render_text(report: dict, show_unchanged: bool = True, diff: bool = False) -> str:
    s = report["summary"]
    out = [
        f"plan: {report['new']} against {report['old']}: {s['changed']} changed, {s['added']} added, "
        f"{s['removed']} removed, {s['unchanged']} unchanged; {s['fresh_start']} need a fresh start"
    ]
    unchanged = []
    for v in report["views"]:
        name = f"{v['package'] + ':' if v['package'] else ''}{v['view']} -> {v['topic']}"
        if v["status"] == "unchanged":
            unchanged.append(name)
            continue
        out.append("")
        out.append(f"{MARK[v['status']]} {name}: {v['status']}, {VERDICT_TEXT[v['verdict']]}")
        if v["old_view"] and v["old_view"] != v["view"]:
            out.append(f"    view class renamed from {v['old_view']}")
        for f in v["fields"]:
            out.append(f"    field {_field_line(f)}")
        if v["sources_added"]:
            out.append(f"    sources + {', '.join(v['sources_added'])}")
        if v["sources_removed"]:
            out.append(f"    sources - {', '.join(v['sources_removed'])}")
        for u in v["udf_changes"]:
            out.append(f"    udf {u['change']}: {u['method']} ({u['function']})")
        for c in v["state_changes"]:
            out.append(f"    state {c['change']}: {c['operator']}")
            out += [f"        {d}" for d in c["details"]]
        if v["status"] == "changed":
            out.append(f"    sql {'changed' if v['sql_changed'] else 'unchanged'}")
        for r in v["reasons"]:
            out.append(f"    why: {r}")
        if v["replay"] and v["verdict"] in ("fresh-start", "start"):
            out.append(f"    replay: {', '.join(v['replay'])}")
        if diff and v["sql_diff"]:
            out.append(v["sql_diff"].rstrip("\n"))
    if unchanged and show_unchanged:
        out += ["", f"= unchanged: {', '.join(unchanged)}"]
    return "\n".join(out) + "\n"
