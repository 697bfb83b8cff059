"""Rewrites of the passes on hand-built plans: what they drop, and what they must keep.

The differential suite checks that the results stay Python's; these pin the shapes.
"""

from __future__ import annotations

from ontoc.ir import build as B
from ontoc.ir.expr import Case, Column, Func, Literal
from ontoc.ir.plan import ViewPlan
from ontoc.ir.relations import LeftJoin, Project, Scan
from ontoc.ir.types import BOOL, STR
from ontoc.passes.drop_missing_guards import drop_missing_guards

NULL_STR = Literal(None, STR)


def col(rel: str, name: str, dtype=STR) -> Column:
    return Column(rel, name, dtype)


def missing(rel: str) -> Func:
    return Func("is_null", (col(rel, "doc_id"),), BOOL)


def chain_plan(fields: dict) -> ViewPlan:
    """shipment -> warehouse -> city, each joined on the previous one's reference."""

    def scan(alias: str, *names: str) -> Scan:
        return Scan(alias, alias, alias, tuple((n, STR) for n in ("doc_id", *names)))

    rel = LeftJoin(
        scan("s", "warehouse"), scan("w", "city", "name"), Func("eq", (col("w", "doc_id"), col("s", "warehouse")), BOOL)
    )
    rel = LeftJoin(rel, scan("c", "name", "code"), Func("eq", (col("c", "doc_id"), col("w", "city")), BOOL))
    project = Project(rel, col("s", "doc_id"), tuple(fields.items()))
    return ViewPlan("V", "v", "S", (), project, "views.py")


def fields_after(fields: dict) -> dict:
    return dict(drop_missing_guards(chain_plan(fields)).rel.fields)


def test_guard_of_a_missing_document_goes_when_the_column_is_null_anyway():
    guarded = Case(((missing("w"), NULL_STR),), col("w", "name"), STR)
    assert fields_after({"f": guarded}) == {"f": col("w", "name")}


def test_a_missing_reference_makes_the_documents_joined_through_it_missing():
    guard = B.or_(missing("w"), missing("c"))
    concat = Func("concat", (col("c", "name"), Literal(", ", STR), col("c", "code")), STR)
    assert fields_after({"f": Case(((guard, NULL_STR),), concat, STR)}) == {"f": concat}


def test_guard_stays_when_the_rest_gives_a_value_for_a_missing_document():
    # `w.name or "none"`: Python raises on the missing warehouse (None); without the guard SQL says "none"
    default = Case(((Func("is_null", (col("w", "name"),), BOOL), Literal("none", STR)),), col("w", "name"), STR)
    guarded = Case(((missing("w"), NULL_STR),) + default.whens, default.default, STR)
    assert fields_after({"f": guarded}) == {"f": guarded}


def test_guard_stays_when_another_relation_could_be_present():
    # c missing does not make w missing: w.name may have a value
    guarded = Case(((missing("c"), NULL_STR),), col("w", "name"), STR)
    assert fields_after({"f": guarded}) == {"f": guarded}


def test_guard_with_a_condition_keeps_the_branch_the_condition_decides():
    big = Func("gt", (col("s", "warehouse"), Literal("m", STR)), BOOL)
    # WHEN big AND w missing THEN NULL  WHEN big THEN w.name  ELSE big: the first branch is covered
    guarded = Case(((B.and_(big, missing("w")), NULL_STR), (big, col("w", "name"))), Literal(None, STR), STR)
    assert fields_after({"f": guarded}) == {"f": Case(((big, col("w", "name")),), Literal(None, STR), STR)}


def test_is_null_beside_is_not_null_folds():
    x = col("s", "warehouse")
    assert B.and_(B.is_null(x), B.is_not_null(x)) == B.lit(False)
    assert B.or_(B.is_null(x), B.is_not_null(x)) == B.lit(True)
    assert B.or_(B.or_(missing("w"), missing("c")), missing("w")) == B.or_(missing("w"), missing("c"))
    # absorption: p OR (q AND p) is p
    assert B.or_(missing("w"), B.and_(B.is_null(x), missing("w"))) == missing("w")
    assert B.and_(missing("w"), B.or_(B.is_null(x), missing("w"))) == missing("w")


def aggregate_plan(count_read_bare: bool) -> ViewPlan:
    """A root with one collection whose two aggregates both filter on `t.attendance`."""
    from ontoc.ir.expr import AggCall
    from ontoc.ir.relations import Aggregate
    from ontoc.ir.types import INT

    tickets = Scan("tickets", "Ticket", "t", (("doc_id", STR), ("meeting", STR), ("attendance", BOOL), ("vip", BOOL)))
    attending = col("t", "attendance", BOOL)
    agg = Aggregate(
        tickets,
        "t_agg",
        col("t", "meeting"),
        (
            ("n", AggCall("count", None, attending, INT)),
            ("vips", AggCall("count", None, B.and_(attending, col("t", "vip", BOOL)), INT)),
        ),
    )
    root = Scan("meetings", "Meeting", "m", (("doc_id", STR),))
    rel = LeftJoin(root, agg, Func("eq", (col("t_agg", "root_id"), col("m", "doc_id")), BOOL))
    n = col("t_agg", "n", INT)
    read = n if count_read_bare else Func("coalesce", (n, Literal(0, INT)), INT)
    vips = Func("coalesce", (col("t_agg", "vips", INT), Literal(0, INT)), INT)
    return ViewPlan("V", "v", "Meeting", (), Project(rel, col("m", "doc_id"), (("n", read), ("vips", vips))), "v.py")


def test_filter_shared_by_every_aggregate_becomes_the_subquery_where():
    from ontoc.passes.share_aggregate_filter import share_aggregate_filter

    agg = share_aggregate_filter(aggregate_plan(count_read_bare=False)).rel.parent.right
    assert agg.where == col("t", "attendance", BOOL)
    assert dict(agg.aggregates)["n"].where is None
    assert dict(agg.aggregates)["vips"].where == col("t", "vip", BOOL)


def test_filter_stays_when_a_count_is_read_without_coalesce():
    # a group none of whose rows pass would turn that count from 0 into NULL
    from ontoc.passes.share_aggregate_filter import share_aggregate_filter

    plan = aggregate_plan(count_read_bare=True)
    assert share_aggregate_filter(plan) == plan
