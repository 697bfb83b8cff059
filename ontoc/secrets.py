"""Kafka client properties that hold secrets, and the one function that masks them in what ontoc prints.

A property is secret when its name says so: it contains `password`, `secret`,
`token` or `jaas` (case-insensitive: `sasl.jaas.config`, `ssl.key.password`,
`sasl.oauthbearer.token.endpoint.url`, ...). Its value is never printed: the
dry-run SQL shows MASK in its place, and every message ontoc writes (errors,
progress, `-v` details, a Java trace that quotes the job's options) goes
through `redact`, which replaces each secret value `remember`ed so far.
"""

from __future__ import annotations

from collections.abc import Iterable

MASK = "******"
_SECRET_WORDS = ("password", "secret", "token", "jaas")
_known: set[str] = set()  # secret values of this process, longest first when masking


def is_secret(name: str) -> bool:
    """True when the property `name` (with or without Flink's `properties.` prefix) holds a secret."""
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def remember(pairs: Iterable[tuple[str, str]]) -> None:
    """Note the values of the secret properties among `pairs`, so `redact` masks them anywhere."""
    for name, value in pairs:
        if is_secret(name) and value:
            _known.add(value)
            _known.add(value.replace("'", "''"))  # as it appears in a SQL string literal


def masked(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """`pairs` with the value of every secret property replaced by MASK."""
    return [(name, MASK if is_secret(name) and value else value) for name, value in pairs]


def redact(text: str) -> str:
    """`text` with every remembered secret value replaced by MASK."""
    for value in sorted(_known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return text
