"""Discover domain models, stores and view models in a definitions package.

Reads every `.py` file below the folder with `ast`; nothing is imported or run.
Classes are recognised by their bases (`DomainModel`, `Store`, `ViewModel`, or
a class of the package that derives from one), across files.
"""

from __future__ import annotations

import ast
import io
import math
import re
import tokenize
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import Diagnostic, OntocError, Span
from ..ir import types as T

BASES = ("DomainModel", "Store", "ViewModel")
SCALAR_ANNOTATIONS = {
    "str": T.STR,
    "int": T.INT,
    "float": T.FLOAT,
    "bool": T.BOOL,
    "datetime": T.DATETIME,
    "datetime.datetime": T.DATETIME,
    "Decimal": T.DECIMAL,
    "decimal.Decimal": T.DECIMAL,
}
METHOD_KINDS = {
    "attrs.getter": "getter",
    "getter": "getter",
    "attrs.where": "where",
    "where": "where",
    "property": "property",
    "staticmethod": "staticmethod",
    "classmethod": "classmethod",
}


@dataclass(frozen=True)
class SourceFile:
    path: str  # as shown in diagnostics
    lines: list[str] = field(compare=False, repr=False)
    absolute: str = field(default="", compare=False, repr=False)
    # top-level statements binding each name of the module (what a UDF's code may call; udf_code.py)
    bindings: dict[str, list[ast.stmt]] = field(default_factory=dict, compare=False, repr=False)

    def span(self, node: ast.AST | None) -> Span:
        return Span.of(node, self.path, self.lines)


@dataclass(frozen=True)
class FieldDef:
    name: str
    dtype: T.DType
    ref: str | None  # target model of a reference
    has_default: bool
    default: object = None


@dataclass
class ModelDef:
    name: str
    topic: str
    fields: dict[str, FieldDef]
    src: SourceFile
    node: ast.ClassDef


@dataclass(frozen=True)
class EntryDef:
    name: str
    kind: str  # root | one | many
    model: str
    on: str | None = None  # a `many` entry's reference to the root, or a dotted path of references to it
    key: ast.expr | None = None  # body of the key lambda
    key_param: str | None = None
    node: ast.AST | None = None


@dataclass
class StoreDef:
    name: str
    entries: dict[str, EntryDef]
    src: SourceFile
    node: ast.ClassDef

    @property
    def root(self) -> EntryDef:
        return next(iter(self.entries.values()))


@dataclass(frozen=True)
class MethodDef:
    name: str
    kind: str  # getter | where | property | staticmethod | classmethod | plain
    node: ast.FunctionDef


@dataclass
class ViewDef:
    name: str
    topic: str
    store: StoreDef
    methods: dict[str, MethodDef]
    src: SourceFile
    node: ast.ClassDef

    @property
    def getters(self) -> list[str]:
        return [m.name for m in self.methods.values() if m.kind == "getter"]

    @property
    def where(self) -> str | None:
        return next((m.name for m in self.methods.values() if m.kind == "where"), None)


@dataclass
class Schema:
    models: dict[str, ModelDef]
    stores: dict[str, StoreDef]
    views: dict[str, ViewDef]


def dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


class _Collector:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []

    def error(self, code: str, msg: str, src: SourceFile, node: ast.AST, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, msg, src.span(node), hint))


def load_schema(root: Path, display_root: Path | None = None) -> Schema:
    """Parse every definitions file below `root` and resolve models, stores and views."""
    root = Path(root)
    files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
    if not files:
        raise OntocError(Diagnostic("no-definitions", f"no Python files under {root}", None))
    sink = _Collector()
    classes: dict[str, tuple[ast.ClassDef, SourceFile]] = {}
    parsed: list[tuple[ast.Module, SourceFile]] = []
    for path in files:
        shown = _display(path, display_root)
        read = _read_source(path, shown, sink)
        if read is None:
            continue
        tree, text = read
        src = SourceFile(shown, text.splitlines(), str(path.resolve()), module_bindings(tree.body))
        parsed.append((tree, src))
    _check_imports(parsed, root, sink)
    for tree, src in parsed:
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                if node.name in classes:
                    sink.error(
                        "duplicate-class",
                        f"class `{node.name}` is defined twice",
                        src,
                        node,
                        f"first defined in {classes[node.name][1].path}",
                    )
                classes[node.name] = (node, src)
    kinds = _classify(classes)
    schema = Schema({}, {}, {})
    for name, kind in kinds.items():
        node, src = classes[name]
        if kind == "DomainModel":
            schema.models[name] = _model(node, src, classes, kinds, sink)
    for name, kind in kinds.items():
        node, src = classes[name]
        if kind == "Store":
            store = _store(node, src, schema, sink)
            if store:
                schema.stores[name] = store
    for name, kind in kinds.items():
        node, src = classes[name]
        if kind == "ViewModel":
            view = _view(node, src, schema, sink)
            if view:
                schema.views[name] = view
    _check_topics(schema, sink)
    if sink.diagnostics:
        raise OntocError(sink.diagnostics)
    return schema


