"""IR -> sqlglot expression trees in the Flink dialect.

Every IR node has a visitor; an operator without one fails loudly, so the
frontend cannot build something the backend silently mistranslates.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from sqlglot import exp

from ...ir import types as T
from ...ir.expr import Agg, AggCall, Case, Cast, Column, Expr, FieldAccess, Func, Literal, Op, UdfCall
from ...ir.relations import Aggregate, Derived, Filter, InnerJoin, Join, Project, Rel, Scan

DECIMAL_PRECISION = (38, 10)
SCALAR_TYPES = {
    T.Kind.STR: exp.DataType.Type.TEXT,
    T.Kind.INT: exp.DataType.Type.BIGINT,
    T.Kind.FLOAT: exp.DataType.Type.DOUBLE,
    T.Kind.BOOL: exp.DataType.Type.BOOLEAN,
    T.Kind.DATETIME: exp.DataType.Type.TIMESTAMPLTZ,
    T.Kind.NONE: exp.DataType.Type.TEXT,
}
SORT_ROWS_FUNCTION = "ONTOC_SORT_ROWS"
PY_STR_FUNCTION = "ONTOC_PY_STR"
PY_ROUND_FUNCTION = "ONTOC_PY_ROUND"
PY_FLOAT_DIVMOD_FUNCTION = "ONTOC_PY_FLOAT_DIVMOD"
PY_DECIMAL_FUNCTION = "ONTOC_PY_DECIMAL"
# ontoc's own, from jvm/functions
JVM_FUNCTIONS = (
    SORT_ROWS_FUNCTION,
    PY_STR_FUNCTION,
    PY_ROUND_FUNCTION,
    PY_FLOAT_DIVMOD_FUNCTION,
    PY_DECIMAL_FUNCTION,
)


def sql_type(dtype: T.DType) -> exp.DataType:
    if dtype.elem is not None:  # a list
        return exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[sql_type(dtype.elem)], nested=True)
    if dtype.kind is T.Kind.ROW:
        fields = [
            exp.ColumnDef(this=exp.to_identifier(name, quoted=True), kind=sql_type(t)) for name, t in dtype.fields
        ]
        return exp.DataType(this=exp.DataType.Type.STRUCT, expressions=fields, nested=True)
    if dtype.kind is T.Kind.DECIMAL:
        precision, scale = DECIMAL_PRECISION
        return exp.DataType(
            this=exp.DataType.Type.DECIMAL,
            expressions=[
                exp.DataTypeParam(this=exp.Literal.number(precision)),
                exp.DataTypeParam(this=exp.Literal.number(scale)),
            ],
        )
    return exp.DataType(this=SCALAR_TYPES[dtype.kind])


@lru_cache(maxsize=1024)
def type_text(dtype: T.DType) -> str:
    from .dialect import sql

    return sql(sql_type(dtype), pretty=False, consume=True)


def ident(name: str) -> exp.Identifier:
    return exp.Identifier(this=name, quoted=True)


def column(relation: str, name: str) -> exp.Column:
    return exp.Column(this=ident(name), table=ident(relation))


def alias(e: exp.Expression, name: str) -> exp.Alias:
    return exp.Alias(this=e, alias=ident(name))


def anon(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


PRECEDENCE = [
    (exp.Or,),
    (exp.And,),
    (exp.Not,),
    (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE, exp.NullSafeEQ, exp.Is, exp.In, exp.Between),
    (exp.DPipe,),
    (exp.Add, exp.Sub),
    (exp.Mul, exp.Div),
    (exp.Neg,),
]
LEVEL: dict[type, int] = {
    cls: level for level, classes in enumerate(PRECEDENCE) for cls in classes
}  # node class -> precedence
COMPARISON = 3  # the level of PRECEDENCE[3]: comparisons do not chain
ASSOCIATIVE = (exp.And, exp.Or, exp.Add, exp.Mul, exp.DPipe)


def precedence(cls: type) -> int:
    """How tightly a node class binds (higher binds tighter); anything not listed is atomic."""
    return LEVEL.get(cls, len(PRECEDENCE))


def paren(e: exp.Expression, parent: type, right: bool = False) -> exp.Expression:
    """Parenthesise `e` as an operand of `parent` only where precedence needs it."""
    mine, theirs = precedence(type(e)), precedence(parent)
    if mine < theirs or (mine == theirs and (right and parent not in ASSOCIATIVE or theirs == COMPARISON)):
        return exp.Paren(this=e)
    if parent is exp.Not and mine == COMPARISON:
        return exp.Paren(this=e)
    return e


def binary(cls):
    return lambda args: cls(this=paren(args[0], cls), expression=paren(args[1], cls, right=True))


def chain(cls):
    def build(args):
        out = paren(args[0], cls)
        for a in args[1:]:
            out = cls(this=out, expression=paren(a, cls, right=True))
        return out

    return build


def add_interval(ts: exp.Expression, millis: int) -> exp.Expression:
    """`ts + INTERVAL 'D HH:MM:SS.fff' DAY(3) TO SECOND(3)` (Flink's day-time intervals hold milliseconds)."""
    days, rest = divmod(abs(millis), 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    text = f"{days} {hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
    interval = exp.Interval(this=exp.Literal.string(text), unit=exp.var("DAY(3) TO SECOND(3)"))
    return exp.Paren(this=(exp.Sub if millis < 0 else exp.Add)(this=ts, expression=interval))


SIMPLE_OPS: dict[Op, Callable[[list[exp.Expression]], exp.Expression]] = {
    Op.ADD: binary(exp.Add),
    Op.SUB: binary(exp.Sub),
    Op.MUL: binary(exp.Mul),
    Op.EQ: binary(exp.EQ),
    Op.NE: binary(exp.NEQ),
    Op.LT: binary(exp.LT),
    Op.LE: binary(exp.LTE),
    Op.GT: binary(exp.GT),
    Op.GE: binary(exp.GTE),
    Op.NOT_DISTINCT: binary(exp.NullSafeEQ),
    Op.AND: chain(exp.And),
    Op.OR: chain(exp.Or),
    Op.CONCAT: chain(exp.DPipe),
    Op.NEG: lambda a: exp.Neg(this=paren(a[0], exp.Neg)),
    Op.NOT: lambda a: exp.Not(this=paren(a[0], exp.Not)),
    Op.IS_NULL: lambda a: exp.Is(this=paren(a[0], exp.Is), expression=exp.Null()),
    Op.IS_NOT_NULL: lambda a: exp.Not(this=exp.Is(this=paren(a[0], exp.Is), expression=exp.Null())),
    Op.COALESCE: lambda a: exp.Coalesce(this=a[0], expressions=a[1:]),
    Op.NULLIF: lambda a: exp.Nullif(this=a[0], expression=a[1]),
    Op.MOD: lambda a: anon("MOD", *a),
    Op.POWER: lambda a: anon("POWER", *a),
    Op.ABS: lambda a: anon("ABS", *a),
    Op.FLOOR: lambda a: anon("FLOOR", *a),
    Op.ROUND: lambda a: anon("ROUND", *a),
    Op.GREATEST: lambda a: anon("GREATEST", *a),
    Op.LEAST: lambda a: anon("LEAST", *a),
    Op.UPPER: lambda a: anon("UPPER", *a),
    Op.LOWER: lambda a: anon("LOWER", *a),
    Op.CHAR_LENGTH: lambda a: anon("CHAR_LENGTH", *a),
    Op.SUBSTRING: lambda a: anon("SUBSTR", *a),
    # LOCATE(needle, haystack): 1-based position, 0 when absent
    Op.POSITION: lambda a: anon("LOCATE", *a),
    Op.REPLACE: lambda a: anon("REPLACE", *a),
    Op.REGEXP_REPLACE: lambda a: anon("REGEXP_REPLACE", *a),
    Op.CARDINALITY: lambda a: anon("CARDINALITY", *a),
    Op.ARRAY_CONTAINS: lambda a: anon("ARRAY_CONTAINS", *a),
    Op.ARRAY_SORT: lambda a: anon("ARRAY_SORT", *a),
    # str(x) as Python prints a float (shortest round-trip digits, its exponent rules) or a datetime
    # ('YYYY-MM-DD HH:MM:SS[.ffffff]+00:00'): a JVM function of ours, one overload per type
    Op.PY_STR: lambda a: anon(PY_STR_FUNCTION, *a),
    # float // and % as CPython computes them (FLOOR(x / y) is 10 for 1 // 0.1, Python's 9.0)
    Op.PY_FLOAT_DIVMOD: lambda a: anon(PY_FLOAT_DIVMOD_FUNCTION, *a),
    # Decimal + - * / to Python's 28 digits (Flink's operators keep 6 digits after the point of a product)
    Op.PY_DECIMAL: lambda a: anon(PY_DECIMAL_FUNCTION, *a),
    Op.BETWEEN: lambda a: exp.Between(this=paren(a[0], exp.Between), low=a[1], high=a[2]),
    Op.IN: lambda a: exp.In(this=paren(a[0], exp.In), expressions=a[1:]),
    Op.REPEAT: lambda a: anon("REPEAT", a[0], exp.Cast(this=a[1], to=exp.DataType.build("INT"))),
    Op.EXTRACT: lambda a: exp.Extract(this=exp.var(a[0].name), expression=a[1]),
    # offsets and indexes are INT in Flink (a BIGINT one is not accepted)
    Op.ARRAY_SLICE: lambda a: anon(
        "ARRAY_SLICE", a[0], *[exp.Cast(this=x, to=exp.DataType.build("INT")) for x in a[1:]]
    ),
    Op.ELEMENT_AT: lambda a: exp.Bracket(
        this=exp.Paren(this=a[0]), expressions=[exp.Cast(this=a[1], to=exp.DataType.build("INT"))]
    ),
}


class ExprEmitter:
    def visit(self, e: Expr) -> exp.Expression:
        method = getattr(self, "visit_" + type(e).__name__, None)
        if method is None:
            raise NotImplementedError(f"no Flink translation for IR node {type(e).__name__}")
        return method(e)

    def visit_Literal(self, e: Literal) -> exp.Expression:
        v = e.value
        if v is None:
            return exp.Cast(this=exp.Null(), to=sql_type(e.dtype))
        if isinstance(v, bool):
            return exp.Boolean(this=v)
        if e.dtype.kind is T.Kind.FLOAT and isinstance(v, (int, float, Decimal, str)):
            # a plain 0.5 is a DECIMAL literal in Flink; the exponent makes it DOUBLE
            text = repr(float(v))
            if text in ("inf", "-inf", "nan"):
                return exp.Cast(
                    this=exp.Literal.string({"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}[text]),
                    to=sql_type(T.FLOAT),
                )
            mantissa = text.split("e")[0]
            exponent = int(text.split("e")[1]) if "e" in text else 0
            literal = exp.Literal.number(f"{mantissa.lstrip('-')}E{exponent}")
            return exp.Neg(this=literal) if text.startswith("-") else literal
        if e.dtype.kind is T.Kind.DECIMAL and isinstance(v, (int, float, Decimal, str)):
            return exp.Cast(this=exp.Literal.string(str(Decimal(v))), to=sql_type(T.DECIMAL))
        if isinstance(v, datetime):  # in UTC, the session time zone
            text = v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            return exp.Cast(this=exp.Literal.string(text), to=sql_type(T.DATETIME))
        if isinstance(v, int):
            if v == -(2**63):  # its absolute value is no BIGINT: Flink would read the literal as a DECIMAL
                return exp.Cast(this=exp.Literal.string(str(v)), to=sql_type(T.INT))
            number: exp.Expression = exp.Literal.number(abs(v))
            if abs(v) > 2**31 - 1:
                number = exp.Cast(this=number, to=sql_type(T.INT))
            return exp.Neg(this=number) if v < 0 else number
        if isinstance(v, str):
            return exp.Literal.string(v)
        raise NotImplementedError(f"literal of type {type(v).__name__}")

    def visit_Column(self, e: Column) -> exp.Expression:
        return column(e.relation, e.name)

    def visit_Func(self, e: Func) -> exp.Expression:
        args = [self.visit(a) for a in e.args]
        if e.op is Op.DIV:
            out = exp.Div(this=paren(args[0], exp.Div), expression=paren(args[1], exp.Div, right=True))
            # Flink divides BIGINTs into a BIGINT only by accident of type inference; say it
            return exp.Cast(this=out, to=sql_type(T.INT)) if e.dtype.kind is T.Kind.INT else out
        if e.op is Op.ROW:
            return exp.Cast(this=anon("ROW", *args), to=sql_type(e.dtype))
        if e.op is Op.ADD_MILLIS:
            millis = e.args[1]
            if not isinstance(millis, Literal) or not isinstance(millis.value, int):
                raise NotImplementedError("ADD_MILLIS takes a literal number of milliseconds")
            return add_interval(args[0], millis.value)
        if e.op is Op.EMPTY_ARRAY:
            return self.empty_array(e.dtype)
        if e.op is Op.PY_ROUND:
            # round(x, ndigits) as Python rounds: the exact value, ties to even (Flink's ROUND: half up).
            # Both arguments cast to the exact types of one overload: Flink takes an overload whose types
            # match exactly, else the first one the arguments cast to, the DOUBLE one (a DECIMAL(38, 6)
            # product or an INT literal would be rounded as a double)
            return anon(
                PY_ROUND_FUNCTION,
                exp.Cast(this=args[0], to=sql_type(e.dtype)),
                exp.Cast(this=args[1], to=sql_type(T.INT)),
            )
        if e.op is Op.ARRAY_SORT and e.dtype.elem is not None and e.dtype.elem.kind is T.Kind.ROW:
            # Flink's ARRAY_SORT takes only arrays of comparable scalars; rows go through
            # ontoc's JVM function (jvm/functions), compared field by field
            return anon(SORT_ROWS_FUNCTION, *args)
        if e.op is Op.TRY_CAST:
            return exp.TryCast(this=args[0], to=sql_type(e.dtype))
        build = SIMPLE_OPS.get(e.op)
        if build is None:
            raise NotImplementedError(f"no Flink translation for operator {e.op!r}")
        return build(args)

    def empty_array(self, dtype: T.DType) -> exp.Expression:
        # Flink has no empty ARRAY literal: build a one-NULL array and drop the NULL
        if dtype.elem is None:
            raise TypeError(f"an empty array of {dtype}")
        one_null = exp.Array(expressions=[exp.Cast(this=exp.Null(), to=sql_type(dtype.elem))])
        return anon("ARRAY_REMOVE", one_null, exp.Cast(this=exp.Null(), to=sql_type(dtype.elem)))

    def visit_UdfCall(self, e: UdfCall) -> exp.Expression:
        return anon(e.function, *[self.visit(a) for a in e.args])

    def visit_FieldAccess(self, e: FieldAccess) -> exp.Expression:
        return exp.Dot(this=exp.Paren(this=self.visit(e.arg)), expression=ident(e.name))

    def visit_Case(self, e: Case) -> exp.Expression:
        case = exp.Case(ifs=[])
        for cond, value in e.whens:
            case.append("ifs", exp.If(this=self.visit(cond), true=self.visit(value)))
        case.set("default", self.visit(e.default))
        return case

    def visit_Cast(self, e: Cast) -> exp.Expression:
        return exp.Cast(this=self.visit(e.arg), to=sql_type(e.dtype))

    def visit_AggCall(self, e: AggCall) -> exp.Expression:
        if e.func is Agg.COUNT:
            call: exp.Expression = exp.Count(this=exp.Star())
        elif e.arg is None:
            raise TypeError(f"{e.func} needs an argument")
        elif e.func is Agg.COUNT_DISTINCT:
            call = exp.Count(this=exp.Distinct(expressions=[self.visit(e.arg)]))
        elif e.func is Agg.UDAF:
            call = anon(e.function or "", self.visit(e.arg))
        elif e.func is Agg.ARRAY_AGG_DISTINCT:
            call = anon("ARRAY_AGG", exp.Distinct(expressions=[self.visit(e.arg)]))
        else:
            name = {Agg.SUM: "SUM", Agg.MIN: "MIN", Agg.MAX: "MAX", Agg.ARRAY_AGG: "ARRAY_AGG"}[e.func]
            call = anon(name, self.visit(e.arg))
        if e.where is not None:
            call = exp.Filter(this=call, expression=exp.Where(this=self.visit(e.where)))
        return call


def relation_sql(rel: Rel, emitter: ExprEmitter) -> exp.Expression:
    """The FROM part of a query: a table, a joined table, or an aggregate subquery."""
    if isinstance(rel, Scan):
        return exp.Table(this=ident(rel.table), alias=exp.TableAlias(this=ident(rel.alias)))
    if isinstance(rel, Aggregate):
        sub = select_from(rel.parent, emitter)
        sub = sub.select(alias(emitter.visit(rel.key), "root_id"), append=False, copy=False)
        for name, call in rel.aggregates:
            sub = sub.select(alias(emitter.visit(call), name), copy=False)
        if rel.where is not None:
            sub = sub.where(emitter.visit(rel.where), copy=False)
        sub = sub.group_by(emitter.visit(rel.key), copy=False)
        return exp.Subquery(this=sub, alias=exp.TableAlias(this=ident(rel.alias)))
    if isinstance(rel, Derived):
        sub = select_from(rel.parent, emitter)
        sub = sub.select(alias(emitter.visit(rel.key), "root_id"), append=False, copy=False)
        for name, e in rel.columns:
            sub = sub.select(alias(emitter.visit(e), name), copy=False)
        return exp.Subquery(this=sub, alias=exp.TableAlias(this=ident(rel.alias)))
    raise TypeError(rel)


def select_from(rel: Rel, emitter: ExprEmitter) -> exp.Select:
    """`SELECT ... FROM` a chain of joins (columns to be added by the caller)."""
    joins = []
    while isinstance(rel, Join):
        joins.append(rel)
        rel = rel.left
    query = exp.Select().from_(relation_sql(rel, emitter), copy=False)
    for join in reversed(joins):
        kind = {"kind": "INNER"} if isinstance(join, InnerJoin) else {"side": "LEFT"}
        right = relation_sql(join.right, emitter)
        query.append("joins", exp.Join(this=right, on=emitter.visit(join.condition), **kind))
    return query


def view_query(project: Project, key_name: str = "doc_id") -> exp.Select:
    emitter = ExprEmitter()
    rel = project.parent
    where = None
    if isinstance(rel, Filter):
        where, rel = rel.predicate, rel.parent
    query = select_from(rel, emitter)
    query = query.select(alias(emitter.visit(project.key), key_name), append=False, copy=False)
    for name, expr in project.fields:
        query = query.select(alias(emitter.visit(expr), name), copy=False)
    if where is not None:
        query = query.where(emitter.visit(where), copy=False)
    return query
