"""`tz = timezone.utc` bound to a local, then `tzinfo=tz` in a datetime literal (constructs2 compiles it)."""

from __future__ import annotations

import shutil

import pytest

from ontoc.errors import OntocError
from ontoc.pipeline import compile_definitions

from ..conftest import ROOT

CONSTRUCTS2 = ROOT / "tests" / "fixtures" / "constructs2"


@pytest.mark.parametrize("bound", ["3", "self.store.student.enrolled"])
def test_a_local_that_is_not_utc_is_a_located_error(tmp_path, bound):
    package = tmp_path / "c2"
    shutil.copytree(CONSTRUCTS2, package)
    views = package / "views.py"
    text = views.read_text()
    views.write_text(text.replace("        tz = timezone.utc\n", f"        tz = {bound}\n"))
    with pytest.raises(OntocError) as caught:
        compile_definitions(package)
    [d] = caught.value.diagnostics
    lines = views.read_text().splitlines()
    line = next(i for i, t in enumerate(lines, 1) if "tzinfo=tz)" in t)
    assert (d.code, d.span.line, d.span.col) == ("unsupported-literal", line, lines[line - 1].index("tz)") + 1)
