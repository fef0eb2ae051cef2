"""The percentile interval: the one place an interval is read off a set of draws.

A ``level`` percentile interval of draws is their ``(1 − level)/2`` and ``(1 + level)/2``
quantiles (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*, ch. 13, the
percentile interval), as in Besiroglu et al. 2024 §4. Every bootstrap, normal-draw,
frontier, comparison and design interval in tsbudget is this function.

:func:`monte_carlo_errors` gives the Monte Carlo error of a set of draws' standard
deviation and of both interval ends (how much they would move with another set of draws
of the same size), and :func:`count_valid` refuses draws that are too few or of the wrong
shape. Numpy only, so every stage (fitting included) can use it.
"""

from __future__ import annotations

import math

import numpy as np

from tsbudget.errors import InputError

__all__ = ["MIN_VALID_DRAWS", "count_valid", "interpolate", "monte_carlo_errors", "percentile_interval",
           "percentile_summary", "quantile_positions", "quantiles", "quantiles_by_order"]

#: The fewest finite draws an interval is read from. Below three, a percentile interval is
#: spanned by at most two values and a standard deviation has at most one degree of
#: freedom: the interval is refused rather than printed with a zero or arbitrary width.
#: Above it, :func:`monte_carlo_errors` says how far each number can still move.
MIN_VALID_DRAWS = 3

# two-sided 95% normal quantile, for the order-statistic interval of a quantile
_Z95 = 1.959963984540054


# at or above this many values along an axis of a multi-dimensional array, quantiles are read
# off exact order statistics (:mod:`tsbudget.order_statistics`) rather than np.quantile
_SELECT_MIN = 10_000


