"""Data types of the IR: Python's value types, with whether Python may see `None`.

`nullable` is Python-level: it says whether the value can be `None` when the
expression does not raise. SQL NULLs that only stand for "Python raised" are
tracked by error flags in the frontend, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Kind(StrEnum):
    """What a value is. A `StrEnum`: a member equals its name as a string (`Kind.LIST == "list"`)."""

    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DATETIME = "datetime"
    DECIMAL = "decimal"
    NONE = "none"
    LIST = "list"  # of `elem`
    ROW = "row"  # of `fields` (a Python dict or document)


NUMERIC_KINDS = frozenset({Kind.INT, Kind.FLOAT, Kind.BOOL, Kind.DECIMAL})


@dataclass(frozen=True, slots=True)
class DType:
    kind: Kind  # a string naming a kind is accepted and stored as its member
    nullable: bool = False
    elem: DType | None = None
    fields: tuple[tuple[str, DType], ...] = ()

    def __post_init__(self) -> None:
        if type(self.kind) is not Kind:
            try:
                object.__setattr__(self, "kind", Kind(self.kind))
            except ValueError:
                raise ValueError(f"unknown type kind {self.kind!r}") from None
        if (self.kind is Kind.LIST) != (self.elem is not None):
            raise ValueError("a list type needs an element type, and only it")

    def null(self, nullable: bool = True) -> DType:
        return self if self.nullable == nullable else replace(self, nullable=nullable)

    @property
    def is_numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    def field(self, name: str) -> DType | None:
        return dict(self.fields).get(name)

    def __str__(self) -> str:
        if self.kind is Kind.LIST:
            text = f"list[{self.elem}]"
        elif self.kind is Kind.ROW:
            text = "dict{" + ", ".join(f"{n}: {t}" for n, t in self.fields) + "}"
        elif self.kind is Kind.NONE:
            return "None"
        else:
            text = self.kind.value
        return f"{text} | None" if self.nullable else text


STR = DType(Kind.STR)
INT = DType(Kind.INT)
FLOAT = DType(Kind.FLOAT)
BOOL = DType(Kind.BOOL)
DATETIME = DType(Kind.DATETIME)
DECIMAL = DType(Kind.DECIMAL)
NONE = DType(Kind.NONE, nullable=True)


def list_of(elem: DType, nullable: bool = False) -> DType:
    return DType(Kind.LIST, nullable=nullable, elem=elem)


def row_of(fields: tuple[tuple[str, DType], ...], nullable: bool = False) -> DType:
    return DType(Kind.ROW, nullable=nullable, fields=fields)


def numeric_join(a: DType, b: DType) -> DType | None:
    """The type Python's arithmetic gives two numbers (bool counts as int)."""
    kinds = {a.kind, b.kind}
    if not kinds <= NUMERIC_KINDS:
        return None
    if Kind.DECIMAL in kinds:
        return None if Kind.FLOAT in kinds else DECIMAL
    return FLOAT if Kind.FLOAT in kinds else INT


def unify(a: DType, b: DType) -> DType | None:
    """The type of a value that is either `a` or `b` (if/else branches)."""
    if a.kind is Kind.NONE:
        return b.null()
    if b.kind is Kind.NONE:
        return a.null()
    nullable = a.nullable or b.nullable
    if a.kind == b.kind:
        if a.elem is not None and b.elem is not None:  # two lists
            elem = unify(a.elem, b.elem)
            return None if elem is None else list_of(elem, nullable)
        if a.kind is Kind.ROW:
            if [n for n, _ in a.fields] != [n for n, _ in b.fields]:
                return None
            fields = []
            for (name, ta), (_, tb) in zip(a.fields, b.fields, strict=False):
                t = unify(ta, tb)
                if t is None:
                    return None
                fields.append((name, t))
            return row_of(tuple(fields), nullable)
        return a.null(nullable)
    if {a.kind, b.kind} == {Kind.INT, Kind.FLOAT}:
        return FLOAT.null(nullable)
    return None
