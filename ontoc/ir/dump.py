"""A readable, indented dump of a view plan: relations as a tree, expressions in a call syntax.

    >>> from ontoc.ir.types import STR, BOOL
    >>> from ontoc.ir.expr import Column, Func, Literal
    >>> expr_text(Func("eq", (Column("meeting", "status", STR), Literal("in-session", STR)), BOOL))
    "eq(meeting.status, 'in-session')"

Expressions that fit in `width` stay on one line; longer ones break after
their operator, one argument per line. Node types this module does not know
(added to the IR later) print generically as `Name(field=..., children...)`,
so the dump never fails on a new node.
"""

from __future__ import annotations

from datetime import datetime

from .expr import Agg, AggCall, Case, Cast, Column, Expr, FieldAccess, Func, Literal, UdfCall
from .plan import ViewPlan
from .relations import Aggregate, Derived, Filter, Join, Project, Rel, Scan
from .types import Kind

WIDTH = 100
STEP = "  "


def literal_text(e: Literal) -> str:
    if e.value is None:
        return f"None::{e.dtype.null(False)}" if e.dtype.kind is not Kind.NONE else "None"
    if isinstance(e.value, datetime):
        return f"datetime('{e.value.isoformat()}')"
    if e.dtype.kind is Kind.DECIMAL:
        return f"Decimal('{e.value}')"
    return repr(e.value)


def _generic_parts(e: Expr) -> tuple[str, list[str], list[Expr]]:
    """(name, scalar attributes as text, child expressions) of any expression node."""
    attrs = [
        value if isinstance(value, str) else f"{name}={value!r}"
        for name, value in e.attributes()
        if name != "dtype" and value is not None and not isinstance(value, tuple)
    ]
    return type(e).__name__, attrs, list(e.children())


def _head_and_args(e: Expr) -> tuple[str, list[Expr], str]:
    """How a node prints: `head(` args `)` plus a suffix (used by FILTER and CAST)."""
    if isinstance(e, Func):
        return e.op, list(e.args), ""
    if isinstance(e, Cast):
        return "cast", [e.arg], f" as {e.dtype}"
    if isinstance(e, AggCall):
        name = f"udaf {e.function}" if e.func is Agg.UDAF else e.func
        return name, [e.arg] if e.arg is not None else [], ""
    if isinstance(e, UdfCall):  # a generated Python scalar function: ROW<ok, value>
        return f"udf {e.function}", list(e.args), ""
    name, attrs, kids = _generic_parts(e)
    head = name if not attrs else f"{name}[{', '.join(attrs)}]"
    return head, kids, ""


def expr_text(e: Expr) -> str:
    """One line."""
    if isinstance(e, Literal):
        return literal_text(e)
    if isinstance(e, Column):
        return f"{e.relation}.{e.name}"
    if isinstance(e, FieldAccess):  # one field of a ROW
        return f"{expr_text(e.arg)}.{e.name}"
    if isinstance(e, Case):
        whens = " ".join(f"when {expr_text(c)} then {expr_text(v)}" for c, v in e.whens)
        return f"case({whens} else {expr_text(e.default)})"
    head, args, suffix = _head_and_args(e)
    inner = ", ".join(expr_text(a) for a in args)
    if isinstance(e, AggCall) and e.func is Agg.COUNT and e.arg is None:
        inner = "*"
    text = f"{head}({inner}{suffix})"
    if isinstance(e, AggCall) and e.where is not None:
        text += f" filter(where {expr_text(e.where)})"
    return text


def expr_lines(e: Expr, indent: int = 0, width: int = WIDTH) -> list[str]:
    """`e` as lines, each already indented by `indent` steps."""
    pad = STEP * indent
    flat = expr_text(e)
    if len(pad) + len(flat) <= width or isinstance(e, (Literal, Column)):
        return [pad + flat]
    if isinstance(e, FieldAccess):
        out = expr_lines(e.arg, indent, width)
        out[-1] += f".{e.name}"
        return out
    if isinstance(e, Case):
        out = [pad + "case("]
        for cond, value in e.whens:  # the keyword prefixes take 5 columns of the width
            out += _prefixed("when ", expr_lines(cond, indent + 1, width - 5))
            out += _prefixed("then ", expr_lines(value, indent + 2, width - 5))
        out += _prefixed("else ", expr_lines(e.default, indent + 1, width - 5))
        out[-1] += ")"
        return out
    head, args, suffix = _head_and_args(e)
    out = [pad + head + "("]
    if isinstance(e, AggCall) and e.func is Agg.COUNT and e.arg is None:
        out[-1] += "*"
    for i, arg in enumerate(args):
        # room for what follows the argument on its last line: `,`, or the suffix (` as decimal`) and `)`
        trailing = 1 if i < len(args) - 1 else len(suffix) + 2
        lines = expr_lines(arg, indent + 1, width - trailing)
        if i < len(args) - 1:
            lines[-1] += ","
        out += lines
    out[-1] += suffix + ")"
    if isinstance(e, AggCall) and e.where is not None:
        out += _prefixed("filter(where ", expr_lines(e.where, indent + 1, width - 13))
        out[-1] += ")"
    return out


