"""Quantities derived from each draw's parameters, and the draws of a result.

For laws with the Chinchilla closed-form optimum (Hoffmann et al. 2022 App. D.2 eq. 4):
``N_opt`` and ``D_opt`` at each budget, tokens per parameter ``D_opt/N_opt``, the optimal
loss, and the allocation exponents ``a = β/(α+β)``, ``b = α/(α+β)``.
"""

from __future__ import annotations

import numpy as np

from tsbudget.errors import InputError
from tsbudget.laws.chinchilla import Chinchilla

__all__ = ["DERIVED_UNITS", "bootstrap_draws", "derived_quantities", "point_derived"]

# units of each derived quantity ({unit}: the fit's data unit)
DERIVED_UNITS = {
    "N_opt": "parameters",
    "D_opt": "{unit}",
    "tokens_per_param": "{unit} per parameter",
    "loss_opt": "nats",
    "a": "1",
    "b": "1",
}


def derived_quantities(law, values: dict[str, np.ndarray], budgets: np.ndarray, k: float) -> dict[str, np.ndarray]:
    """Closed-form optimum quantities over draws (rows) and budgets (columns) of a
    :class:`~tsbudget.laws.chinchilla.Chinchilla` law; ``{}`` for other laws."""
    if not (isinstance(law, Chinchilla) and {"E", "A", "B", "alpha", "beta"} <= set(values)):
        return {}
    p = {name: np.asarray(values[name], dtype=float)[:, None] for name in ("E", "A", "B", "alpha", "beta")}
    good = np.all([np.isfinite(v[:, 0]) & (v[:, 0] > 0) for n, v in p.items() if n != "E"], axis=0)
    safe = {n: np.where(good[:, None], v, 1.0) for n, v in p.items()}  # failed draws: NaN below
    n_opt, d_opt = law.optimal_allocation(budgets[None, :], k, params=safe)
    out = {"N_opt": n_opt, "D_opt": d_opt, "tokens_per_param": d_opt / n_opt}
    if set(law.required_inputs) <= {"N", "D"}:
        full = {name: np.asarray(v, dtype=float)[:, None] for name, v in values.items()}
        out["loss_opt"] = law.evaluate({**full, **safe}, {"N": n_opt, "D": d_opt})
    s = safe["alpha"][:, 0] + safe["beta"][:, 0]
    out["a"] = safe["beta"][:, 0] / s
    out["b"] = safe["alpha"][:, 0] / s
    return {k_: np.where(good[:, None] if v.ndim == 2 else good, v, np.nan) for k_, v in out.items()}


def point_derived(result, budgets: np.ndarray, k: float) -> dict[str, np.ndarray]:
    """:func:`derived_quantities` of the point estimate ``result.law`` (one value per budget)."""
    vals = {n: np.array([v]) for n, v in result.law.values.items()}
    return {n: a[0] for n, a in derived_quantities(result.law, vals, budgets, k).items()}


def bootstrap_draws(result):
    """``result.draws``, or an :class:`InputError` saying how to make them."""
    draws = getattr(result, "draws", None)
    if draws is None:
        raise InputError("this fit has no bootstrap draws; run tsbudget.uncertainty.bootstrap(result, n_draws) first")
    return draws
