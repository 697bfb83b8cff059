"""What every IR node (expression or relation) shares: its children, found from its dataclass fields.

A node's children are the nodes its fields hold, directly or inside tuples
(`Case.whens` holds pairs, `Project.fields` holds `(name, expr)` pairs), in
field order. `with_children` rebuilds the node around new children in that
same order. Walking, rewriting, dumping and fingerprinting go through these
two methods, so a new node type is one dataclass, not a change in six modules
(plus its visitor in the emitter). Which fields can hold nodes is read from the
class's type hints, once: define node classes at module level, with the types
of their fields importable there.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Sequence
from dataclasses import fields
from typing import Any, Self, Union, get_args, get_origin, get_type_hints


class Node:
    """Base of IR nodes: frozen dataclasses whose fields hold nodes, tuples of them, or plain values."""

    __slots__ = ()

    def children(self) -> tuple[Node, ...]:
        """The nodes this node's fields hold, in field order (tuples flattened)."""
        shapes = _SHAPES.get(type(self))
        if shapes is None:
            shapes = _shapes(type(self))
        if not shapes:
            return ()
        out: list[Node] = []
        for name, shape in shapes:
            value = getattr(self, name)
            if shape is _ONE:
                if value is not None:
                    out.append(value)
            elif shape is _MANY:
                out.extend(value)
            elif type(shape) is tuple:  # a tuple of pairs: the positions of a pair that hold nodes
                for pair in value:
                    out.extend([pair[i] for i in shape])
            else:
                _collect(value, out)
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


# how a field holds nodes: one (or None), a tuple of them, a tuple of pairs (the positions of a
# pair that are nodes), or nested in tuples some other way
_ONE, _MANY, _NESTED = "one", "many", "nested"
Shape = str | tuple[int, ...]
_SHAPES: dict[type, tuple[tuple[str, Shape], ...]] = {}


def _shapes(cls: type) -> tuple[tuple[str, Shape], ...]:
    """(field, shape) of the fields of `cls` whose type can hold a node, read once from its type hints.

    Leaves (a column, a literal) have none, and most nodes are leaves: their `children()` costs nothing.
    """
    hints = get_type_hints(cls)
    shapes = tuple((name, shape) for name in field_names(cls) if (shape := _shape(hints[name])) is not None)
    _SHAPES[cls] = shapes
    return shapes


def _is_node(hint: object) -> bool:
    return isinstance(hint, type) and issubclass(hint, Node)


def _shape(hint: object) -> Shape | None:
    args = get_args(hint)
    if _is_node(hint) or (
        get_origin(hint) in (Union, types.UnionType) and all(_is_node(a) or a is type(None) for a in args)
    ):
        return _ONE
    if get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
        if _is_node(args[0]):
            return _MANY
        pair = get_args(args[0])
        if (
            get_origin(args[0]) is tuple
            and Ellipsis not in pair
            and all(_is_node(a) or _shape(a) is None for a in pair)
        ):
            positions = tuple(i for i, a in enumerate(pair) if _is_node(a))
            return positions or None
    return _NESTED if any(_shape(a) is not None for a in args) else None


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
