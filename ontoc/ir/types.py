"""Data types of the IR: Python's value types, with whether Python may see `None`.

`nullable` is Python-level: it says whether the value can be `None` when the
expression does not raise. SQL NULLs that only stand for "Python raised" are
tracked by error flags in the frontend, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

SCALAR_KINDS = ("str", "int", "float", "bool", "datetime", "decimal", "none")


@dataclass(frozen=True, slots=True)
class DType:
    kind: str
    nullable: bool = False
    elem: DType | None = None
    fields: tuple[tuple[str, DType], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in SCALAR_KINDS + ("list", "row"):
            raise ValueError(f"unknown type kind {self.kind!r}")
        if (self.kind == "list") != (self.elem is not None):
            raise ValueError("a list type needs an element type, and only it")

    def null(self, nullable: bool = True) -> DType:
        return self if self.nullable == nullable else replace(self, nullable=nullable)

    @property
    def is_numeric(self) -> bool:
        return self.kind in ("int", "float", "bool", "decimal")

    def field(self, name: str) -> DType | None:
        return dict(self.fields).get(name)

    def __str__(self) -> str:
        if self.kind == "list":
            text = f"list[{self.elem}]"
        elif self.kind == "row":
            text = "dict{" + ", ".join(f"{n}: {t}" for n, t in self.fields) + "}"
        elif self.kind == "none":
            return "None"
        else:
            text = self.kind
        return f"{text} | None" if self.nullable else text


STR = DType("str")
INT = DType("int")
FLOAT = DType("float")
BOOL = DType("bool")
DATETIME = DType("datetime")
DECIMAL = DType("decimal")
NONE = DType("none", nullable=True)


def list_of(elem: DType, nullable: bool = False) -> DType:
    return DType("list", nullable=nullable, elem=elem)


def row_of(fields: tuple[tuple[str, DType], ...], nullable: bool = False) -> DType:
    return DType("row", nullable=nullable, fields=fields)


def numeric_join(a: DType, b: DType) -> DType | None:
    """The type Python's arithmetic gives two numbers (bool counts as int)."""
    kinds = {a.kind, b.kind}
    if not kinds <= {"int", "float", "bool", "decimal"}:
        return None
    if "decimal" in kinds:
        return None if "float" in kinds else DECIMAL
    return FLOAT if "float" in kinds else INT


def unify(a: DType, b: DType) -> DType | None:
    """The type of a value that is either `a` or `b` (if/else branches)."""
    if a.kind == "none":
        return b.null()
    if b.kind == "none":
        return a.null()
    nullable = a.nullable or b.nullable
    if a.kind == b.kind:
        if a.kind == "list":
            elem = unify(a.elem, b.elem)
            return None if elem is None else list_of(elem, nullable)
        if a.kind == "row":
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
    if {a.kind, b.kind} == {"int", "float"}:
        return FLOAT.null(nullable)
    return None
