"""Checked plugin calls: a non-finite value from a plugin method is an error naming the plugin.

The planner, the fit, sweeps and the CLI call plugin methods (FLOPs per position, positions
per unit, parameter counts, loss) with valid, finite inputs. A NaN or an infinity coming back
is the plugin's fault; left unchecked it travels into the optimiser, which then reports "no
allocation within n_bounds" and blames the bounds. :func:`checked_method` wraps one method so
that such a value raises a :class:`~tsbudget.errors.PluginError` that names the plugin (kind,
registry name, class), the method and the inputs at the first non-finite element. The base
classes apply it to every override of their plugin methods when a subclass is created
(``CostModel.__init_subclass__``, ``DataUnit.__init_subclass__``) and through
:meth:`tsbudget.law.Law.predict` for laws, so no caller has to check.

Where an input is itself non-finite the output there is not the plugin's fault and is
passed through (the caller's own validation names that input).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping

import numpy as np

from tsbudget.errors import PluginError

__all__ = ["checked_method", "check_finite", "wrap_plugin_methods"]

_MARK = "__tsbudget_checked__"


def _describe(value) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        try:
            return f"{float(arr):.6g}"
        except (TypeError, ValueError):
            return repr(value)
    return f"array{arr.shape}"


def _finite_mask(value) -> np.ndarray | None:
    try:
        return np.isfinite(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        return None


def check_finite(plugin, method: str, value, inputs: Mapping[str, object], kind: str) -> None:
    """Raise a PluginError when ``value`` (what ``plugin.method(**inputs)`` returned) has a
    non-finite element where every input is finite; the message gives the inputs there."""
    out = _finite_mask(value)
    if out is None:
        raise PluginError(f"{_who(plugin, kind)}: {method}({_args(inputs)}) returned {value!r}, not numbers")
    if out.all():
        return
    bad = ~out
    masks = {k: _finite_mask(v) for k, v in inputs.items()}
    try:
        for m in masks.values():
            if m is not None:
                bad = bad & np.broadcast_to(m, np.broadcast_shapes(bad.shape, m.shape))
    except ValueError:  # inputs that do not broadcast with the output: judge on the output alone
        bad = ~out if all(m is None or m.all() for m in masks.values()) else np.zeros_like(out)
    if not bad.any():
        return
    where = np.unravel_index(int(np.argmax(bad.reshape(-1))), bad.shape) if bad.ndim else ()
    at = {}
    for k, v in inputs.items():
        arr = np.asarray(v) if _finite_mask(v) is not None else None
        if arr is None:
            continue
        try:
            at[k] = np.broadcast_to(arr, np.broadcast_shapes(bad.shape, arr.shape))[where] if where else arr
        except ValueError:
            at[k] = arr
    shown = np.asarray(value, dtype=float)[where] if where else np.asarray(value, dtype=float)
    count = f" ({int(bad.sum())} of {bad.size} elements, first at index {tuple(int(i) for i in where)})" if bad.size > 1 else ""
    raise PluginError(
        f"{_who(plugin, kind)}: {method}({_args(at)}) returned {_describe(shown)}{count}; "
        f"a {kind} must return finite values at finite inputs"
    )


def _who(plugin, kind: str) -> str:
    name = getattr(plugin, "name", None)
    return f"{kind} {name!r} ({type(plugin).__module__}.{type(plugin).__qualname__})"


def _args(inputs: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={_describe(v)}" for k, v in inputs.items())


def checked_method(fn: Callable, kind: str) -> Callable:
    """``fn`` (a plugin method) wrapped so that a non-finite result raises (see :func:`check_finite`).
    Positional and keyword arguments are named from ``fn``'s signature in the message."""
    sig = inspect.signature(fn)

    first = next(iter(sig.parameters))

    def named(self, args, kwargs) -> dict:
        try:
            bound = sig.bind(self, *args, **kwargs).arguments
        except TypeError:
            return {**{f"arg{i}": a for i, a in enumerate(args)}, **kwargs}
        inputs = {}
        for k, v in bound.items():
            if k == first:
                continue
            if sig.parameters[k].kind is inspect.Parameter.VAR_KEYWORD:
                inputs.update(v)
            else:
                inputs[k] = v
        return inputs

    @functools.wraps(fn)
    def method(self, *args, **kwargs):
        value = fn(self, *args, **kwargs)
        finite = _finite_mask(value)
        if finite is None or not finite.all():  # the slow path only when something is wrong
            check_finite(self, fn.__name__, value, named(self, args, kwargs), kind)
        return value

    setattr(method, _MARK, True)
    return method


def wrap_plugin_methods(cls: type, names, kind: str) -> None:
    """Wrap each method in ``names`` that ``cls`` defines itself (a plain function, not yet
    wrapped) with :func:`checked_method`. The unwrapped function stays on the class as
    ``_unchecked_<name>``: attrs, when it rebuilds a slotted class, then updates that function's
    ``__class__`` cell, so a method that calls ``super()`` keeps working."""
    for name in names:
        fn = cls.__dict__.get(name)
        if inspect.isfunction(fn) and not getattr(fn, _MARK, False):
            setattr(cls, f"_unchecked_{name}", fn)
            setattr(cls, name, checked_method(fn, kind))
