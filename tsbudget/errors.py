"""One tree of errors, rooted at :class:`TsbudgetError`.

Each error also subclasses the builtin a caller would naturally catch
(``ValueError``, ``LookupError``, ``TypeError``), so ``except ValueError`` keeps working.
The CLI turns any :class:`TsbudgetError` into a one-line message and exit status 2.
"""

from __future__ import annotations

__all__ = [
    "TsbudgetError",
    "InputError",
    "SchemaError",
    "PluginNotFoundError",
    "PluginError",
    "PluginTypeError",
    "InfeasibleError",
    "FitError",
    "PluginWarning",
    "BootstrapWarning",
    "FidelityWarning",
]


class TsbudgetError(Exception):
    """Root of every error tsbudget raises on purpose."""


class InputError(TsbudgetError, ValueError):
    """A value given by the user is out of range or malformed; the message names it."""


class SchemaError(InputError):
    """A table lacks a column, or a cell holds a bad value; the message names column and row."""


class PluginNotFoundError(TsbudgetError, LookupError):
    """No plugin of that name is installed; the message lists the installed names."""


class PluginError(TsbudgetError, RuntimeError):
    """A plugin could not be loaded (import failure, missing attribute), or one of its methods
    returned a non-finite value for valid inputs (the message names plugin, method and inputs)."""


class PluginTypeError(TsbudgetError, TypeError):
    """A plugin loaded but is not a valid subclass or instance of its kind's base class."""


class InfeasibleError(InputError):
    """A request no allocation can meet; the message says which limit and by how much."""


class FitError(TsbudgetError, RuntimeError):
    """A fit could not be carried out (too few runs, no finite objective at any start)."""


class PluginWarning(UserWarning):
    """A plugin was skipped (broken import, wrong type, duplicate name); the others still load."""


class BootstrapWarning(UserWarning):
    """A resampling option does less than its name says, e.g. a cluster bootstrap whose
    clusters are all single runs (then it is a plain bootstrap over runs)."""


class FidelityWarning(UserWarning):
    """A result may not mean what it seems: runs that cannot separate some parameters
    (identical or collinear design points), distinct IsoFLOP budgets merged into one, or an
    exponent of the wrong sign. The message names the cause."""