def _read_source(path: Path, shown: str, sink: _Collector) -> tuple[ast.Module, str] | None:
    """A definitions file parsed, or None after reporting why it cannot be (encoding, syntax, depth).

    The file is decoded as Python would: UTF-8, a byte-order mark allowed at the
    start, or the encoding its coding comment declares (PEP 263).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        sink.diagnostics.append(Diagnostic("unreadable-file", f"cannot read {shown}: {exc.strerror}", None))
        return None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except SyntaxError as exc:  # a coding comment naming an unknown encoding, or one beside a BOM
        sink.diagnostics.append(Diagnostic("bad-encoding", exc.msg, Span(shown, exc.lineno or 1, 1)))
        return None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        col = len(data[line_start : exc.start].decode(encoding, errors="replace")) + 1
        shown_line = data[line_start:].split(b"\n", 1)[0].decode(encoding, errors="replace")
        sink.diagnostics.append(
            Diagnostic(
                "bad-encoding",
                f"byte 0x{data[exc.start]:02x} is not valid {encoding}",
                Span(shown, line, col, None, shown_line),
                "save the file as UTF-8 (or declare its encoding in a `# -*- coding: ... -*-` comment)",
            )
        )
        return None
    text = text.removeprefix("\ufeff")
    if "\0" in text:  # Python refuses it too, without saying where
        at = text.index("\0")
        line, line_start = text.count("\n", 0, at) + 1, text.rfind("\n", 0, at) + 1
        span = replace(_line_span(shown, text, line), col=at - line_start + 1)
        sink.diagnostics.append(Diagnostic("syntax-error", "source code cannot contain null bytes", span))
        return None
    try:
        return ast.parse(text, filename=shown), text
    except SyntaxError as exc:
        span = Span(shown, exc.lineno or 1, exc.offset or 1, None, (exc.text or "").rstrip("\n"))
        sink.diagnostics.append(Diagnostic("syntax-error", exc.msg, span))
    except (RecursionError, MemoryError):
        # Python's parser gives no position: point at the longest line, where such nesting usually is
        lines = text.splitlines() or [""]
        line = max(range(len(lines)), key=lambda i: len(lines[i])) + 1
        sink.diagnostics.append(
            Diagnostic(
                "too-deep",
                "this file nests expressions deeper than Python's parser allows",
                _line_span(shown, text, line),
                "split the expression into smaller ones",
            )
        )
    return None


def _check_imports(parsed: list[tuple[ast.Module, SourceFile]], root: Path, sink: _Collector) -> None:
    """`from ontoc import X` and `from .models import X` must name something that exists, as Python requires.

    Only unconditional module-level imports are checked: one inside `try:` or
    `if` may be guarded on purpose.
    """
    import ontoc
    from ontoc import attrs

    exported = {"ontoc": set(ontoc.__all__), "ontoc.attrs": {n for n in vars(attrs) if not n.startswith("_")}}
    modules = {Path(src.absolute): src for _, src in parsed}
    for tree, src in parsed:
        for stmt in tree.body:
            if not isinstance(stmt, ast.ImportFrom):
                continue
            if stmt.level == 0 and stmt.module in exported:
                names: set[str] | None = exported[stmt.module]
                where = f"`{stmt.module}`"
            elif stmt.level > 0:
                base = Path(src.absolute).parents[stmt.level - 1]
                target = base.joinpath(*stmt.module.split(".")) if stmt.module else base
                where = f"`{'.' * stmt.level}{stmt.module or ''}`"
                names = _module_names(target, modules)
                if names is None and Path(root).resolve() in (target, *target.parents):
                    sink.error("unknown-import", f"{where} is not a module of this package", src, stmt)
                    continue
            else:
                continue
            for alias in stmt.names:
                if names is not None and alias.name != "*" and alias.name not in names:
                    sink.error(
                        "unknown-import",
                        f"cannot import `{alias.name}` from {where}: it does not define it",
                        src,
                        alias,
                        f"{where} defines: {', '.join(sorted(names)) or 'nothing'}",
                    )


def _module_names(target: Path, modules: dict[Path, SourceFile]) -> set[str] | None:
    """The names a module of the package defines (with its sub-modules), or None if it is not one."""
    if target.with_suffix(".py") in modules:
        return set(modules[target.with_suffix(".py")].bindings)
    if target.is_dir():
        init = modules.get(target / "__init__.py")
        subs = {p.stem for p in target.glob("*.py")}
        subs |= {p.name for p in target.iterdir() if (p / "__init__.py").exists()}
        return (set(init.bindings) if init else set()) | subs - {"__init__"}
    return None


def _line_span(shown: str, text: str, line: int) -> Span:
    lines = text.splitlines()
    return Span(shown, line, 1, None, lines[line - 1] if 0 < line <= len(lines) else "")


def module_bindings(body: list[ast.stmt]) -> dict[str, list[ast.stmt]]:
    """The statements of a module (or class) body that bind each name, by the top-level statement.

    A name bound inside an `if`, `try`, `with` or `for` block maps to that whole
    block (`try: import x as y` then `except ImportError: y = None`); function and
    class bodies are their own scopes.
    """
    out: dict[str, list[ast.stmt]] = {}
    for stmt in body:
        for name in dict.fromkeys(_bound_names(stmt)):
            out.setdefault(name, []).append(stmt)
    return out


def _bound_names(stmt: ast.stmt | ast.excepthandler):
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield stmt.name
        return
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        yield from ((a.asname or a.name).split(".")[0] for a in stmt.names)
        return
    targets = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
        targets = [stmt.target]
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        targets = [i.optional_vars for i in stmt.items if i.optional_vars is not None]
    elif isinstance(stmt, ast.ExceptHandler) and stmt.name:
        yield stmt.name
    yield from (n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    for block in ("body", "orelse", "finalbody", "handlers"):
        for inner in getattr(stmt, block, []):
            yield from _bound_names(inner)


def _display(path: Path, display_root: Path | None) -> str:
    try:
        return str(path.resolve().relative_to((display_root or Path.cwd()).resolve()))
    except ValueError:
        return str(path)


def _classify(classes: dict[str, tuple[ast.ClassDef, SourceFile]]) -> dict[str, str]:
    """Map each class to the ontoc base it derives from, following package classes."""
    kinds: dict[str, str] = {}

    def kind_of(name: str, seen: tuple[str, ...] = ()) -> str | None:
        if name in kinds:
            return kinds[name]
        if name not in classes or name in seen:
            return None
        for base in classes[name][0].bases:
            base_name = (dotted(base) or "").rsplit(".", 1)[-1]
            found = base_name if base_name in BASES else kind_of(base_name, seen + (name,))
            if found:
                kinds[name] = found
                return found
        return None

    for name in classes:
        kind_of(name)
    return {n: kinds[n] for n in classes if n in kinds}


def _meta(node: ast.ClassDef) -> dict[str, ast.expr]:
    for item in node.body:
        if isinstance(item, ast.ClassDef) and item.name == "Meta":
            return {
                t.id: stmt.value
                for stmt in item.body
                if isinstance(stmt, ast.Assign)
                for t in stmt.targets
                if isinstance(t, ast.Name)
            }
    return {}


def _topic(node: ast.ClassDef, src: SourceFile, sink: _Collector) -> str | None:
    value = _meta(node).get("topic")
    if isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value:
        problem = topic_problem(value.value)
        if problem is None:
            return value.value
        sink.error(
            "bad-topic",
            f"topic {_shown(value.value)} of `{node.name}` {problem}",
            src,
            value,
            "a topic is 1 to 249 characters of [A-Za-z0-9._-], not `.` or `..`, not starting with `__`",
        )
        return None
    sink.error(
        "missing-topic",
        f'`{node.name}` needs `class Meta: topic = "..."`',
        src,
        value if value is not None else node,
        "the topic is a string literal naming the Kafka topic",
    )
    return None


_TOPIC = re.compile(r"[A-Za-z0-9._-]+")
MAX_TOPIC = 249  # Kafka's limit


def topic_problem(topic: str) -> str | None:
    """Why `topic` is not a Kafka topic name ontoc may use (spec section 2), or None."""
    if len(topic) > MAX_TOPIC:
        return f"is {len(topic)} characters long (Kafka allows at most {MAX_TOPIC})"
    if not _TOPIC.fullmatch(topic):
        bad = next(c for c in topic if not _TOPIC.fullmatch(c))
        return f"holds {bad!r}, which Kafka does not allow in a topic name"
    if topic in (".", ".."):
        return "is not a topic name Kafka allows"
    if topic.startswith("__"):
        return "starts with `__`, which Kafka and ontoc keep for their internal topics"
    return None


def _shown(text: str, limit: int = 60) -> str:
    """A string literal for a message: escaped, and shortened if long."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def parse_annotation(ann: ast.expr, models: set[str]) -> tuple[T.DType | None, str | None]:
    """A field annotation as (type, referenced model); (None, None) if unsupported."""
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
        try:
            ann = ast.parse(ann.value, mode="eval").body
        except SyntaxError:
            return None, None
    if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
        for inner, other in ((ann.left, ann.right), (ann.right, ann.left)):
            if isinstance(other, ast.Constant) and other.value is None:
                dtype, ref = parse_annotation(inner, models)
                return (dtype.null() if dtype else None), ref
        return None, None
    if isinstance(ann, ast.Subscript):
        head = dotted(ann.value)
        if head in ("Optional", "typing.Optional"):
            dtype, ref = parse_annotation(ann.slice, models)
            return (dtype.null() if dtype else None), ref
        if head in ("list", "List", "typing.List"):
            elem, ref = parse_annotation(ann.slice, models)
            if elem is None or ref or elem.kind in ("list", "row"):
                return None, None
            return T.list_of(elem), None
        return None, None
    name = dotted(ann)
    if name in SCALAR_ANNOTATIONS:
        return SCALAR_ANNOTATIONS[name], None
    if name in models:
        return T.STR, name
    return None, None


