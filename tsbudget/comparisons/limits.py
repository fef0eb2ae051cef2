"""Where a system stops beating its reference, read off one law fitted jointly to both.

A routed system and its dense reference can be described by one law: Clark et al. 2022 fit
their eq. 1 (:class:`~tsbudget.laws.routing.Routing`) to the dense runs (``experts = 1``)
together with every expert count of one router. A system of a comparison declares this
with ``fit_runs`` (the joint runs) and ``reference_variables`` (the setting at which the
same fit is the reference, ``{"experts": 1}``). Both frontiers then come from the same
parameters, draw for draw, and the point where the system stops helping is a property of
that one fit, not of two separately fitted curves meeting by accident.

Two crossings are reported, because at fixed data they differ:

* **In model size** (``frontier="fixed_data"`` only): the ``N`` at which the system and the
  reference, *at the same* ``N`` and data, reach the same loss. For the routing law,
  ``log L(N, E) − log L(N, 1) = ln 10·(b + c·log10 N)·(log10 Ê(E) − log10 Ê(1))`` vanishes
  exactly at ``N = 10^(−b/c)``, Clark et al.'s cut-off (§5), whatever ``E``. Reported with
  the FLOPs of a run of that size on each system's cost curve (:func:`~tsbudget.comparisons.frontiers.cost_curve`).
* **In budget**: the FLOPs ``C*`` at which the two frontiers (the loss each reaches for the
  same training compute) cross, with the size each trains there. At fixed data a routed
  model of dense size ``N`` costs a little more than the dense one (router FLOPs), so at the
  same budget it is a little smaller, and ``C*`` is not the cost of either model of size
  ``N_cut``. For the routing law with cost curves ``log N_s = a_s + b_s log C``, the log-loss
  difference is linear in ``log C`` and the crossing is exact on the grid.

Both are located as the first change from "system better" to "reference better" on a wide
log grid (1e-3 of the smallest to 1e9 times the largest fitted size or FLOPs), linearly
interpolated; a draw still better at the grid's top end counts as "beyond" (+inf), a draw
never better is left out. Intervals are percentile intervals over the draws
(:func:`tsbudget.percentiles.percentile_interval`); ``p_stops`` is the share of good draws
with a crossing on the grid.
"""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl

from tsbudget.comparisons.frontiers import cost_curve, fit_values, frontier_runs, system_frontier
from tsbudget.comparisons.systems import System
from tsbudget.percentiles import percentile_interval

__all__ = ["LIMIT_SCHEMA", "reference_limits", "first_stop"]

_GRID = 1201  # points of the wide log grid the crossings are located on
_BELOW, _ABOVE = 1e-3, 1e9  # the grid spans [min/1e3, max*1e9] of the fitted sizes or FLOPs

LIMIT_SCHEMA = {
    "system": pl.Utf8, "reference": pl.Utf8, "variables": pl.Utf8, "reference_variables": pl.Utf8,
    "N": pl.Float64, "N_lower": pl.Float64, "N_upper": pl.Float64,
    "flops_system_at_N": pl.Float64, "flops_reference_at_N": pl.Float64,
    "budget": pl.Float64, "budget_lower": pl.Float64, "budget_upper": pl.Float64,
    "N_system_at_budget": pl.Float64, "N_reference_at_budget": pl.Float64,
    "p_stops": pl.Float64, "extrapolated": pl.Boolean,
}


def first_stop(logx: np.ndarray, diff: np.ndarray) -> np.ndarray:
    """Per row of ``diff`` (``(..., G)``, the system's log loss minus the reference's over
    ``logx``): the first ``logx`` where ``diff`` goes from below 0 to 0 or above, linearly
    interpolated; ``+inf`` where the row is below 0 at the grid's end without such a change
    (still better), NaN where it is never below 0 or not finite (never better; a failed draw)."""
    single = np.ndim(diff) == 1
    d = np.atleast_2d(np.asarray(diff, float))
    out = np.full(d.shape[0], np.nan)
    below = d < 0
    up = below[:, :-1] & (d[:, 1:] >= 0) & np.isfinite(d[:, 1:])
    has = up.any(axis=1)
    i = np.argmax(up, axis=1)
    rows = np.flatnonzero(has)
    j = i[rows]
    x0, x1, y0, y1 = logx[j], logx[j + 1], d[rows, j], d[rows, j + 1]
    out[rows] = x0 - y0 * (x1 - x0) / (y1 - y0)
    out[~has & below[:, -1] & np.all(np.isfinite(d), axis=1)] = np.inf
    return float(out[0]) if single else out


def _interval(values: np.ndarray, top: float, level: float) -> tuple[float | None, float | None]:
    """Percentile interval of ``exp(values)`` over draws with a value (NaN left out); draws
    beyond the grid (+inf) count at its top, and a bound there is reported as +inf."""
    v = values[~np.isnan(values)]
    if v.size < 2:
        return None, None
    lo, hi = percentile_interval(np.minimum(v, top), level)
    return tuple(math.inf if x >= top else float(np.exp(x)) for x in (lo, hi))


