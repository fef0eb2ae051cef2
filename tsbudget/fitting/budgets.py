"""Budget groups: which IsoFLOP budget each run belongs to.

Runs of an IsoFLOP sweep share a training budget, but measured or digitised FLOPs are rarely
exactly equal (the Chinchilla Fig. 4 runs have 245 distinct values). :func:`group_budgets`
puts each run in a group, given nominal budgets, a tolerance, or neither
(:func:`auto_budget_groups`: the modes of the runs' log FLOPs). Approach 2, the cluster
bootstrap, the sensitivity analysis and the plots group budgets the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tsbudget.errors import InputError, SchemaError

__all__ = ["auto_budget_groups", "auto_budget_grouping", "group_budgets"]


def group_budgets(flops, tolerance: float | None = 0.0, budgets: Sequence[float] | None = None) -> np.ndarray:
    """The budget group of each run, as the group's budget value.

    - ``budgets`` given (nominal budgets such as 6e18, 1e19, ...): each run goes to the
      nearest nominal budget in log space; a run farther than ``tolerance`` (relative,
      e.g. 0.25 for ±25%) from every nominal budget raises, naming its row. With
      ``tolerance=None`` every run goes to its nearest budget, except runs beyond the
      smallest or largest budget by more than half the log gap to its neighbour.
    - otherwise runs whose FLOPs agree within ``tolerance`` (relative, measured from the
      smallest run of the group) share a group, labelled by the group's geometric mean;
      ``tolerance=0`` groups exactly equal values (already nominal budgets);
      ``tolerance=None`` is :func:`auto_budget_groups`.
    """
    c = np.asarray(flops, dtype=float)
    if c.ndim != 1:
        raise InputError(f"flops must be one-dimensional, got shape {c.shape}")
    if c.size == 0:
        raise InputError("flops is empty: there are no runs to group")
    bad = np.flatnonzero(~np.isfinite(c) | (c <= 0))
    if bad.size:
        raise SchemaError(f"flops must be finite and > 0; row {int(bad[0])} has {float(c[bad[0]])!r}")
    if tolerance is not None and (not math.isfinite(tolerance) or tolerance < 0):
        raise InputError(f"tolerance must be >= 0, got {float(tolerance)!r}")
    logc = np.log(c)
    if budgets is not None:
        nominal = np.asarray(budgets, dtype=float).ravel()
        if nominal.size == 0 or np.any(~np.isfinite(nominal) | (nominal <= 0)):
            raise InputError(f"budgets must be finite and > 0, got {list(np.atleast_1d(budgets))!r}")
        lognom = np.log(nominal)
        dist = np.abs(logc[:, None] - lognom[None, :])
        nearest = dist.argmin(axis=1)
        gap = dist[np.arange(c.size), nearest]
        if tolerance is not None:
            far = np.flatnonzero(gap > math.log1p(tolerance) + 1e-12)
            why = f"within tolerance {tolerance:g} of"
        else:
            ordered = np.sort(lognom)
            lo_half = (ordered[1] - ordered[0]) / 2 if ordered.size > 1 else np.inf
            hi_half = (ordered[-1] - ordered[-2]) / 2 if ordered.size > 1 else np.inf
            far = np.flatnonzero((logc < ordered[0] - lo_half - 1e-12) | (logc > ordered[-1] + hi_half + 1e-12))
            why = "within half a budget step of"
        if far.size:
            r = int(far[0])
            more = f" ({far.size} runs are)" if far.size > 1 else ""
            raise SchemaError(
                f"flops {c[r]:.4g} in row {r} is not {why} any budget {[float(f'{x:.6g}') for x in nominal]}{more}; "
                f"add that budget or widen the tolerance"
            )
        return nominal[nearest]
    if tolerance is None:
        return auto_budget_groups(c)
    if tolerance == 0:
        return c.copy()
    order = np.argsort(logc, kind="stable")
    labels = np.empty(c.size, dtype=int)
    group, anchor = 0, logc[order[0]]
    width = math.log1p(tolerance) + 1e-12
    for i in order:
        if logc[i] - anchor > width:
            group, anchor = group + 1, logc[i]
        labels[i] = group
    means = np.exp(np.bincount(labels, weights=logc) / np.bincount(labels))
    return means[labels]


#: Relative FLOPs difference read as rounding, not as another budget: integer model sizes and data
#: amounts move 6·N·D by up to ~1/N + 1/D of itself (1e-7 at N = 1e7); budgets of a real sweep
#: differ by far more (the closest in the shipped data are 1.24x apart).
ROUNDING = 1e-6

# Bandwidths tried by auto_budget_groups, as relative FLOPs spreads (±5%, ±10%, ... ×5).
_AUTO_SPREADS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


def _log_flops_modes(logc: np.ndarray, h: float, min_mass: float) -> np.ndarray:
    """Modes of a Gaussian kernel density of ``logc`` (bandwidth ``h``) that hold at least
    ``min_mass`` runs' worth of kernel weight at their peak, sorted.

    Peaks are found on a grid of step h/8, then refined by mean shift (the weighted mean
    of the runs with Gaussian weights around the peak, iterated to its fixed point)."""
    step = h / 8
    grid = np.arange(logc.min() - h, logc.max() + h + step, step)
    dens = np.zeros(grid.size)
    for chunk in np.array_split(np.arange(logc.size), max(1, logc.size // 2048)):
        dens += np.exp(-0.5 * ((grid[:, None] - logc[None, chunk]) / h) ** 2).sum(axis=1)
    pad = np.concatenate(([-np.inf], dens, [-np.inf]))
    m = grid[(pad[1:-1] > pad[:-2]) & (pad[1:-1] >= pad[2:])]
    for _ in range(200):
        w = np.exp(-0.5 * ((m[:, None] - logc[None, :]) / h) ** 2)
        new = (w @ logc) / w.sum(axis=1)
        done = np.max(np.abs(new - m)) < 1e-12
        m = new
        if done:
            break
    mass = np.exp(-0.5 * ((m[:, None] - logc[None, :]) / h) ** 2).sum(axis=1)
    m = np.sort(m[mass >= min_mass])
    if m.size > 1:  # peaks that converged to the same mode
        m = m[np.concatenate(([True], np.diff(m) > h / 100))]
    return m


def _merge_rounding(c: np.ndarray) -> np.ndarray:
    """Each run's FLOPs, with values within :data:`ROUNDING` of their sorted neighbour replaced by
    their group's most frequent value (the smallest of a tie), so exact budgets stay exact."""
    values, inverse, counts = np.unique(c, return_inverse=True, return_counts=True)
    starts = np.concatenate(([True], np.diff(values) > ROUNDING * values[:-1]))
    group = np.cumsum(starts) - 1
    # per group, the value with the most runs: sort by (group, -count, value) and take each group's first
    first = np.lexsort((values, -counts, group))
    label = np.empty(group[-1] + 1)
    label[group[first[::-1]]] = values[first[::-1]]  # later writes win: each group's first in order
    return label[group][inverse.ravel()]


