"""Field markers and method decorators of the definition language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Ref:
    """`x: Other = attrs.ref()`: the field holds the doc_id of an `Other`.

    Reading it on a document yields the referenced document, or None when no
    live document has that id, as the spec asks of plain Python.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, doc: Any, owner: type | None = None) -> Any:
        if doc is None:
            return self
        return doc._resolve(self.name)


def ref() -> Any:
    return Ref()


class Getter:
    """`@attrs.getter`: a public view field. Reading it never raises: an
    exception inside makes the field None (spec section 4)."""

    def __init__(self, fn: Callable[[Any], Any]):
        self.fn = fn
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__

    def __get__(self, view: Any, owner: type | None = None) -> Any:
        if view is None:
            return self
        try:
            value = self.fn(view)
        except Exception:
            return None
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
            return None  # Python's int, but past what the view can carry (spec section 4)
        return value


class Where(Getter):
    """`@attrs.where`: the view row exists only while this is truthy."""


def getter(fn: Callable[[Any], Any]) -> Getter:
    return Getter(fn)


def where(fn: Callable[[Any], Any]) -> Where:
    return Where(fn)
