"""Every error code the compiler can raise is documented in docs/errors.md."""

from __future__ import annotations

import re

from ..conftest import ROOT


def test_every_error_code_is_documented():
    source = "\n".join(p.read_text() for p in sorted((ROOT / "ontoc" / "frontend").rglob("*.py")))
    codes = set(re.findall(r'(?:fail|error|Diagnostic|sink\.error)\(\s*"([a-z]+(?:-[a-z]+)+)"', source))
    documented = set(re.findall(r"`([a-z]+(?:-[a-z]+)+)`", (ROOT / "docs" / "errors.md").read_text()))
    assert codes, "no codes found: the pattern above is stale"
    assert codes - documented == set()
