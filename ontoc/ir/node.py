"""What every IR node (expression or relation) shares: its children, found from its dataclass fields.

A node's children are the nodes its fields hold, directly or inside tuples
(`Case.whens` holds pairs, `Project.fields` holds `(name, expr)` pairs), in
field order. `with_children` rebuilds the node around new children in that
same order. Walking, rewriting, dumping and fingerprinting go through these
two methods, so a new node type is one dataclass, not a change in six modules.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import fields
from typing import Any, Self


class Node:
    """Base of IR nodes: frozen dataclasses whose fields hold nodes, tuples of them, or plain values."""

    __slots__ = ()

    def children(self) -> tuple[Node, ...]:
        """The nodes this node's fields hold, in field order (tuples flattened)."""
        out: list[Node] = []
        for name in field_names(type(self)):
            _collect(getattr(self, name), out)
        return tuple(out)

    def with_children(self, children: Sequence[Node]) -> Self:
        """This node with `children` in place of `children()`; `self` when every one is the same object."""
        old = self.children()
        if len(children) != len(old):
            raise ValueError(f"{type(self).__name__} has {len(old)} children, got {len(children)}")
        if all(a is b for a, b in zip(children, old, strict=True)):
            return self
        it = iter(children)
        values = [_rebuild(getattr(self, name), it) for name in field_names(type(self))]
        return type(self)(*values)

    def attributes(self) -> Iterator[tuple[str, Any]]:
        """(name, value) of the fields that hold no node: what a dump or a fingerprint writes beside the children."""
        for name in field_names(type(self)):
            value = getattr(self, name)
            if not _holds_node(value):
                yield name, value


_FIELDS: dict[type, tuple[str, ...]] = {}


def field_names(cls: type) -> tuple[str, ...]:
    """A dataclass's field names, in order (looked up once per class: nodes are built by the million)."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls))
    return names


def _collect(value: object, out: list[Node]) -> None:
    if isinstance(value, Node):
        out.append(value)
    elif type(value) is tuple:
        for item in value:
            _collect(item, out)


def _holds_node(value: object) -> bool:
    if isinstance(value, Node):
        return True
    return type(value) is tuple and any(_holds_node(v) for v in value)


def _rebuild(value: object, children: Iterator[Node]) -> object:
    """`value` with each node in it replaced by the next of `children` (unchanged tuples kept, not copied)."""
    if isinstance(value, Node):
        return next(children)
    if type(value) is tuple:
        new = tuple([_rebuild(item, children) for item in value])
        return value if all(a is b for a, b in zip(new, value, strict=True)) else new
    return value
