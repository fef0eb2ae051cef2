"""The fit card: every choice a fit made, the data it saw, and how well it predicted.

Li, Kudugunta & Zettlemoyer 2025 ("(Mis)Fitting: A Survey of Scaling Laws") show that the
functional form, the starts, the loss, the optimiser, the points used and the way
parameters are counted each change a fit's conclusions, and recommend reporting all of
them. :func:`fit_card` gathers them from a :class:`~tsbudget.fitting.result.FitResult`:
law, method, loss and its δ, starts, optimiser, fixed parameters, points used and
dropped, the parameter and data counting convention, the data ranges
(:class:`~tsbudget.laws.ranges.FitRanges`: budget, N, D) and, when leave-future-out
validation was run (:mod:`tsbudget.fitting.validation`), its out-of-sample error.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tsbudget.laws.ranges import FitRanges

__all__ = ["fit_card", "card_lines", "fit_ranges"]

_OPTIMISERS = {
    "batched": "batched projected BFGS over the grid of starts (successive halving when raced), best start "
               "polished by scipy L-BFGS-B and damped Gauss-Newton steps",
    "reference": "scipy L-BFGS-B from every start, then damped Gauss-Newton steps",
    "init": "one scipy L-BFGS-B polish from the given start, then damped Gauss-Newton steps",
    "vpnls": "grid over the free exponents, Nelder-Mead refine, E, A, B by non-negative least squares",
}


def fit_ranges(runs) -> FitRanges:
    """The span of the runs a fit used: training FLOPs, ``N`` and ``D`` (min, max)."""
    def span(col):
        if col not in runs.columns or runs.height == 0:
            return None
        v = runs[col].to_numpy().astype(float)
        v = v[np.isfinite(v) & (v > 0)]
        return (float(v.min()), float(v.max())) if v.size else None

    return FitRanges(budget=span("flops"), n=span("N"), d=span("D"))


def _loss(options: Mapping, method: str) -> str:
    if method == "vpnls":
        return "squared residuals of the loss (linear space), summed"
    red = "mean" if options.get("reduction") == "mean" else "sum"
    text = f"Huber δ={float(options.get('delta', 1e-3)):g} on log residuals, {red} over runs"
    p = float(options.get("overprediction_penalty", 1.0))
    if p != 1.0:
        text += f", over-predicted runs ×{p:g}"
    return text


def fit_card(result) -> dict:
    """The fit card of ``result`` as a JSON-ready dict (see the module docstring)."""
    o, d = result.options, result.diagnostics
    method = d.get("method", o.get("method", "batched"))
    given = int(d.get("n_runs_given", result.n_runs))
    law = result.law
    unit = o.get("unit") or "tokens"
    cost = o.get("cost_model") or "dense"
    return {
        "law": law.name,
        "law_form": getattr(law, "description", ""),
        "law_source": getattr(law, "citation", ""),
        "method": method,
        "loss": _loss(o, method),
        "delta": None if method == "vpnls" else float(o.get("delta", 1e-3)),
        "overprediction_penalty": float(o.get("overprediction_penalty", 1.0)),
        "starts": int(result.n_starts),
        "starts_at_best": int(result.n_at_best),
        "grid": "custom" if o.get("grid") else ("exponent grid 0.05..0.95 (32 per exponent)" if method == "vpnls"
                                                 else "the law's default grid"),
        "optimiser": _OPTIMISERS.get(method, method),
        "fixed": dict(result.fixed),
        "free": list(result.free),
        "points_used": int(result.n_runs),
        "points_given": given,
        "points_dropped": given - int(result.n_runs),
        "drop_highest_loss": int(o.get("drop_highest_loss", 0) or 0),
        "region": o.get("region"),
        "weights": o.get("weights"),
        "counting": (f"N as given in the runs (column {((o.get('columns') or {}).get('N')) or 'N'!r}); "
                     f"D in data unit {unit!r}; FLOPs by cost model {cost!r}"),
        "ranges": fit_ranges(result.runs).to_dict(),
        "validation": result.validation,
    }


def card_lines(card: Mapping) -> list[str]:
    """The fit card as report lines."""
    r = card["ranges"]

    def span(name):
        v = r.get(name)
        return "—" if v is None else f"{v[0]:.3g}..{v[1]:.3g}"

    fixed = ", ".join(f"{k}={v:g}" for k, v in card["fixed"].items()) or "none"
    lines = [
        f"fit card: law {card['law']}, method {card['method']}, loss {card['loss']}",
        f"  starts {card['starts']} ({card['grid']}); optimiser: {card['optimiser']}",
        f"  fixed: {fixed}; points used {card['points_used']} of {card['points_given']} "
        f"({card['points_dropped']} dropped)",
        f"  counting: {card['counting']}",
        f"  ranges: budget {span('budget')} FLOPs, N {span('n')}, D {span('d')}",
    ]
    v = card.get("validation")
    if v:
        lines.append(f"  out-of-sample (leave-future-out, cuts {', '.join(f'{c:.3g}' for c in v['cuts'])}): "
                     f"{v['n_predictions']} predictions, RMSE of log loss {v['rmse_log']:.4g}, "
                     f"mean |error| {v['mean_abs_pct']:.3g}%, max |error| {v['max_abs_pct']:.3g}%")
    else:
        lines.append("  out-of-sample: not measured (tsbudget validate, or fit --validate CUT)")
    return lines
