"""Java exceptions from PyFlink (py4j) as plain words: the root cause, the chain, the Java trace.

Also how to tell Flink's planner lost its metadata provider to a py4j thread change (FLINK-23020),
which is not a verdict on the SQL, and to plan once more when it did.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

PLANNER_THREAD_ERROR = "metadataHandlerProvider"  # Calcite's NPE when its thread-local provider is unset

T = TypeVar("T")


def lost_planner(exc: BaseException) -> bool:
    """Whether `exc` is Flink's planner without its metadata provider (FLINK-23020, not fixed in 2.2).

    The planner keeps Calcite's metadata provider in a thread-local of the Java
    thread that created it; py4j may run a later call on another thread, and
    planning then fails with a NullPointerException that says nothing about
    the SQL. A planner made afresh in the current thread plans it.
    """
    # py4j errors carry the Java trace in their text; ontoc's own errors keep it beside the message
    text = f"{exc} {getattr(exc, 'java_trace', '') or ''} {getattr(exc, 'details', '') or ''}"
    return PLANNER_THREAD_ERROR in text


def plan_again_if_lost(attempt: Callable[[], T], say: Callable[[str], object]) -> T:
    """`attempt()`, run once more (it must make its own environment) if the planner was lost (FLINK-23020)."""
    try:
        return attempt()
    except Exception as exc:
        if not lost_planner(exc):
            raise
    say("Flink's planner lost its metadata provider to a py4j thread change (FLINK-23020); planning again")
    return attempt()


class LocalRunError(Exception):
    """Flink rejected a statement or the local job failed.

    ``str(err)`` is the root-cause message of the Java exception. Extra
    attributes: ``view`` (name of the view being planned, or None),
    ``java_class`` (root-cause exception class), ``causes`` (list of
    ``(java class, message)`` from outermost to root) and ``java_trace``
    (the Java stack text, for debugging).
    """

    def __init__(
        self,
        message: str,
        *,
        view: str | None = None,
        java_class: str | None = None,
        causes: Sequence[tuple[str, str]] = (),
        java_trace: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.view = view
        self.java_class = java_class
        self.causes = list(causes)
        self.java_trace = java_trace


_EXC_HEAD = re.compile(
    r"^(?:Caused by: )?([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+(?:Exception|Error|Throwable)?)(?::\s?(.*))?$"
)


def java_causes(trace: str) -> list[tuple[str, str]]:
    """Parse a Java stack trace text into [(class, message), ...] outermost first."""
    causes: list[tuple[str, str]] = []
    current: list[Any] | None = None
    in_frames = False
    for line in trace.splitlines():
        stripped = line.strip()
        if current is not None and stripped.startswith("at "):
            in_frames = True
            continue
        if stripped.startswith("... ") and stripped.endswith(" more"):
            in_frames = True
            continue
        if stripped.startswith("Suppressed: "):
            in_frames = True
            continue
        m = _EXC_HEAD.match(stripped)
        if m and (current is None or in_frames or line.startswith("Caused by: ")):
            if current is not None:
                causes.append((current[0], "\n".join(current[1]).strip()))
            current = [m.group(1), [m.group(2) or ""]]
            in_frames = False
            continue
        if current is not None and not in_frames:
            current[1].append(line)
    if current is not None:
        causes.append((current[0], "\n".join(current[1]).strip()))
    return causes


def to_local_error(exc: BaseException, *, view: str | None = None, what: str = "") -> LocalRunError:
    java_exception = getattr(exc, "java_exception", None)
    causes: list[tuple[str, str]] = []
    trace: str | None = None
    if java_exception is not None:  # raw py4j.protocol.Py4JJavaError
        try:
            e = java_exception
            seen = 0
            while e is not None and seen < 50:
                causes.append((e.getClass().getName(), e.getMessage() or ""))
                nxt = e.getCause()
                if nxt is None or nxt.equals(e):
                    break
                e = nxt
                seen += 1
            trace = str(exc)
        except Exception:  # pragma: no cover - gateway trouble
            causes = []
    if not causes:
        trace = getattr(exc, "stack_trace", None) or str(exc)
        text = trace
        # py4j prefixes "An error occurred while calling oNN.method.\n: "
        marker = text.find("\n: ")
        if text.startswith("An error occurred") and marker >= 0:
            text = text[marker + 3 :]
        causes = java_causes(text)
    if not causes:
        causes = [(type(exc).__name__, str(exc))]
    root_class, root_msg = causes[-1]
    # Flink often wraps a terse root ("Invalid input arguments.") in a parent
    # whose message is the same text extended with the useful part ("...
    # Expected signatures are: ..."): take the longest such extension.
    for _cls, msg in reversed(causes[:-1]):
        if root_msg.strip() and msg.strip().startswith(root_msg.strip()):
            root_msg = msg
        else:
            break
    # a root cause without a message (e.g. a bare NullPointerException) is not
    # helpful alone: name the class and keep the closest ancestor's message
    if not root_msg.strip():
        for _cls, msg in reversed(causes[:-1]):
            if msg.strip():
                root_msg = f"{root_class.rsplit('.', 1)[-1]} ({msg.strip()})"
                break
        else:
            root_msg = root_class
    message = root_msg.strip()
    if what:
        message = f"{what}: {message}"
    return LocalRunError(message, view=view, java_class=root_class, causes=causes, java_trace=trace)
