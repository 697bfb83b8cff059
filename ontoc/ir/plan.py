"""A compiled view: its relational plan plus what the sink and the manifest need."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .relations import Project, Rel, Scan
from .types import DType


@dataclass(frozen=True, slots=True)
class ViewField:
    name: str
    dtype: DType
    sort_keys: tuple[str, ...] | None = None  # dict fields a list is sorted by ("" = the values)
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class UdfParam:
    name: str
    kind: str  # scalar | doc (a ROW rebuilt as an object with attributes) | dict (a ROW as a dict)
    dtype: DType


@dataclass(frozen=True, slots=True)
class UdfSpec:
    """A Python function the job calls: a view's static method (scalar) or class method (aggregate)."""

    function: str  # the registered SQL name
    kind: str  # scalar | aggregate
    view: str
    method: str
    module: str  # dotted import name of the definitions module that defines the view
    params: tuple[UdfParam, ...]
    result: DType
    code_sha256: str = ""  # what the function runs (frontend/udf_code.py): `plan` compares it
    batched: bool = False  # a scalar UDF run on Arrow batches (vectorized), with one ROW(ROW(args)) argument


@dataclass(frozen=True, slots=True)
class ViewPlan:
    view: str  # class name
    topic: str  # sink topic
    root_model: str
    fields: tuple[ViewField, ...]
    rel: Project
    file: str
    udfs: tuple[UdfSpec, ...] = ()

    def with_rel(self, rel: Rel) -> ViewPlan:
        """This plan over `rel`, which a pass rewrote (still the view's `Project`)."""
        if not isinstance(rel, Project):
            raise TypeError(f"a view plan's relation is its Project, not {type(rel).__name__}")
        return replace(self, rel=rel)

    def scans(self) -> list[Scan]:
        return [r for r in self.rel.walk() if isinstance(r, Scan)]