def _literal_default(value: ast.expr) -> tuple[bool, object]:
    try:
        return True, ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        # TypeError: `{[]: 1}` (an unhashable key) is a literal Python would reject when it runs
        return False, None


INT64 = (-(2**63), 2**63 - 1)


def default_problem(value: object, dtype: T.DType) -> str | None:
    """Why a field of type `dtype` cannot take `value` as its default, or None.

    The rules of an event's field values (spec section 1): an `int` field takes
    an int (not a bool) within 64 bits, a `float` an int or a finite float.
    """
    if value is None:
        return None if dtype.nullable else f"is None, but the field is {dtype}, not `{dtype} | None`"
    kind = dtype.kind
    ok = {
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "decimal": isinstance(value, int) and not isinstance(value, bool),
        "list": isinstance(value, list),
    }.get(kind, False)
    if not ok:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
        return f"is {_type_name(value)}, {shown}, but the field is {dtype}"
    if kind == "int" and isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
        return f"is {value}, which does not fit a 64-bit integer"
    if isinstance(value, float) and not math.isfinite(value):
        return "is not a finite number"
    if isinstance(value, list) and dtype.elem is not None:
        for item in value:
            problem = default_problem(item, dtype.elem)
            if problem:
                return f"holds an element that {problem}"
    return None


