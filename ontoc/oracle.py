"""The semantics' reference: run the definitions' getters as plain Python.

This imports and executes the user's definitions (the compiler never does)
over the current documents, with spec section 4's rules: a getter that raises
is None, a `where` that raises or is false drops the row. It shares only the
input parsing (`events`) and the schema's list of fields with the compiler;
what each getter computes comes from running its own code.
"""

from __future__ import annotations

import importlib
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from .frontend.schema import Schema

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _checked(value: object) -> object:
    """An int result of arithmetic: a `CheckedInt` again, or OverflowError past 64 bits (spec section 4)."""
    if type(value) is not int:
        return value
    if not INT64_MIN <= value <= INT64_MAX:
        raise OverflowError("the exact result leaves the signed 64-bit range")
    return CheckedInt(value)


def _checking(name: str):
    method = getattr(int, name)

    def op(self, *other):
        result = method(self, *other)
        return result if result is NotImplemented else _checked(result)

    op.__name__ = name
    return op


class CheckedInt(int):
    """An int field's value: Python's unbounded arithmetic, but an exact result past 64 bits raises, as the
    view cannot carry it (the getter is None). A literal meeting it is checked too (`x * 4`, `4 * x`)."""

    for _name in (
        "__add__ __radd__ __sub__ __rsub__ __mul__ __rmul__ __floordiv__ __rfloordiv__ __mod__ __rmod__ "
        "__pow__ __rpow__ __neg__ __pos__ __abs__"
    ).split():
        locals()[_name] = _checking(_name)
    del _name


def exact_sum(values, start=0):
    """`sum()` in the definitions: the exact total is checked, not the partial sums (whose order is unspecified)."""
    total = start
    for v in values:
        total = int(total) + int(v) if type(v) in (int, CheckedInt) and type(total) in (int, CheckedInt) else total + v
    return _checked(total) if type(total) in (int, CheckedInt) else total


class World:
    """All live documents, by model name, for reference navigation."""

    def __init__(
        self, schema: Schema, classes: dict[str, type], documents: dict[str, dict[str, dict]], reverse: bool = False
    ):
        self.schema = schema
        self.docs: dict[str, dict[str, Any]] = {}  # the user's documents, with `_refs` set here
        for name, model in schema.models.items():
            cls: Any = classes[name]  # a user's class, built below without running its __init__
            live = documents.get(model.topic, {})
            built = {}
            for doc_id in sorted(live, reverse=reverse):
                doc = cls.__new__(cls)
                doc.doc_id, doc._world, doc._refs = doc_id, self, {}
                for field_name, value in live[doc_id].items():
                    if model.fields[field_name].ref:
                        doc._refs[field_name] = value
                    else:
                        setattr(doc, field_name, CheckedInt(value) if type(value) is int else value)
                built[doc_id] = doc
            self.docs[name] = built

    def lookup(self, doc: object, field: str, target_id: str) -> object:
        target = self.schema.models[type(doc).__name__].fields[field].ref
        assert target is not None  # only reference fields are looked up
        return self.docs[target].get(target_id)


def import_definitions(schema: Schema) -> dict[str, type]:
    """Import each definitions file as a module of its package and return its classes by name."""
    classes: dict[str, type] = {}
    files = {
        d.src.absolute
        for d in list(schema.models.values()) + list(schema.views.values()) + list(schema.stores.values())
    }
    for shown in sorted(files):
        module = _import_file(Path(shown))
        module.sum = exact_sum  # a module global shadows the builtin for the getters defined there
        for name in list(schema.models) + list(schema.views) + list(schema.stores):
            if hasattr(module, name) and isinstance(getattr(module, name), type):
                classes.setdefault(name, getattr(module, name))
    return classes


def _import_file(path: Path):
    path = path.resolve()
    parts = [path.stem] if path.stem != "__init__" else []
    folder = path.parent
    while (folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return importlib.import_module(".".join(parts))


def to_json(value: object) -> object:
    """A getter's result as JSON: tuples and sets become lists, datetimes ISO strings."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def view_rows(
    schema: Schema, classes: dict[str, type], documents: dict[str, dict[str, dict]], reverse: bool = False
) -> dict[str, dict[str, dict]]:
    """view topic -> key -> {getter: JSON value} for every live view row.

    `reverse=True` iterates `many` collections in the opposite order, so a
    caller can tell results that depend on the (unspecified) order.
    """
    world = World(schema, classes, documents, reverse)
    out: dict[str, dict[str, dict]] = {}
    for view_name, view in schema.views.items():
        cls = classes[view_name]
        store_cls: Any = classes[view.store.name]  # built below without running its __init__
        getters = [n for n, m in view.methods.items() if m.kind == "getter"]
        where = view.where
        rows = {}
        for root_id, root in world.docs[view.store.root.model].items():
            store = store_cls.__new__(store_cls)
            for entry in view.store.entries.values():
                setattr(store, entry.name, _entry_value(world, store, store_cls, entry, root, root_id))
            instance = cls(store)
            if where is not None and not getattr(instance, where):
                continue
            rows[root_id] = {name: to_json(getattr(instance, name)) for name in getters}
        out[view.topic] = rows
    return out


def _root_id(world: World, doc: object, on: str) -> object:
    """The id `doc`'s `on` path of references ends at: through live documents only (a missing one: None)."""
    *hops, last = on.split(".")
    for hop in hops:
        target_id = doc._refs.get(hop)  # type: ignore[attr-defined]
        doc = world.lookup(doc, hop, target_id) if isinstance(target_id, str) else None
        if doc is None:
            return None
    return doc._refs.get(last)  # type: ignore[attr-defined]


def _entry_value(world: World, store, store_cls, entry, root, root_id):
    if entry.kind == "root":
        return root
    if entry.kind == "many":
        return [d for d in world.docs[entry.model].values() if _root_id(world, d, entry.on) == root_id]
    key = getattr(store_cls, entry.name).key
    try:
        doc_id = key(store)
    except Exception:
        return None
    return world.docs[entry.model].get(doc_id) if isinstance(doc_id, str) else None
