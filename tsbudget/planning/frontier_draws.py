"""Every draw's optimum at every budget of a closed-form frontier, in a few passes over memory.

For a law of the Chinchilla form ``E + A/N^α + B/D^β`` under ``C = k·N·D`` with every unit
fresh, one ``(draws, budgets)`` array of ``log N*`` gives everything a frontier reports per draw:

- ``log N* = log G + (β/(α+β))·log(C/k)``, ``G = (αA/(βB))^(1/(α+β))`` and ``D* = (C/k)/N*``
  (Hoffmann et al. 2022, App. D.2 eq. 4), so ``D*`` and ``D*/N*`` fall as ``N*`` rises at each
  budget (their quantiles are read off ``N*``'s order);
- the optimal loss ``E + (A/N*^α)·(α+β)/β``: at the optimum ``αA/N*^α = βB/D*^β`` (the same
  first-order condition), so the data term is ``α/β`` times the parameter term;
- the deadweight compute of the point plans ``N_p`` under each draw: the plan sits
  ``δ = log N_p − log N*`` off the draw's optimum on its own budget, and
  ``C_eq/C = exp(closed_form_log_ratio(α, β, δ))``
  (:func:`~tsbudget.uncertainty.wasted.closed_form_log_ratio`).

Each quantity is one or two transcendental passes over the array, written in place; the
general path (:func:`~tsbudget.planning.closed_form.closed_form_plan`, the problem's loss and
:func:`~tsbudget.planning.draws.vectorised_deadweight`) gives the same numbers to rounding
(tested) with several times the passes.
"""

from __future__ import annotations

import numpy as np

from tsbudget.planning.closed_form import CHINCHILLA_PARAMETERS, closed_form_valid, is_chinchilla_form
from tsbudget.uncertainty.wasted import closed_form_log_ratio

__all__ = ["applies", "chinchilla_draws"]


def applies(problem) -> bool:
    """True when :func:`chinchilla_draws` gives a frontier's draws: a Chinchilla-form law without
    unique data (every unit read at full value; the deadweight's optimum needs no search)."""
    return is_chinchilla_form(problem.law) and problem.unique is None and "U" not in problem.law.required_inputs


def chinchilla_draws(problem, k: float, params: dict, budgets, n_point, d_point,
                     deadweight: bool = True) -> dict | None:
    """``{"N", "D", "data_per_param", "loss", "dcl"}`` over ``(draws, budgets)`` (``D`` in the
    plan's unit; ``dcl`` in FLOPs, of the point plans ``(n_point, d_point)`` spending
    ``budgets``; left out without ``deadweight``), or None when some draw's optimum leaves the
    problem's bounds (then the general optimiser plans the draws). Needs :func:`applies` and
    cost ``k`` FLOPs per parameter per plan unit."""
    # computed as (budget, draw): each budget's draws are one contiguous lane for the quantiles;
    # returned as (draw, budget) views of it
    p = {name: np.asarray(params[name], dtype=float)[None, :] for name in CHINCHILLA_PARAMETERS}
    alpha, beta = p["alpha"], p["beta"]
    s = alpha + beta
    budgets = np.asarray(budgets, dtype=float)
    per_budget = budgets[:, None]
    scale = problem.law_scale
    log_x = np.log(per_budget * scale / k)  # C/k' with k' = k/scale FLOPs per law unit
    log_g = (np.log(alpha) + np.log(p["A"]) - np.log(beta) - np.log(p["B"])) / s
    log_n = np.multiply(log_x, beta / s)
    log_n += log_g
    n = np.exp(log_n)
    # D = C/(k·N) in the plan's unit (the law's D* = (C/k')/N* over scale): one division, exactly
    # falling in N at each budget, so D's quantiles read off N's order equal its own
    d = np.divide(per_budget / k, n)
    # N and D are monotone in the budget along each draw (exponents β/s and α/s in (0, 1)):
    # inside the bounds at the smallest and the largest budget means inside at every one
    ends = [0, budgets.size - 1] if np.all(np.diff(budgets) > 0) else slice(None)
    if not closed_form_valid(problem, n[ends], d[ends], k).all():
        return None
    per_param = np.empty_like(n)  # first the deadweight's scratch, then D/N
    out = {"N": n.T, "D": d.T, "data_per_param": per_param.T}
    if deadweight:
        # the point plans sit δ = log N_p − log N* off each draw's optimum at their own cost:
        # C − C_eq = −C_plan·expm1(log(C_eq/C_plan))
        c_plan = (k * np.asarray(n_point, dtype=float) * np.asarray(d_point, dtype=float))[:, None]
        dcl = np.subtract(np.log(np.asarray(n_point, dtype=float))[:, None], log_n)
        closed_form_log_ratio(alpha, beta, dcl, scratch=per_param)
        np.expm1(dcl, out=dcl)
        dcl *= -c_plan
        unspent = per_budget - c_plan
        if np.any(np.abs(unspent) > 1e-12 * per_budget):  # a plan that spends its budget up to rounding spends it all
            dcl += np.where(np.abs(unspent) <= 1e-12 * per_budget, 0.0, unspent)
        out["dcl"] = dcl.T
    np.divide(d, n, out=per_param)
    loss = np.multiply(log_n, -alpha, out=log_n)  # log N* is not needed any more
    loss += np.log(p["A"] * s / beta)
    np.exp(loss, out=loss)
    loss += p["E"]
    out["loss"] = loss.T
    # D and D/N as functions of N, by the very operations above: their quantiles from N's alone
    per_unit = (budgets / k)[None, :]
    out["falling"] = {"D": lambda v: np.divide(per_unit, v),
                      "data_per_param": lambda v: np.divide(np.divide(per_unit, v), v)}
    return out
