"""Unsupported code is a compile error with file:line:col, the source line, a caret and a hint.

Each case is a getter body; the marker text says where the caret must point
(the first occurrence of the marker on the line that contains it).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ontoc.errors import OntocError
from ontoc.pipeline import compile_definitions

from ..conftest import DEFINITIONS

VIEW = """\
import datetime
from decimal import Decimal

from ontoc import Store, ViewModel, attrs, many, one

from .models import Meeting, Ticket


class S(Store):
    meeting = one(Meeting)
    tickets = many(Ticket, on="meeting")


class V(ViewModel):
    class Meta:
        topic = "v"
        store = S

{methods}
"""

CASES = [
    # (id, methods source, error code, marker)
    (
        "while-loop",
        """
    @attrs.getter
    def g(self) -> int:
        n = 0
        while n < 3:
            n = 1
        return n
""",
        "unsupported-statement",
        "while n < 3",
    ),
    (
        "try",
        """
    @attrs.getter
    def g(self) -> int:
        try:
            return 1
        except Exception:
            return 2
""",
        "unsupported-statement",
        "try:",
    ),
    (
        "import",
        """
    @attrs.getter
    def g(self) -> int:
        import os
        return 1
""",
        "unsupported-statement",
        "import os",
    ),
    (
        "io-call",
        """
    @attrs.getter
    def g(self) -> str:
        return open("/etc/passwd").read()
""",
        "unknown-function",
        "open(",
    ),
    (
        "print",
        """
    @attrs.getter
    def g(self) -> str:
        print(self.store.meeting.status)
        return "x"
""",
        "mutation",
        "print(",
    ),
    (
        "unknown-function",
        """
    @attrs.getter
    def g(self) -> int:
        return compute(self.store.meeting.status)
""",
        "unknown-function",
        "compute(",
    ),
    (
        "mutation-attribute",
        """
    @attrs.getter
    def g(self) -> str:
        self.store.meeting.status = "closed"
        return "x"
""",
        "mutation",
        "self.store.meeting.status =",
    ),
    (
        "augmented-assignment",
        """
    @attrs.getter
    def g(self) -> int:
        n = 1
        n += 2
        return n
""",
        "mutation",
        "n += 2",
    ),
    (
        "other-loop",
        """
    @attrs.getter
    def g(self) -> int:
        n = 0
        for t in self.store.tickets:
            print(t)
        return n
""",
        "unsupported-loop",
        "print(t)",
    ),
    (
        "loop-over-range",
        """
    @attrs.getter
    def g(self) -> int:
        n = 0
        for i in range(3):
            n += i
        return n
""",
        "unknown-function",
        "range(3)",
    ),
    (
        "getter-cycle",
        """
    @attrs.getter
    def a(self) -> int:
        return self.b + 1

    @attrs.getter
    def b(self) -> int:
        return self.a + 1
""",
        "getter-cycle",
        "def a",
    ),
    (
        "unknown-field",
        """
    @attrs.getter
    def g(self) -> str:
        return self.store.meeting.colour
