"""The ranges of the runs a law was fitted on, and how far a plan lies outside them.

A scaling law is a fit to runs of a limited span of compute, model size and data; a plan
read from it beyond that span is an extrapolation. :class:`FitRanges` holds the span
(budget in FLOPs, ``N`` in parameters, ``D`` in the fit's data unit; each a ``(lo, hi)``
pair or ``None`` when unknown) and gives, for a plan's values, the factor by which each lies
outside its range (1.0 inside). Presets carry one (``Preset.ranges``) from their source
paper; fits compute one from their runs.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from tsbudget.errors import InputError

__all__ = ["FitRanges", "FIELDS"]

#: the quantities a range is kept for, in order
FIELDS = ("budget", "n", "d")


def _pair(value, name: str):
    """``value`` as a ``(lo, hi)`` tuple of positive finite floats with lo <= hi, or None."""
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"FitRanges.{name} must be a (lo, hi) pair of numbers or None, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise InputError(f"FitRanges.{name} must satisfy 0 < lo <= hi (finite), got ({lo!r}, {hi!r})")
    return (lo, hi)


def _outside(value, pair: tuple[float, float], name: str):
    """The factor by which ``value`` (a positive number or array) lies outside ``pair``."""
    v = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(v) & (v > 0)):
        raise InputError(f"{name} must be positive and finite to compare with the fit's range, got {value!r}")
    lo, hi = pair
    factor = np.where(v > hi, v / hi, np.where(v < lo, lo / v, 1.0))
    return float(factor) if factor.ndim == 0 else factor


@attrs.frozen
class FitRanges:
    """The span of the runs a law was fitted on: ``budget`` (training FLOPs), ``n``
    (parameters, as the law counts them) and ``d`` (data, in the fit's unit), each a
    ``(lo, hi)`` tuple of floats, or ``None`` when the source does not give it."""

    budget: tuple[float, float] | None = attrs.field(default=None, converter=lambda v: _pair(v, "budget"))
    n: tuple[float, float] | None = attrs.field(default=None, converter=lambda v: _pair(v, "n"))
    d: tuple[float, float] | None = attrs.field(default=None, converter=lambda v: _pair(v, "d"))

    def ratios(self, budget=None, n=None, d=None) -> dict:
        """For each value given whose range is known, the factor by which it lies outside
        the range: ``value / hi`` above it, ``lo / value`` below it, 1.0 inside (so always
        >= 1). Values may be numbers (a float back) or arrays (an array back); a value whose
        range is ``None``, or that is not given, has no key."""
        out = {}
        for name, value in zip(FIELDS, (budget, n, d)):
            pair = getattr(self, name)
            if value is not None and pair is not None:
                out[name] = _outside(value, pair, name)
        return out

    def worst(self, budget=None, n=None, d=None) -> tuple[str, float] | None:
        """The ``(name, factor)`` of the value lying furthest outside its range (scalars
        only), or None when no value can be compared."""
        ratios = self.ratios(budget=budget, n=n, d=d)
        if not ratios:
            return None
        name = max(ratios, key=lambda k: float(np.max(ratios[k])))
        return name, float(np.max(ratios[name]))

    def to_dict(self) -> dict:
        """``{"budget": [lo, hi] | None, "n": ..., "d": ...}`` (JSON-ready)."""
        return {name: (None if getattr(self, name) is None else list(getattr(self, name))) for name in FIELDS}

    @classmethod
    def from_dict(cls, data) -> FitRanges:
        """The inverse of :meth:`to_dict`; unknown keys are refused."""
        if not isinstance(data, dict):
            raise InputError(f"fit ranges must be a mapping with keys {', '.join(FIELDS)}, got {data!r}")
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise InputError(f"fit ranges: unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(FIELDS)}")
        return cls(**{name: data.get(name) for name in FIELDS})