def _prefixed(prefix: str, lines: list[str]) -> list[str]:
    """Put `prefix` in front of the first line's text, keeping its indentation."""
    first = lines[0]
    stripped = first.lstrip(" ")
    return [first[: len(first) - len(stripped)] + prefix + stripped] + lines[1:]


def _labelled(label: str, e: Expr, indent: int, width: int) -> list[str]:
    """`label = expr`, the expression on the same line when it fits, else below it."""
    pad = STEP * indent
    flat = expr_text(e)
    if len(pad) + len(label) + 3 + len(flat) <= width:
        return [f"{pad}{label} = {flat}"]
    return [f"{pad}{label} ="] + expr_lines(e, indent + 2, width)


def rel_lines(rel: Rel, indent: int = 0, width: int = WIDTH) -> list[str]:
    pad = STEP * indent
    if isinstance(rel, Scan):
        cols = ", ".join(f"{n}: {t}" for n, t in rel.columns)
        return [f"{pad}Scan {rel.table} AS {rel.alias} ({rel.model}) [{cols}]"]
    if isinstance(rel, Aggregate):
        out = [f"{pad}Aggregate AS {rel.alias}"]
        out += _labelled("group by root_id", rel.key, indent + 1, width)
        for name, call in rel.aggregates:
            out += _labelled(f"{name}: {call.dtype}", call, indent + 1, width)
        if rel.where is not None:
            out += _labelled("where", rel.where, indent + 1, width)
        out += rel_lines(rel.parent, indent + 1, width)
        return out
    if isinstance(rel, Derived):
        out = [f"{pad}Derived AS {rel.alias}"]
        out += _labelled("root_id", rel.key, indent + 1, width)
        for name, e in rel.columns:
            out += _labelled(f"{name}: {e.dtype}", e, indent + 1, width)
        out += rel_lines(rel.parent, indent + 1, width)
        return out
    if isinstance(rel, Join):
        out = [f"{pad}{type(rel).__name__} {rel.right.alias}"]
        out += _labelled("on", rel.condition, indent + 1, width)
        out += rel_lines(rel.left, indent + 1, width)
        out += rel_lines(rel.right, indent + 1, width)
        return out
    if isinstance(rel, Filter):
        return (
            [f"{pad}Filter"]
            + _labelled("where", rel.predicate, indent + 1, width)
            + rel_lines(rel.parent, indent + 1, width)
        )
    if isinstance(rel, Project):
        out = [f"{pad}Project"]
        out += _labelled("doc_id", rel.key, indent + 1, width)
        for name, e in rel.fields:
            out += _labelled(f"{name}: {e.dtype}", e, indent + 1, width)
        out += rel_lines(rel.parent, indent + 1, width)
        return out
    out = [f"{pad}{type(rel).__name__}"]
    for i, e in enumerate(rel.expressions()):
        out += _labelled(f"expression {i}", e, indent + 1, width)
    return out + [line for child in rel.inputs() for line in rel_lines(child, indent + 1, width)]


def dump_plan(plan: ViewPlan, width: int = WIDTH) -> str:
    """The whole plan: a header line, the declared fields, then the relation tree."""
    lines = [f"View {plan.view} -> {plan.topic} (root {plan.root_model}, {plan.file})"]
    lines += [
        f"{STEP}field {f.name}: {f.dtype}"
        + (
            f" sorted by {', '.join(k or '<value>' for k in f.sort_keys)}{' desc' if f.reverse else ''}"
            if f.sort_keys
            else ""
        )
        for f in plan.fields
    ]
    lines += rel_lines(plan.rel, 0, width)
    return "\n".join(lines) + "\n"