def quantile_positions(n: int, q) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lo, hi, t)``: the ``q`` quantile of ``n`` sorted values is ``lerp(x[lo], x[hi], t)``
    (numpy's default linear method, Hyndman & Fan 1996 type 7: position ``(n − 1)·q``). ``q``
    outside [0, 1] (or NaN) is a ValueError, as in numpy."""
    q = np.asarray(q, dtype=float)
    if not np.all((q >= 0) & (q <= 1)):
        raise ValueError(f"quantiles must be in the range [0, 1], got {q.tolist()}")
    h = (n - 1) * q
    lo = np.clip(np.floor(h).astype(np.intp), 0, n - 1)
    return lo, np.minimum(lo + 1, n - 1), h - lo


def interpolate(a, b, t) -> np.ndarray:
    """numpy's ``_lerp``: ``a + t·(b − a)``, from the upper end when ``t ≥ 1/2`` (exact at ``t = 1``),
    so quantiles read off order statistics are bit-identical to ``np.quantile``'s."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    t = np.asarray(t, dtype=float)
    with np.errstate(invalid="ignore"):  # inf − inf between infinite neighbours: numpy's value, no warning
        diff = b - a
        return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def quantiles(values, q, axis=None) -> np.ndarray:
    """The ``q`` quantiles of ``values`` along ``axis`` (all values when ``None``), stacked on a
    new first axis, with numpy's default linear interpolation (Hyndman & Fan 1996 type 7), in
    one pass: one selection for every ``q`` together. NaN entries are left out only when there
    are any (``np.nanquantile``; a slice of only NaN gives NaN with numpy's RuntimeWarning).
    Along an axis of a large multi-dimensional array without NaN, the few order statistics the
    quantiles need are selected exactly (:func:`~tsbudget.order_statistics.order_statistics`) and
    interpolated as numpy does: bit-identical to ``np.quantile``."""
    v = np.asarray(values, dtype=float)
    q = np.asarray(q, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN anywhere makes the sum NaN (inf − inf too: still right)
        has_nan = bool(np.isnan(np.add.reduce(v, axis=None))) and bool(np.isnan(v).any())
    if has_nan:
        return np.nanquantile(v, q, axis=axis)
    if axis is None or v.ndim < 2 or v.size < _SELECT_MIN or q.ndim != 1 or q.size == 0:
        return np.quantile(v, q, axis=axis)
    from tsbudget.order_statistics import banded_applies, order_statistics

    moved = np.moveaxis(v, axis, -1)  # one lane per index of the other axes (contiguous when axis is last)
    n = moved.shape[-1]
    lo, hi, t = quantile_positions(n, q)
    ranks, where = np.unique(np.r_[lo, hi], return_inverse=True)
    lanes = moved.reshape(-1, n)
    if not banded_applies(lanes, ranks):  # numpy's own selection, as it lays the lanes out
        return np.quantile(v, q, axis=axis)
    stats = order_statistics(lanes, ranks, axis=1)
    out = interpolate(stats[where[: q.size]], stats[where[q.size:]], t[:, None])
    return out.reshape((q.size,) + moved.shape[:-1])


def quantiles_by_order(key, q, decreasing=(), axis: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(quantiles of key, [quantiles of each of decreasing])`` along ``axis`` of the 2-d ``key``
    (no NaN; fastest with ``axis`` the contiguous one), where every entry of ``decreasing`` (of
    ``key``'s shape) falls as ``key`` rises within each column (e.g.
    ``D = C/(k·N)`` against ``N`` at a fixed budget). Their order statistics are read off
    ``key``'s order (rank ``r`` of a falling array is rank ``n − 1 − r`` of ``key``): one selection
    for all. An entry is the falling array itself (its values are read at ``key``'s rows), or a
    function that maps values of ``key`` (order statistics, shape ``(ranks, m)``) to the values
    the falling array holds there, computed by the same operations (then no rows are needed).
    Bit-identical to :func:`quantiles` of each when the arrays are monotone in ``key`` in floating
    point (computed from it by correctly rounded operations); otherwise near-ties may swap, a
    difference of the order of rounding."""
    from tsbudget.order_statistics import order_statistics

    key = np.asarray(key, dtype=float)
    q = np.asarray(q, dtype=float)
    n = key.shape[axis]
    lo, hi, t = quantile_positions(n, q)
    ranks, where = np.unique(np.r_[lo, hi, n - 1 - lo, n - 1 - hi], return_inverse=True)
    arrays = [d for d in decreasing if not callable(d)]
    if arrays:
        stats, rows = order_statistics(key, ranks, axis=axis, return_index=True)
    else:
        stats, rows = order_statistics(key, ranks, axis=axis), None
    k = q.size
    own = interpolate(stats[where[:k]], stats[where[k:2 * k]], t[:, None])
    col = np.arange(stats.shape[1])
    falling = []
    for entry in decreasing:
        if callable(entry):  # rank lo of the falling array: rank n − 1 − lo of key
            a, b = (np.asarray(entry(stats[where[i:i + k]]), dtype=float) for i in (2 * k, 3 * k))
        else:
            lanes = np.moveaxis(np.asarray(entry, dtype=float), axis, -1)
            a, b = lanes[col, rows[where[2 * k:3 * k]]], lanes[col, rows[where[3 * k:]]]
        falling.append(interpolate(a, b, t[:, None]))
    return own, falling


def percentile_interval(values, level: float, axis=None) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)``: the ``(1 − level)/2`` and ``(1 + level)/2`` quantiles of ``values``
    along ``axis`` (all values when ``None``), numpy's default linear interpolation (Efron &
    Tibshirani 1993, ch. 13), from one :func:`quantiles` call. NaN entries are left out when
    there are any (a slice of only NaN gives NaN, with numpy's RuntimeWarning); ``level``
    outside (0, 1) is an InputError.
    """
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    lower, upper = quantiles(values, [(1 - level) / 2, (1 + level) / 2], axis=axis)
    return lower, upper


def percentile_summary(values, level: float, axis=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(median, lower, upper)``: the median and the ``level`` percentile interval of
    :func:`percentile_interval`, from one :func:`quantiles` call (one selection, not two)."""
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    median, lower, upper = quantiles(values, [0.5, (1 - level) / 2, (1 + level) / 2], axis=axis)
    return median, lower, upper


def count_valid(values, name: str, min_valid: int = MIN_VALID_DRAWS) -> np.ndarray:
    """The finite entries of the 1-d draws ``values`` of quantity ``name``.

    Raises :class:`~tsbudget.errors.InputError` when ``values`` is not one-dimensional
    (draws of an unexpected shape, e.g. a budget axis where a scalar was expected) or when
    fewer than ``min_valid`` of them are finite; the message counts the non-finite draws,
    so a NaN draw is never dropped without a word.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 1:
        raise InputError(f"draws of {name!r}: expected one value per draw (1-d), got shape {v.shape}")
    finite = v[np.isfinite(v)]
    if finite.size < min_valid:
        raise InputError(f"draws of {name!r}: {finite.size} of {v.size} draws are finite "
                         f"({v.size - finite.size} NaN or infinite); an interval needs at least {min_valid}")
    return finite


def monte_carlo_errors(values, level: float) -> tuple[float, float, float]:
    """``(se of the sd, se of the lower end, se of the upper end)``: Monte Carlo standard
    errors of the standard deviation and of the ``level`` percentile interval of the finite
    1-d draws ``values`` (NaN when they cannot be estimated).

    - Standard deviation: the delta method for a sample standard deviation,
      ``se(s) ≈ s·((Δ + 2)/(4B))^(1/2)`` with ``B`` draws and ``Δ`` their excess kurtosis
      (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*, §6.4 and ch. 19, the
      coefficient of variation of ``se_B``).
    - Interval ends: the distribution-free order-statistic interval of a quantile (David &
      Nagaraja 2003, *Order Statistics*, §7.1): the ``p`` quantile lies between the order
      statistics of ranks ``B·p ∓ z·(B·p(1−p))^(1/2)`` with probability ≈ 95% (binomial
      count of draws below it, normal approximation, ``z = 1.96``); that interval's width
      over ``2z`` is the standard error.
    """
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    v = np.sort(np.asarray(values, dtype=float))
    v = v[np.isfinite(v)]
    b = v.size
    if b < 2:
        return math.nan, math.nan, math.nan
    s = float(v.std(ddof=1))
    if s > 0:
        excess = float(np.mean((v - v.mean()) ** 4) / np.mean((v - v.mean()) ** 2) ** 2) - 3.0
        se_sd = s * math.sqrt(max(excess + 2.0, 0.0) / (4.0 * b))
    else:
        se_sd = 0.0
    ends = []
    for p in ((1 - level) / 2, (1 + level) / 2):
        half = _Z95 * math.sqrt(b * p * (1 - p))
        # positions on numpy's linear-interpolation scale (rank (B−1)·p is the quantile itself)
        lo, hi = np.quantile(v, np.clip([p - half / b, p + half / b], 0.0, 1.0))
        ends.append(float(hi - lo) / (2 * _Z95))
    return float(se_sd), ends[0], ends[1]
