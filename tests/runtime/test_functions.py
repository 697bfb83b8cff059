"""ONTOC_SORT_ROWS (jvm/functions, a Java system function) on the embedded Flink.

Every test really builds the jar (once, with Maven, into the repo's
``.cache/jars``) and runs a streaming job; the expected value is computed with
Python's ``sorted`` from the same input rows.
"""

from __future__ import annotations

import decimal
import math
import random
import struct
import zipfile
from collections import defaultdict
from datetime import UTC
from pathlib import Path

import pytest

from ontoc.ir import types as T
from ontoc.jvm.functions import (
    CREATE_FUNCTION_SQL,
    FUNCTION_NAME,
    create_function_sql,
    ensure_functions_jar,
    register_functions,
)
from ontoc.runtime.embedded.runner import LocalRunError, SourceTable, ViewQuery, run_local

pytestmark = pytest.mark.flink

ROW_TYPE = "ROW<name STRING, org STRING, flag BOOLEAN>"
PEOPLE_COLS = (
    ("doc_id", T.STR),
    ("grp", T.STR),
    ("name", T.STR),
    ("org", T.STR),
    ("flag", T.BOOL),
)

# ASCII, Latin-1, CJK, BMP characters above the surrogate range (U+E000..U+FFFF,
# where UTF-16 order and code point order disagree) and supplementary-plane ones
ALPHABET = "aAbBzZ09 _-éÉüß日本語中\ue000\uf8ff\ufb01\uff21\uffee\ufffd😀🙂𝄞𐍈\U0010fffd\U00020000"
# names where code point order and Java's UTF-16 order disagree (U+FF21 vs U+1F600)
FIXED_NAMES = ("\uff21", "😀", "a\ufb01", "a𝄞", "é")


@pytest.fixture(scope="module")
def jar() -> Path:
    return ensure_functions_jar(progress=lambda _msg: None)


def null_first(v):
    """Python sort key of one field: NULL before every value."""
    return (v is not None, v)


def row_key(d, fields=("name", "org", "flag")):
    return tuple(null_first(d[f]) for f in fields)


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 4)))


