"""ontoc: Python view models compiled to Flink SQL.

Definitions import the names below; the compiler only reads them with `ast`,
and the Python oracle runs them as ordinary classes.
"""

from . import attrs
from .api import DomainModel, Store, ViewModel, many, one

__all__ = ["DomainModel", "Store", "ViewModel", "attrs", "many", "one"]
