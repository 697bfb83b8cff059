"""Golden files: the emitted SQL of every definitions package and of one getter per construct.

The committed `generated/` folder is the golden output of `definitions/`;
`tests/golden/` holds that of the test fixtures. `pytest tests/compiler/test_golden.py
--update-golden` rewrites both; review the diff like any code change.
"""

from __future__ import annotations

import pytest

from ontoc.pipeline import compile_definitions, definition_packages

from ..conftest import DEFINITIONS, ROOT

PACKAGES = dict(definition_packages(DEFINITIONS))
PACKAGES["constructs"] = ROOT / "tests" / "fixtures" / "constructs"
PACKAGES["udfs"] = ROOT / "tests" / "fixtures" / "udfs"
PACKAGES["constructs2"] = ROOT / "tests" / "fixtures" / "constructs2"
PACKAGES["correlated"] = ROOT / "tests" / "fixtures" / "correlated"
PACKAGES["integers"] = ROOT / "tests" / "fixtures" / "integers"
PACKAGES["decimals"] = ROOT / "tests" / "fixtures" / "decimals"
GOLDEN = {
    name: (ROOT / "generated" / name if path.parent == DEFINITIONS else ROOT / "tests" / "golden" / name)
    for name, path in PACKAGES.items()
}


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_emitted_sql_matches_golden_files(name, update_golden):
    compiled = compile_definitions(PACKAGES[name])
    folder = GOLDEN[name]
    if update_golden:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.iterdir():
            stale.unlink()
        for file, text in compiled.files.items():
            (folder / file).write_text(text, encoding="utf-8")
    expected = {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()} if folder.exists() else {}
    assert sorted(compiled.files) == sorted(expected), "run with --update-golden to create the golden files"
    for file, text in compiled.files.items():
        assert text == expected[file], f"{name}/{file} differs from tests/golden; review and --update-golden"


def test_compiling_twice_gives_identical_bytes():
    first = compile_definitions(PACKAGES["constructs"]).files
    second = compile_definitions(PACKAGES["constructs"]).files
    assert first == second
