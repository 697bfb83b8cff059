"""Fuzzing the compiler: whatever the definitions, `compile_definitions` returns or raises `OntocError`.

Programs are generated over the spec's grammar (domain models with fields of
its types, a store, a view whose getters are built from a small expression
grammar), then mutated into invalid ones by random line and token edits; random
bytes stand in for source files. Any exception other than `OntocError` (which
the CLI turns into exit 2) is a bug: a traceback where a located error belongs.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tokenize
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ontoc.errors import OntocError
from ontoc.pipeline import compile_definitions

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)

# a package that compiles, for the byte-level tests
MODELS_FALLBACK = (
    'from ontoc import DomainModel\n\n\nclass M0(DomainModel):\n    class Meta:\n        topic = "t0"\n\n    f0: int\n'
)
VIEWS_FALLBACK = (
    "from ontoc import Store, ViewModel, attrs, one\n\nfrom .models import M0\n\n\n"
    "class S(Store):\n    root = one(M0)\n\n\nclass V(ViewModel):\n    class Meta:\n"
    '        topic = "v"\n        store = S\n\n    @attrs.getter\n    def g(self) -> int:\n'
    "        return self.store.root.f0\n"
)


SCALARS = {"str": '"a"', "int": "1", "float": "1.5", "bool": "True"}
FIELD_TYPES = [*SCALARS, "datetime.datetime", "decimal.Decimal", "list[int]", "list[str]"]


@st.composite
def models(draw) -> tuple[str, dict[str, dict[str, str]]]:
    """A models module: 1 to 3 domain models, each with fields of the spec's types; the later ones may
    reference the earlier ones. Returns the source and model -> field -> type."""
    count = draw(st.integers(1, 3))
    schema: dict[str, dict[str, str]] = {}
    lines = ["import datetime", "import decimal", "", "from ontoc import DomainModel, attrs", ""]
    for m in range(count):
        name = f"M{m}"
        fields: dict[str, str] = {}
        lines += ["", f"class {name}(DomainModel):", "    class Meta:", f'        topic = "t{m}"', ""]
        for f in range(draw(st.integers(1, 4))):
            ftype = draw(st.sampled_from(FIELD_TYPES))
            optional = draw(st.booleans())
            default = ""
            if ftype in SCALARS and draw(st.booleans()):
                default = f" = {SCALARS[ftype]}"
            elif optional and draw(st.booleans()):
                default = " = None"
            fields[f"f{f}"] = ftype
            lines.append(f"    f{f}: {ftype}{' | None' if optional else ''}{default}")
        if m and draw(st.booleans()):
            target = f"M{draw(st.integers(0, m - 1))}"
            fields["ref"] = target
            lines.append(f"    ref: {target} = attrs.ref()")
        schema[name] = fields
    return "\n".join(lines) + "\n", schema


@st.composite
def expressions(draw, leaves: list[tuple[str, str]], depth: int = 3) -> tuple[str, str]:
    """(source, rough type) of an expression over `leaves`."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(leaves + [('"x"', "str"), ("2", "int"), ("0.5", "float"), ("None", "none")]))
    kind = draw(st.sampled_from(["binop", "compare", "boolop", "call", "ifexp", "not", "fstring"]))
    a, ta = draw(expressions(leaves, depth - 1))
    b, tb = draw(expressions(leaves, depth - 1))
    if kind == "binop":
        return f"({a} {draw(st.sampled_from(['+', '-', '*', '/', '//', '%']))} {b})", ta
    if kind == "compare":
        return f"({a} {draw(st.sampled_from(['==', '!=', '<', '>=', 'is', 'is not', 'in']))} {b})", "bool"
    if kind == "boolop":
        return f"({a} {draw(st.sampled_from(['and', 'or']))} {b})", ta
    if kind == "call":
        fn = draw(st.sampled_from(["abs", "len", "str", "int", "float", "bool", "round", "min", "max"]))
        return (f"{fn}({a}, {b})" if fn in ("min", "max") else f"{fn}({a})"), "int" if fn == "len" else ta
    if kind == "ifexp":
        c, _ = draw(expressions(leaves, depth - 1))
        return f"({a} if {c} else {b})", ta
    if kind == "not":
        return f"(not {a})", "bool"
    return f'f"{{{a}}}-{{{b}}}"', "str"


