"""A sqlglot dialect for Flink SQL: Hive's lexical rules plus Flink's types and DDL.

sqlglot ships no Flink dialect. Flink quotes identifiers with backticks like
Hive, but spells records `ROW<name TYPE>`, local-zone timestamps
`TIMESTAMP_LTZ(p)`, and table options `WITH ('key' = 'value')`.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from types import ModuleType

import sqlglot.generator
from sqlglot import exp
from sqlglot.dialects.hive import Hive
from sqlglot.generator import Generator
from sqlglot.generators.hive import HiveGenerator


def is_compiled(module: ModuleType) -> bool:
    """Whether a module was loaded from a native extension rather than Python source."""
    return str(getattr(module, "__file__", "")).endswith(tuple(EXTENSION_SUFFIXES))


if is_compiled(sqlglot.generator):
    # sqlglot's compiled build (package `sqlglotc`, extra `sqlglot[c]`) overlays native modules on
    # sqlglot's own and forbids Python subclasses of its generator ("interpreted classes cannot
    # inherit from compiled"), which every custom dialect is
    raise ImportError(
        "ontoc's Flink dialect needs sqlglot's pure-Python build, but the compiled one is "
        "installed (package `sqlglotc`, from `sqlglot[c]`): run `pip uninstall sqlglotc`"
    )


_FUNCTION_NAMES: dict[type, str] = {}  # sqlglot function class -> its SQL name


class Flink(Hive):
    # Flink string literals escape only the quote (''); a backslash is an ordinary character
    class Tokenizer(Hive.Tokenizer):
        STRING_ESCAPES = ["'"]

    class Generator(HiveGenerator):
        TYPE_MAPPING = {
            **HiveGenerator.TYPE_MAPPING,
            exp.DataType.Type.TEXT: "STRING",
            exp.DataType.Type.VARCHAR: "STRING",
            exp.DataType.Type.VARBINARY: "BYTES",  # the raw key and value of a submitted job's source
        }

        # Hive rewrites SELECT (QUALIFY, DISTINCT ON, UNNEST) and CREATE (partition columns) with
        # transforms that copy and walk the whole tree; ontoc emits none of those constructs
        TRANSFORMS = {k: v for k, v in HiveGenerator.TRANSFORMS.items() if k not in (exp.Select, exp.Create)}

        def preprocess(self, expression: exp.Expr) -> exp.Expr:
            # sqlglot's preprocessing walks the whole tree to hoist nested CTEs (a third of the
            # generation time); ontoc builds no CTEs and every statement is generated as built
            return expression

        # Fast paths for the nodes ontoc builds most, in the exact shapes it builds them (anything
        # else goes to sqlglot's general rule): a third of the generation time otherwise goes to
        # options ontoc never sets (join marks, catalogs, computed columns, unquoted names)

        def identifier_sql(self, expression: exp.Identifier) -> str:
            text = expression.this
            if expression.quoted and isinstance(text, str) and "\n" not in text:
                return (
                    f"{self._identifier_start}{text.replace(self._identifier_end, self._escaped_identifier_end)}"
                    f"{self._identifier_end}"
                )
            return super().identifier_sql(expression)

        def column_sql(self, expression: exp.Column) -> str:
            args = expression.args
            if args.keys() <= {"this", "table"} and args.get("table") is not None:
                return f"{self.sql(args['table'])}.{self.sql(args['this'])}"
            return super().column_sql(expression)

        def columndef_sql(self, expression: exp.ColumnDef, sep: str = " ") -> str:
            args = expression.args
            if args.keys() <= {"this", "kind"} and args.get("kind") is not None:
                return f"{self.sql(args['this'])}{sep}{self.sql(args['kind'])}"
            return super().columndef_sql(expression, sep)

        def function_name(self, expression: exp.Func) -> str:
            # sqlglot derives a built-in function's name from its class name with a regex on every call
            if expression._meta is not None:
                return super().function_name(expression)
            cls = type(expression)
            name = _FUNCTION_NAMES.get(cls)
            if name is None:
                name = _FUNCTION_NAMES[cls] = super().function_name(expression)
            return name

        def schema_sql(self, expression: exp.Schema) -> str:
            # Hive's rule first rewrites descending keys in the whole tree; ontoc's schemas have none
            return Generator.schema_sql(self, expression)

        def datatype_sql(self, expression: exp.DataType) -> str:
            kind = expression.this
            if kind == exp.DataType.Type.STRUCT:
                fields = ", ".join(f"{self.sql(f, 'this')} {self.sql(f, 'kind')}" for f in expression.expressions)
                return f"ROW<{fields}>"
            if kind == exp.DataType.Type.TIMESTAMPLTZ:
                return "TIMESTAMP_LTZ(6)"
            # Hive's override rewrites types ontoc never builds, parsing a type name per call (half
            # the cost of a compile); TYPE_MAPPING above is all of it Flink needs
            return Generator.datatype_sql(self, expression)

        def array_sql(self, expression: exp.Array) -> str:
            return f"ARRAY[{self.expressions(expression, flat=True)}]"

        def properties_sql(self, expression: exp.Properties) -> str:
            options = ",\n  ".join(f"{self.sql(p, 'this')} = {self.sql(p, 'value')}" for p in expression.expressions)
            return f" WITH (\n  {options}\n)"

        def property_sql(self, expression: exp.Property) -> str:
            return f"{self.sql(expression, 'this')} = {self.sql(expression, 'value')}"


def sql(
    expression: exp.Expression, pretty: bool = True, normalize_functions: str | bool = False, consume: bool = False
) -> str:
    """Flink SQL with every identifier quoted (Flink reserves many words).

    The tree is generated as it is, without sqlglot's defensive copy: ontoc
    builds a fresh tree for every statement and no generator rule of ours mutates it.
    `consume` unlinks the tree afterwards (see `release`) for callers that drop it.
    """
    generator = Flink().generator(
        pretty=pretty, identify=True, normalize_functions=normalize_functions, comments=False
    )  # ontoc's trees carry no comments
    text = generator.generate(expression, copy=False)
    if consume:
        release(expression)
    return text


def release(tree: exp.Expression) -> None:
    """Clear every node's link to its parent.

    sqlglot nodes point at their parents, so a dropped tree is a reference cycle
    that only the cyclic collector frees, by scanning it: for a compile, most of
    its objects and 15-20% of its time (bench/, part 3). Unlinked, a tree is freed
    as soon as its root is dropped.
    """
    stack = [tree]
    while stack:
        node = stack.pop()
        node.parent = None
        stack.extend(node.iter_expressions())
