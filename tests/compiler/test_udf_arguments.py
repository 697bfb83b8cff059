"""What a Python function that takes a document is passed: its presence column first, then the fields it reads.

The presence column is NULL exactly where the document is missing: the `doc_id` where the method reads it,
else a field it reads that a present document never holds null (spec 1), so no `doc_id` travels and the
worker's memo shares outcomes between documents with equal fields."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ontoc.errors import OntocError
from ontoc.pipeline import compile_definitions

from ..conftest import ROOT
from .test_errors import write_package


def doc_fields(dtype) -> list:
    """A document parameter's fields in order, references as (name, their fields)."""
    return [(name, doc_fields(t)) if t.fields else name for name, t in dtype.fields]


def params_of(package: Path) -> dict[str, list]:
    compiled = compile_definitions(package, static_methods="udf")
    return {
        u.method: [doc_fields(p.dtype) if p.kind == "doc" else p.kind for p in u.params]
        for plan in compiled.plans
        for u in plan.udfs
        if u.kind == "scalar"
    }


def test_a_required_field_read_is_the_presence_column():
    params = params_of(ROOT / "bench" / "workloads" / "projection_udf")
    assert params["name_of"] == [["name"]]  # `name: str`
    assert params["total_of"] == [["amount", "discount"]]  # `amount: float`, then `discount: float | None`
    # the customer read through the order: its own presence column, `vip: bool = False` (a default, not None)
    assert params["big_of"] == [["amount", ("customer", ["vip"])]]
    # `email: str | None` may be null in a present customer: the doc_id says whether it is there
    assert params["contact_of"] == [["doc_id", "email"]]
    assert params["label_of"] == ["scalar"]


def test_doc_id_stays_where_the_method_reads_it_or_no_field_is_never_null(tmp_path):
    package = tmp_path / "presence"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(
        textwrap.dedent(
            """
            from ontoc import DomainModel


            class Item(DomainModel):
                class Meta:
                    topic = "p_items"

                title: str
                note: str | None = None
                size: int = 0
            """
        )
    )
    (package / "views.py").write_text(
        textwrap.dedent(
            """
            from ontoc import Store, ViewModel, attrs, one

            from .models import Item


            class ItemStore(Store):
                item = one(Item)


            class ItemView(ViewModel):
                class Meta:
                    topic = "p_item_views"
                    store = ItemStore

                @attrs.getter
                def label(self) -> str:
                    return self.label_of(self.store.item)

                @attrs.getter
                def remark(self) -> str:
                    return self.remark_of(self.store.item)

                @attrs.getter
                def sized(self) -> str:
                    return self.sized_of(self.store.item)

                @staticmethod
                def label_of(item) -> str:
                    return item.doc_id + ": " + item.title

                @staticmethod
                def remark_of(item) -> str:
                    return item.note or "-"

                @staticmethod
                def sized_of(item) -> str:
                    return (item.note or "") + str(item.size)
            """
        )
    )
    params = params_of(package)
    assert params["label_of"] == [["doc_id", "title"]]  # read: the doc_id itself
    assert params["remark_of"] == [["doc_id", "note"]]  # only an optional field read
    assert params["sized_of"] == [["size", "note"]]  # `size: int = 0` is never null: first, then the rest


# a getter calling `place_of(meeting)`, whose body follows
PLACE = """
    @attrs.getter
    def place(self) -> str:
        return self.place_of(self.store.meeting)

    @staticmethod
    def place_of(meeting) -> str:
"""


def test_a_document_compared_with_none_or_tested_for_truth_compiles(tmp_path):
    package = write_package(
        tmp_path,
        PLACE
        + """
        if not meeting or meeting.location is None:
            return "nowhere"
        return meeting and meeting.location.address
""",
    )
    params = params_of(package)
    # the meeting's only field read is a reference: its doc_id says whether it is there; the location's `address`
    assert params["place_of"] == [["doc_id", ("location", ["address"])]]


def test_a_document_passed_on_to_the_views_static_methods_carries_what_they_read(tmp_path):
    package = write_package(
        tmp_path,
        PLACE
        + """
        return meeting.status + V.located(meeting.location) + V.again(meeting, 2)

    @staticmethod
    def located(location) -> str:
        return "?" if location is None else location.address

    @staticmethod
    def again(meeting, depth) -> str:
        # recursion: the reads of the outer call are collected once
        return str(meeting.location.latitude) if depth == 0 else V.again(meeting=meeting, depth=depth - 1)
""",
    )
    params = params_of(package)
    # `status: str` first (never null); the location's `address` from `located`, `latitude` from `again`
    assert params["place_of"] == [["status", ("location", ["address", "latitude"])]]
    # the attempt to inline `place_of` registered `located` as a UDF before it failed: undone, Python calls it
    assert set(params) == {"place_of"}


def with_module_code(package: Path, code: str) -> Path:
    views = package / "views.py"
    views.write_text(views.read_text() + textwrap.dedent(code))
    return package


def test_a_document_passed_to_a_function_of_the_module_carries_what_it_reads(tmp_path):
    package = write_package(tmp_path, PLACE + "        return meeting.status + address_of(meeting.location)\n")
    with_module_code(
        package,
        """

        def address_of(location):
            return location.address if location else "?"
        """,
    )
    assert params_of(package)["place_of"] == [["status", ("location", ["address"])]]


@pytest.mark.parametrize(
    "body,module_code",
    [
        # the name is the module's function, but the method rebinds it first
        (
            "        address_of = repr\n        return address_of(meeting)\n",
            "def address_of(m):\n    return m.status\n",
        ),
        # a decorator may do anything with the document
        (
            "        return address_of(meeting)\n",
            "import functools\n\n@functools.cache\ndef address_of(m):\n    return m.status\n",
        ),
        # bound twice at the top of the module
        ("        return address_of(meeting)\n", "def address_of(m):\n    return m.status\naddress_of = repr\n"),
        # imported: its body is not read
        ("        return dumps(meeting)\n", "from json import dumps\n"),
    ],
    ids=["shadowed", "decorated", "rebound", "imported"],
)
def test_a_document_passed_to_a_function_whose_body_is_not_read_is_located(tmp_path, body, module_code):
    package = with_module_code(write_package(tmp_path, PLACE + body), "\n\n" + module_code)
    with pytest.raises(OntocError) as caught:
        params_of(package)
    [d] = caught.value.diagnostics
    lines = (package / "views.py").read_text().splitlines()
    assert d.code == "unsupported-udf" and "`place_of` uses the document `meeting`" in d.message
    assert lines[d.span.line - 1][d.span.col - 1 :].startswith("meeting)")