@st.composite
def programs(draw) -> tuple[str, str]:
    """(models source, views source) of a package the spec's grammar allows (not always one that compiles)."""
    models_src, schema = draw(models())
    root = "M0"
    leaves = [(f"self.store.root.{f}", t) for f, t in schema[root].items() if t != "M0"]
    entries = ["    root = one(M0)"]
    many = [(m, "ref") for m, fields in schema.items() if fields.get("ref") == root]
    aggregates = []
    if many and draw(st.booleans()):
        model, on = many[0]
        entries.append(f'    items = many({model}, on="{on}")')
        numeric = [f for f, t in schema[model].items() if t in ("int", "float")]
        aggregates.append(("len(self.store.items)", "int"))
        if numeric:
            aggregates.append((f"sum(i.{numeric[0]} for i in self.store.items)", "int"))
    leaves += aggregates
    getters = []
    for g in range(draw(st.integers(1, 3))):
        source, rough = draw(expressions(leaves or [("1", "int")]))
        annotation = draw(st.sampled_from(["", f" -> {rough}" if rough != "none" else "", " -> int | None"]))
        getters.append(f"    @attrs.getter\n    def g{g}(self){annotation}:\n        return {source}\n")
    if draw(st.booleans()):
        getters.append("    @property\n    def p(self):\n        return self.g0\n")
    views = "\n".join(
        [
            "from ontoc import Store, ViewModel, attrs, many, one",
            "",
            f"from .models import {', '.join(schema)}",
            "",
            "",
            "class S(Store):",
            *entries,
            "",
            "",
            "class V(ViewModel):",
            "    class Meta:",
            '        topic = "v"',
            "        store = S",
            "",
            *getters,
        ]
    )
    return models_src, views


def tokens(source: str) -> list[str]:
    try:
        return [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.string.strip()]
    except (tokenize.TokenError, SyntaxError):
        return source.split()


@st.composite
def mutated(draw, source: str) -> str:
    """`source` after a few random edits: lines deleted, duplicated or swapped, tokens replaced or inserted."""
    for _ in range(draw(st.integers(1, 3))):
        lines = source.splitlines()
        if not lines:
            break
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["delete", "duplicate", "swap", "token", "insert", "indent"]))
        if edit == "delete":
            del lines[i]
        elif edit == "duplicate":
            lines.insert(j, lines[i])
        elif edit == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif edit == "indent":
            lines[i] = draw(st.sampled_from(["", "    ", "        ", "\t"])) + lines[i].lstrip()
        else:
            vocabulary = tokens(source) + ["(", ")", ":", "=", "self", "None", "lambda", "for", "in", "*", "**"]
            line_tokens = lines[i].split(" ")
            k = draw(st.integers(0, len(line_tokens) - 1))
            word = draw(st.sampled_from(vocabulary) | st.text(max_size=5))
            if edit == "token":
                line_tokens[k] = word
            else:
                line_tokens.insert(k, word)
            lines[i] = " ".join(line_tokens)
        source = "\n".join(lines) + "\n"
    return source


def write(tmp: Path, models_src: str | bytes, views_src: str | bytes) -> Path:
    package = tmp / "defs"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    for name, text in (("models.py", models_src), ("views.py", views_src)):
        data = text.encode("utf-8", errors="surrogatepass") if isinstance(text, str) else text
        (package / name).write_bytes(data)
    return package


def compiles_or_reports(package: Path) -> None:
    try:
        compile_definitions(package)
    except OntocError as exc:
        assert exc.diagnostics and all(d.code for d in exc.diagnostics)
        exc.render()  # the message itself must not fail


@SETTINGS
@given(programs())
def test_generated_programs_compile_or_report(tmp_path_factory, program):
    compiles_or_reports(write(tmp_path_factory.mktemp("gen"), *program))


@SETTINGS
@given(st.data())
def test_mutated_programs_compile_or_report(tmp_path_factory, data):
    models_src, views_src = data.draw(programs())
    if data.draw(st.booleans()):
        views_src = data.draw(mutated(views_src))
    else:
        models_src = data.draw(mutated(models_src))
    compiles_or_reports(write(tmp_path_factory.mktemp("mut"), models_src, views_src))


@SETTINGS
@given(st.binary(max_size=400), st.booleans())
def test_random_bytes_as_source_compile_or_report(tmp_path_factory, data, after_valid_source):
    views = (VIEWS_FALLBACK.encode() + data) if after_valid_source else data
    compiles_or_reports(write(tmp_path_factory.mktemp("bytes"), MODELS_FALLBACK, views))


def test_the_cli_exits_0_or_2_on_hostile_files_without_a_traceback(tmp_path):
    hostile = {
        "bytes": b"\xff\xfe\x00garbage\x80",
        "bom-and-nul": b"\xef\xbb\xbf" + VIEWS_FALLBACK.encode() + b"\0",
        "deep": (VIEWS_FALLBACK.replace("return self.store.root.f0", "return " + " + ".join(["1"] * 5000))).encode(),
        "topic": VIEWS_FALLBACK.replace('topic = "v"', 'topic = "../../escaped"').encode(),
    }
    for name, views in hostile.items():
        package = write(tmp_path / name, MODELS_FALLBACK, views)
        out = tmp_path / name / "out"
        proc = subprocess.run(
            [sys.executable, "-m", "ontoc.cli", "compile", str(package), "-o", str(out)], capture_output=True, text=True
        )
        assert proc.returncode == 2, (name, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and "[" in proc.stderr, (name, proc.stderr)
        assert not (tmp_path / "escaped.sql").exists() and not (tmp_path / "escaped").exists()
