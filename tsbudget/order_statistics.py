"""Exact order statistics along the draws of a (draws, budgets) array, read through a narrow band.

A frontier's draws form an ``(n, m)`` array whose columns (budgets) change smoothly from one to
the next, and only a few ranks are wanted (those of a median and an interval). Sorting or
partitioning every column touches each value several times; here each value is compared twice
per band of wanted ranks and only the few values inside the band are sorted:

1. every ``step``-th column (an anchor) is sorted exactly;
2. for each group of nearby wanted ranks ``[r0, r1]``, a column's band ``[lo, hi]`` is the
   anchors' values of ranks ``r0 − width`` and ``r1 + width`` interpolated linearly in the column
   index (a guess);
3. counting, per column, the values below ``lo`` (``b``) and at most ``hi`` (``u``) proves the
   guess: if ``b ≤ r0`` and ``r1 < u``, the rank-``r`` value is the ``(r − b)``-th smallest value
   inside the band (Floyd & Rivest 1975, *Expected time bounds for selection*, CACM 18(3), the
   same sample-then-filter argument, with neighbouring columns as the sample);
4. a column whose guess fails (a kink, non-finite values, columns in no particular order) is
   sorted exactly. The result is therefore always exact; only the speed depends on smoothness.

Numpy only (a core module).
"""

from __future__ import annotations

import numpy as np

__all__ = ["order_statistics"]

# anchors every STEP columns; the band reaches WIDTH ranks beyond the wanted ones on each side
STEP = 16
WIDTH = 8
# below these sizes one sort is as fast, and the band would cover most of a column
MIN_ROWS = 10 * WIDTH
MIN_COLUMNS = 4 * STEP


def order_statistics(values, ranks, *, return_index: bool = False):
    """The ``ranks``-th smallest values (0-based ints) along axis 0 of the 2-d ``values`` without
    NaN, shape ``(len(ranks), m)``; with ``return_index`` also the row of each (ties: any row
    holding that value). Exact for any input (module docstring); fast when columns vary
    smoothly with their index."""
    v = np.ascontiguousarray(values, dtype=float)
    if v.ndim != 2:
        raise ValueError(f"order_statistics needs a 2-d array, got shape {v.shape}")
    n, m = v.shape
    ranks = np.asarray(ranks, dtype=np.intp)
    if ranks.ndim != 1 or ranks.size == 0 or ranks.min() < 0 or ranks.max() >= n:
        raise ValueError(f"ranks must be a non-empty 1-d list within [0, {n - 1}], got {ranks.tolist()}")
    out = np.empty((ranks.size, m))
    rows = np.empty((ranks.size, m), dtype=np.intp)
    if n < MIN_ROWS or m < MIN_COLUMNS:
        _exact(v, ranks, np.ones(m, bool), out, rows, return_index)
    else:
        failed = _banded(v, ranks, out, rows, return_index)
        if failed.any():
            _exact(v, ranks, failed, out, rows, return_index)
    return (out, rows) if return_index else out


def _exact(v, ranks, cols, out, rows, return_index):
    """Sort the columns ``cols`` (a mask) exactly and fill their order statistics."""
    sub = v[:, cols]
    if return_index:
        order = np.argsort(sub, axis=0, kind="stable")
        rows[:, cols] = order[ranks]
        out[:, cols] = np.take_along_axis(sub, order[ranks], axis=0)
    else:
        out[:, cols] = np.sort(sub, axis=0)[ranks]


def _groups(ranks):
    """Wanted ranks as ``(first, last, positions in ranks)`` groups: ranks within a band's reach share it."""
    order = np.argsort(ranks, kind="stable")
    groups, start = [], 0
    for i in range(1, order.size + 1):
        if i == order.size or ranks[order[i]] - ranks[order[i - 1]] > 2 * WIDTH:
            members = order[start:i]
            groups.append((int(ranks[members].min()), int(ranks[members].max()), members))
            start = i
    return groups


def _banded(v, ranks, out, rows, return_index) -> np.ndarray:
    """Fill ``out``/``rows`` through bands; return the mask of columns whose band failed."""
    n, m = v.shape
    groups = _groups(ranks)
    lo, hi, guessed = _guesses(v, groups)
    below, upto, band = _count(v, lo, hi)
    col = np.arange(m)
    failed = np.zeros(m, bool)
    flat_v = v.ravel()
    for g, (first, last, members) in enumerate(groups):
        count = upto[g] - below[g]  # lo <= hi (the same weights on sorted anchors): below ⊂ upto
        proven = guessed[g] & (below[g] <= first) & (last < upto[g])
        # a band far wider than its ranks (a kink between anchors) costs more than a sort: fail it
        proven &= count <= 8 * (last - first + 2 * WIDTH + 1)
        failed |= ~proven
        flat = np.flatnonzero(band[g])
        if not proven.all():
            flat = flat[proven[flat % m]]
            count = np.where(proven, count, 0)
        width = int(count.max()) if count.size else 0
        if width == 0:
            continue
        r_of, c_of = np.divmod(flat, m)
        # group by column, rows kept in order (a radix sort for 16-bit column numbers)
        order = np.argsort(c_of.astype(np.uint16) if m <= 2**16 else c_of, kind="stable")
        c_sorted = c_of[order]
        at = c_sorted * width + np.arange(flat.size) - (np.cumsum(count) - count)[c_sorted]
        pad = np.full(m * width, np.inf)
        pad[at] = flat_v[flat[order]]
        pad = pad.reshape(m, width)
        if return_index:
            pad_rows = np.zeros(m * width, dtype=np.intp)
            pad_rows[at] = r_of[order]
            pad_rows = pad_rows.reshape(m, width)
            sort = np.argsort(pad, axis=1)
        else:
            pad.sort(axis=1)
        for i in members:
            pick = np.clip(ranks[i] - below[g], 0, width - 1)
            if return_index:
                pick = sort[col, pick]
                rows[i] = pad_rows[col, pick]
            out[i] = pad[col, pick]
    return failed


