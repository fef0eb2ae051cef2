"""The percentile interval: the one place an interval is read off a set of draws.

A ``level`` percentile interval of draws is their ``(1 − level)/2`` and ``(1 + level)/2``
quantiles (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*, ch. 13, the
percentile interval), as in Besiroglu et al. 2024 §4. Every bootstrap, normal-draw,
frontier, comparison and design interval in tsbudget is this function.

Numpy only, so every stage (fitting included) can use it.
"""

from __future__ import annotations

import numpy as np

from tsbudget.errors import InputError

__all__ = ["percentile_interval"]


def percentile_interval(values, level: float, axis=None) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)``: the ``(1 − level)/2`` and ``(1 + level)/2`` quantiles of ``values``
    along ``axis`` (all values when ``None``), numpy's default linear interpolation (Efron &
    Tibshirani 1993, ch. 13). NaN entries are left out when there are any (a slice of only
    NaN gives NaN, with numpy's RuntimeWarning); ``level`` outside (0, 1) is an InputError.
    """
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    v = np.asarray(values, dtype=float)
    quantile = np.nanquantile if np.isnan(v).any() else np.quantile
    lower, upper = quantile(v, [(1 - level) / 2, (1 + level) / 2], axis=axis)
    return lower, upper
