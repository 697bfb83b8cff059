"""`ontoc plan` sees a change in the Python code a UDF runs, which changes no SQL.

tests/fixtures/udfs is copied twice; the new copy's code is edited, the old one compiled. Each
side runs from its own folder, so the paths in the SQL match as they would at two commits.
"""

from __future__ import annotations

import contextlib
import shutil

import pytest

from .conftest import ROOT, ontoc

FIXTURE = ROOT / "tests" / "fixtures" / "udfs"


@pytest.fixture
def versions(tmp_path):
    return make_versions(tmp_path)


def make_versions(tmp_path, *edits: tuple[str, str]):
    """The old version compiled, and a copy to edit; `edits` apply to both."""
    old, new = tmp_path / "old" / "udfs", tmp_path / "new" / "udfs"
    shutil.copytree(FIXTURE, old)
    shutil.copytree(FIXTURE, new)
    for before, after in edits:
        edit(old, before, after)
        edit(new, before, after)
    out = tmp_path / "out"
    with contextlib.chdir(old.parent):
        assert ontoc("compile", "udfs", "-o", out).code == 0
    return new, out


def edit(package, old: str, new: str, file: str = "views.py") -> None:
    path = package / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def plan(new, out, *args: str):
    with contextlib.chdir(new.parent):
        return ontoc("plan", "udfs", "--against", out, *args)


def plan_of(new, out) -> dict:
    return plan(new, out, "--format", "json").json("plan")["views"][0]


def test_a_changed_udf_body_restarts_the_job_from_a_savepoint(versions):
    new, out = versions
    edit(new, "words.append(word.lower())", "words.append(word.upper())")
    view = plan_of(new, out)
    assert (view["status"], view["verdict"], view["sql_changed"]) == ("changed", "savepoint", False)
    assert view["udf_changes"] == [
        {"function": "ontoc__auctionview__slugify", "method": "AuctionView.slugify", "change": "changed"}
    ]
    assert any("Python code of `AuctionView.slugify`" in r for r in view["reasons"])
    text = plan(new, out).out
    assert "udf changed: AuctionView.slugify (ontoc__auctionview__slugify)" in text


def test_a_changed_module_helper_that_a_udf_calls_is_a_change(versions):
    new, out = versions
    edit(new, "        words = []\n", "        words = list(PREFIX)\n")
    edit(new, "class AuctionStore(Store):", "PREFIX = ()\n\n\nclass AuctionStore(Store):")
    assert plan_of(new, out)["udf_changes"][0]["function"] == "ontoc__auctionview__slugify"
    first = (new / "views.py").read_text()
    (new / "views.py").write_text(first.replace("PREFIX = ()", "PREFIX = ('a',)"))
    shutil.rmtree(out)
    with contextlib.chdir(new.parent):
        assert ontoc("compile", "udfs", "-o", out).code == 0
    (new / "views.py").write_text(first)  # only the helper differs between the two versions now
    view = plan_of(new, out)
    assert [u["function"] for u in view["udf_changes"]] == ["ontoc__auctionview__slugify"]


def test_comments_layout_and_other_methods_are_not_udf_changes(versions):
    new, out = versions
    edit(new, "        words = []\n", "        # collect the words\n        words = [\n        ]\n")
    edit(new, "return len({b.bidder for b in self.store.bids})", "return len({b.bidder for b in self.store.bids}) + 0")
    view = plan_of(new, out)
    assert view["udf_changes"] == []
    assert [f["name"] for f in view["fields"]] == ["bidder_count"]  # the getter did change


def test_an_old_manifest_without_udf_code_says_so(versions, tmp_path):
    import json

    new, out = versions
    manifest = json.loads((out / "manifest.json").read_text())
    for v in manifest["views"]:
        del v["udfs"]
    manifest["format"] = 2
    (out / "manifest.json").write_text(json.dumps(manifest))
    edit(new, "words.append(word.lower())", "words.append(word.upper())")
    view = plan_of(new, out)
    assert view["status"] == "unchanged" and view["udf_changes"] == []
    assert any("does not record the UDFs' Python code" in r for r in view["reasons"])


def test_a_udf_naming_its_view_class_reads_only_the_methods_it_calls(tmp_path):
    new, out = make_versions(
        tmp_path, ("        words = []\n", "        words = []\n        AuctionView.parse_code('#1')\n")
    )
    edit(new, "return len({b.bidder for b in self.store.bids})", "return len({b.bidder for b in self.store.bids}) + 0")
    assert plan_of(new, out)["udf_changes"] == []  # a getter of the class changed, not what slugify calls
    edit(new, 'return int(code.strip("#"))', 'return int(code.strip("#x"))')
    assert [u["function"] for u in plan_of(new, out)["udf_changes"]] == [
        "ontoc__auctionview__parse_code",
        "ontoc__auctionview__slugify",
    ]


def test_class_attributes_and_guarded_imports_a_udf_uses_are_its_code(tmp_path):
    new, out = make_versions(
        tmp_path,
        ("class AuctionView(ViewModel):\n", "class AuctionView(ViewModel):\n    SCALE = 1\n\n"),
        (
            "class AuctionStore(Store):",
            "try:\n    from math import floor as lowest\nexcept ImportError:\n"
            "    lowest = None\n\n\nclass AuctionStore(Store):",
        ),
        ("        words = []\n", "        words = []\n        (AuctionView.SCALE, lowest)\n"),
    )
    assert plan_of(new, out)["udf_changes"] == []
    edit(new, "    SCALE = 1\n", "    SCALE = 2\n")
    assert [u["function"] for u in plan_of(new, out)["udf_changes"]] == ["ontoc__auctionview__slugify"]
    edit(new, "    SCALE = 2\n", "    SCALE = 1\n")
    edit(new, "    lowest = None\n", "    lowest = min\n")  # the except branch of the guarded import
    assert [u["function"] for u in plan_of(new, out)["udf_changes"]] == ["ontoc__auctionview__slugify"]