def people_source(rng: random.Random, n: int, groups: int, *, nulls: bool) -> SourceTable:
    # few distinct names/orgs, so ties on name are broken by org, then flag
    names = [random_text(rng) for _ in range(max(3, n // 3))]
    orgs = [random_text(rng) for _ in range(3)]
    events = []
    for i in range(n):
        doc_id = f"p{i}"
        name = FIXED_NAMES[i] if i < len(FIXED_NAMES) else rng.choice(names)
        org = rng.choice(orgs)
        flag = rng.choice([True, False])
        if nulls:
            name = None if rng.random() < 0.15 else name
            org = None if rng.random() < 0.15 else org
            flag = None if rng.random() < 0.15 else flag
        events.append((doc_id, (doc_id, f"g{rng.randrange(groups)}", name, org, flag)))
    return SourceTable("people", PEOPLE_COLS, tuple(events))


def live_docs(src: SourceTable) -> dict[str, dict]:
    names = [c for c, _ in src.columns]
    docs: dict[str, dict] = {}
    for doc_id, values in src.events:
        if values is None:
            docs.pop(doc_id, None)
        else:
            docs[doc_id] = dict(zip(names, values, strict=False))
    return docs


def expected_sorted(src: SourceTable, *, reverse: bool) -> dict[str, list[dict]]:
    by_group: dict[str, list[dict]] = defaultdict(list)
    for doc in live_docs(src).values():
        by_group[doc["grp"]].append({"name": doc["name"], "org": doc["org"], "flag": doc["flag"]})
    return {g: sorted(rows, key=row_key, reverse=reverse) for g, rows in by_group.items()}


def sort_view(name: str, ascending: str) -> ViewQuery:
    return ViewQuery(
        name,
        f"SELECT grp, {FUNCTION_NAME}(ARRAY_AGG(CAST(ROW(name, org, flag) AS {ROW_TYPE})), "
        f"{ascending}) AS people FROM people GROUP BY grp",
    )


def run(jar, sources, views, extra_setup=None):
    def setup(t_env):
        register_functions(t_env, jar)
        if extra_setup is not None:
            extra_setup(t_env)

    return run_local(sources, views, setup=setup)


# --------------------------------------------------------------------------
# the jar
# --------------------------------------------------------------------------


def test_jar_holds_only_our_classes(jar):
    assert jar.name == "ontoc-functions.jar"
    assert jar.parent.parts[-2:] == (".cache", "jars")
    with zipfile.ZipFile(jar) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
    classes = [n for n in names if n.endswith(".class")]
    assert "dev/ontoc/flink/SortRows.class" in classes
    assert all(n.startswith("dev/ontoc/flink/") for n in classes)
    # the services file names the ontoc-final-state connector's factory for Flink's factory discovery
    factories = "META-INF/services/org.apache.flink.table.factories.Factory"
    assert set(names) - set(classes) <= {"META-INF/MANIFEST.MF", factories}
    with zipfile.ZipFile(jar) as zf:
        assert zf.read(factories).decode().split() == ["dev.ontoc.flink.FinalStateFactory"]


def test_jar_is_not_rebuilt_when_up_to_date(jar):
    messages: list[str] = []
    again = ensure_functions_jar(progress=messages.append)
    assert again == jar
    assert messages == []  # no Maven run


def test_create_function_sql():
    assert CREATE_FUNCTION_SQL == (
        "CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS ONTOC_SORT_ROWS AS 'dev.ontoc.flink.SortRows' LANGUAGE JAVA"
    )
    assert create_function_sql("file:///opt/x.jar") == CREATE_FUNCTION_SQL + " USING JAR 'file:///opt/x.jar'"


# --------------------------------------------------------------------------
# sorting on the embedded Flink
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_sorts_like_python_sorted_both_directions(jar, seed):
    rng = random.Random(seed)
    src = people_source(rng, 60, 4, nulls=False)
    out = run(jar, [src], [sort_view("asc", "TRUE"), sort_view("desc", "FALSE")])
    asc = {g: row["people"] for g, row in out["asc"].items()}
    desc = {g: row["people"] for g, row in out["desc"].items()}
    assert asc == expected_sorted(src, reverse=False)
    assert desc == expected_sorted(src, reverse=True)
    # the inputs really exercise code point order (not UTF-16 order)
    names = {d["name"] for d in live_docs(src).values()}
    assert sorted(names) != sorted(names, key=lambda s: s.encode("utf-16-be"))


def test_null_fields_sort_first_ascending_last_descending(jar):
    rng = random.Random(7)
    src = people_source(rng, 80, 3, nulls=True)
    out = run(jar, [src], [sort_view("asc", "TRUE"), sort_view("desc", "FALSE")])
    asc = {g: row["people"] for g, row in out["asc"].items()}
    desc = {g: row["people"] for g, row in out["desc"].items()}
    assert asc == expected_sorted(src, reverse=False)
    assert desc == expected_sorted(src, reverse=True)
    for rows in asc.values():
        nulls = [r for r in rows if r["name"] is None]
        assert rows[: len(nulls)] == nulls


def test_updates_and_deletes_resort(jar):
    rng = random.Random(11)
    src = people_source(rng, 30, 2, nulls=True)
    events = list(src.events)
    for i in range(0, 30, 3):  # rename every third person
        doc_id = f"p{i}"
        events.append((doc_id, (doc_id, f"g{i % 2}", random_text(rng), "org", i % 2 == 0)))
    for i in range(1, 30, 5):  # and delete some
        events.append((f"p{i}", None))
    src = SourceTable(src.name, src.columns, tuple(events))
    out = run(jar, [src], [sort_view("asc", "TRUE")])
    assert {g: row["people"] for g, row in out["asc"].items()} == expected_sorted(src, reverse=False)


def test_keeps_the_row_type_and_field_names(jar):
    seen = {}

    def schema(t_env):
        arg = f"ARRAY_AGG(CAST(ROW(name, org, flag) AS {ROW_TYPE}))"
        table = t_env.sql_query(f"SELECT {arg} AS a, {FUNCTION_NAME}({arg}, TRUE) AS s FROM people GROUP BY grp")
        cols = table._j_table.getResolvedSchema().getColumns()
        seen["types"] = [c.getDataType().getLogicalType().asSerializableString() for c in cols]

    src = people_source(random.Random(3), 5, 1, nulls=False)
    out = run(jar, [src], [sort_view("asc", "TRUE")], extra_setup=schema)
    arg_type, result_type = seen["types"]
    assert result_type == arg_type
    assert "`name` VARCHAR(2147483647), `org` VARCHAR(2147483647), `flag` BOOLEAN" in result_type
    for row in out["asc"].values():
        assert all(list(person) == ["name", "org", "flag"] for person in row["people"])


def test_numbers_nested_rows_and_null_array(jar):
    cols = (
        ("doc_id", T.STR),
        ("grp", T.STR),
        ("n", T.INT),
        ("x", T.FLOAT),
        ("amount", T.DECIMAL),
        ("label", T.STR),
    )
    rng = random.Random(5)
    events = []
    for i in range(40):
        doc_id = f"d{i}"
        n = rng.choice([None, -(2**40), -3, 0, 2, 2, 17, 2**40])
        x = rng.choice([None, -1.5, -0.0, 0.5, 2.0, 1e300])
        amount = rng.choice([None, decimal.Decimal("-10.50"), decimal.Decimal("0.00"), decimal.Decimal("9.99")])
        events.append((doc_id, (doc_id, f"g{i % 3}", n, x, amount, random_text(rng))))
    src = SourceTable("nums", cols, tuple(events))
    row_t = "ROW<n BIGINT, sub ROW<x DOUBLE, amount DECIMAL(10, 2)>, label STRING>"
    view = ViewQuery(
        "nums_sorted",
        f"SELECT grp, {FUNCTION_NAME}(ARRAY_AGG(CAST(ROW(n, ROW(x, amount), label) AS {row_t})), FALSE) "
        f"AS s, {FUNCTION_NAME}(CAST(NULL AS ARRAY<{row_t}>), TRUE) AS nothing FROM nums GROUP BY grp",
    )
    out = run(jar, [src], [view])

    by_group: dict[str, list[dict]] = defaultdict(list)
    for _doc_id, (_d, grp, n, x, amount, label) in events:
        by_group[grp].append({"n": n, "sub": {"x": x, "amount": amount}, "label": label})

    def key(d):
        inner = d["sub"]
        return (
            null_first(d["n"]),
            (True, (null_first(inner["x"]), null_first(inner["amount"]))),
            null_first(d["label"]),
        )

    assert {g: row["s"] for g, row in out["nums_sorted"].items()} == {
        g: sorted(rows, key=key, reverse=True) for g, rows in by_group.items()
    }
    assert all(row["nothing"] is None for row in out["nums_sorted"].values())


def test_rejects_arrays_of_non_rows(jar):
    src = people_source(random.Random(1), 3, 1, nulls=False)
    bad = ViewQuery("bad", f"SELECT grp, {FUNCTION_NAME}(ARRAY_AGG(name), TRUE) AS s FROM people GROUP BY grp")
    with pytest.raises(LocalRunError, match=r"ARRAY<ROW"):
        run(jar, [src], [bad])


def test_register_is_idempotent(jar):
    src = people_source(random.Random(9), 6, 1, nulls=False)

    def twice(t_env):
        register_functions(t_env, jar)  # second registration in the same environment

    out = run(jar, [src], [sort_view("asc", "TRUE")], extra_setup=twice)
    assert {g: row["people"] for g, row in out["asc"].items()} == expected_sorted(src, reverse=False)


# --------------------------------------------------------------------------
# ONTOC_PY_STR: str(float) as Python prints it
# --------------------------------------------------------------------------


def test_py_str_prints_floats_like_python(jar):
    import math
    import struct

    rng = random.Random(20261127)
    values = [
        0.0,
        -0.0,
        1.0,
        -1.5,
        0.1,
        0.0001,
        0.00001,
        1e16,
        1e15,
        123456789.0,
        1e7,
        2.5e-7,
        5e-324,
        1.7976931348623157e308,
        2.675,
        1 / 3,
        100.0,
        12345678901234567.0,
        math.inf,
        -math.inf,
        math.nan,
    ]
    values += [rng.uniform(-1000, 1000) for _ in range(150)]
    values += [rng.choice([-1, 1]) * 10 ** rng.uniform(-30, 30) for _ in range(150)]
    values += [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(63)))[0] for _ in range(150)]
    # powers of two: the gap to the double below is half the gap above, so the shortest decimal that
    # reads back can be the rounding away from the exact value (2**-24 is 5.960464477539063e-08)
    values += [s * 2.0**k for k in range(-1074, 1024, 7) for s in (1, -1)] + [2.0**-24, -(2.0**-24)]
    values = [v for v in values if not (isinstance(v, float) and math.isnan(v))] + [math.nan]
    events = tuple((f"k{i}", (f"k{i}", v)) for i, v in enumerate(values))
    source = SourceTable("numbers", (("doc_id", T.STR), ("x", T.FLOAT)), events)
    view = ViewQuery("text", "SELECT doc_id, ONTOC_PY_STR(x) AS s FROM numbers")
    out = run_local([source], [view], setup=lambda t_env: register_functions(t_env, jar))["text"]
    wrong = {repr(v): out[f"k{i}"]["s"] for i, v in enumerate(values) if out[f"k{i}"]["s"] != str(v)}
    assert wrong == {}


# --------------------------------------------------------------------------
# ONTOC_PY_ROUND: round(x, ndigits) as Python rounds
# --------------------------------------------------------------------------


def py_round_or_none(x, n):
    """Python's round(x, n), None where it raises (what ONTOC_PY_ROUND gives as NULL), and where an int
    result leaves BIGINT (Python's ints are unbounded: ontoc's documented limit)."""
    try:
        out = round(x, n)
    except (OverflowError, decimal.InvalidOperation):
        return None
    return None if isinstance(out, int) and not -(2**63) <= out < 2**63 else out


def test_py_round_rounds_like_python(jar):
    import math
    import struct

    rng = random.Random(20261127)
    floats = [
        2.675,
        0.125,
        0.375,
        -0.125,
        1.005,
        2.5,
        0.5,
        -0.5,
        25.0,
        15.0,
        -0.4,
        1e16 + 2,
        5e-324,
        1.7976931348623157e308,
        123.456,
        1 / 3,
        math.inf,
        -math.inf,
        0.0,
        -0.0,
    ]
    floats += [rng.uniform(-1000, 1000) for _ in range(120)]
    floats += [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(63)))[0] for _ in range(60)]
    float_cases = [(x, n) for x in floats for n in (2, 0, -1)] + [(x, rng.randint(-320, 330)) for x in floats]
    float_cases += [(1.5, 400), (1.5, -400), (-1.5, -400), (1.7976931348623157e308, -308), (math.nan, 2)]
    ints = [0, 5, 15, 25, -25, 149, 150, 151, 9223372036854775807, -9223372036854775808, 1234567]
    int_cases = [(x, n) for x in ints for n in (-1, -2, 0, 3, -19, -30)]
    decimals = [
        decimal.Decimal(t)
        for t in (
            "0.125",
            "2.675",
            "-0.125",
            "2.5",
            "3.5",
            "0.0050000000",
            "123456789012345678.1234567891",
            "-1.0000000001",
            "0",
        )
    ]
    decimal_cases = [(x, n) for x in decimals for n in (2, 0, -1, 10, 12)]

    events, expected = [], {}
    for kind, cases in (("f", float_cases), ("i", int_cases), ("d", decimal_cases)):
        for i, (x, n) in enumerate(cases):
            key = f"{kind}{i}"
            row = (key, x if kind == "f" else None, x if kind == "i" else None, x if kind == "d" else None, n)
            events.append((key, row))
            expected[key] = py_round_or_none(x, n)
    source = SourceTable(
        "numbers",
        (("doc_id", T.STR), ("f", T.FLOAT), ("i", T.INT), ("d", T.DECIMAL), ("n", T.INT)),
        tuple(events),
    )
    view = ViewQuery(
        "rounded",
        "SELECT doc_id, ONTOC_PY_ROUND(f, n) AS f, ONTOC_PY_ROUND(i, n) AS i, "
        "ONTOC_PY_ROUND(d, n) AS d, ONTOC_PY_ROUND(f, 2) AS literal_digits, "
        "ONTOC_PY_ROUND(d, CAST(2 AS BIGINT)) AS d2 FROM numbers",
    )
    out = run_local([source], [view], setup=lambda t_env: register_functions(t_env, jar))["rounded"]

    def same(got, want) -> bool:
        if want is None or got is None:
            return got is None and want is None
        if isinstance(want, float):  # the same double, -0.0 and nan included
            return struct.pack("<d", float(got)) == struct.pack("<d", want) or (math.isnan(want) and math.isnan(got))
        return decimal.Decimal(str(got)) == want

    wrong = {}
    for key, want in expected.items():
        row = out[key]
        got = row["f"] if key[0] == "f" else row["i"] if key[0] == "i" else row["d"]
        if not same(got, want):
            wrong[key] = (events[[k for k, _ in events].index(key)][1], got, want)
    assert wrong == {}
    assert out["f0"]["literal_digits"] == 2.67  # an INT literal for ndigits works for a DOUBLE
    # a DECIMAL needs a BIGINT ndigits (ontoc casts it): with an INT, Flink picks the DOUBLE overload
    D = decimal.Decimal
    assert {k: r["d2"] for k, r in out.items() if k in ("d0", "d5", "d25")} == {
        "d0": D("0.12"),
        "d5": D("2.68"),
        "d25": D("0"),
    }  # 0.125, 2.675, 0.005: ties to even