def _type_name(value: object) -> str:
    name = type(value).__name__
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _model(node, src, classes, kinds, sink) -> ModelDef:
    topic = _topic(node, src, sink) or node.name.lower()
    model_names = {n for n, k in kinds.items() if k == "DomainModel"}
    fields: dict[str, FieldDef] = {}
    bases = [(dotted(b) or "").rsplit(".", 1)[-1] for b in node.bases]
    chain = [classes[b][0] for b in bases if b in classes] + [node]
    for cls in chain:
        for stmt in cls.body:
            if not isinstance(stmt, ast.AnnAssign) or not isinstance(stmt.target, ast.Name):
                continue
            name = stmt.target.id
            if name == "doc_id":
                sink.error("reserved-field", "`doc_id` is the implicit primary key", src, stmt)
                continue
            if cls is node:
                check_identifier(name, "field", src, stmt.target, sink)
            dtype, ref = parse_annotation(stmt.annotation, model_names)
            is_ref = isinstance(stmt.value, ast.Call) and dotted(stmt.value.func) in ("attrs.ref", "ref")
            if dtype is None:
                sink.error(
                    "unsupported-field-type",
                    f"field `{node.name}.{name}` has an unsupported type",
                    src,
                    stmt.annotation,
                    "field types: str, int, float, bool, datetime, Decimal, T | None, list[T], "
                    "or a domain model with `= attrs.ref()`",
                )
                continue
            if ref and not is_ref:
                sink.error(
                    "missing-ref",
                    f"field `{node.name}.{name}` names a domain model",
                    src,
                    stmt,
                    f"declare a reference: `{name}: {ref} = attrs.ref()`",
                )
                continue
            if is_ref and not ref:
                sink.error("bad-ref", f"`attrs.ref()` needs a domain model annotation on `{name}`", src, stmt)
                continue
            if is_ref:
                fields[name] = FieldDef(name, T.STR.null(), ref, True, None)
            elif stmt.value is None:
                fields[name] = FieldDef(name, dtype, None, False)
            else:
                ok, default = _literal_default(stmt.value)
                if not ok:
                    sink.error("bad-default", f"default of `{name}` must be a literal", src, stmt.value)
                    continue
                problem = default_problem(default, dtype)
                if problem:
                    sink.error(
                        "default-type",
                        f"the default of `{node.name}.{name}` {problem}",
                        src,
                        stmt.value,
                        "a default must be a value the field may hold",
                    )
                    continue
                fields[name] = FieldDef(name, dtype, None, True, default)
    return ModelDef(node.name, topic, fields, src, node)


