"""Statistics over the bootstrap draws of several frontiers: who beats whom, who is best, where the winner changes.

Probabilities. For each budget, ``p_beats_reference`` is the bootstrap probability that a
system's frontier loss is below the reference's, ties counted one half: with paired draws
the mean over draw indices ``i`` of ``1[L_s,i < L_ref,i] + ½·1[L_s,i = L_ref,i]``; with
independent draws the same over all pairs of draws (Mann & Whitney 1947; :func:`p_less`).
A system compared with itself gets exactly 0.5. ``p_best`` counts, per draw index, which
system is lowest (ties split; :func:`p_best`).

Crossovers (:func:`crossovers`). Where the point-estimate winner changes between budgets,
the crossover is the root of the loss difference in ``log C``, located on a fine log grid
and interpolated linearly; its interval is the percentile interval of the same pair's root
in each draw (the root nearest the point estimate; ``p_crossing`` is the share of draws
that have one within the budget range). A crossover outside either system's fitted FLOPs
range is flagged ``extrapolated``.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from tsbudget.percentiles import percentile_interval

__all__ = ["crossovers", "p_best", "p_less"]


def p_less(a: np.ndarray, b: np.ndarray, paired: bool) -> float:
    """P(a < b) + ½·P(a = b) over draws (per index when paired, all pairs otherwise)."""
    if paired:
        m = np.isfinite(a) & np.isfinite(b)
        if not m.any():
            return math.nan
        return float(np.mean((a[m] < b[m]) + 0.5 * (a[m] == b[m])))
    a, b = a[np.isfinite(a)], np.sort(b[np.isfinite(b)])
    if a.size == 0 or b.size == 0:
        return math.nan
    below = b.size - np.searchsorted(b, a, side="right")  # b > a
    ties = np.searchsorted(b, a, side="right") - np.searchsorted(b, a, side="left")
    return float((below + 0.5 * ties).sum() / (a.size * b.size))


def p_best(L: np.ndarray) -> np.ndarray:
    """``L`` (systems, draws); share of draws where each system is lowest, ties split."""
    m = np.all(np.isfinite(L), axis=0)
    if not m.any():
        return np.full(L.shape[0], np.nan)
    sub = L[:, m]
    low = sub == sub.min(axis=0, keepdims=True)
    return (low / low.sum(axis=0, keepdims=True)).mean(axis=1)


def _roots(logc: np.ndarray, diff: np.ndarray) -> np.ndarray:
    """Zeros of ``diff`` over ``logc``: grid points where it is exactly 0, and sign changes
    between neighbours, linearly interpolated; sorted."""
    s = np.sign(diff)
    idx = np.flatnonzero((s[:-1] * s[1:] < 0) & np.isfinite(diff[:-1]) & np.isfinite(diff[1:]))
    x0, x1, y0, y1 = logc[idx], logc[idx + 1], diff[idx], diff[idx + 1]
    return np.sort(np.concatenate([x0 - y0 * (x1 - x0) / (y1 - y0), logc[diff == 0]]))



def crossovers(labels, fine, Lp, Ld, level, fmin, fmax) -> pl.DataFrame:
    """The changes of point-estimate winner over the fine budget grid ``fine`` (module docstring).

    ``Lp`` (systems, budgets) point frontiers, ``Ld`` (systems, draws, budgets) their draws;
    ``fmin``/``fmax`` each system's fitted FLOPs range. One row per crossover: ``budget``,
    ``lower``, ``upper`` (``level`` percentile interval), ``from_system``, ``to_system``,
    ``p_crossing``, ``extrapolated``.
    """
    logc = np.log(fine)
    win = np.argmin(Lp, axis=0)
    rows = []
    rel = 1e-9
    for t in np.flatnonzero(win[1:] != win[:-1]):
        i, k = int(win[t]), int(win[t + 1])
        roots = _roots(logc[t:t + 2], Lp[k, t:t + 2] - Lp[i, t:t + 2])
        x = float(roots[0]) if roots.size else 0.5 * (logc[t] + logc[t + 1])
        per = []
        for d in range(Ld.shape[1]):
            r = _roots(logc, Ld[k, d] - Ld[i, d])
            if r.size:
                per.append(r[np.argmin(np.abs(r - x))])
        per = np.asarray(per)
        lo = hi = None
        if per.size >= 2:
            lo, hi = (float(np.exp(v)) for v in percentile_interval(per, level))
        c = float(np.exp(x))
        outside = any(c > fmax[s] * (1 + rel) or c < fmin[s] * (1 - rel) for s in (i, k))
        rows.append((c, lo, hi, labels[i], labels[k], per.size / Ld.shape[1], outside))
    return pl.DataFrame(rows, orient="row", schema={"budget": pl.Float64, "lower": pl.Float64, "upper": pl.Float64,
                                                    "from_system": pl.Utf8, "to_system": pl.Utf8,
                                                    "p_crossing": pl.Float64, "extrapolated": pl.Boolean})
