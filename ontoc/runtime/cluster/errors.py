"""The one error of talking to a cluster: a plain sentence, and the Java trace or the like beside it."""

from __future__ import annotations


class SubmitError(RuntimeError):
    """Submission failed. `str(err)` is one plain sentence; `details` may hold more (a trace)."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details