def auto_budget_grouping(flops, max_groups: int = 12, min_runs: int = 3) -> tuple[np.ndarray, str]:
    """:func:`auto_budget_groups` and a one-line description of the grouping used."""
    c = np.asarray(flops, dtype=float)
    # FLOPs computed from rounded N and D (a sweep's run list) differ from their budget in the last
    # digits: values within ROUNDING of each other are one budget before any counting
    exact = _merge_rounding(c)
    distinct, counts = np.unique(exact, return_counts=True)
    if distinct.size <= max_groups:
        return exact, f"exact FLOPs values ({distinct.size} budgets)"
    if counts.min() >= min_runs:  # every value is a budget with a profile's worth of runs: never merge them
        return exact, f"exact FLOPs values ({distinct.size} budgets, each with >= {min_runs} runs)"
    logc = np.log(c)
    for spread in _AUTO_SPREADS:
        modes = _log_flops_modes(logc, math.log1p(spread), min_runs)
        if 1 <= modes.size <= max_groups:
            nearest = np.abs(logc[:, None] - modes[None, :]).argmin(axis=1)
            return np.exp(modes)[nearest], (
                f"automatic: {modes.size} modes of log FLOPs (kernel bandwidth ±{spread:.0%}, "
                f">= {min_runs} runs each), each run at its nearest mode"
            )
    # no bandwidth gives a few well-filled modes (runs spread evenly): fixed-width groups
    for tol in (0.25, 0.5, 1.0, 2.0, 4.0):
        g = group_budgets(c, tolerance=tol)
        if np.unique(g).size <= max_groups:
            break
    return g, f"automatic: groups within tolerance {tol:g} ({np.unique(g).size} budgets)"


def auto_budget_groups(flops, max_groups: int = 12, min_runs: int = 3) -> np.ndarray:
    """Budget groups for runs whose FLOPs may be noisy, as each run's budget value.

    Values within :data:`ROUNDING` (relative) of each other are first read as one budget (FLOPs
    recomputed from rounded N and D). Then: at most ``max_groups`` distinct values, or any number of them each holding at least
    ``min_runs`` runs: the exact values (already nominal budgets; distinct budgets that each
    have a profile's worth of runs are never merged, however close: the sweep of Li et al.
    2025, "(Mis)Fitting", has 26 budgets 1.24x apart). Otherwise the budgets are the modes of the runs' log FLOPs: a Gaussian kernel density
    with the smallest bandwidth among ±5%, ±10%, ±25%, ±50%, ×2, ×3, ×5 that has between 1
    and ``max_groups`` modes holding at least ``min_runs`` runs each (a profile needs 3
    runs), and every run goes to its nearest mode, labelled by the mode. Runs of an
    IsoFLOP sweep cluster at their budgets (exactly, or within rounding of N and D, or
    within the scatter of a digitised figure), so modes recover the nominal budgets even
    when off-budget runs fill the gaps between them; fixed-width groups would merge
    budgets (or split them) as soon as the gaps fill. On the Chinchilla Fig. 4
    digitisation the modes sit at 5.5e18, 9.4e18, 2.8e19, ..., 2.9e21, the nine budgets of
    Hoffmann et al. 2022 §3.2 (6e18 ... 3e21, read off the figure slightly low), plus two
    smaller clusters. When no bandwidth gives such modes, fixed-width groups (tolerance
    0.25 ... 4, the first with at most ``max_groups`` groups).
    """
    return auto_budget_grouping(flops, max_groups, min_runs)[0]
