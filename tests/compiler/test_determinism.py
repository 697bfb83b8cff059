"""The same definitions compile to byte-identical files, whatever the process's string hash seed."""

from __future__ import annotations

import os
import subprocess
import sys
from enum import Enum
from pathlib import Path

from ontoc.ir import types as T
from ontoc.ir.expr import Column, Func, Literal
from ontoc.ir.fingerprint import Canonical
from ontoc.ir.node import field_names
from ontoc.pipeline import compile_definitions

ROOT = Path(__file__).resolve().parents[2]


def compile_with_seed(seed: str, out: Path) -> dict[str, bytes]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    subprocess.run(
        [sys.executable, "-m", "ontoc.cli", "compile", str(ROOT / "definitions"), "-o", str(out)],
        check=True,
        env=env,
        cwd=ROOT,
        capture_output=True,
    )
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_outputs_do_not_depend_on_the_hash_seed(tmp_path):
    first = compile_with_seed("1", tmp_path / "one")
    second = compile_with_seed("2", tmp_path / "two")
    assert first and first == second


def generic_text(value: object) -> str:
    """The rule every node follows, without the fast paths of `Canonical`."""
    if value is None or type(value) in (str, int, float, bool):
        return repr(value)
    if isinstance(value, Enum):  # Op, Agg, Kind: their name string
        return repr(value.value)
    if type(value) is tuple:
        return "(" + ",".join(generic_text(v) for v in value) + ")"
    if hasattr(type(value), "__dataclass_fields__"):
        return (
            type(value).__name__
            + "("
            + ",".join(generic_text(getattr(value, f)) for f in field_names(type(value)))
            + ")"
        )
    return repr(value)


def test_canonical_text_is_the_generic_rule_for_every_expression_of_the_examples():
    compiled = compile_definitions(ROOT / "definitions" / "meeting_room")
    canonical = Canonical()
    exprs = [e for p in compiled.plans for r in p.rel.walk() for e in r.expressions()]
    assert exprs and all(canonical(e) == generic_text(e) for e in exprs)


def test_canonical_text_tells_apart_what_the_sql_would():
    canonical = Canonical()
    a = Func("add", (Column("r", "x", T.INT), Literal(1, T.INT)), T.INT)
    texts = {
        canonical(e)
        for e in (
            a,
            Func("add", (Column("r", "x", T.INT), Literal(2, T.INT)), T.INT),
            Func("sub", (Column("r", "x", T.INT), Literal(1, T.INT)), T.INT),
            Func("add", (Column("s", "x", T.INT), Literal(1, T.INT)), T.INT),
            Func("add", (Column("r", "x", T.FLOAT), Literal(1, T.INT)), T.FLOAT),
            Literal("1", T.STR),
            Literal(1, T.INT),
            Literal(True, T.BOOL),
            Literal(1.0, T.FLOAT),
        )
    }
    assert len(texts) == 9
    assert canonical(a) == Canonical()(Func("add", (Column("r", "x", T.INT), Literal(1, T.INT)), T.INT))


def test_the_canonical_text_is_the_format_3_one():
    """The manifest's fingerprints hash this text: a change to it (an IR field renamed, added or
    reordered) must come with a new manifest FORMAT, or `plan` reads old hashes as changed."""
    from ontoc.backend.flink.artifacts import FORMAT

    e = Func("add", (Column("r", "x", T.INT.null()), Literal(1.5, T.FLOAT)), T.FLOAT)
    assert FORMAT == 3 and Canonical()(e) == (
        "Func('add',(Column('r','x',DType('int',True,None,())),Literal(1.5,DType('float',False,None,()))),"
        "DType('float',False,None,()))"
    )
