"""Hypothesis strategies for change events, derived from a definitions schema.

Strings and ints are drawn partly from the literals that the definitions
themselves contain, so that conditions such as `status == "in-session"` are
met often enough to matter.
"""

from __future__ import annotations

import ast
import json
import re
from decimal import Decimal
from pathlib import Path

from hypothesis import strategies as st

from ontoc.frontend.schema import FieldDef, ModelDef, Schema
from ontoc.ir.types import DType

BASE_STRINGS = [
    "",
    "a",
    " Ann ",
    "bob",
    "Émile",
    "ß",
    "zoë 🎉",
    "classic tale",
    "978-0-13-1",
    "9780131103627",
    "abc\t",
    "X",
    "late",
    "Zed",
    "alpha beta gamma",
    "banana",
    "Anz",
]
BASE_INTS = [0, 1, -1, 2, -2, 3, 7, -7, 10, 15, 1949, 1950, 2001]
# with ties of round(x, n): 2.675 is below its decimal text (Python: 2.67), 0.125 and 25.0 are exact (to even)
BASE_FLOATS = [0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.0, -3.75, 0.1, 1e-3, 12.25, 99.5, 2.675, 0.125, 25.0]
IDS_PER_MODEL = 3
# number texts whose exponent `str()` of a Decimal keeps (written as they are: `json_text`); at most 6 digits
# after the point, as the definitions' own Decimal literals add more where a domain wants them
DECIMAL_TEXTS = [Decimal(t) for t in ("1.50", "1e3", "-0.0", "0.000001", "-1.250E+2", "2.5E+3", "-0", "7.000000")]


def literals(schema: Schema) -> tuple[list[str], list[int]]:
    strings, ints = set(), set()
    files = {m.src.path for m in schema.models.values()} | {v.src.path for v in schema.views.values()}
    for path in files:
        for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant):
                if isinstance(node.value, str) and len(node.value) < 30 and "\n" not in node.value:
                    strings.add(node.value)
                elif isinstance(node.value, int) and not isinstance(node.value, bool):
                    if abs(node.value) < 10**6:
                        ints.add(node.value)
                    elif 2**53 <= node.value < 2**63:  # the edges of exact floats and of 64 bits, both signs
                        ints.update((node.value, -node.value))
    return sorted(strings), sorted(ints)


def decimal_literals(schema: Schema) -> list[Decimal]:
    """The texts of the definitions' `Decimal("...")` literals, as Decimals (their exponents kept)."""
    found = set()
    files = {m.src.path for m in schema.models.values()} | {v.src.path for v in schema.views.values()}
    for path in files:
        for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, (ast.Name, ast.Attribute))
                and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) == "Decimal"
                and len(node.args) == 1
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return [Decimal(t) for t in sorted(found)]


def doc_id(prefix: str, model: ModelDef, i: int) -> str:
    return f"{prefix}{model.topic}-{i}"


