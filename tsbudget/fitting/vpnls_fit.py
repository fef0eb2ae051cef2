"""``fit(..., method="vpnls")``: the variable-projection fit as a :class:`FitResult`.

The result's ``objective`` is what this method minimises, the weighted sum of squared
residuals of the loss itself, ``Σ w_i (L̂_i − L_i)²`` (Open-Athena's VPNLS; see
:mod:`tsbudget.fitting.vpnls`); ``diagnostics["huber_objective"]`` is the Huber objective
of Hoffmann et al. 2022 App. D.2 at the same parameters, so the two methods can be put
side by side on one scale. The two objectives differ, so their optima differ on real runs:
VPNLS's Huber objective is never below the Huber multistart's.
"""

from __future__ import annotations

import math
import time

import numpy as np
import polars as pl

from tsbudget.errors import InputError
from tsbudget.fitting.objective import Objective
from tsbudget.fitting.result import FitResult
from tsbudget.fitting.runs import distinct_points
from tsbudget.fitting.vpnls import check_vpnls_law, vpnls_solve
from tsbudget.law import Law

__all__ = ["OBJECTIVE_KIND", "fit_vpnls"]

#: How a vpnls fit's ``objective`` is defined (shown in its report and fit card).
OBJECTIVE_KIND = "sum of squared residuals of the loss (linear space), E, A, B by NNLS"


def fit_vpnls(df: pl.DataFrame, law: Law, options: dict, objective: Objective, given: int | None,
              t0: float) -> FitResult:
    """Fit ``law`` (the Chinchilla form) to the prepared runs ``df`` by variable projection,
    with the run weights and fixed parameters of ``objective`` (built by the caller)."""
    check_vpnls_law(law)
    if float(options.get("overprediction_penalty", 1.0)) != 1.0:
        raise InputError(f"overprediction_penalty={options['overprediction_penalty']!r} applies to the Huber "
                         "methods, not to method 'vpnls' (squared residuals)")
    fixed = dict(options["fixed"])
    w = objective.weights
    sol = vpnls_solve(df["N"].to_numpy(), df["D"].to_numpy(), df["loss"].to_numpy(), w, fixed, options.get("grid"))
    with np.errstate(all="ignore"):
        huber = float(objective(objective.to_theta(sol.values)))
    zero = [k for k in ("E", "A", "B") if k not in fixed and sol.values[k] <= 0.0]
    success = bool(math.isfinite(sol.rss) and not sol.at_edge and "Nelder-Mead" in sol.message
                   and "exceeded" not in sol.message.lower())
    notes = []
    if sol.at_edge:
        notes.append(f"at the edge of the exponent search span: {', '.join(sol.at_edge)} (widen the grid)")
    if zero:
        notes.append(f"NNLS put {', '.join(zero)} at 0 (its term vanished)")
    head = (f"variable projection: {sol.n_grid} exponent grid points, Nelder-Mead refine, "
            f"{sol.n_solves} NNLS solves")
    message = ("converged; " if success else "") + head + ("; " + "; ".join(notes) if notes else "")
    diagnostics = {
        "method": "vpnls",
        "objective_kind": OBJECTIVE_KIND,
        "huber_objective": huber,
        "condition_number": sol.condition_projected,
        "condition_number_full": sol.condition_full,
        "n_nnls_solves": sol.n_solves,
        "polish": sol.message,
        "elapsed_s": time.perf_counter() - t0,
        "distinct_points": distinct_points(df, law),
        "n_runs_given": df.height if given is None else int(given),
    }
    return FitResult(
        law=law.replace(**sol.values),
        success=success,
        message=message,
        objective=float(sol.rss),
        n_runs=df.height,
        n_starts=sol.n_grid,
        n_at_best=1,
        free=tuple(p.name for p in law.parameters if p.name not in fixed),
        fixed=fixed,
        options=options,
        runs=df,
        diagnostics=diagnostics,
    )
