"""Comparing fit methods by the compute their recommendations would waste.

Two methods fitted to the same runs (say Approach 2's IsoFLOP parabolas and Approach 3's
parametric fit, Hoffmann et al. 2022 §3.2-3.3) recommend different ``(N, D)`` at a target
budget. Judged by one of them taken as the truth (its point fit, and each of its bootstrap
draws), each recommendation reaches a loss that the truth's optimal allocation reaches for less
compute; the difference is the deadweight compute loss ``DCL = C − C_eq`` (Open-Athena,
*scaling-law-analysis*, where Approach 2's recommendation for Llama 3 at 3.8e25 FLOPs wastes
6-10% of the budget under their Approach 3 and VPNLS fits). :func:`compare_recommendations`
reports it per method in FLOPs, percent of the budget and GPU-hours, with the over- or
under-estimate of the optimal ``N`` and ``D``.

A recommendation comes from an :class:`~tsbudget.fitting.isoflop_result.IsoflopResult`
(Approach 2: ``D = D_opt(C)`` from its power law and ``N = C/(k·D)``, the budget forcing ``N``,
as in Open-Athena's ``compare_allocations``), a fit or a law (its compute-optimal plan at the
budget, :func:`tsbudget.planning.plan.plan`), or an explicit ``(N, D)`` pair.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs
import numpy as np

from tsbudget.errors import InputError
from tsbudget.report import Report, fmt

__all__ = ["METHODS", "Recommendation", "RecommendationComparison", "compare_methods", "compare_recommendations",
           "recommend"]

#: fit methods :func:`compare_methods` knows: Approach 2 (IsoFLOP parabolas, Hoffmann et al. 2022 §3.2),
#: Approach 3 (the Chinchilla law by summed Huber loss of log residuals, δ = 1e-3, App. D.2) and
#: variable projection (exponents searched, E, A, B by NNLS, squared residuals; Open-Athena's VPNLS)
METHODS = ("approach2", "approach3", "vpnls")


@attrs.frozen
class Recommendation:
    """One method's allocation at ``budget``: ``N`` parameters, ``D`` tokens (or the law's unit)."""

    name: str
    N: float
    D: float
    budget: float
    source: str


def recommend(source, budget: float, name: str = "method", flops_per_param_position: float = 6.0) -> Recommendation:
    """The allocation ``source`` recommends at ``budget`` FLOPs (see the module docstring)."""
    from tsbudget.fitting.isoflop_result import IsoflopResult
    from tsbudget.law import Law

    budget = _positive(budget, "budget")
    k = float(flops_per_param_position)
    if isinstance(source, IsoflopResult):
        d = float(source.d_opt(budget))
        return Recommendation(name, budget / (k * d), d, budget, f"Approach 2 (D_opt ∝ C^{source.b:.4g}; N = C/({k:g}·D))")
    if isinstance(source, tuple) and len(source) == 2:
        n, d = (_positive(x, f"{name} recommendation") for x in source)
        return Recommendation(name, n, d, budget, "given")
    if isinstance(source, Law) or (hasattr(source, "law") and hasattr(source, "draws")):
        from tsbudget.planning.plan import plan

        law = source if isinstance(source, Law) else source.law
        pl = plan(budget, law=law, cost_model="dense", unit="tokens")
        return Recommendation(name, pl.N, pl.D, budget, f"compute-optimal plan of {law.name} ({pl.method})")
    raise InputError(f"recommendation {name!r}: give an IsoflopResult, a fit, a Law or an (N, D) pair, got {source!r}")


def _positive(x, what: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number, got {x!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise InputError(f"{what} must be finite and > 0, got {x!r}")
    return v


def _small(x: float, percent: float | None = None) -> str:
    """``x`` to 3 digits, or ``0`` when the waste is rounding (below 1e-10 % of the budget)."""
    return "0" if abs(x if percent is None else percent) < 1e-10 else f"{x:.3g}"


@attrs.frozen(repr=False)
class RecommendationComparison(Report):
    """Each method's recommendation at ``budget`` judged by ``truth`` (a law, point values).

    ``rows``: one dict per method: ``name``, ``source``, ``N``, ``D``, ``N_error``/``D_error``
    (relative to the truth's optimum), ``loss`` (under the truth), ``dcl_flops``,
    ``dcl_percent``, ``dcl_gpu_hours`` (under the truth's point values) and, when the truth
    carries bootstrap draws, ``dcl_draws`` = ``(median, lower, upper)`` in percent of the budget
    over the draws. ``optimum`` is the truth's own ``(N, D, loss)``.
    """

    success: bool
    message: str
    budget: float
    truth: str
    optimum: tuple
    rows: tuple
    level: float
    hardware: str
    extrapolation: dict = attrs.field(factory=dict)

    def title(self) -> str:
        return "Recommendations"

    def estimate_lines(self) -> list[str]:
        n, d, loss = self.optimum
        lines = [f"truth's optimum    N {n:.4g}, D {d:.4g}, loss {loss:.5g} ({self.truth})"]
        for r in self.rows:
            line = (f"{r['name']:<18} N {r['N']:.4g} ({r['N_error']:+.1%}), D {r['D']:.4g} ({r['D_error']:+.1%}), "
                    f"loss {r['loss']:.5g}; wasted {_small(r['dcl_percent'])}% of the budget = "
                    f"{_small(r['dcl_flops'], r['dcl_percent'])} FLOPs, {_small(r['dcl_gpu_hours'], r['dcl_percent'])} "
                    f"GPU-hours")
            if r.get("dcl_draws"):
                med, lo, hi = r["dcl_draws"]
                line += f"; over the truth's draws {med:.3g}% [{lo:.3g}%, {hi:.3g}%] ({self.level:.0%})"
            lines.append(line)
        return lines

    def diagnostic_lines(self) -> list[str]:
        return [f"{r['name']:<18} {r['source']}" for r in self.rows] + [f"hardware           {self.hardware}"]

    def to_dict(self) -> dict:
        rows = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in r.items()} for r in self.rows]
        return {"success": self.success, "message": self.message, "budget": self.budget, "truth": self.truth,
                "optimum": dict(zip(("N", "D", "loss"), self.optimum)), "rows": rows, "level": self.level,
                "hardware": self.hardware, "extrapolation": dict(self.extrapolation)}


def compare_recommendations(recommendations: Mapping, truth, budget: float, *, level: float = 0.95,
                            hardware="h100-sxm", flops_per_param_position: float = 6.0,
                            truth_name: str | None = None) -> RecommendationComparison:
    """Judge each method's recommendation at ``budget`` by the deadweight compute under ``truth``.

    ``recommendations`` maps a method name to its source (:func:`recommend`). ``truth`` is a
    Law or a fit (a Chinchilla-form law of ``N`` and ``D``; a fit's bootstrap draws give each
    DCL an interval). Cost: ``C = k·N·D`` with ``k = flops_per_param_position`` (6 for a dense
    transformer, Kaplan et al. 2020 Table 1), as both methods assume.
    """
    from tsbudget.hardware import get_hardware
    from tsbudget.law import Law
    from tsbudget.percentiles import percentile_interval
    from tsbudget.uncertainty.wasted import deadweight_compute

    if not isinstance(recommendations, Mapping) or not recommendations:
        raise InputError(f"recommendations must be a non-empty mapping name -> source, got {recommendations!r}")
    budget = _positive(budget, "budget")
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    k = float(flops_per_param_position)
    if isinstance(truth, Law):
        law, draws = truth, None
    elif hasattr(truth, "law") and isinstance(getattr(truth, "law", None), Law):
        law, draws = truth.law, getattr(truth, "draws", None)
    else:
        raise InputError(f"truth must be a Law or a fit, got {truth!r}")
    hw = get_hardware(hardware) if isinstance(hardware, str) else hardware
    cost = (lambda n: k * np.asarray(n, float))  # noqa: E731  training FLOPs per token
    n_opt, d_opt = (float(x) for x in law.optimal_allocation(budget, k))
    optimum = (n_opt, d_opt, float(law.loss(N=n_opt, D=d_opt)))
    rows = []
    for name, source in recommendations.items():
        r = recommend(source, budget, str(name), k)
        dcl = float(deadweight_compute(law, None, r.N, r.D, budget, cost_model=cost))
        row = {"name": r.name, "source": r.source, "N": r.N, "D": r.D, "N_error": r.N / n_opt - 1,
               "D_error": r.D / d_opt - 1, "loss": float(law.loss(N=r.N, D=r.D)), "dcl_flops": dcl,
               "dcl_percent": 100 * dcl / budget, "dcl_gpu_hours": dcl * float(hw.train_hours(1.0))}
        if draws is not None:
            per = 100 * deadweight_compute(law, draws, r.N, r.D, budget, cost_model=cost) / budget
            per = per[np.isfinite(per)]
            if per.size >= 3:
                lo, hi = percentile_interval(per, level)
                row["dcl_draws"] = (float(np.median(per)), float(lo), float(hi))
                row["draws"] = int(per.size)
        rows.append(row)
    worst = max(rows, key=lambda r: r["dcl_percent"])
    message = (f"at {fmt(budget)} FLOPs under {truth_name or law.name}, {worst['name']} wastes the most: "
               f"{worst['dcl_percent']:.3g}% of the budget")
    # how far the judged budget lies beyond the truth's fitted runs (the truth's own optimum there)
    from tsbudget.planning.extrapolation import extrapolation, ranges_of

    extra = extrapolation(ranges_of(truth), budget, n_opt, d_opt)
    if extra.get("warning"):
        message += "; " + extra["warning"]
    return RecommendationComparison(True, message, budget, truth_name or law.name, optimum, tuple(rows), level, hw.name,
                                    extra)


def compare_methods(runs, budget: float, *, methods=("approach2", "approach3"), truth: str = "approach3",
                    columns: Mapping[str, str] | None = None, n_draws: int = 200, seed: int = 0,
                    level: float = 0.95, hardware="h100-sxm") -> RecommendationComparison:
    """Fit each of ``methods`` (:data:`METHODS`) to ``runs``, and compare their recommendations at
    ``budget`` by the compute each wastes under ``truth`` (one of the parametric methods, with
    ``n_draws`` bootstrap draws for intervals; 0 for none). ``columns`` maps ``N``, ``D``,
    ``flops``, ``loss`` to the runs' columns (Approach 2 groups runs by their ``flops`` column, or
    by ``6·N·D`` without one)."""
    from tsbudget.fitting.approach2 import isoflop_profiles
    from tsbudget.fitting.fit import fit
    from tsbudget.uncertainty.bootstrap import bootstrap

    methods = tuple(methods)
    unknown = [m for m in methods + (truth,) if m not in METHODS]
    if unknown:
        raise InputError(f"method {unknown[0]!r} is not known; methods are {', '.join(METHODS)}")
    if truth == "approach2":
        raise InputError("truth must be a parametric fit (approach3 or vpnls): Approach 2 gives no loss surface")
    if len(set(methods)) != len(methods) or not methods:
        raise InputError(f"methods must name each method once, got {methods!r}")
    if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 0 or n_draws in (1, 2):
        raise InputError(f"n_draws must be 0 or an integer >= 3, got {n_draws!r}")
    cols = dict(columns or {})
    fits = {}
    for m in set(methods) | {truth}:
        if m == "approach2":
            fits[m] = isoflop_profiles(runs, columns=cols or None)
        else:
            law_cols = {k: v for k, v in cols.items() if k in ("N", "D", "loss")}
            fits[m] = fit(runs, "chinchilla", columns=law_cols or None, method="vpnls" if m == "vpnls" else "batched")
    judge = fits[truth]
    if n_draws:
        judge = bootstrap(judge, n_draws, seed=seed)
    return compare_recommendations({m: fits[m] for m in methods}, judge, budget, level=level, hardware=hardware,
                                   truth_name=f"{truth} fit" + (f", {n_draws} bootstrap draws" if n_draws else ""))
