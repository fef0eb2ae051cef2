"""Lazy re-exports for package ``__init__`` modules.

A package lists which of its modules defines each public name; the module is imported the
first time the name is asked for, then cached in the package namespace. This keeps
``import tsbudget`` (and the CLI's start-up) free of polars, xarray, scipy and matplotlib
until a function that needs them is used (PEP 562 module ``__getattr__``; the same idea as
scientific-python's ``lazy_loader.attach``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

__all__ = ["attach"]


def attach(package: str, exports: Mapping[str, str]):
    """Return ``(__getattr__, __dir__, __all__)`` for ``package``.

    ``exports`` maps each public name to the module that defines it (absolute, or relative
    to ``package`` when it starts with a dot), or to ``"module:attribute"`` when the name is
    exported under another name than the module gives it.
    """
    table = dict(exports)

    def __getattr__(name: str):
        try:
            where = table[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        where, _, attribute = where.partition(":")
        value = getattr(importlib.import_module(where, package), attribute or name)
        setattr(importlib.import_module(package), name, value)  # cached: __getattr__ is not asked again
        return value

    def __dir__() -> list[str]:
        return sorted(set(table) | set(vars(importlib.import_module(package))))

    return __getattr__, __dir__, sorted(table)
