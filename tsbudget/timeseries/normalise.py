"""Per-window normalisation and the distance between normalised windows.

**Normalisation.** Each channel is z-scored within the window, ``z = (x − mean) / max(std, floor)``,
so windows that differ only by offset and scale have the same shape. The floor makes flat (or
nearly flat) channels map to zero instead of amplified noise, so flat windows group together.
Default floor per channel (:func:`default_floor`): 1% of the median within-window std of that
channel.

**Distance.** RMS distance of the normalised windows, ``dist = ||a − b|| / sqrt(T·C)``. For
windows without floored channels ``dist² = 2·(1 − ρ̄)``, where ρ̄ is the mean per-channel
Pearson correlation (each z-scored channel has mean 0 and mean square 1), so the default
threshold 0.5 links windows whose shapes correlate at ρ̄ >= 0.875.
"""

from __future__ import annotations

import numpy as np

from tsbudget.errors import InputError

__all__ = ["DEFAULT_REL_FLOOR", "DEFAULT_THRESHOLD", "default_floor", "normalise_windows", "rms_distance"]

DEFAULT_THRESHOLD = 0.5  # RMS distance: shapes correlating at mean rho >= 0.875 (module docstring)
DEFAULT_REL_FLOOR = 0.01


def default_floor(windows, rel: float = DEFAULT_REL_FLOOR) -> np.ndarray:
    """Per-channel std floor: ``rel`` × the median within-window std of each channel.

    Non-finite input gives a non-finite floor without a numpy warning; the caller's
    :func:`normalise_windows` then names the offending window.
    """
    with np.errstate(all="ignore"):
        w = np.asarray(windows, dtype=np.float64)
        std = w.std(axis=1)  # (n, C)
        med = np.median(std, axis=0)
        pos = np.where(std > 0, std, np.nan)
        fallback = np.nanmean(pos, axis=0) if np.any(std > 0) else np.ones(std.shape[1])
    fallback = np.where(np.isfinite(fallback), fallback, 1.0)
    return (rel * np.where(med > 0, med, fallback)).astype(np.float32)


def _raise_bad_window(windows, stat, start: int):
    """Name the first window (counted from the start of the whole input) that cannot be
    normalised: one holding NaN/inf, else the first whose per-window ``stat`` (sum or sum of
    squares, shape ``(m, 1, C)``) overflowed float32."""
    src = np.asarray(windows)
    bad = np.argwhere(~np.isfinite(src)) if np.issubdtype(src.dtype, np.floating) else np.empty((0, 3), int)
    if bad.size:
        i, t, c = (int(x) for x in bad[0])
        raise InputError(f"window {start + i} holds a non-finite value {src[i, t, c]} at step {t}, channel {c}")
    i = int(np.flatnonzero(~np.isfinite(stat).all(axis=(1, 2)))[0])
    big = float(np.abs(src[i].astype(np.float64)).max())
    raise InputError(
        f"window {start + i} holds values too large to normalise in float32 (|x| up to {big:.4g}); "
        f"rescale the series (e.g. change its unit)"
    )


def normalise_windows(windows, floor, start: int = 0) -> np.ndarray:
    """Per-window, per-channel z-scores with the std floored, flattened to ``(n, T·C)`` float32.

    ``start`` is the index of the first of these windows in the whole input (a chunk's
    offset when streaming), used only to name a bad window: NaN/inf anywhere, or values so
    large that float32 sums overflow, raise :class:`~tsbudget.errors.InputError` before any
    arithmetic on them can warn.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # checked below, named by window
        w = np.asarray(windows, dtype=np.float32)
        t = w.shape[1]
        mean = w.sum(axis=1, keepdims=True)
        if not np.all(np.isfinite(mean)):  # NaN/inf anywhere in a window makes its sum non-finite
            _raise_bad_window(windows, mean, start)
        mean *= np.float32(1.0 / t)
        z = w - mean
        std = np.einsum("mtc,mtc->mc", z, z)[:, None, :]
        if not np.all(np.isfinite(std)):  # finite values whose differences or squares overflow float32
            _raise_bad_window(windows, std, start)
    std *= np.float32(1.0 / t)
    np.sqrt(std, out=std)
    np.maximum(std, np.asarray(floor, dtype=np.float32), out=std)
    z /= std
    return z.reshape(len(z), -1)


def rms_distance(a, b) -> np.ndarray:
    """Row-wise RMS distance ``||a_i − b_i|| / sqrt(dim)`` of two ``(m, dim)`` arrays of normalised windows."""
    diff = a - b
    return np.sqrt(np.einsum("ij,ij->i", diff, diff) / a.shape[1])

