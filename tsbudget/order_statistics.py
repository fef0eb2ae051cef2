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
MIN_ROWS = 8 * WIDTH
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
        failed = _banded(v, ranks, out, rows)
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


def _banded(v, ranks, out, rows) -> np.ndarray:
    """Fill ``out``/``rows`` through bands; return the mask of columns whose band failed."""
    n, m = v.shape
    anchors = np.unique(np.r_[np.arange(0, m, STEP), m - 1])
    reach = [(first - WIDTH, last + WIDTH) for first, last, _ in _groups(ranks)]
    kth = sorted({r for pair in reach for r in pair if 0 <= r < n})
    # the anchors' values at the bands' edge ranks, exact (one partition of contiguous lanes)
    exact = np.partition(np.ascontiguousarray(v[:, anchors].T), kth, axis=1).T  # (n, anchors)
    count_type = np.uint16 if n < 2**16 else np.int64  # the narrowest sum that cannot overflow
    col = np.arange(m)
    seg = np.minimum(np.searchsorted(anchors, col, side="right") - 1, anchors.size - 2)
    frac = (col - anchors[seg]) / (anchors[seg + 1] - anchors[seg])
    failed = np.zeros(m, bool)
    below_mask, upto_mask = np.empty((n, m), bool), np.empty((n, m), bool)
    flat_v = v.ravel()
    for first, last, members in _groups(ranks):
        r_lo, r_hi = first - WIDTH, last + WIDTH
        with np.errstate(invalid="ignore"):  # an infinite anchor value makes its guess NaN: that column fails
            lo = (np.full(m, -np.inf) if r_lo < 0 else
                  exact[r_lo, seg] * (1 - frac) + exact[r_lo, seg + 1] * frac)
            hi = (np.full(m, np.inf) if r_hi >= n else
                  exact[r_hi, seg] * (1 - frac) + exact[r_hi, seg + 1] * frac)
        guessed = ~np.isnan(lo) & ~np.isnan(hi)
        lo[~guessed] = hi[~guessed] = np.nan  # no value compares true: nothing counted, nothing in the band
        np.less(v, lo, out=below_mask)
        np.less_equal(v, hi, out=upto_mask)  # lo <= hi (the same weights on sorted anchors): below ⊂ upto
        below = np.add.reduce(below_mask.view(np.uint8), axis=0, dtype=count_type).astype(np.intp)
        upto = np.add.reduce(upto_mask.view(np.uint8), axis=0, dtype=count_type).astype(np.intp)
        np.greater(upto_mask, below_mask, out=upto_mask)  # in the band: at most hi and not below lo
        count = upto - below
        proven = guessed & (below <= first) & (last < upto)
        # a band far wider than its ranks (a kink between anchors) costs more than a sort: fail it
        proven &= count <= 8 * (last - first + 2 * WIDTH + 1)
        failed |= ~proven
        flat = np.flatnonzero(upto_mask)
        r_of, c_of = np.divmod(flat, m)
        keep = proven[c_of]
        flat, r_of, c_of = flat[keep], r_of[keep], c_of[keep]
        count = np.where(proven, count, 0)
        order = np.argsort(c_of, kind="stable")  # group by column, rows kept in order
        c_sorted = c_of[order]
        starts = np.cumsum(count) - count
        width = int(count.max()) if count.size else 0
        if width == 0:
            continue
        pad = np.full((m, width), np.inf)
        pad_rows = np.zeros((m, width), dtype=np.intp)
        pos = np.arange(flat.size) - starts[c_sorted]
        pad[c_sorted, pos] = flat_v[flat[order]]
        pad_rows[c_sorted, pos] = r_of[order]
        sort = np.argsort(pad, axis=1, kind="stable")
        for i in members:
            at = np.clip(ranks[i] - below, 0, width - 1)
            pick = sort[col, at]
            out[i] = pad[col, pick]
            rows[i] = pad_rows[col, pick]
    return failed
