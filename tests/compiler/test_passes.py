"""Rewrites of the passes on hand-built plans: what they drop, and what they must keep.

The differential suite checks that the results stay Python's; these pin the shapes.
Each pass has a fixture file, tests/fixtures/passes/<pass>.txt: cases separated by
a blank line, each a `# title`, an input plan in the builder syntax of
`pass_builder.py`, `----`, and the relation tree the pass must give (`ir.dump`).
`ONTOC_UPDATE_PASS_FIXTURES=1` rewrites the expected trees (review the diff).
"""

from __future__ import annotations

import doctest
import importlib
import os
import pkgutil
from dataclasses import dataclass
from pathlib import Path

import pytest

import ontoc.ir
import ontoc.passes
from ontoc.ir import build as B
from ontoc.ir.dump import expr_text, rel_lines
from ontoc.ir.expr import Column, Expr, Func
from ontoc.ir.fingerprint import Canonical
from ontoc.ir.traverse import map_expr
from ontoc.ir.types import BOOL, STR, DType
from ontoc.passes import PASSES

from .pass_builder import build_plan


def col(rel: str, name: str, dtype=STR) -> Column:
    return Column(rel, name, dtype)


def missing(rel: str) -> Func:
    return Func("is_null", (col(rel, "doc_id"),), BOOL)


def test_is_null_beside_is_not_null_folds():
    x = col("s", "warehouse")
    assert B.and_(B.is_null(x), B.is_not_null(x)) == B.lit(False)
    assert B.or_(B.is_null(x), B.is_not_null(x)) == B.lit(True)
    assert B.or_(B.or_(missing("w"), missing("c")), missing("w")) == B.or_(missing("w"), missing("c"))
    # absorption: p OR (q AND p) is p
    assert B.or_(missing("w"), B.and_(B.is_null(x), missing("w"))) == missing("w")
    assert B.and_(missing("w"), B.or_(B.is_null(x), missing("w"))) == missing("w")


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "passes"
SEPARATOR = "----"


def fixture_cases(name: str) -> list[tuple[str, str, str]]:
    """(title, input, expected) of each case of one pass's fixture file."""
    cases = []
    for block in (FIXTURES / f"{name}.txt").read_text(encoding="utf-8").strip().split("\n\n"):
        title, _, rest = block.partition("\n")
        source, _, expected = rest.partition(f"\n{SEPARATOR}")
        cases.append((title.removeprefix("# "), source, expected.removeprefix("\n")))
    return cases


def test_every_pass_has_a_fixture_file():
    assert sorted(p.name for p in FIXTURES.glob("*.txt")) == sorted(f"{p.__name__}.txt" for p in PASSES)


@pytest.mark.parametrize("rewrite", PASSES, ids=lambda p: p.__name__)
def test_pass_gives_the_fixture_output(rewrite):
    cases = fixture_cases(rewrite.__name__)
    results = ["\n".join(rel_lines(rewrite(build_plan(source)).rel)) for _, source, _ in cases]
    if os.environ.get("ONTOC_UPDATE_PASS_FIXTURES"):
        text = "\n\n".join(f"# {t}\n{s}\n{SEPARATOR}\n{r}" for (t, s, _), r in zip(cases, results, strict=True))
        (FIXTURES / f"{rewrite.__name__}.txt").write_text(text + "\n", encoding="utf-8")
    for (title, source, expected), result in zip(cases, results, strict=True):
        assert result == expected, title
        assert "\n".join(rel_lines(build_plan(source).rel)) != expected or "unchanged" in title, (
            f"{title}: the input is already the output (say `unchanged` in the title if that is the point)"
        )


def _modules(package) -> list[str]:
    return [m.name for m in pkgutil.iter_modules(package.__path__, package.__name__ + ".")]


@pytest.mark.parametrize("module", _modules(ontoc.passes) + _modules(ontoc.ir))
def test_doctests_pass(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0


@dataclass(frozen=True, slots=True)
class Labelled(Expr):
    """A node type the IR does not have: what the generic children interface must handle."""

    arg: Expr
    label: str
    dtype: DType


def test_a_new_node_type_is_walked_rewritten_dumped_and_fingerprinted_without_touching_those_modules():
    node = Labelled(B.and_(B.lit(True), missing("w")), "guard", BOOL)
    assert list(node.walk()) == [node, missing("w"), col("w", "doc_id")]
    renamed = map_expr(node, lambda e: col("x", "doc_id") if e == col("w", "doc_id") else e)
    assert renamed == Labelled(Func("is_null", (col("x", "doc_id"),), BOOL), "guard", BOOL)
    assert expr_text(node) == "Labelled[guard](is_null(w.doc_id))"
    assert Canonical()(node) == f"Labelled({Canonical()(missing('w'))},'guard',DType('bool',False,None,()))"