""",
        "unknown-field",
        "self.store.meeting.colour",
    ),
    (
        "classmethod-over-documents",
        """
    @attrs.getter
    def g(self) -> float | None:
        return self.median(t for t in self.store.tickets)

    @classmethod
    def median(cls, values) -> float | None:
        xs = sorted(values)
        return xs[len(xs) // 2] if xs else None
""",
        "unsupported-udf",
        "(t for t in self.store.tickets)",
    ),
    (
        "udf-document-by-getattr",
        """
    @attrs.getter
    def g(self) -> str:
        return self.status_of(self.store.meeting)

    @staticmethod
    def status_of(meeting) -> str:
        return getattr(meeting, "status")
""",
        "unsupported-udf",
        'meeting, "status"',
    ),
    (
        "udf-reference-passed-on",
        """
    @attrs.getter
    def g(self) -> str:
        return self.place_of(self.store.meeting)

    @staticmethod
    def place_of(meeting) -> str:
        return str(meeting.location)
""",
        "unsupported-udf",
        "meeting.location)",
    ),
    (
        "udf-document-passed-to-a-helper-by-getattr",
        """
    @attrs.getter
    def g(self) -> str:
        return self.status_of(self.store.meeting)

    @staticmethod
    def status_of(meeting) -> str:
        return V.read("address", meeting.location)

    @staticmethod
    def read(name, place) -> str:
        return getattr(place, name)
""",
        "unsupported-udf",
        "place, name)",
    ),
    (
        "udf-document-passed-to-a-function-not-of-the-view",
        """
    @attrs.getter
    def g(self) -> str:
        return self.status_of(self.store.meeting)

    @staticmethod
    def status_of(meeting) -> str:
        return V.plain(*[meeting])

    @staticmethod
    def plain(meeting) -> str:
        return meeting.status
""",
        "unsupported-udf",
        "meeting])",
    ),
    (
        "udf-without-annotation",
        """
    @attrs.getter
    def g(self) -> str:
        return self.shout(self.store.meeting.status)

    @staticmethod
    def shout(text):
        while text:
            return text
        return text
""",
        "missing-annotation",
        "self.shout(",
    ),
    (
        "format-spec",
        """
    @attrs.getter
    def g(self) -> str:
        return f"{self.store.meeting.location.latitude:.2f}"
""",
        "unsupported-format",
        'f"{self.store.meeting.location.latitude:.2f}"',
    ),
    (
        "correlated-collection",
        """
    @attrs.getter
    def g(self) -> int:
        return len([t for t in self.store.tickets if t.role == max(u.role for u in self.store.tickets if t.user)])
""",
        "correlated-collection",
        "t.user)",
    ),
    (
        "in-a-list-with-the-element",
        """
    @property
    def roles(self):
        return [t.role for t in self.store.tickets if t.attendance]

    @attrs.getter
    def g(self) -> int:
        return len([t for t in self.store.tickets if t.role in self.roles])
""",
        "correlated-collection",
        "t.role in self.roles",
    ),
    (
        "nested-comprehension",
        """
    @attrs.getter
    def g(self) -> int:
        return len([1 for t in self.store.tickets for u in self.store.tickets])
""",
        "unsupported-comprehension",
        "[1 for t in",
    ),
    (
        "lambda-call",
        """
    @attrs.getter
    def g(self) -> int:
        return (lambda x: x)(1)
""",
        "unsupported-call",
        "(lambda x: x)(1)",
    ),
    (
        "round-digits-may-be-none",
        """
    @attrs.getter
    def g(self) -> float:
        return round(1.5, 2 if self.store.meeting.status else None)
""",
        "unsupported-call",
        "round(1.5",
    ),
    (
        "return-type",
        """
    @attrs.getter
    def g(self) -> int:
        return self.store.meeting.status
""",
        "return-type",
        "int",
    ),
    (
        "mixed-branches",
        """
    @attrs.getter
    def g(self) -> str:
        if self.store.meeting.status:
            return "a"
        return 1
""",
        "type-mismatch",
        "def g",
    ),
    (
        "int-literal-beyond-64-bits",
        """
    @attrs.getter
    def g(self) -> int:
        return 99999999999999999999 + 1
""",
        "int-literal-range",
        "99999999999999999999",
    ),
    (
        "naive-datetime-literal",
        """
    @attrs.getter
    def g(self) -> bool:
        return datetime.datetime(2024, 1, 1) is None
""",
        "naive-datetime",
        "datetime.datetime(2024",
    ),
    (
        "index-of-an-unsorted-list",
        """
    @attrs.getter
    def g(self) -> str:
        return [t.role for t in self.store.tickets][0]
""",
        "unordered-index",
        "[t.role",
    ),
    (
        "documents-have-no-order",
        """
    @attrs.getter
    def g(self) -> bool:
        return self.store.meeting.location < self.store.meeting.location
""",
        "document-value",
        "self.store.meeting.location <",
    ),
    (
        "datetime-difference-compared-with-an-int",
        """
    @attrs.getter
    def g(self) -> bool:
        day = datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc)
        return day - day > 5