def python_decimal_carried(x, y, op):
    """Python's `x op y` of Decimals (default context), rounded half to even to the 10 digits after the point a
    view's DECIMAL(38, 10) carries; None where Python raises or the result has more than 28 digits before the
    point."""
    try:
        exact = {"+": x + y, "-": x - y, "*": x * y, "/": x / y if y else None}[op]
    except decimal.InvalidOperation:
        return None
    if exact is None:
        return None
    carried = exact.quantize(
        decimal.Decimal(1).scaleb(-10), rounding=decimal.ROUND_HALF_EVEN, context=decimal.Context(prec=100)
    )
    return None if len(carried.as_tuple().digits) > 38 else carried


def test_py_decimal_arith_is_pythons_to_ten_places(jar):
    """`+ - * /` of two DECIMAL(38, 10): Python's 28 significant digits, then 10 after the point (Flink's own
    operators keep 6 after the point of a product or quotient: 100 / 3 is 33.333333 there)."""
    D = decimal.Decimal
    rng = random.Random(20261130)
    values = [D(t) for t in ("100", "3", "-7", "0.1", "0.0000000001", "-0.0000000005", "1.25", "0", "2.675")]
    values += [D(t) for t in ("123456789012345678.1234567891", "-999999999999999999999999999.9999999999")]
    values += [D(t) for t in ("9999999999999999999999999999", "0.3333333333", "12345.6789012345")]
    values += [D(rng.randrange(-(10**14), 10**14)).scaleb(-rng.randrange(0, 11)) for _ in range(12)]
    cases = [(x, y, op) for x in values for y in values for op in "+-*/"]
    events = [(f"c{i}", (f"c{i}", x, y, op)) for i, (x, y, op) in enumerate(cases)]
    source = SourceTable("pairs", (("doc_id", T.STR), ("x", T.DECIMAL), ("y", T.DECIMAL), ("op", T.STR)), tuple(events))
    view = ViewQuery("arith", "SELECT doc_id, ONTOC_PY_DECIMAL(x, y, op) AS r FROM pairs")
    out = run_local([source], [view], setup=lambda t_env: register_functions(t_env, jar))["arith"]
    wrong = {}
    for i, (x, y, op) in enumerate(cases):
        got, want = out[f"c{i}"]["r"], python_decimal_carried(x, y, op)
        if (got is None) != (want is None) or (got is not None and D(str(got)) != want):
            wrong[(str(x), op, str(y))] = (got, want)
    assert wrong == {}
    assert any(python_decimal_carried(x, y, op) is None and y for x, y, op in cases)  # the overflow case is drawn
    assert out[f"c{cases.index((D('100'), D('3'), '/'))}"]["r"] == D("33.3333333333")