def _many_path(schema: Schema, model: str, on: str | None, root: str) -> str | None:
    """What is wrong with `many(model, on=on)`, or None: each hop a reference, the last one to the root."""
    if not on:
        return f"`on=` must be a string naming a reference field of `{model}` to `{root}`"
    current = model
    hops = on.split(".")
    for i, hop in enumerate(hops):
        field_def = schema.models[current].fields.get(hop)
        if field_def is None or field_def.ref is None:
            return f"`{hop}` in `on={on!r}` is not a reference field of `{current}`"
        current = field_def.ref
        if i == len(hops) - 1 and current != root:
            return f"`on={on!r}` must end at the root `{root}`, not at `{current}`"
    return None


def _store(node, src, schema: Schema, sink) -> StoreDef | None:
    entries: dict[str, EntryDef] = {}
    for stmt in node.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        name, call = stmt.targets[0].id, stmt.value
        check_identifier(name, "store entry", src, stmt.targets[0], sink)
        func = dotted(call.func) if isinstance(call, ast.Call) else None
        if not isinstance(call, ast.Call) or func not in ("one", "many", "ontoc.one", "ontoc.many"):
            sink.error(
                "bad-store-entry", f"store entry `{name}` must be `one(Model)` or `many(Model, on=...)`", src, stmt
            )
            continue
        kind = func.rsplit(".", 1)[-1]
        model = dotted(call.args[0]) if call.args else None
        if model not in schema.models:
            sink.error(
                "unknown-model",
                f"`{model}` is not a domain model of this package",
                src,
                call.args[0] if call.args else call,
            )
            continue
        kw = {k.arg: k.value for k in call.keywords}
        if kind == "many":
            on = kw.get("on")
            on_name = on.value if isinstance(on, ast.Constant) and isinstance(on.value, str) else None
            if not entries:
                sink.error("bad-store-root", "the first entry of a store must be `one(Model)`: the root", src, stmt)
                continue
            root = next(iter(entries.values())).model
            problem = _many_path(schema, model, on_name, root)
            if problem is not None:
                sink.error(
                    "bad-many",
                    problem,
                    src,
                    on if on is not None else call,
                    f'e.g. `many({model}, on="<field>")` where `<field>: {root} = attrs.ref()`, '
                    'or a path of references `on="group.dept"` whose last one leads to the root',
                )
                continue
            entries[name] = EntryDef(name, "many", model, on=on_name, node=stmt)
        elif not entries:
            if "key" in kw:
                sink.error("bad-store-root", "the root entry cannot have `key=`", src, kw["key"])
                continue
            entries[name] = EntryDef(name, "root", model, node=stmt)
        else:
            key = kw.get("key")
            if not (isinstance(key, ast.Lambda) and len(key.args.args) == 1):
                sink.error(
                    "bad-store-entry",
                    f"`{name}`: a further `one()` needs `key=lambda s: <expr>`",
                    src,
                    key if key is not None else call,
                )
                continue
            entries[name] = EntryDef(name, "one", model, key=key.body, key_param=key.args.args[0].arg, node=stmt)
    if not entries:
        sink.error("empty-store", f"store `{node.name}` has no entries", src, node)
        return None
    return StoreDef(node.name, entries, src, node)