""",
        "unsupported-operator",
        "day - day",
    ),
    (
        "timedelta-beyond-intervals",
        """
    @attrs.getter
    def g(self) -> bool:
        return datetime.timedelta(days=5000) is None
""",
        "unsupported-literal",
        "datetime.timedelta(days=5000)",
    ),
    (
        "decimal-of-a-float",
        """
    @attrs.getter
    def g(self) -> bool:
        return Decimal(1.1) is None
""",
        "unsupported-literal",
        "Decimal(1.1)",
    ),
    (
        "len-of-generator",
        """
    @attrs.getter
    def g(self) -> int:
        return len(t.role for t in self.store.tickets)
""",
        "always-raises",
        "len(t.role",
    ),
]


def write_package(tmp_path: Path, methods: str) -> Path:
    package = tmp_path / "defs"
    package.mkdir()
    shutil.copy(DEFINITIONS / "meeting_room" / "models.py", package / "models.py")
    (package / "__init__.py").write_text("")
    (package / "views.py").write_text(VIEW.format(methods=textwrap.indent(textwrap.dedent(methods), "    ")))
    return package


@pytest.mark.parametrize("methods,code,marker", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_unsupported_code_is_a_located_error(tmp_path, methods, code, marker):
    package = write_package(tmp_path, methods)
    with pytest.raises(OntocError) as caught:
        compile_definitions(package)
    diagnostics = caught.value.diagnostics
    assert [d.code for d in diagnostics] == [code], caught.value
    d = diagnostics[0]
    lines = (package / "views.py").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if marker in text)
    assert d.span.file.endswith("views.py")
    assert (d.span.line, d.span.col) == (line, lines[line - 1].index(marker) + 1), caught.value
    rendered = d.render()
    assert rendered.startswith(f"{d.span.file}:{line}:{d.span.col}: error: ")
    assert rendered.splitlines()[1].endswith(lines[line - 1].rstrip())
    caret_line = rendered.splitlines()[2]
    assert caret_line.index("^") - caret_line.index("|") - 2 == d.span.col - 1
    assert "\nhint: " in rendered


def test_all_errors_of_a_run_are_reported_together(tmp_path):
    package = write_package(tmp_path, CASES[0][1] + CASES[5][1].replace("def g", "def h"))
    with pytest.raises(OntocError) as caught:
        compile_definitions(package)
    assert [d.code for d in caught.value.diagnostics] == ["unsupported-statement", "unknown-function"]


def test_cli_exits_2_with_the_message_and_no_traceback(tmp_path):
    package = write_package(tmp_path, CASES[0][1])
    proc = subprocess.run(
        [sys.executable, "-m", "ontoc.cli", "compile", str(package), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "views.py" in proc.stderr and "while n < 3" in proc.stderr and "^" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_json_diagnostics(tmp_path):
    import json

    package = write_package(tmp_path, CASES[0][1])
    proc = subprocess.run(
        [sys.executable, "-m", "ontoc.cli", "compile", str(package), "--format", "json"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    [item] = json.loads(proc.stderr)
    assert item["code"] == "unsupported-statement" and item["line"] > 0 and item["col"] > 0 and item["hint"]


def test_warning_for_a_python_udf_where_native_sql_was_possible(tmp_path):
    import json

    from ontoc.pipeline import compile_definitions as compile_package

    assert compile_package(DEFINITIONS / "meeting_room").warnings == []
    [warning] = compile_package(DEFINITIONS / "meeting_room", static_methods="udf").warnings
    assert (warning.severity, warning.code) == ("warning", "udf-could-be-native")
    assert warning.span.file.endswith("views.py") and "display_name" in warning.message
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ontoc.cli",
            "compile",
            str(DEFINITIONS / "meeting_room"),
            "-o",
            str(tmp_path),
            "--static-methods",
            "udf",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0
    assert [w["code"] for w in json.loads(proc.stderr)] == ["udf-could-be-native"]


# Hostile definitions (issue 13, issue 12 item 7): each is a located error, never a traceback.

GETTER = """
    @attrs.getter
    def g(self) -> int:
        return 1
