"""Canonical text of IR expressions: what the manifest's expression fingerprints hash.

Every node is written as its class name and all its fields, recursively, so
two expressions with the same text are equal IR (equal IR can differ in text,
`1` against `True`: a needless "changed", never a missed one). An enum member
(`Op`, `Agg`, `Kind`) is written as its name string. The text is
deterministic across processes (no ids, no set order, no hash seeds) and
costs a fraction of generating the expression's SQL with sqlglot (bench/,
part 3), which is what manifests of format 2 hashed.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from .expr import Column, Func, Literal
from .node import Node, field_names
from .types import DType


class Canonical:
    """Canonical texts, remembered per node object (plans share subtrees) for as long as this lives."""

    def __init__(self) -> None:
        self._texts: dict[int, tuple[object, str]] = {}  # id -> (the node, kept alive so ids stay unique; text)

    def __call__(self, value: Any) -> str:  # a node, a DType, a tuple or a plain value
        if value is None or type(value) in (str, int, float, bool):
            return repr(value)
        if isinstance(value, Enum):
            return repr(value.value)
        known = self._texts.get(id(value))
        if known is not None:
            return known[1]
        cls = type(value)
        # the most frequent nodes spelled out; the same text the generic rule below gives them
        if cls is Column:
            text = f"Column({value.relation!r},{value.name!r},{self(value.dtype)})"
        elif cls is Func:
            text = f"Func({value.op.value!r},{self(value.args)},{self(value.dtype)})"
        elif cls is Literal:
            text = f"Literal({self(value.value)},{self(value.dtype)})"
        elif cls is tuple:
            text = "(" + ",".join([self(v) for v in value]) + ")"
        elif issubclass(cls, (Node, DType)):
            text = cls.__name__ + "(" + ",".join([self(getattr(value, f)) for f in field_names(cls)]) + ")"
        else:  # Decimal, datetime: their repr is exact and stable
            text = repr(value)
        self._texts[id(value)] = (value, text)
        return text
