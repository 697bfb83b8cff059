"""Drop `WHEN <document missing> THEN NULL` branches that the rest of the CASE already covers.

Python raises on `None.name` and the view gets `None`; the frontend says so
with a branch per navigation: `CASE WHEN c.doc_id IS NULL THEN NULL ELSE c.name END`.
In SQL the LEFT JOIN already made every column of a missing document NULL,
so when the rest of the CASE is NULL too whenever the branch fires, the
branch is dead weight: the planner evaluates it for every row (bench/,
part 1: the projection's Calc was twice the hand-written one).

A branch `WHEN g1 OR g2 ... THEN NULL` goes when, for each disjunct g (its
conjuncts taken as true), the rest of the CASE evaluates to NULL given that
the documents g says are missing are missing, and with them every document
joined through them (`city` is missing when the `warehouse` it hangs off
is), and that every other expression g says `IS NULL` is NULL (a Decimal
operation past what the view carries: `WHEN ONTOC_PY_DECIMAL(..) IS NULL
THEN NULL ELSE ONTOC_PY_DECIMAL(..)` is the function alone). The evaluation
is three-valued and conservative: anything it cannot decide keeps the branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..ir import build as B
from ..ir.expr import OPS, Case, Cast, Column, Expr, FieldAccess, Func, Literal, Op
from ..ir.plan import ViewPlan
from ..ir.relations import LeftJoin, Scan
from ..ir.traverse import map_rel_exprs

KEY = "doc_id"


class Known(Enum):
    NULL = "null"
    TRUE = "true"
    FALSE = "false"
    VALUE = "value"  # not NULL, value unknown
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Assumption:
    missing: frozenset[str]  # aliases whose document is missing (all their columns NULL)
    facts: frozenset[Expr]  # boolean expressions known TRUE
    nulls: frozenset[Expr] = frozenset()  # expressions known NULL


def evaluate(e: Expr, a: Assumption) -> Known:
    if e in a.facts:
        return Known.TRUE
    if e in a.nulls:
        return Known.NULL
    if isinstance(e, Literal):
        if e.value is None:
            return Known.NULL
        if isinstance(e.value, bool):
            return Known.TRUE if e.value else Known.FALSE
        return Known.VALUE
    if isinstance(e, Column):
        return Known.NULL if e.relation in a.missing else Known.UNKNOWN
    if isinstance(e, (Cast, FieldAccess)):
        return Known.NULL if evaluate(e.arg, a) is Known.NULL else Known.UNKNOWN
    if isinstance(e, Case):
        return _case(e, a)
    if isinstance(e, Func):
        return _func(e, a)
    return Known.UNKNOWN


def _func(e: Func, a: Assumption) -> Known:
    if e.op in (Op.IS_NULL, Op.IS_NOT_NULL):
        arg = evaluate(e.args[0], a)
        if arg is Known.UNKNOWN:
            return Known.UNKNOWN
        return Known.TRUE if (arg is Known.NULL) == (e.op is Op.IS_NULL) else Known.FALSE
    args = [evaluate(x, a) for x in e.args]
    if e.op is Op.NOT:
        return {Known.TRUE: Known.FALSE, Known.FALSE: Known.TRUE, Known.NULL: Known.NULL}.get(args[0], Known.UNKNOWN)
    if e.op is Op.AND:
        return _connective(args, dominant=Known.FALSE, neutral=Known.TRUE)
    if e.op is Op.OR:
        return _connective(args, dominant=Known.TRUE, neutral=Known.FALSE)
    if e.op is Op.COALESCE:
        for arg in args:
            if arg is not Known.NULL:
                return arg
        return Known.NULL
    strict = OPS[e.op].strict
    if strict or e.op in (Op.IN, Op.NULLIF):
        nulls = args if strict else args[:1]  # `x IN (...)`, NULLIF(x, y): NULL when x is
        if Known.NULL in nulls:
            return Known.NULL
    return Known.UNKNOWN


def _connective(args: list[Known], dominant: Known, neutral: Known) -> Known:
    """SQL's AND (dominant FALSE) and OR (dominant TRUE) over three-valued operands."""
    if dominant in args:
        return dominant
    if all(x is neutral for x in args):
        return neutral
    if all(x in (neutral, Known.NULL) for x in args):
        return Known.NULL
    return Known.UNKNOWN


def _case(e: Case, a: Assumption) -> Known:
    """NULL when every branch that can be taken gives NULL, else UNKNOWN."""
    for cond, value in e.whens:
        c = evaluate(cond, a)
        if c is Known.TRUE:
            return Known.NULL if evaluate(value, a) is Known.NULL else Known.UNKNOWN
        if c in (Known.FALSE, Known.NULL):  # a NULL condition is not taken
            continue
        if evaluate(value, a) is not Known.NULL:
            return Known.UNKNOWN
    return Known.NULL if evaluate(e.default, a) is Known.NULL else Known.UNKNOWN


def _missing_closure(missing: set[str], joins: list[LeftJoin]) -> frozenset[str]:
    """`missing` and every document joined on a key that is NULL because of them."""
    missing = set(missing)
    changed = True
    while changed:
        changed = False
        for join in joins:
            right = join.right
            if not isinstance(right, Scan) or right.alias in missing:
                continue
            cond = join.condition
            if isinstance(cond, Func) and cond.op is Op.EQ:
                is_key = [isinstance(x, Column) and x.relation == right.alias and x.name == KEY for x in cond.args]
                other = cond.args[1] if is_key[0] else cond.args[0] if is_key[1] else None
                if other is not None and evaluate(other, Assumption(frozenset(missing), frozenset())) is Known.NULL:
                    missing.add(right.alias)
                    changed = True
    return frozenset(missing)


def _assumption(guard: Expr, scans: set[str], joins: list[LeftJoin]) -> Assumption | None:
    """What holds when the conjunction `guard` is TRUE, or None if it says nothing is NULL."""
    facts = frozenset(B.operands(guard, Op.AND))
    nulls = {f.args[0] for f in facts if isinstance(f, Func) and f.op is Op.IS_NULL}
    missing = {x.relation for x in nulls if isinstance(x, Column) and x.name == KEY and x.relation in scans}
    if not nulls:
        return None
    return Assumption(_missing_closure(missing, joins), facts, frozenset(nulls))


def _drop_branches(e: Expr, scans: set[str], joins: list[LeftJoin]) -> Expr:
    if not isinstance(e, Case):
        return e
    whens = list(e.whens)
    i = 0
    while i < len(whens):
        cond, value = whens[i]
        if isinstance(value, Literal) and value.value is None:
            rest = Case(tuple(whens[i + 1 :]), e.default, e.dtype)
            assumptions = [_assumption(g, scans, joins) for g in B.operands(cond, Op.OR)]
            if all(x is not None and evaluate(rest, x) is Known.NULL for x in assumptions):
                del whens[i]
                continue
        i += 1
    if len(whens) == len(e.whens):
        return e
    return Case(tuple(whens), e.default, e.dtype) if whens else e.default


def drop_missing_guards(plan: ViewPlan) -> ViewPlan:
    nodes = list(plan.rel.walk())
    scans = [r.alias for r in nodes if isinstance(r, Scan)]
    if len(scans) != len(set(scans)):  # the reasoning needs one alias per document in the plan
        return plan
    joins = [r for r in nodes if isinstance(r, LeftJoin)]
    aliases = set(scans)
    return plan.with_rel(map_rel_exprs(plan.rel, lambda e: _drop_branches(e, aliases, joins)))
