"""The contract between a submitted job's SQL and its event validator (ONTOC_VALIDATE_EVENT).

Plain data: the backend builds it from the models and the plans (`backend/flink/job.py`) and writes it
as the JVM function's spec literal (`ontoc.events.validator_spec`). It imports only the IR's types.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ir import types as T

VALIDATE_FUNCTION = "ONTOC_VALIDATE_EVENT"
VALIDATE_LINE_FUNCTION = "ONTOC_VALIDATE_LINE"  # the same rules for one line of an input file (`run --local`)
METRIC_NAME = "ontoc_invalid_events"

# kinds of an event, as ONTOC_VALIDATE_EVENT returns them
UPSERT, DELETE, INVALID = "upsert", "delete", "invalid"


@dataclass(frozen=True)
class FieldSpec:
    """One field of a model, as validation reads it (`ontoc.events.FieldRule`)."""

    name: str
    dtype: T.DType
    has_default: bool
    default: object = None


@dataclass(frozen=True)
class TopicSpec:
    topic: str
    fields: tuple[FieldSpec, ...]  # every field of the model: all are validated
    columns: tuple[tuple[str, T.DType], ...]  # the ones the views read (doc_id excluded)

    @property
    def slot(self) -> str:
        """Name of this topic's nested row in the validator's result."""
        return f"t_{self.topic}"


def direct(dtype: T.DType) -> bool:
    """True when the validator's value already has the column's SQL type (no CAST in the view)."""
    if dtype.kind == "list":
        assert dtype.elem is not None
        return direct(dtype.elem)
    return dtype.kind in ("str", "int", "float", "bool")