def _guesses(v, groups):
    """``(lo, hi, guessed)``, each ``(groups, m)``: every band's edges, the anchors' exact values of
    ranks ``first − WIDTH`` and ``last + WIDTH`` interpolated linearly in the column index (±inf
    past the ends); NaN edges (an infinite anchor value) leave the column unguessed."""
    n, m = v.shape
    anchors = np.arange(0, m, STEP)
    if anchors[-1] != m - 1:
        anchors = np.append(anchors, m - 1)
    kth = sorted({r for first, last, _ in groups for r in (first - WIDTH, last + WIDTH) if 0 <= r < n} | {0})
    exact = np.partition(np.ascontiguousarray(v[:, anchors].T), kth, axis=1).T  # one partition of contiguous lanes
    col = np.arange(m)
    seg = np.minimum(np.searchsorted(anchors, col, side="right") - 1, anchors.size - 2)
    frac = (col - anchors[seg]) / (anchors[seg + 1] - anchors[seg])

    def edge(r, beyond):
        if not 0 <= r < n:  # the band reaches the end of the column: one comparison fewer
            return np.full(m, beyond)
        with np.errstate(invalid="ignore"):
            return exact[r, seg] * (1 - frac) + exact[r, seg + 1] * frac

    # a band that would stop within 3·WIDTH of a column's end reaches it (a tail quantile's band):
    # one comparison per value instead of two, for a few more values in the band
    lo = np.array([edge(first - WIDTH if first >= 4 * WIDTH else -1, -np.inf) for first, _, _ in groups])
    hi = np.array([edge(last + WIDTH if n - 1 - last >= 4 * WIDTH else n, np.inf) for _, last, _ in groups])
    guessed = ~np.isnan(lo) & ~np.isnan(hi)
    lo[~guessed] = hi[~guessed] = np.nan  # no value compares true: nothing counted, nothing in the band
    return lo, hi, guessed


# rows compared per block: a block of a 1,000-column array stays in cache across every band's
# two comparisons, so the array is read from memory once
BLOCK_BYTES = 1 << 20


def _count(v, lo, hi):
    """``(below, upto, band)``: per band and column the count of values below ``lo`` and at most
    ``hi``, and the mask ``(bands, n, m)`` of the values in ``[lo, hi]``; row blocks at a time."""
    n, m = v.shape
    bands = lo.shape[0]
    below = np.zeros((bands, m), dtype=np.intp)
    upto = np.zeros((bands, m), dtype=np.intp)
    band = np.empty((bands, n, m), dtype=bool)
    step = max(1, min(n, BLOCK_BYTES // (8 * m), 2**16 - 1))  # uint16 sums of a block cannot overflow
    low, high = np.empty((step, m), bool), np.empty((step, m), bool)
    open_below = np.all(lo == -np.inf, axis=1)
    open_above = np.all(hi == np.inf, axis=1) & ~open_below
    for r0 in range(0, n, step):
        block = v[r0:r0 + step]
        k = block.shape[0]
        for g in range(bands):
            if open_below[g]:  # nothing below -inf: the band is the values at most hi
                np.less_equal(block, hi[g], out=band[g, r0:r0 + k])
                upto[g] += np.add.reduce(band[g, r0:r0 + k].view(np.uint8), axis=0, dtype=np.uint16)
                continue
            np.less(block, lo[g], out=low[:k])
            below[g] += np.add.reduce(low[:k].view(np.uint8), axis=0, dtype=np.uint16)
            if open_above[g]:  # everything is at most +inf: the band is the values not below lo
                np.logical_not(low[:k], out=band[g, r0:r0 + k])
                upto[g] += k
                continue
            np.less_equal(block, hi[g], out=high[:k])
            upto[g] += np.add.reduce(high[:k].view(np.uint8), axis=0, dtype=np.uint16)
            np.greater(high[:k], low[:k], out=band[g, r0:r0 + k])  # at most hi and not below lo
    return below, upto, band
