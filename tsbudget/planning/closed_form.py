"""Closed-form compute-optimal allocation, vectorized over budgets and parameter draws.

The optimum of ``L = E + A/N^α + B/D^β`` under a cost linear in ``N·D``
(``C = k·N·D``; ``k = 6`` FLOPs per parameter per token for a dense transformer) is
``N_opt = G·(C/k)^(β/(α+β))``, ``D_opt = (C/k)/N_opt``, ``G = (αA/(βB))^(1/(α+β))``
(Hoffmann et al. 2022, App. D.2 eq. 4). The planner uses it as its fast path and as
the oracle its general optimizer is tested against; :func:`closed_form_target` is
the dual (cheapest allocation reaching a given loss). :func:`closed_form_plan` applies
them to a planning problem and says where the optimum is valid (one test for point plans,
frontiers and bootstrap draws alike).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tsbudget.errors import InputError

__all__ = [
    "CHINCHILLA_PARAMETERS",
    "is_chinchilla_form",
    "parameter_arrays",
    "linear_cost_coefficient",
    "closed_form_budget",
    "closed_form_target",
    "closed_form_coefficient",
    "closed_form_valid",
    "closed_form_plan",
]

CHINCHILLA_PARAMETERS = ("E", "A", "B", "alpha", "beta")


def is_chinchilla_form(law) -> bool:
    """True when ``law`` is ``E + A/N^α + B/D^β`` with inputs ``N, D`` only (closed form applies)."""
    return (
        law.has_closed_form
        and set(law.required_inputs) == {"N", "D"}
        and set(CHINCHILLA_PARAMETERS) <= set(law.values)
    )


def parameter_arrays(law, draws=None) -> dict[str, np.ndarray]:
    """Parameter name -> array: the law's point values, or the bootstrap ``draws``
    (an xarray Dataset with dim ``draw``, or a mapping name -> 1-D array) with the point
    value for any parameter the draws do not carry (it was fixed in the fit). Draws with a
    non-finite parameter (failed refits) are dropped."""
    values = {k: np.asarray(v, dtype=float) for k, v in law.values.items()}
    if draws is None:
        return values
    names = list(getattr(draws, "data_vars", draws))
    out, size = {}, None
    for name in values:
        if name in names:
            arr = np.asarray(draws[name], dtype=float).ravel()
            if size is not None and arr.size != size:
                raise InputError(f"draws: parameter {name!r} has {arr.size} draws, others have {size}")
            size = arr.size
            out[name] = arr
    if size is None:
        raise InputError(f"draws carry none of the law's parameters {sorted(values)}; they have {names}")
    # failed bootstrap refits are NaN rows: leave them out
    keep = np.all([np.isfinite(v) for v in out.values()], axis=0)
    if not keep.any():
        raise InputError("draws: every draw has a non-finite parameter (all bootstrap refits failed?)")
    return {k: out[k][keep] if k in out else np.full(int(keep.sum()), values[k]) for k in values}


def linear_cost_coefficient(cost_model, unit, variables: Mapping[str, float] | None = None) -> float | None:
    """``k`` such that training FLOPs are exactly ``k·N·D`` (``D`` in the unit), or None.

    ``k`` = (training FLOPs per position per parameter) × (positions per unit); for the
    dense model in tokens it is 6. Checked numerically across twelve decades of ``N``
    so that any cost model with an N-independent overhead (attention term, router,
    local encoder) is rejected and goes to the general optimizer.
    """
    variables = dict(variables or {})
    n = np.array([1e3, 1e6, 1e9, 1e12, 1e15])
    try:
        per = np.asarray(cost_model.train_flops_per_position(n, **variables), dtype=float) / n
    except Exception:  # a cost model that cannot evaluate here simply has no closed form
        return None
    if per.shape != n.shape or not np.all(np.isfinite(per)) or np.ptp(per) > 1e-12 * abs(per[0]):
        return None
    return float(per[0]) * float(unit.positions_per_unit())


def closed_form_budget(params: Mapping[str, np.ndarray], flops, k=6.0) -> tuple[np.ndarray, np.ndarray]:
    """``(N_opt, D_opt)`` for budget ``flops`` under ``C = k·N·D`` (Hoffmann et al. 2022 App. D.2 eq. 4).

    Broadcasts ``flops`` against the parameter arrays: parameters of shape ``(draws, 1)``
    and budgets of shape ``(budgets,)`` give ``(draws, budgets)``.
    """
    from tsbudget.laws.chinchilla import chinchilla_optimum

    p = {name: np.asarray(params[name], dtype=float) for name in CHINCHILLA_PARAMETERS}
    n_opt, d_opt = chinchilla_optimum(p["E"], p["A"], p["B"], p["alpha"], p["beta"], flops, k=k)
    return np.asarray(n_opt, dtype=float), np.asarray(d_opt, dtype=float)


def closed_form_target(params: Mapping[str, np.ndarray], loss) -> tuple[np.ndarray, np.ndarray]:
    """``(N, D)`` minimising ``N·D`` subject to ``E + A/N^α + B/D^β = loss``.

    Lagrange conditions in ``log N, log D``: ``α·A/N^α = β·B/D^β = λ``, and the
    constraint gives ``A/N^α + B/D^β = loss − E``, so ``A/N^α = (loss − E)·β/(α+β)`` and
    ``B/D^β = (loss − E)·α/(α+β)``. The cost coefficient ``k`` does not move the optimum
    (it scales the objective). This is the budget optimum at the budget whose optimal
    loss is ``loss`` (the Chinchilla frontier read backwards). Needs ``loss > E``.
    """
    p = {name: np.asarray(params[name], dtype=float) for name in CHINCHILLA_PARAMETERS}
    excess = np.asarray(loss, dtype=float) - p["E"]
    if np.any(excess <= 0):
        raise InputError("closed_form_target: the target loss must exceed E")
    s = p["alpha"] + p["beta"]
    n = (p["A"] * s / (p["beta"] * excess)) ** (1.0 / p["alpha"])
    d = (p["B"] * s / (p["alpha"] * excess)) ** (1.0 / p["beta"])
    return n, d


def closed_form_coefficient(problem) -> float | None:
    """The cost coefficient ``k`` when the closed form applies to a planning ``problem``
    (a Chinchilla-form law or a law of ``N, D`` declaring its own closed form, such as Kaplan's
    compute-efficient frontier; no serving, every cost-model variable fixed, training FLOPs
    exactly ``k·N·D``), else None."""
    law = problem.law
    if problem.serving is not None or problem.ints or problem.reals or not (
            law.has_closed_form and set(law.required_inputs) == {"N", "D"}):  # Chinchilla form or the law's own hook
        return None
    return linear_cost_coefficient(problem.cost_model, problem.unit, problem.fixed)


def closed_form_valid(problem, N, D, k: float, cap: float | None = None) -> np.ndarray:
    """Where the closed-form optimum ``(N, D)`` (any shape: one plan, budgets, draws ×
    budgets) is the plan: ``N`` within n_bounds, ``D`` within d_bounds, every unit read at
    full value (no repeated data: ``problem.undiscounted``) and, when ``cap`` is given (target
    mode), training FLOPs ``k·N·D`` within it. NaN (an unsolved draw) is not valid."""
    N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
    (n_lo, n_hi), (d_lo, d_hi) = problem.n_bounds, problem.d_bounds
    valid = (N >= n_lo) & (N <= n_hi) & (D >= d_lo) & (D <= d_hi) & problem.undiscounted(D)
    if cap is not None:
        valid &= k * N * D <= cap
    return valid


def closed_form_plan(problem, k: float, params=None, flops=None, loss=None, cap: float | None = None):
    """``(N, D, valid)``: the closed-form optimum of ``problem`` at budget ``flops`` (or
    target ``loss``), with ``D`` in the plan's unit, and where it is valid
    (:func:`closed_form_valid`). ``params`` are parameter arrays (the problem's point
    values by default; bootstrap draws of shape ``(draws, 1)`` broadcast against budgets)."""
    N, D = problem.closed_form(problem.params if params is None else params, k, flops=flops, loss=loss)
    N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
    return N, D, closed_form_valid(problem, N, D, k, cap)
