"""Which runs to train next: by the variance of the optimum, or by the compute its error would waste.

Both criteria share one greedy, linearised Bayesian selection (:func:`greedy`; the ensemble
Kalman update described in :mod:`tsbudget.sweeps.design`): over bootstrap draws ``d``,
``q_d = log N_opt(C_target)``; observing candidate run ``j`` with log-loss noise ``σ``
shrinks the variance of ``q`` by ``Σ_qj²/(Σ_jj + σ²)``, and runs are taken in order of that
reduction per FLOP.

``variance``: runs are added while they reduce the variance and fit in the sweep budget.

``dcl`` (expected deadweight compute at the target). The plan made at the target from the
current fit, ``(N̂, D̂)``, wastes ``DCL_d = C − C_eq`` under draw ``d`` taken as the truth
(Open-Athena's deadweight compute loss; :func:`tsbudget.uncertainty.wasted.deadweight_compute`);
the expected waste now is the mean over draws. Near the optimum the waste is quadratic in
the error of ``log N`` along the budget (the loss along an IsoFLOP line is smooth with its
minimum at the optimum, so ``L − L* ≈ ½·L''·u²``, and ``C_eq`` moves with it along the optimal
curve), ``DCL ≈ c·(q − q̂)²``, so the expected waste scales with the variance of the
allocation error. ``κ`` is calibrated on the draws so that ``κ·Var(q)`` is the expected waste
now, ``κ = mean_d DCL_d / Var_d(q_d)`` (FLOPs per unit variance of log N_opt). After refitting
on the chosen runs the variance is the posterior ``V``, so the expected waste becomes ``κ·V``
and run ``j`` saves ``κ·ΔV_j`` FLOPs at the target. Since the saving is
``κ`` times the variance reduction, the order of the runs is the variance criterion's; what
differs is when to stop: a run is taken only while it saves more expected compute at the
target than it costs (``κ·ΔV_j > cost_j``), so the design answers how many runs are worth
training, in FLOPs, and reports the waste before and after.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CRITERIA", "expected_waste", "greedy"]

CRITERIA = ("dcl", "variance")


def greedy(q: np.ndarray, Y: np.ndarray, cost: np.ndarray, sigma: float, budget: float | None,
           value: float | None = None) -> tuple[list[int], float, bool]:
    """Greedy selection by predicted variance reduction of ``q`` per unit cost.

    ``q``: (draws,) target quantity; ``Y``: (draws, candidates) predicted log losses; ``cost``:
    FLOPs per candidate; ``sigma``: noise sd per run; ``budget``: total FLOPs (None: no cap);
    ``value``: FLOPs saved per unit variance removed (the ``dcl`` criterion; None for
    ``variance``). Returns ``(chosen in order, predicted sd of q after, stopped by value)``.
    """
    Z = np.column_stack([q, Y])
    S = np.atleast_2d(np.cov(Z, rowvar=False))
    var0 = S[0, 0]
    chosen: list[int] = []
    left = math.inf if budget is None else budget
    avail = np.ones(Y.shape[1], dtype=bool)
    by_value = False
    while True:
        idx = np.flatnonzero(avail & (cost <= left * (1 + 1e-12)))
        if idx.size == 0:
            break
        j1 = idx + 1
        gain = S[0, j1] ** 2 / (S[j1, j1] + sigma**2)
        if not np.any(gain > 1e-12 * max(var0, 1e-300)):
            break
        best = int(np.argmax(gain / cost[idx]))
        pick = idx[best]
        if value is not None and value * gain[best] <= cost[pick]:
            by_value = True  # the best run left costs more than the waste it is expected to save
            break
        p = pick + 1
        S = S - np.outer(S[:, p], S[p, :]) / (S[p, p] + sigma**2)
        chosen.append(int(pick))
        avail[pick] = False
        left -= cost[pick]
        if budget is None and value is None and S[0, 0] < 1e-6 * var0:
            break
    return chosen, float(math.sqrt(max(S[0, 0], 0.0))), by_value


def expected_waste(law, params: dict, q: np.ndarray, n_plan: float, d_plan: float, target: float, *,
                   cost_model=None, unit=None, variables=None) -> dict:
    """The deadweight compute of the plan ``(n_plan, d_plan)`` at ``target`` under each draw
    of ``params`` taken as the truth, and its quadratic scale ``κ`` (module docstring).

    ``q``: log N_opt of each draw at the target (the same draws as ``params``). Returns
    ``{"dcl": per-draw FLOPs, "mean", "median", "kappa"}`` (``kappa`` None when the draws do
    not spread).
    """
    from tsbudget.uncertainty.wasted import deadweight_compute

    dcl = np.asarray(deadweight_compute(law, params, n_plan, d_plan, target, cost_model=cost_model, unit=unit,
                                        variables=variables), float).reshape(-1)
    ok = np.isfinite(dcl) & np.isfinite(q)
    dcl = dcl[ok]
    spread = float(np.var(q[ok], ddof=1)) if dcl.size > 1 else 0.0  # the variance greedy() starts from
    mean = float(np.mean(dcl)) if dcl.size else math.nan
    kappa = mean / spread if spread > 0 and math.isfinite(mean) else None
    return {"dcl": dcl, "mean": mean, "median": float(np.median(dcl)) if dcl.size else math.nan, "kappa": kappa}
