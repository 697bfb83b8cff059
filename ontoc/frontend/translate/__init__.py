"""Translate getter bodies (Python `ast`) into IR expressions over a join graph.

The translator evaluates a getter symbolically: statements become a tree of
branches ending in returns, expressions become `values.*` objects carrying a
SQL expression and the condition under which Python would raise.

One module per concern, each a mixin over `context.TranslationState` (the
shared state and the abstract methods through which concerns call each other,
so no concern module imports another's class): `statements`, `expressions`,
`operators`, `builtins`, `collections`, `udfs`; `translator.ViewTranslator`
composes them and handles the getters themselves.
"""

from .context import GetterOutput
from .translator import ViewTranslator

__all__ = ["GetterOutput", "ViewTranslator"]