def _view(node, src, schema: Schema, sink) -> ViewDef | None:
    topic = _topic(node, src, sink)
    store_expr = _meta(node).get("store")
    store_name = dotted(store_expr) if store_expr is not None else None
    if store_name not in schema.stores:
        sink.error(
            "missing-store",
            f"view `{node.name}` needs `Meta.store` naming a Store of this package",
            src,
            store_expr if store_expr is not None else node,
        )
        return None
    methods: dict[str, MethodDef] = {}
    for stmt in node.body:
        if isinstance(stmt, ast.AsyncFunctionDef):
            sink.error("unsupported-method", "async methods are not supported", src, stmt)
        if not isinstance(stmt, ast.FunctionDef):
            continue
        kinds = [METHOD_KINDS.get(dotted(d) or "") for d in stmt.decorator_list]
        known = [k for k in kinds if k]
        if len(known) != len(kinds) or len(known) > 1:
            sink.error(
                "unsupported-decorator",
                f"method `{stmt.name}` has an unsupported decorator",
                src,
                stmt.decorator_list[0],
                "use one of @attrs.getter, @attrs.where, @property, @staticmethod, @classmethod",
            )
            continue
        kind = known[0] if known else "plain"
        if kind == "getter" and stmt.name == "doc_id":
            sink.error(
                "reserved-field",
                "`doc_id` is the view's implicit key: a getter cannot have that name",
                src,
                stmt,
                "rename the getter; every view row already has `doc_id`, the root's id",
            )
        _check_method_identifiers(node.name, stmt, kind, src, sink)
        methods[stmt.name] = MethodDef(stmt.name, kind, stmt)
    wheres = [m for m in methods.values() if m.kind == "where"]
    for extra in wheres[1:]:
        sink.error("duplicate-where", "a view may have at most one @attrs.where", src, extra.node)
    view = ViewDef(node.name, topic or node.name.lower(), schema.stores[store_name], methods, src, node)
    if not view.getters:
        sink.error("no-getters", f"view `{node.name}` has no @attrs.getter fields", src, node)
    return view


MAX_IDENTIFIER = 256  # Flink's SQL parser refuses longer identifiers


def check_identifier(name: str, what: str, src: SourceFile, node: ast.AST, sink: _Collector) -> None:
    """`what` names the identifier in the message: "field", "getter", ..."""
    if len(name) > MAX_IDENTIFIER:
        sink.error(
            "identifier-too-long",
            f"{what} `{name[:40]}...` is {len(name)} characters long; Flink SQL allows at most {MAX_IDENTIFIER}",
            src,
            node,
            "use a shorter name",
        )


def _check_method_identifiers(view: str, method: ast.FunctionDef, kind: str, src: SourceFile, sink: _Collector) -> None:
    """The names of a view method that become SQL identifiers: a getter's column, a UDF's function name,
    the keys of the dicts it builds (ROW fields)."""
    if kind == "getter":
        check_identifier(method.name, "getter", src, method, sink)
    if kind in ("staticmethod", "classmethod"):
        # the name a Python UDF gets (translate.py, udf_name)
        udf_name = f"ontoc__{view.lower()}__{method.name.lower()}"
        check_identifier(udf_name, f"the SQL function `{method.name}` runs as,", src, method, sink)
    if kind in ("getter", "property", "where"):
        for node in ast.walk(method):
            if isinstance(node, ast.Dict):
                for key in node.keys:
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        check_identifier(key.value, "dict key", src, key, sink)
                        if not key.value:  # a ROW field of a dict element: Flink has no empty identifier
                            sink.error("empty-dict-key", "a dict key cannot be empty", src, key, "name the key")


def _check_topics(schema: Schema, sink: _Collector) -> None:
    seen: dict[str, str] = {}
    for d in list(schema.models.values()) + list(schema.views.values()):
        if d.topic in seen:
            sink.error(
                "duplicate-topic", f"topic `{d.topic}` is used by `{seen[d.topic]}` and `{d.name}`", d.src, d.node
            )
        seen[d.topic] = d.name
