"""Exact order statistics along the draws of a (draws, budgets) array, read through a narrow band.

A frontier's draws form one lane of ``n`` values per budget, the lanes change smoothly from one
budget to the next, and only a few ranks are wanted (those of a median and an interval).
Partitioning every lane touches each value several times; here each value is compared once or
twice per band of wanted ranks and only the few values inside a band are sorted:

1. every ``STEP``-th lane (an anchor) is partitioned exactly at the bands' edge ranks;
2. for each group of nearby wanted ranks ``[r0, r1]``, a lane's band ``[lo, hi]`` is the
   anchors' values of ranks ``r0 − WIDTH`` and ``r1 + WIDTH`` interpolated linearly in the lane
   index (a guess; a band near a lane's end reaches it, one comparison per value);
3. counting, per lane, the values below ``lo`` (``b``) and at most ``hi`` (``u``) proves the
   guess: if ``b ≤ r0`` and ``r1 < u``, the rank-``r`` value is the ``(r − b)``-th smallest value
   inside the band (Floyd & Rivest 1975, *Expected time bounds for selection*, CACM 18(3), the
   same sample-then-filter argument, with neighbouring lanes as the sample);
4. a lane whose guess fails (a kink, non-finite values, lanes in no particular order) is
   sorted exactly. The result is therefore always exact; only the speed depends on smoothness.
   Many groups of ranks (each costs a pass), short lanes or lanes not contiguous in memory go to
   the sort directly.

Numpy only (a core module).
"""

from __future__ import annotations

import numpy as np

__all__ = ["banded_applies", "order_statistics"]

# anchors every STEP lanes; the band reaches WIDTH ranks beyond the wanted ones on each side
STEP = 16
WIDTH = 8
# below these sizes a sort is as fast (measured: lanes of 200–500 values took 1.4–1.9x numpy's
# quantile through bands, 1,000 about the same, 2,000–4,000 0.4–0.6x), and the band would cover
# much of a lane
MIN_VALUES = 1000
MIN_LANES = 4 * STEP
# each group of ranks is one or two comparisons per value and a mask of one byte per value:
# beyond this many groups a partition of every lane is cheaper
MAX_GROUPS = 4
# lanes compared per block, so that a block stays in cache across every band's comparisons
BLOCK_BYTES = 1 << 20
# bands are first tried on every SAMPLE-th lane: if more than MAX_FAILED of those fail (ties,
# lanes in no order), every lane is sorted at once instead
SAMPLE = 16
MAX_FAILED = 0.25


