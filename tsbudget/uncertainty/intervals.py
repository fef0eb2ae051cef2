"""The bootstrap summary of a fit: a table of estimates, standard errors and percentile intervals.

The intervals are :func:`tsbudget.percentiles.percentile_interval` of the draws, the
``(1 − level)/2`` and ``(1 + level)/2`` quantiles (Efron & Tibshirani 1993, ch. 13), as in
Besiroglu et al. 2024 §4. Each standard error and interval end comes with its Monte Carlo
error (:func:`tsbudget.percentiles.monte_carlo_errors`: the delta method for the standard
deviation, Efron & Tibshirani 1993 §6.4; the order-statistic interval of a quantile, David &
Nagaraja 2003 §7.1), and an interval read from fewer than
:data:`~tsbudget.percentiles.MIN_VALID_DRAWS` finite draws is refused.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from tsbudget.errors import InputError
from tsbudget.percentiles import MIN_VALID_DRAWS, count_valid, monte_carlo_errors, percentile_interval
from tsbudget.uncertainty.derived import DERIVED_UNITS, bootstrap_draws, point_derived

__all__ = ["intervals", "intervals_dict"]


def _stats(v: np.ndarray, level: float, name: str) -> tuple:
    """Standard deviation, percentile interval, median, the Monte Carlo errors of the first
    three, and the number of finite draws of ``v`` (refused below :data:`MIN_VALID_DRAWS`)."""
    v = count_valid(v, name, MIN_VALID_DRAWS)
    lo, hi = percentile_interval(v, level)
    se_mc, lo_mc, hi_mc = monte_carlo_errors(v, level)
    return float(v.std(ddof=1)), float(lo), float(hi), float(np.quantile(v, 0.5)), se_mc, lo_mc, hi_mc, int(v.size)


def intervals(result, level: float | None = None) -> pl.DataFrame:
    """Bootstrap summary: name, budget (null for parameters and exponents), estimate (the
    point fit), se, lower, upper (percentile interval at ``level``, default the one the
    bootstrap recorded), median over draws, n (finite draws used), and the Monte Carlo
    standard errors se_mc, lower_mc, upper_mc of se, lower and upper (module docstring).

    Raises :class:`~tsbudget.errors.InputError` when a quantity has fewer than
    :data:`~tsbudget.percentiles.MIN_VALID_DRAWS` finite draws, or draws of the wrong shape."""
    draws = bootstrap_draws(result)
    level = float(draws.attrs["level"]) if level is None else float(level)
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    ok = ~draws["failed"].values
    budgets = draws["budget"].values
    point = point_derived(result, budgets, float(draws.attrs.get("flops_per_param_position", 6.0)))
    fixed = set(result.fixed or {})
    rows = []
    for p in result.law.parameters:
        if p.name in fixed:
            continue
        rows.append((p.name, None, float(getattr(result.law, p.name)), *_stats(draws[p.name].values[ok], level, p.name)))
    for name in DERIVED_UNITS:
        if name not in draws:
            continue
        arr = draws[name].values
        expected = ("draw",) if np.ndim(point[name]) == 0 else ("draw", "budget")
        if draws[name].dims != expected:
            raise InputError(f"draws of {name!r}: expected dims {expected}, got {draws[name].dims}")
        if expected == ("draw",):
            rows.append((name, None, float(point[name]), *_stats(arr[ok], level, name)))
            continue
        for j, c in enumerate(budgets):
            rows.append((name, float(c), float(point[name][j]), *_stats(arr[ok, j], level, f"{name} at {c:g}")))
    return pl.DataFrame(
        rows,
        schema={
            "name": pl.Utf8,
            "budget": pl.Float64,
            "estimate": pl.Float64,
            "se": pl.Float64,
            "lower": pl.Float64,
            "upper": pl.Float64,
            "median": pl.Float64,
            "se_mc": pl.Float64,
            "lower_mc": pl.Float64,
            "upper_mc": pl.Float64,
            "n": pl.Int64,
        },
        orient="row",
    )


def intervals_dict(result, level: float | None = None) -> dict:
    """:func:`intervals` for JSON: parameters and exponents by name, budget-dependent
    quantities as a list per name, plus level, draw counts and the seed."""
    draws = bootstrap_draws(result)
    table = intervals(result, level)
    out = {
        "level": float(draws.attrs["level"]) if level is None else float(level),
        "n_draws": int(draws.attrs["n_draws"]),
        "n_failed": int(draws.attrs["n_failed"]),
        "n_unconverged": int(draws.attrs["n_unconverged"]),
        "seed": int(draws.attrs["seed"]),
        "cluster": draws.attrs["cluster"],
        "parameters": {},
        "derived": {},
    }
    for row in table.to_dicts():
        name, budget = row.pop("name"), row.pop("budget")
        if budget is None:
            out["derived" if name in DERIVED_UNITS else "parameters"][name] = row
        else:
            out["derived"].setdefault(name, []).append({"budget": budget, **row})
    return out