"""


def hostile_package(tmp_path: Path, views: str | None = None, models_extra: str = "", methods: str = GETTER) -> Path:
    package = write_package(tmp_path, methods)
    models = package / "models.py"
    models.write_text(models.read_text() + textwrap.dedent(models_extra))
    if views is not None:
        (package / "views.py").write_text(views)
    return package


def subfolder(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir()
    return tmp_path / name


def assert_located(package: Path, code: str, file: str, marker: str) -> OntocError:
    """Compiling `package` fails with exactly one `code` error at the first `marker` of `file`."""
    with pytest.raises(OntocError) as caught:
        compile_definitions(package)
    assert [d.code for d in caught.value.diagnostics] == [code], caught.value
    d = caught.value.diagnostics[0]
    lines = (package / file).read_text(encoding="utf-8", errors="replace").splitlines()
    line = next(i for i, text in enumerate(lines, 1) if marker in text)
    assert d.span.file.endswith(file)
    assert (d.span.line, d.span.col) == (line, lines[line - 1].index(marker) + 1), caught.value
    return caught.value


BAD_TOPICS = ["../escaped", "/abs/path", "a\0b", "x" * 250, "a;b", "__ontoc_events", ".", "..", "a b", "ü"]


@pytest.mark.parametrize(
    "topic", BAD_TOPICS, ids=["dotdot", "abs", "nul", "250", "semicolon", "internal", "dot", "dot2", "space", "unicode"]
)
def test_topics_follow_kafka_rules(tmp_path, topic):
    literal = repr(topic)
    package = hostile_package(tmp_path)
    views = package / "views.py"
    views.write_text(views.read_text().replace('topic = "v"', f"topic = {literal}"))
    error = assert_located(package, "bad-topic", "views.py", literal)
    assert "249" in str(error) or repr(topic)[:20] in str(error)


def test_a_model_topic_is_checked_too(tmp_path):
    package = hostile_package(tmp_path)
    models = package / "models.py"
    models.write_text(models.read_text().replace('topic = "users"', 'topic = "../users"'))
    assert_located(package, "bad-topic", "models.py", '"../users"')


def test_the_longest_topic_kafka_allows_compiles(tmp_path):
    package = hostile_package(tmp_path)
    views = package / "views.py"
    views.write_text(views.read_text().replace('topic = "v"', f'topic = "{"t" * 249}"'))
    assert f"{'t' * 249}.sql" in compile_definitions(package).files


def test_a_file_that_is_not_utf8_is_located(tmp_path):
    package = hostile_package(tmp_path)
    views = package / "views.py"
    views.write_bytes(views.read_bytes().replace(b"return 1", b"return 1  # caf\xe9"))
    error = assert_located(package, "bad-encoding", "views.py", "\ufffd")
    assert "0xe9" in str(error)


def test_a_byte_order_mark_is_accepted_as_python_does(tmp_path):
    package = hostile_package(tmp_path)
    views = package / "views.py"
    views.write_bytes(b"\xef\xbb\xbf" + views.read_bytes())
    reference = compile_definitions(write_package(subfolder(tmp_path, "plain"), GETTER)).files["v.sql"]
    assert compile_definitions(package).files["v.sql"].split("\n", 1)[1] == reference.split("\n", 1)[1]


def test_a_declared_encoding_is_honoured(tmp_path):
    package = hostile_package(tmp_path)
    views = package / "views.py"
    text = "# -*- coding: latin-1 -*-\n" + views.read_text().replace('"v"', '"v"  # café')
    views.write_bytes(text.encode("latin-1"))
    assert "v.sql" in compile_definitions(package).files


def test_a_null_byte_is_a_located_syntax_error(tmp_path):
    package = hostile_package(tmp_path)
    views = package / "views.py"
    views.write_text(views.read_text().replace("return 1", "return 1\0"))
    with pytest.raises(OntocError) as caught:
        compile_definitions(package)
    [d] = caught.value.diagnostics
    line = next(i for i, t in enumerate(views.read_text().splitlines(), 1) if "\0" in t)
    assert (d.code, d.span.line, d.span.col) == ("syntax-error", line, len("        return 1") + 1)


DEFAULTS = [
    ('n: int = "x"', "default-type"),
    ("b: bool = 1", "default-type"),
    ("n: int = True", "default-type"),
    ("s: str = None", "default-type"),
    ("n: int = 18446744073709551616", "default-type"),
    ("f: float = 1e999", "default-type"),
    ('xs: list[int] = [1, "a"]', "default-type"),
    ("xs: list[int] = (1, 2)", "default-type"),
    ("d: int = {[]: 1}", "bad-default"),  # Python raises TypeError (unhashable key) when it runs
]


@pytest.mark.parametrize("field,code", DEFAULTS, ids=[d[0] for d in DEFAULTS])
def test_a_default_of_the_wrong_type_is_located(tmp_path, field, code):
    extra = f'\n\nclass Extra(DomainModel):\n    class Meta:\n        topic = "extras"\n\n    {field}\n'
    package = hostile_package(tmp_path, models_extra=extra)
    with pytest.raises(OntocError) as caught:
        compile_definitions(package)
    [d] = caught.value.diagnostics
    lines = (package / "models.py").read_text().splitlines()
    line = lines.index(f"    {field}") + 1
    assert (d.code, d.span.line, d.span.col) == (code, line, lines[line - 1].index(" = ") + 4), caught.value


def test_defaults_of_the_right_type_compile(tmp_path):
    extra = """

    class Extra(DomainModel):
        class Meta:
            topic = "extras"

        xs: list[int] = []
        f: float = 1
        n: int | None = None
        d: decimal.Decimal = 3
        s: str = "ok"
    """
    package = hostile_package(tmp_path, models_extra=extra)
    models = package / "models.py"
    models.write_text("import decimal\n" + models.read_text())
    extras = compile_definitions(package).schema.models["Extra"].fields
    assert [(f.name, f.default) for f in extras.values()] == [("xs", []), ("f", 1), ("n", None), ("d", 3), ("s", "ok")]


def test_importing_a_name_ontoc_does_not_have_is_located(tmp_path):
    package = hostile_package(tmp_path)
    models = package / "models.py"
    models.write_text("from ontoc import Frobnicate\n" + models.read_text())
    error = assert_located(package, "unknown-import", "models.py", "Frobnicate")
    assert "DomainModel" in str(error)  # the hint lists what ontoc has


def test_importing_a_name_a_module_of_the_package_does_not_define_is_located(tmp_path):
    package = hostile_package(tmp_path)
    views = package / "views.py"
    views.write_text(views.read_text().replace("import Meeting, Ticket", "import Meeting, Ticket, Tikcet"))
    assert_located(package, "unknown-import", "views.py", "Tikcet")
    views.write_text(
        views.read_text().replace("from .models import Meeting, Ticket, Tikcet", "from .modles import Meeting")
    )
    assert_located(package, "unknown-import", "views.py", "from .modles")


def test_a_getter_named_doc_id_is_located(tmp_path):
    package = hostile_package(tmp_path, methods=GETTER.replace("def g", "def doc_id"))
    assert_located(package, "reserved-field", "views.py", "def doc_id")


LONG = "n" * 257


@pytest.mark.parametrize(
    "where",
    ["field", "getter", "entry", "dict-key", "udf"],
)
def test_identifiers_longer_than_flink_allows_are_located(tmp_path, where):
    package = hostile_package(tmp_path)
    models, views = package / "models.py", package / "views.py"
    if where == "field":
        models.write_text(models.read_text().replace("role: str", f"{LONG}: str"))
        assert_located(package, "identifier-too-long", "models.py", LONG)
        return
    text = views.read_text()
    if where == "getter":
        text = text.replace("def g", f"def {LONG}")
    elif where == "entry":
        text = text.replace("tickets = many", f"{LONG} = many")
    elif where == "dict-key":
        text = text.replace("return 1", f'return len([{{"{LONG}": t.role}} for t in self.store.tickets])')
    else:
        text = (
            text.replace("return 1", "return self.f(1)")
            + f"\n    @staticmethod\n    def {LONG[:250]}(x) -> int:\n        return x\n"
        )
        text = text.replace("self.f(", f"self.{LONG[:250]}(")
        views.write_text(text)
        assert_located(package, "identifier-too-long", "views.py", f"def {LONG[:250]}")
        return
    views.write_text(text)
    marker = {"getter": f"def {LONG}", "dict-key": f'"{LONG}'}.get(where, LONG)
    assert_located(package, "identifier-too-long", "views.py", marker)


def test_a_long_path_of_references_gets_a_short_alias(tmp_path):
    """Aliases join entry and reference names (`meeting__location`): a long path is shortened, not refused."""
    name = "l" * 250
    package = hostile_package(
        tmp_path,
        methods=GETTER.replace("-> int", "-> str").replace("return 1", f"return self.store.meeting.{name}.address"),
    )
    models = package / "models.py"
    models.write_text(models.read_text().replace("location: Location", f"{name}: Location"))
    sql = compile_definitions(package).files["v.sql"]
    aliases = {a for a in __import__("re").findall(r"AS `([^`]+)`", sql)}
    assert aliases and max(len(a) for a in aliases) <= 256


def sum_of(n: int) -> str:
    return GETTER.replace("return 1", "return " + " + ".join(["len(self.store.meeting.status)"] * n))


def chain_of(n: int) -> str:
    props = "".join(
        f"\n    @property\n    def p{i}(self) -> int:\n        return self.p{i - 1} + 1\n" for i in range(1, n)
    )
    return (
        GETTER.replace("return 1", f"return self.p{n - 1}")
        + "\n    @property\n    def p0(self) -> int:\n        return 1\n"
        + props
    )


def test_a_sum_of_hundreds_of_terms_and_a_chain_of_hundreds_of_properties_compile(tmp_path):
    limit = sys.getrecursionlimit()
    assert "v.sql" in compile_definitions(write_package(subfolder(tmp_path, "a"), sum_of(600))).files
    assert "v.sql" in compile_definitions(write_package(subfolder(tmp_path, "b"), chain_of(400))).files
    assert sys.getrecursionlimit() == limit  # restored


def test_an_expression_deeper_than_the_limit_is_located(tmp_path):
    error = assert_located(
        write_package(subfolder(tmp_path, "a"), sum_of(1200)), "too-deep", "views.py", "len(self.store"
    )
    assert "the limit is 1000" in str(error)
    error = assert_located(write_package(subfolder(tmp_path, "b"), chain_of(600)), "too-deep", "views.py", "self.p599")
    assert "the limit is 1000" in str(error)


def test_running_out_of_stack_below_the_limit_is_still_a_located_error(tmp_path, monkeypatch):
    """If a stage needs more stack than the depth limit allows for, the error points at the deepest getter."""
    import ontoc.pipeline

    monkeypatch.setattr(ontoc.pipeline, "RECURSION_LIMIT", 0)  # keep the interpreter's limit, set low below
    package = write_package(tmp_path, sum_of(400))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        with pytest.raises(OntocError) as caught:
            compile_definitions(package)
    finally:
        sys.setrecursionlimit(limit)
    [d] = caught.value.diagnostics
    assert d.code == "too-deep" and d.span.file.endswith("views.py") and "404 levels" in d.message


@pytest.mark.parametrize("expression", ["-" * 100_000 + "1", "(" * 300 + "1" + ")" * 300], ids=["unary", "parens"])
def test_what_python_cannot_parse_is_located(tmp_path, expression):
    package = write_package(tmp_path, GETTER.replace("return 1", "return " + expression))
    with pytest.raises(OntocError) as caught:
        compile_definitions(package)
    [d] = caught.value.diagnostics
    lines = (package / "views.py").read_text().splitlines()
    assert d.code in ("too-deep", "syntax-error") and d.span.file.endswith("views.py")
    assert expression[:10] in lines[d.span.line - 1]


# The output folder: ontoc never writes outside it, and never overwrites or deletes a file it did not write.


def run_compile(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ontoc.cli", "compile", *map(str, args)], capture_output=True, text=True
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_compiling_a_package_into_itself_is_refused_and_deletes_nothing(tmp_path):
    package = write_package(tmp_path, GETTER)
    before = snapshot(package)
    proc = run_compile(package, "-o", package)
    assert proc.returncode == 2 and "[bad-output-folder]" in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(package) == before
    # a folder of packages into itself: each package's output would be the package
    proc = run_compile(tmp_path, "-o", tmp_path)
    assert proc.returncode == 2 and "[bad-output-folder]" in proc.stderr
    assert snapshot(package) == before


def test_a_folder_with_files_ontoc_did_not_write_is_refused(tmp_path):
    package = write_package(tmp_path, GETTER)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    proc = run_compile(package, "-o", out)
    assert proc.returncode == 2 and "notes.txt" in proc.stderr and "no ontoc manifest.json" in proc.stderr
    assert snapshot(out) == {"notes.txt": b"mine"}
    (out / "notes.txt").unlink()
    assert run_compile(package, "-o", out).returncode == 0  # empty: fine
    (out / "notes.txt").write_text("mine")
    proc = run_compile(package, "-o", out)
    assert proc.returncode == 2 and "does not list: notes.txt" in proc.stderr


def test_only_files_the_previous_manifest_lists_are_removed(tmp_path):
    package = write_package(tmp_path, GETTER)
    out = tmp_path / "out"
    assert run_compile(package, "-o", out).returncode == 0
    assert sorted(snapshot(out)) == ["manifest.json", "v.sql"]
    views = package / "views.py"
    views.write_text(views.read_text().replace('topic = "v"', 'topic = "w"'))
    assert run_compile(package, "-o", out).returncode == 0
    assert sorted(snapshot(out)) == ["manifest.json", "w.sql"]  # v.sql was ontoc's: removed


def test_a_manifest_naming_a_path_elsewhere_is_refused(tmp_path):
    package = write_package(tmp_path, GETTER)
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "victim.sql").write_text("keep")
    (out / "manifest.json").write_text('{"views": [{"file": "../victim.sql"}]}')
    proc = run_compile(package, "-o", out)
    assert proc.returncode == 2 and "[unsafe-output-path]" in proc.stderr
    assert (tmp_path / "victim.sql").read_text() == "keep"
    (out / "manifest.json").write_text("not json")
    proc = run_compile(package, "-o", out)
    assert proc.returncode == 2 and "is not one ontoc wrote" in proc.stderr


def test_no_folder_is_written_when_one_of_a_folder_of_packages_is_refused(tmp_path):
    packages = tmp_path / "packages"
    packages.mkdir()
    for name in ("a", "b"):
        subfolder(packages, name)
        write_package(packages / name, GETTER)
    out = tmp_path / "out"
    (out / "b").mkdir(parents=True)
    (out / "b" / "mine.txt").write_text("mine")
    proc = run_compile(packages, "-o", out)
    assert proc.returncode == 2 and "mine.txt" in proc.stderr
    assert snapshot(out) == {"b/mine.txt": b"mine"}  # nothing written, not even a's folder
    (out / "b" / "mine.txt").unlink()
    assert run_compile(packages, "-o", out).returncode == 0
    assert sorted(snapshot(out)) == ["a/manifest.json", "a/v.sql", "b/manifest.json", "b/v.sql"]


def test_inside_keeps_every_path_in_its_folder(tmp_path):
    from ontoc.paths import inside

    assert inside(tmp_path, "v.sql") == tmp_path / "v.sql"
    for name in ("../x.sql", "/etc/passwd", "a/b.sql", "..", ".", "", "a\0b"):
        with pytest.raises(OntocError) as caught:
            inside(tmp_path, name)
        assert caught.value.diagnostics[0].code == "unsafe-output-path"
    (tmp_path / "link.sql").symlink_to(tmp_path.parent / "elsewhere.sql")
    with pytest.raises(OntocError):
        inside(tmp_path, "link.sql")


def test_check_reports_a_folder_where_a_file_belongs_as_stale(tmp_path):
    package = write_package(tmp_path, GETTER)
    out = tmp_path / "out"
    (out / "v.sql").mkdir(parents=True)
    proc = run_compile(package, "-o", out, "--check", "--diff")
    assert proc.returncode == 1 and "stale:" in proc.stdout and "Traceback" not in proc.stderr


def test_an_empty_dict_key_is_located(tmp_path):
    methods = GETTER.replace("-> int", "-> list[dict]").replace(
        "return 1", 'return [{"": t.role} for t in self.store.tickets]'
    )
    assert_located(write_package(tmp_path, methods), "empty-dict-key", "views.py", '""')


def boolean_chain(n: int) -> str:
    """`a != 0 and a != 1 and ...` over a reference (each term raises where the location is missing)."""
    terms = " and ".join(f"self.store.meeting.location.latitude != {i}" for i in range(n))
    return GETTER.replace("def g(self) -> int:", "def g(self) -> bool:").replace("return 1", f"return {terms}")


def test_a_long_boolean_chain_compiles_in_time_near_linear_in_its_length(tmp_path):
    """Four times the terms may cost at most ~8x the CPU time (linear: 4x; the pairwise folding
    this replaced was cubic, 64x). CPU time, not wall time: other processes do not count."""
    seconds = {}
    for n in (150, 600):
        package = write_package(subfolder(tmp_path, str(n)), boolean_chain(n))
        started = time.process_time()
        assert "v.sql" in compile_definitions(package).files
        seconds[n] = time.process_time() - started
    assert seconds[600] < 8 * seconds[150] + 0.5, seconds


def test_a_value_without_sql_type_is_named_by_its_python_type(tmp_path):
    package = write_package(tmp_path, '\n@attrs.getter\ndef g(self) -> int:\n    return (1, "a")\n')
    with pytest.raises(OntocError) as caught:
        compile_definitions(package)
    assert "returns a tuple," in str(caught.value)


@pytest.mark.parametrize(
    "on,message",
    [
        ("user", "must end at the root `Meeting`, not at `User`"),
        ("nope.meeting", "`nope` in `on='nope.meeting'` is not a reference field of `Ticket`"),
        ("role", "`role` in `on='role'` is not a reference field of `Ticket`"),
    ],
)
def test_a_many_path_that_does_not_lead_to_the_root_is_a_located_error(tmp_path, on, message):
    package = write_package(tmp_path, CASES[0][1])
    views = package / "views.py"
    views.write_text(views.read_text().replace('on="meeting"', f'on="{on}"'))
    with pytest.raises(OntocError) as caught:
        compile_definitions(package)
    [d] = caught.value.diagnostics
    assert d.code == "bad-many" and message in d.message, caught.value
    line = next(i for i, text in enumerate(views.read_text().splitlines(), 1) if "many(Ticket" in text)
    assert d.span.line == line and d.hint and "group.dept" in d.hint