def order_statistics(values, ranks, *, axis: int = 0, return_index: bool = False):
    """The ``ranks``-th smallest values (0-based ints) along ``axis`` of the 2-d ``values``,
    shape ``(len(ranks), lanes)`` (one column per index of the other axis); with
    ``return_index`` also the position along ``axis`` of each (ties: one of the positions
    holding that value). Exact for any input without NaN (module
    docstring); NaN is a ValueError. Bands are used only on contiguous lanes (``axis`` the last,
    C order; :func:`banded_applies`), fastest when they vary smoothly with their index."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 2:
        raise ValueError(f"order_statistics needs a 2-d array, got shape {v.shape}")
    lanes = np.moveaxis(v, axis, -1)  # (m, n): one lane of n values per column (a view)
    m, n = lanes.shape
    given = np.asarray(ranks)
    ranks = given.astype(np.intp)
    if ranks.ndim != 1 or ranks.size == 0 or ranks.min() < 0 or ranks.max() >= n or np.any(ranks != given):
        raise ValueError(f"ranks must be a non-empty 1-d list of whole numbers within [0, {n - 1}], "
                         f"got {given.tolist()}")
    with np.errstate(invalid="ignore", over="ignore"):  # ±inf or huge values: only NaN matters here
        if np.isnan(np.add.reduce(lanes, axis=None)) and np.isnan(lanes).any():
            raise ValueError("order_statistics: the values contain NaN (use np.nanquantile)")
    out = np.empty((ranks.size, m))
    rows = np.empty((ranks.size, m), dtype=np.intp)
    groups = _groups(ranks)
    everything = np.ones(m, bool)
    if not banded_applies(lanes, ranks):
        _exact(lanes, ranks, everything, out, rows, return_index)  # along the lanes as laid out: no copy
    else:
        failed = _banded(lanes, ranks, groups, out, rows, return_index)
        if failed.any():
            _exact(lanes, ranks, failed, out, rows, return_index)
    return (out, rows) if return_index else out


def banded_applies(lanes, ranks) -> bool:
    """Whether bands pay for the ``ranks`` of ``lanes`` ``(m, n)``: contiguous (a transposing copy
    of a large array costs more than the bands save, and doubles its memory), long and many
    enough, few groups of ranks (each is a pass)."""
    m, n = lanes.shape
    return (lanes.flags.c_contiguous and n >= MIN_VALUES and m >= MIN_LANES
            and len(_groups(np.asarray(ranks, dtype=np.intp))) <= MAX_GROUPS)


def _exact(lanes, ranks, which, out, rows, return_index):
    """Sort the lanes ``which`` (a mask) exactly and fill their order statistics."""
    sub = lanes if which.all() else lanes[which]
    if return_index:
        order = np.argsort(sub, axis=1, kind="stable")[:, ranks]
        rows[:, which] = order.T
        out[:, which] = np.take_along_axis(sub, order, axis=1).T
    else:
        out[:, which] = np.sort(sub, axis=1)[:, ranks].T  # numpy's vectorised sort beats its partition here


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


def _banded(lanes, ranks, groups, out, rows, return_index) -> np.ndarray:
    """Fill ``out``/``rows`` through bands; return the mask of lanes whose band failed."""
    m, n = lanes.shape
    lo, hi, guessed = _guesses(lanes, groups)
    tried = slice(SAMPLE // 2, None, SAMPLE)
    below, upto, _ = _count(lanes[tried], lo[:, tried], hi[:, tried])
    if np.mean(~_proven(groups, guessed[:, tried], below, upto).all(axis=0)) > MAX_FAILED:
        return np.ones(m, bool)
    below, upto, band = _count(lanes, lo, hi)
    lane = np.arange(m)
    failed = np.zeros(m, bool)
    flat_v = lanes.ravel()
    proven_all = _proven(groups, guessed, below, upto)
    for g, (first, last, members) in enumerate(groups):
        count = upto[g] - below[g]  # lo <= hi (the same weights on sorted anchors): below ⊂ upto
        proven = proven_all[g]
        failed |= ~proven
        flat = np.flatnonzero(band[g])  # lane by lane, in order along each lane
        if not proven.all():
            flat = flat[proven[flat // n]]
            count = np.where(proven, count, 0)
        width = int(count.max()) if count.size else 0
        if width == 0:
            continue
        lane_of = np.repeat(lane, count)
        at = np.arange(flat.size) + lane_of * width - np.repeat(np.cumsum(count) - count, count)
        pad = np.full(m * width, np.inf)  # after a lane's band: +inf, sorted behind it (stable)
        pad[at] = flat_v[flat]
        pad = pad.reshape(m, width)
        if return_index:
            pad_rows = np.zeros(m * width, dtype=np.intp)
            pad_rows[at] = flat - lane_of * n
            pad_rows = pad_rows.reshape(m, width)
            sort = np.argsort(pad, axis=1, kind="stable")  # a real +inf stays ahead of the padding
        else:
            pad.sort(axis=1)
        for i in members:
            pick = np.clip(ranks[i] - below[g], 0, width - 1)
            if return_index:
                pick = sort[lane, pick]
                rows[i] = pad_rows[lane, pick]
            out[i] = pad[lane, pick]
    return failed


def _proven(groups, guessed, below, upto) -> np.ndarray:
    """``(groups, lanes)``: where a band holds its ranks (``below ≤ first`` and ``last < upto``) and
    is not far wider than them (a kink between anchors, or ties: then a sort is cheaper)."""
    out = np.empty(guessed.shape, bool)
    for g, (first, last, _) in enumerate(groups):
        out[g] = (guessed[g] & (below[g] <= first) & (last < upto[g])
                  & (upto[g] - below[g] <= 8 * (last - first + 2 * WIDTH + 1)))
    return out


def _guesses(lanes, groups):
    """``(lo, hi, guessed)``, each ``(groups, m)``: every band's edges, the anchors' exact values of
    ranks ``first − WIDTH`` and ``last + WIDTH`` interpolated linearly in the lane index (±inf
    past the ends); NaN edges (an infinite anchor value) leave the lane unguessed."""
    m, n = lanes.shape
    anchors = np.arange(0, m, STEP)
    if anchors[-1] != m - 1:
        anchors = np.append(anchors, m - 1)
    # a band that would stop within 3·WIDTH of a lane's end reaches it (a tail quantile's band):
    # one comparison per value instead of two, for a few more values in the band
    edges = [(first - WIDTH if first >= 4 * WIDTH else -1, last + WIDTH if n - 1 - last >= 4 * WIDTH else n)
             for first, last, _ in groups]
    kth = sorted({r for pair in edges for r in pair if 0 <= r < n} | {0})
    exact = np.partition(lanes[anchors], kth, axis=1)  # (anchors, n), exact at the edge ranks
    seg = np.minimum(np.searchsorted(anchors, np.arange(m), side="right") - 1, anchors.size - 2)
    frac = (np.arange(m) - anchors[seg]) / (anchors[seg + 1] - anchors[seg])

    def edge(r, beyond):
        if not 0 <= r < n:  # the band reaches the end of the lane: one comparison fewer
            return np.full(m, beyond)
        with np.errstate(invalid="ignore"):
            return exact[seg, r] * (1 - frac) + exact[seg + 1, r] * frac

    lo = np.array([edge(r_lo, -np.inf) for r_lo, _ in edges])
    hi = np.array([edge(r_hi, np.inf) for _, r_hi in edges])
    guessed = ~np.isnan(lo) & ~np.isnan(hi)
    lo[~guessed] = hi[~guessed] = np.nan  # no value compares true: nothing counted, nothing in the band
    return lo, hi, guessed


def _count(lanes, lo, hi):
    """``(below, upto, band)``: per band and lane the count of values below ``lo`` and at most
    ``hi``, and the mask ``(bands, m, n)`` of the values in ``[lo, hi]``; blocks of lanes at a time."""
    m, n = lanes.shape
    bands = lo.shape[0]
    below = np.zeros((bands, m), dtype=np.intp)
    upto = np.zeros((bands, m), dtype=np.intp)
    band = np.empty((bands, m, n), dtype=bool)
    count_type = np.uint16 if n < 2**16 else np.int64  # the narrowest sum that cannot overflow
    step = max(8, min(m, BLOCK_BYTES // (8 * n)))
    low, high = np.empty((step, n), bool), np.empty((step, n), bool)
    open_below = np.all(lo == -np.inf, axis=1)
    open_above = np.all(hi == np.inf, axis=1) & ~open_below
    for l0 in range(0, m, step):
        block = lanes[l0:l0 + step]
        k = block.shape[0]
        for g in range(bands):
            at = slice(l0, l0 + k)
            if open_below[g]:  # nothing below -inf: the band is the values at most hi
                np.less_equal(block, hi[g, at, None], out=band[g, at])
                upto[g, at] = np.add.reduce(band[g, at].view(np.uint8), axis=1, dtype=count_type)
                continue
            np.less(block, lo[g, at, None], out=low[:k])
            below[g, at] = np.add.reduce(low[:k].view(np.uint8), axis=1, dtype=count_type)
            if open_above[g]:  # everything is at most +inf: the band is the values not below lo
                np.logical_not(low[:k], out=band[g, at])
                upto[g, at] = n
                continue
            np.less_equal(block, hi[g, at, None], out=high[:k])
            upto[g, at] = np.add.reduce(high[:k].view(np.uint8), axis=1, dtype=count_type)
            np.greater(high[:k], low[:k], out=band[g, at])  # at most hi and not below lo
    return below, upto, band
