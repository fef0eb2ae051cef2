"""Lack-of-fit intervals: Student-t intervals from the residual variance and the Jacobian.

The linear-approximation inference of nonlinear regression (Bates & Watts 1988,
"Nonlinear Regression Analysis and Its Applications", §2.3.1; Seber & Wild 1989 §5.1):
with ``n`` runs, ``p`` free parameters, residuals ``r_i`` and the run-by-parameter
Jacobian ``J`` of the fitted curve at the estimate ``θ̂``,

    s² = Σ_i w_i r_i² / (n − p),    Cov(θ̂) ≈ s² (Jᵀ W J)⁻¹,
    θ_j ∈ θ̂_j ± t_{n−p, (1+level)/2} · √Cov_jj,

and for a derived quantity ``g(θ)`` (here in log: N_opt, D_opt, tokens per parameter, the
optimal loss at each budget) ``se(g) = √(∇gᵀ Cov ∇g)`` (the delta method). Marin's scaling
work asks for such intervals on derived quantities beside the bootstrap (issue 14). They
measure how far the law misses its own runs (lack of fit), not how the runs were sampled,
so they differ from bootstrap intervals; both are shown.

Residuals and Jacobian are those of the space the method fits in: log loss for the Huber
methods (parameters in fit coordinates, so scale parameters get intervals in log, which
are asymmetric in value), the loss itself for ``vpnls``. For the Huber methods the formula
treats the estimate as a least-squares one: an approximation, since the Huber loss with
δ = 1e-3 behaves like least absolute deviations for most runs.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import polars as pl

from tsbudget.errors import FitError, InputError
from tsbudget.report import Report, fmt

__all__ = ["LackOfFit", "lack_of_fit"]


@attrs.frozen(eq=False, repr=False)
class LackOfFit(Report):
    """Student-t lack-of-fit intervals: ``table`` has one row per parameter and per derived
    quantity and budget (``name``, ``budget``, ``estimate``, ``se``, ``lower``, ``upper``);
    ``s2`` is the residual variance, ``dof`` = n − p, ``level`` the coverage, ``space`` the
    residuals' space (``log`` or ``linear``)."""

    table: pl.DataFrame
    s2: float
    dof: int
    level: float
    space: str
    t: float

    def title(self) -> str:
        return "LackOfFit"

    def estimate_lines(self) -> list[str]:
        lines = []
        for r in self.table.iter_rows(named=True):
            at = "" if r["budget"] is None or not math.isfinite(r["budget"]) else f" at {r['budget']:.3g}"
            lines.append(f"{r['name']}{at} = {fmt(r['estimate'], 5)}  [{fmt(r['lower'], 5)}, {fmt(r['upper'], 5)}]")
        return lines

    def diagnostic_lines(self) -> list[str]:
        return [f"{self.level:.0%} Student-t intervals, {self.dof} degrees of freedom (t = {self.t:.4g}); residual "
                f"variance {self.s2:.4g} ({self.space} loss residuals); linear approximation at the estimate"]

    def to_dict(self) -> dict:
        return {"level": self.level, "dof": self.dof, "t": self.t, "s2": self.s2, "space": self.space,
                "intervals": self.table.to_dicts()}


def _derived(law, values: dict, budgets, k: float) -> dict:
    """log N_opt, log D_opt, log tokens per parameter and log loss_opt at each budget (Chinchilla
    closed form, Hoffmann et al. 2022 App. D.2 eq. 4); ``{}`` for laws without it."""
    if not getattr(law, "has_closed_form", False) or not {"alpha", "beta"} <= set(values):
        return {}
    n, d = law.optimal_allocation(np.asarray(budgets, dtype=float), k, params=values)
    loss = law.evaluate(values, {"N": n, "D": d})
    return {"N_opt": np.log(n), "D_opt": np.log(d), "tokens_per_param": np.log(d / n), "loss_opt": np.log(loss)}


def lack_of_fit(result, level: float = 0.95, budgets=None, flops_per_param_position: float = 6.0) -> LackOfFit:
    """Lack-of-fit intervals of ``result`` (a :class:`~tsbudget.fitting.result.FitResult`) on
    its free parameters and, for laws with a closed-form optimum, on N_opt, D_opt, tokens per
    parameter and the optimal loss at ``budgets`` (FLOPs, with ``C = k·N·D``)."""
    from scipy.stats import t as student_t

    from tsbudget.fitting.fit import fit_objective

    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    df = result.runs
    w = df["weight"].to_numpy().astype(float) if "weight" in df.columns else np.ones(df.height)
    obj = fit_objective(df, result.law, result.options, dict(result.fixed), w)
    values = result.law.values
    theta = obj.to_theta(values)
    n, p = int(np.count_nonzero(w > 0)), obj.n_free
    if n <= p:
        raise FitError(f"lack-of-fit intervals need more runs ({n}) than free parameters ({p})")
    linear = result.diagnostics.get("method") == "vpnls"
    with np.errstate(all="ignore"):
        r = obj.residuals(theta)
        jac = np.stack([np.broadcast_to(d, (1, r.size))[0] for d in obj.log_jacobian(theta[None, :])], axis=1)
        if linear:  # residuals and Jacobian of L itself: L̂ − L, dL̂/dθ = L̂·d log L̂/dθ
            pred = np.exp(r + obj.log_loss)
            r, jac = pred - np.exp(obj.log_loss), jac * pred[:, None]
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(jac))):
        raise FitError("lack-of-fit intervals: the residuals or the Jacobian are not finite at the estimate")
    s2 = float(np.sum(w * r * r) / (n - p))
    cov = s2 * np.linalg.pinv(jac.T @ (w[:, None] * jac))
    dof = n - p
    t = float(student_t.ppf(0.5 + level / 2, dof))
    rows = []
    for j, par in enumerate(obj.free):
        se = math.sqrt(max(cov[j, j], 0.0))
        lo, hi = theta[j] - t * se, theta[j] + t * se
        est = float(values[par.name])
        rows.append({"name": par.name, "budget": None, "estimate": est,
                     "se": est * se if par.log else se,  # delta method for log-coordinate parameters
                     "lower": float(par.from_fit(lo)), "upper": float(par.from_fit(hi))})
    if budgets is not None:
        budgets = np.atleast_1d(np.asarray(budgets, dtype=float))
        base = _derived(result.law, values, budgets, flops_per_param_position)
        grads = {}
        for j in range(p):
            h = 1e-6 * max(1.0, abs(theta[j]))
            up, dn = theta.copy(), theta.copy()
            up[j] += h
            dn[j] -= h
            hi_, lo_ = (_derived(result.law, obj.to_values(x), budgets, flops_per_param_position) for x in (up, dn))
            for name in base:
                grads.setdefault(name, []).append((hi_[name] - lo_[name]) / (2 * h))
        for name, logv in base.items():
            g = np.stack(grads[name], axis=-1)  # (budgets, p)
            se = np.sqrt(np.maximum(np.einsum("bi,ij,bj->b", g, cov, g), 0.0))
            for b, lv, s in zip(budgets, logv, se):
                rows.append({"name": name, "budget": float(b), "estimate": float(np.exp(lv)),
                             "se": float(np.exp(lv) * s), "lower": float(np.exp(lv - t * s)),
                             "upper": float(np.exp(lv + t * s))})
    table = pl.DataFrame(rows, schema={"name": pl.String, "budget": pl.Float64, "estimate": pl.Float64,
                                       "se": pl.Float64, "lower": pl.Float64, "upper": pl.Float64})
    return LackOfFit(table=table, s2=s2, dof=dof, level=float(level), space="linear" if linear else "log", t=t)
