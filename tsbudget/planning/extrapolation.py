"""How far a plan lies outside the runs its law was fitted on.

A law fitted to runs spanning training budgets ``[C_lo, C_hi]``, model sizes ``[N_lo, N_hi]``
and data ``[D_lo, D_hi]`` (:class:`~tsbudget.laws.ranges.FitRanges`: a fit's own runs, or a
preset's source) is read beyond that span whenever a plan is. :func:`extrapolation` gives, for a
plan's training FLOPs, ``N`` and the data the law reads (effective data under repetition, in
the law's unit), the factor by which each lies outside its range (1 inside), and a warning when
any factor exceeds :data:`WARN_FACTOR`.

Why 10 (one decade). Beyond the span of the runs nothing constrains a law's curvature, and the
only evidence that its extrapolation holds is a leave-future-out check: fit below a cut, predict
larger runs that exist (issue 14, after Marin's scaling work). On the shipped Chinchilla runs
(Hoffmann et al. 2022 Fig. 4 as digitised by Besiroglu et al. 2024, budgets up to 1.3e22
FLOPs) such a check reaches about one decade (fit below 1e21, predict up to 1.3e22): a plan
within 10× of the fitted span is a distance that kind of check has tested; past it, no run
has. The warning says so; the plan is still returned (extrapolating is what a scaling law is
for: Llama 3 405B's 3.8e25 FLOPs were planned from runs up to 1e22), and ``success`` stays
true, but it is never silent: the message carries the warning and the JSON the ratios.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["WARN_FACTOR", "extrapolation", "extrapolation_arrays", "ranges_of", "request_ranges"]

#: factor outside a fitted range beyond which a plan's message warns (module docstring)
WARN_FACTOR = 10.0

_WHAT = {"budget": "training FLOPs", "n": "N", "d": "data the law reads"}


def ranges_of(law):
    """The :class:`~tsbudget.laws.ranges.FitRanges` behind a planner's ``law`` argument: a fit's
    own runs (``FitResult.ranges``), a preset's source (``Preset.ranges``), else None (a law
    given by its values carries no runs)."""
    if isinstance(law, str):
        try:
            from tsbudget.laws.presets import PRESETS
        except ImportError:  # presets not installed in this build
            return None
        preset = PRESETS.get(law)
        return None if preset is None else getattr(preset, "ranges", None)
    if hasattr(law, "law") and hasattr(law, "draws"):
        try:
            return law.ranges
        except Exception:  # a fit without its runs (or without the property) has no ranges to report
            return None
    return None


def request_ranges(request):
    """The :class:`~tsbudget.laws.ranges.FitRanges` of a plan request's law (None when unknown)."""
    return getattr(request, "ranges", None)


def extrapolation(ranges, budget: float, n: float, d: float, factor: float = WARN_FACTOR) -> dict:
    """``{"ranges", "ratios", "factor", "beyond", "warning"}`` for one plan: ``ratios`` maps
    ``budget``, ``n``, ``d`` (those whose range is known) to the factor outside the range (1.0
    inside; :meth:`FitRanges.ratios`), ``beyond`` lists those past ``factor`` and ``warning`` is
    one sentence naming them with the fitted range (None when none is). Without ``ranges``:
    ``{"ranges": None, "note": ...}``."""
    if ranges is None:
        return {"ranges": None, "note": "the law carries no fitted ranges: how far this plan extrapolates is unknown"}
    values = {"budget": budget, "n": n, "d": d}
    usable = {k: v for k, v in values.items() if v is not None and math.isfinite(v) and v > 0}
    ratios = {k: float(v) for k, v in ranges.ratios(**usable).items()}
    beyond = [k for k, r in ratios.items() if r > factor]
    out = {"ranges": ranges.to_dict(), "ratios": ratios, "factor": factor, "beyond": beyond, "warning": None}
    if beyond:
        parts = []
        for k in beyond:
            lo, hi = getattr(ranges, k)
            side = "above" if values[k] > hi else "below"
            parts.append(f"{_WHAT[k]} {values[k]:.3g} is {ratios[k]:.3g}x {side} the fitted range [{lo:.3g}, {hi:.3g}]")
        out["warning"] = (f"warning: extrapolation: {'; '.join(parts)} (more than {factor:g}x outside the runs the "
                          f"law was fitted on, beyond any held-out check; treat the plan as a projection)")
    return out


def extrapolation_arrays(ranges, budget, n, d, factor: float = WARN_FACTOR) -> dict:
    """Per-element ratios for arrays (a frontier): ``{name: array}`` for each known range, plus
    ``beyond`` (bool array: any ratio past ``factor``); ``{}`` without ranges."""
    if ranges is None:
        return {}
    ratios = ranges.ratios(budget=np.asarray(budget, float), n=np.asarray(n, float), d=np.asarray(d, float))
    out = {k: np.asarray(v, float) for k, v in ratios.items()}
    shape = np.shape(budget)
    out["beyond"] = np.any([v > factor for v in out.values()], axis=0) if out else np.zeros(shape, bool)
    return out