def _size_stop(system: System, own: dict, ref: dict, nlo: float, nhi: float):
    """The equal-size crossing (point, draws) in log N at fixed data (module docstring)."""
    res = system.fit
    law = res.law
    point, drawn, _ = fit_values(res)
    logn = np.linspace(math.log(nlo * _BELOW), math.log(nhi * _ABOVE), _GRID)
    n = np.exp(logn)

    def inputs(variables):
        runs = frontier_runs(res, variables)
        d = float(np.median(runs["D"].to_numpy())) if "D" in runs.columns else 1.0
        extra = {k: np.full_like(n, v) for k, v in variables.items() if k in law.required_inputs}
        return {"N": n, "D": np.full_like(n, d), **extra}

    xs, xr = inputs(own), inputs(ref)
    with np.errstate(all="ignore"):
        dp = law.log_evaluate(point, xs) - law.log_evaluate(point, xr)
        col = {k: v[:, None] for k, v in drawn.items()}
        dd = (law.log_evaluate(col, {k: v[None, :] for k, v in xs.items()})
              - law.log_evaluate(col, {k: v[None, :] for k, v in xr.items()}))
    return logn, first_stop(logn, dp), first_stop(logn, dd)


def _limit(label: str, system: System, ref_label: str, level: float) -> tuple:
    spec = system.spec
    own = {k: float(v) for k, v in dict(spec.get("variables") or {}).items()}
    ref = dict(spec["reference_variables"])
    runs_s, runs_r = frontier_runs(system.fit, own), frontier_runs(system.fit, ref)
    flo = min(float(runs_s["flops"].min()), float(runs_r["flops"].min()))
    fhi = max(float(runs_s["flops"].max()), float(runs_r["flops"].max()))
    grid = np.geomspace(flo * _BELOW, fhi * _ABOVE, _GRID)
    logc = np.log(grid)
    ls, lsd, ns, _, _ = system_frontier(system, grid, 0)
    lr, lrd, nr, _, _ = system_frontier(system, grid, 0, variables=ref)
    with np.errstate(all="ignore"):
        c_point = first_stop(logc, np.log(ls) - np.log(lr))
        c_draws = first_stop(logc, np.log(lsd) - np.log(lrd))
    c_star = float(np.exp(c_point)) if np.isfinite(c_point) else (math.inf if c_point == np.inf else math.nan)
    c_lo, c_hi = _interval(c_draws, logc[-1], level)
    at = (lambda curve: float(np.exp(np.interp(c_point, logc, np.log(curve)))) if np.isfinite(c_point) else math.nan)
    n_s_at, n_r_at = at(ns), at(nr)

    n_star = n_lo = n_hi = f_s = f_r = math.nan
    nmax = float(runs_s["N"].max())
    if spec["frontier"] == "fixed_data":
        nlo = min(float(runs_s["N"].min()), float(runs_r["N"].min()))
        nhi = max(nmax, float(runs_r["N"].max()))
        logn, n_point, n_draws = _size_stop(system, own, ref, nlo, nhi)
        n_star = float(np.exp(n_point)) if np.isfinite(n_point) else (math.inf if n_point == np.inf else math.nan)
        n_lo, n_hi = _interval(n_draws, logn[-1], level)
        if math.isfinite(n_star):
            (a_s, b_s), (a_r, b_r) = cost_curve(runs_s), cost_curve(runs_r)
            f_s = math.exp((math.log(n_star) - a_s) / b_s)
            f_r = math.exp((math.log(n_star) - a_r) / b_r)
    good = ~np.isnan(c_draws)
    ok = ~system.fit.draws["failed"].values
    p_stops = float(np.isfinite(c_draws[good]).sum() / max(int(ok.sum()), 1))
    extrap = bool(c_star > float(runs_s["flops"].max()) * (1 + 1e-9) or n_star > nmax * (1 + 1e-9))
    none = (lambda x: None if x is None or (isinstance(x, float) and math.isnan(x)) else x)
    return (label, ref_label, json.dumps(own, sort_keys=True), json.dumps(ref, sort_keys=True),
            none(n_star), none(n_lo), none(n_hi), none(f_s), none(f_r), none(c_star), none(c_lo), none(c_hi),
            none(n_s_at), none(n_r_at), p_stops, extrap)


def reference_limits(fitted: dict, ref_label: str | None, level: float) -> pl.DataFrame:
    """One row per system fitted jointly with the reference (``reference_variables`` set):
    where it stops beating the reference, in size and in budget (module docstring); columns
    :data:`LIMIT_SCHEMA`. Empty without a reference."""
    rows = [_limit(lab, s, ref_label, level) for lab, s in sorted(fitted.items())
            if ref_label is not None and lab != ref_label and s.spec.get("reference_variables") is not None]
    return pl.DataFrame(rows, orient="row", schema=LIMIT_SCHEMA)
