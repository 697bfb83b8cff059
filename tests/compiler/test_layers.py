"""The package's layout holds: no import reaches back up a layer, and there is no import cycle.

Imports are read from the source with `ast`, those inside function bodies included (a lazy import
is still a dependency). A layer may import its own modules and those of the layers below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ..conftest import ROOT

PACKAGE = ROOT / "ontoc"

# lowest first; a module belongs to the longest prefix that names it
LAYERS: tuple[tuple[str, ...], ...] = (
    # what definitions import (`ontoc`, `ontoc.api`, `ontoc.attrs`) and the IR: import nothing above
    ("ontoc", "ontoc.api", "ontoc.attrs", "ontoc.ir", "ontoc.errors", "ontoc.paths"),
    ("ontoc.events", "ontoc.event_validation", "ontoc.job_settings", "ontoc.jvm"),
    ("ontoc.frontend", "ontoc.passes", "ontoc.backend", "ontoc.oracle"),
    # the compiler's entry and what compares its artifacts (upgrade plans are pure, runtime-free)
    ("ontoc.pipeline", "ontoc.inspect.packages", "ontoc.inspect.upgrade", "ontoc.inspect.revision"),
    ("ontoc.runtime.workers",),
    ("ontoc.devenv", "ontoc.runtime"),
    ("ontoc.inspect",),
    ("ontoc.cli",),
)
# pairs of the same or neighbouring layers that must not meet all the same
FORBIDDEN = (
    ("ontoc.backend", "ontoc.frontend"),  # the backend reads the IR, never the ast
    ("ontoc.passes", "ontoc.frontend"),
    ("ontoc.passes", "ontoc.backend"),
    ("ontoc.runtime.workers", "ontoc.frontend"),  # code on the TaskManagers imports no compiler
    ("ontoc.runtime.workers", "ontoc.backend"),
)


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The ontoc modules `module` imports anywhere in its source."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = module.split(".")
            if node.level:
                base = base[: len(base) - node.level + (path.name == "__init__.py")]
            stem = ".".join(base + [node.module] if node.module else base) if node.level else (node.module or "")
            targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in known else stem for a in node.names]
        else:
            continue
        for target in targets:
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in known and target != module:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    known = module_names()
    return {m: imports(m, p, known) for m, p in known.items()}


def under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer(module: str) -> int:
    return max(
        ((i, len(prefix)) for i, names in enumerate(LAYERS) for prefix in names if under(module, prefix)),
        key=lambda found: found[1],
    )[0]


def test_no_import_reaches_up_a_layer():
    edges = graph()
    upward = [f"{m} -> {d}" for m, deps in edges.items() for d in deps if layer(d) > layer(m)]
    forbidden = [
        f"{m} -> {d}" for m, deps in edges.items() for d in deps for a, b in FORBIDDEN if under(m, a) and under(d, b)
    ]
    assert not upward and not forbidden, "\n".join(sorted(upward + forbidden))


def test_no_import_cycle():
    edges = graph()
    cycles = []
    state: dict[str, str] = {}  # visiting / done

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "visiting"
        for dep in sorted(edges[module]):
            if state.get(dep) == "visiting":
                cycles.append(" -> ".join(trail[trail.index(dep) :] + [dep]))
            elif dep not in state:
                visit(dep, trail + [dep])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)
