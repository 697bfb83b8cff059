"""`str()` of a Decimal: a field's hidden text column (`relations.text_column`), read only where a view formats it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ontoc.errors import OntocError
from ontoc.ir.relations import Scan, text_column
from ontoc.pipeline import compile_definitions

from ..conftest import ROOT

DECIMALS = ROOT / "tests" / "fixtures" / "decimals"


def scan_columns(package: Path) -> dict[str, set[str]]:
    """Every column the plans' scans read, per source topic."""
    out: dict[str, set[str]] = {}
    for plan in compile_definitions(package).plans:
        for rel in plan.rel.walk():
            if isinstance(rel, Scan):
                out.setdefault(rel.table, set()).update(c for c, _ in rel.columns)
    return out


def test_only_the_formatted_fields_get_a_text_column():
    columns = scan_columns(DECIMALS)
    assert text_column("credit") in columns["d_owners"] and "credit" not in columns["d_owners"]
    assert {text_column("balance"), text_column("limit"), text_column("fee")} <= columns["d_accounts"]
    assert "fee" not in columns["d_accounts"]  # formatted only: its value is never read
    assert text_column("amount") in columns["d_entries"]


def test_views_that_format_no_decimal_read_no_text_column():
    """constructs2 computes with a Decimal field (`fee + Decimal("1.25")`) but never formats one."""
    for columns in scan_columns(ROOT / "tests" / "fixtures" / "constructs2").values():
        assert not any(c.endswith("#text") for c in columns)


COMPUTED = [
    ("sum", "str(a.balance + a.fee)"),
    ("aggregate", 'f"{max(e.amount for e in self.store.entries)}"'),
    ("rounded", "str(round(a.balance, 2))"),
    ("element", "str(sorted([e.amount for e in self.store.entries])[0])"),
]


@pytest.mark.parametrize("expr", [c[1] for c in COMPUTED], ids=[c[0] for c in COMPUTED])
def test_formatting_a_computed_decimal_is_a_located_error(tmp_path, expr):
    package = tmp_path / "decimals"
    shutil.copytree(DECIMALS, package)
    views = package / "views.py"
    getter = "\n    @attrs.getter\n    def computed(self) -> str | None:\n        a = self.store.account\n"
    getter += f"        return {expr}\n"
    views.write_text(views.read_text() + getter)
    with pytest.raises(OntocError) as caught:
        compile_definitions(package)
    [d] = caught.value.diagnostics
    lines = views.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if expr in text)
    assert (d.code, d.span.line) == ("unsupported-format", line), caught.value
    assert "float(x)" in (d.hint or ""), d.hint