class EventStrategies:
    def __init__(self, schema: Schema):
        self.schema = schema
        strings, ints = literals(schema)
        self.strings = sorted(set(BASE_STRINGS) | set(strings))
        self.ints = sorted(set(BASE_INTS) | set(ints))
        self.decimals = DECIMAL_TEXTS + decimal_literals(schema)

    def scalar(self, dtype: DType, prefix: str = "") -> st.SearchStrategy:
        kind = dtype.kind
        if kind == "str":
            # ids of the scenario's documents too, for `one(..., key=...)` lookups by a field
            ids = st.sampled_from(
                [doc_id(prefix, m, i) for m in self.schema.models.values() for i in range(IDS_PER_MODEL)]
            )
            words = st.sampled_from(self.strings)
            base = st.one_of(words, words, words, ids)
        elif kind == "int":
            base = st.one_of(st.sampled_from(self.ints), st.integers(-50, 50))
        elif kind == "float":
            sampled = st.sampled_from(BASE_FLOATS)
            base = st.one_of(sampled, sampled, st.floats(-1000, 1000, allow_nan=False, allow_infinity=False))
        elif kind == "bool":
            base = st.booleans()
        elif kind == "datetime":
            base = st.sampled_from(
                [
                    "2024-01-01T00:00:00",
                    "2024-01-01T00:00:00Z",
                    "2024-01-01T01:30:00+01:00",
                    "2023-12-31T23:59:59.5",
                    "2025-06-30T12:00:00-07:00",
                    "2024-01-01T00:00:01",
                ]
            )
        elif kind == "decimal":
            base = st.sampled_from([0, 1, 10, 11, -3, 12.25, 100.01, -0.5, 10.5, 0.125, 2.5, 0.005, *self.decimals])
        elif kind == "list":
            base = st.lists(self.scalar(dtype.elem, prefix), max_size=3)
        else:
            raise NotImplementedError(f"no strategy for {dtype}")
        return st.one_of(st.none(), base) if dtype.nullable else base

    def field(self, prefix: str, f: FieldDef) -> st.SearchStrategy:
        if f.ref:
            target = self.schema.models[f.ref]
            live = st.sampled_from([doc_id(prefix, target, i) for i in range(IDS_PER_MODEL)])
            # mostly a document of the scenario; sometimes dangling or null
            return st.one_of(live, live, live, live, st.just(f"{prefix}missing"), st.none())
        return self.scalar(f.dtype, prefix)

    def document(self, prefix: str, model: ModelDef) -> st.SearchStrategy:
        required = {n: self.field(prefix, f) for n, f in model.fields.items() if not f.has_default or f.ref}
        optional = {n: self.field(prefix, f) for n, f in model.fields.items() if f.has_default and not f.ref}
        return st.fixed_dictionaries(required, optional=optional)

    def event(self, prefix: str) -> st.SearchStrategy:
        models = sorted(self.schema.models.values(), key=lambda m: m.topic)
        choices = []
        for model in models:
            ids = st.integers(0, IDS_PER_MODEL - 1).map(lambda i, m=model: doc_id(prefix, m, i))
            # mostly upserts, one in five a delete (a null value)
            doc = self.document(prefix, model)
            value = st.one_of(doc, doc, doc, doc, st.none())
            choices.append(st.tuples(st.just(model.topic), ids, value))
        return st.one_of(*choices)

    def scenario(self, prefix: str) -> st.SearchStrategy:
        """Every document inserted once (so references mostly resolve), then random changes."""
        models = sorted(self.schema.models.values(), key=lambda m: m.topic)
        initial = st.tuples(
            *[
                st.tuples(st.just(m.topic), st.just(doc_id(prefix, m, i)), self.document(prefix, m))
                for m in models
                for i in range(IDS_PER_MODEL)
            ]
        )
        changes = st.lists(self.event(prefix), max_size=30)
        return st.tuples(initial, changes).map(lambda parts: list(parts[0]) + parts[1])

    def batch(self, scenarios: int) -> st.SearchStrategy:
        """Several independent scenarios in one run: ids are prefixed per scenario so they never meet."""
        return st.tuples(*[self.scenario(f"s{i}:") for i in range(scenarios)]).map(
            lambda parts: [e for part in parts for e in part]
        )


_NUMBER = re.compile(r'"\\u0000([-+.0-9eE]+)\\u0000"')


def json_text(value: object) -> str:
    """`value` as JSON, a Decimal as its own number text (`1.50`, `1E+3`, `-0.0`: json.dumps has no such number)."""

    def marked(o: object) -> str:
        if isinstance(o, Decimal):
            return f"\0{o}\0"
        raise TypeError(f"not JSON: {type(o).__name__}")

    return _NUMBER.sub(lambda m: m.group(1), json.dumps(value, default=marked))


def write_events(events: list[tuple[str, str, dict | None]], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines: dict[str, list[str]] = {}
    for topic, key, value in events:
        lines.setdefault(topic, []).append(json_text({"key": key, "value": value}))
    for topic, text in lines.items():
        (folder / f"{topic}.jsonl").write_text("\n".join(text) + "\n", encoding="utf-8")
