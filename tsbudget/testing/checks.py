"""What every conformance check shares: the failure message naming the plugin and the broken
promise, the metadata check (an instance of its base class, named, described, a frozen attrs
value object), and the demand that a bad value raise an InputError naming it."""

from __future__ import annotations

import attrs
import numpy as np

from tsbudget.errors import InputError

__all__ = ["check_metadata", "expect_input_error", "fail", "qualified"]


def fail(plugin, promise: str):
    """Raise the ``AssertionError`` of a broken promise, naming the plugin's class and name."""
    raise AssertionError(f"{type(plugin).__qualname__} ({getattr(plugin, 'name', '?')!r}): {promise}")


def check_metadata(plugin, base: type):
    """``plugin`` is a ``base``, has a non-empty ``name`` and ``description``, and is a frozen,
    hashable attrs class (its fields are its settings)."""
    if not isinstance(plugin, base):
        fail(plugin, f"is not an instance of {base.__qualname__}")
    for attr in ("name", "description"):
        value = getattr(type(plugin), attr, None)
        if not isinstance(value, str) or not value:
            fail(plugin, f"class attribute {attr!r} must be a non-empty str")
    if not attrs.has(type(plugin)):
        fail(plugin, "must be an attrs class (fields are its settings)")
    fields = attrs.fields(type(plugin))
    if fields:
        try:
            setattr(plugin, fields[0].name, getattr(plugin, fields[0].name))
        except attrs.exceptions.FrozenInstanceError:
            pass  # frozen, as required
        else:
            fail(plugin, "must be frozen (attrs.frozen): plugins are value objects")
    try:
        hash(plugin)
    except TypeError:
        fail(plugin, "must be hashable (a frozen value object)")


def qualified(exc: BaseException) -> str:
    """An exception as ``module.Class: message``, for a failure that reports what was raised."""
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"


def expect_input_error(plugin, name: str, what: str, fn, *args, **kwargs) -> None:
    """``fn(*args, **kwargs)`` must raise InputError whose message names ``name``."""
    try:
        with np.errstate(all="ignore"):  # the bad value may reach numpy in a broken plugin
            fn(*args, **kwargs)
    except InputError as exc:
        if name not in str(exc):
            fail(plugin, f"{what} raised InputError, but its message must name {name!r}; got: {exc}")
    except Exception as exc:
        fail(plugin, f"{what} must raise InputError naming {name!r}; it raised {qualified(exc)}")
    else:
        fail(plugin, f"{what} must raise InputError naming {name!r}")