def test_py_str_prints_datetimes_like_python(jar):
    """Documents hold datetimes in UTC (aware): str() gives 'YYYY-MM-DD HH:MM:SS[.ffffff]+00:00'."""
    from datetime import datetime, timedelta

    rng = random.Random(20261127)
    values = [
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2023, 12, 31, 23, 59, 59, 500000, UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(999, 3, 4, 5, 6, 7, 1, UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
    ]
    values += [
        datetime(1900, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(0, 2 * 10**17)) for _ in range(200)
    ]
    events = tuple((f"k{i}", (f"k{i}", v.isoformat())) for i, v in enumerate(values))
    source = SourceTable("times", (("doc_id", T.STR), ("t", T.DATETIME)), events)
    view = ViewQuery("text", "SELECT doc_id, ONTOC_PY_STR(t) AS s FROM times")
    out = run_local([source], [view], setup=lambda t_env: register_functions(t_env, jar))["text"]
    wrong = {str(v): out[f"k{i}"]["s"] for i, v in enumerate(values) if out[f"k{i}"]["s"] != str(v)}
    assert wrong == {}


# ONTOC_PY_FLOAT_DIVMOD: x // y and x % y of floats as CPython computes them
def test_py_float_divmod_is_pythons(jar):
    """From the exact remainder, as CPython does: `1 // 0.1` is 9.0 (FLOOR(1 / 0.1) is 10), `5e-324 % -2.0`
    is -2.0, infinities and signed zeros as Python gives them."""
    values = [1.0, 0.1, -0.1, 5e-324, -5e-324, -2.0, 2.0, 7.5, -7.5, 0.0, -0.0, 1e308, -1e308, 3.0, 0.3, 1e-300]
    values += [math.inf, -math.inf, 2.5e15, -123456.789, 1.5]
    cases = [(x, y) for x in values for y in values if y != 0.0]
    cases += [(x, math.nan) for x in (1.0, -0.0)] + [(math.nan, 2.0)]
    events = [(f"c{i}", (f"c{i}", x, y)) for i, (x, y) in enumerate(cases)]
    source = SourceTable("pairs", (("doc_id", T.STR), ("x", T.FLOAT), ("y", T.FLOAT)), tuple(events))
    view = ViewQuery(
        "divmod",
        "SELECT doc_id, ONTOC_PY_FLOAT_DIVMOD(x, y, TRUE) AS q, ONTOC_PY_FLOAT_DIVMOD(x, y, FALSE) AS r, "
        "ONTOC_PY_FLOAT_DIVMOD(x, CAST(0.0 AS DOUBLE), TRUE) AS by_zero FROM pairs",
    )
    out = run_local([source], [view], setup=lambda t_env: register_functions(t_env, jar))["divmod"]

    def bits(v: float) -> bytes:
        return b"nan" if math.isnan(v) else struct.pack("<d", v)

    wrong = {}
    for i, (x, y) in enumerate(cases):
        row = out[f"c{i}"]
        want = (bits(x // y), bits(x % y))
        got = (bits(row["q"]), bits(row["r"]))
        if got != want or row["by_zero"] is not None:
            wrong[(x, y)] = (got, want, row["by_zero"])
    assert wrong == {}
