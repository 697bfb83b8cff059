"""Base classes of definitions, as plain Python for the oracle.

The compiler never imports definitions; these classes exist so that the same
files run in plain Python, which is the semantics' reference (spec section 4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class DomainModel:
    """A document of a source topic. Documents are made by the oracle's world."""

    doc_id: str

    def __init__(self, doc_id: str, world: Any = None, **fields: Any):
        self.doc_id = doc_id
        self._world = world
        self._refs: dict[str, str | None] = {}
        for name, value in fields.items():
            setattr(self, name, value)

    def _resolve(self, field: str) -> Any:
        target = self._refs.get(field)
        return None if target is None or self._world is None else self._world.lookup(self, field, target)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.doc_id!r})"


class one:
    """A store entry holding one document: the root, or a lookup by `key`."""

    def __init__(self, model: type, key: Callable[[Any], Any] | None = None):
        self.model = model
        self.key = key


class many:
    """A store entry holding every `model` document whose reference `on` is the root."""

    def __init__(self, model: type, on: str):
        self.model = model
        self.on = on


class Store:
    """The documents one view row reads; entries are filled by the oracle."""

    def __init__(self, **entries: Any):
        for name, value in entries.items():
            setattr(self, name, value)


class ViewModel:
    def __init__(self, store: Store):
        self.store = store
