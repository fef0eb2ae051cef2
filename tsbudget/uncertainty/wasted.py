"""Deadweight compute: how much of a budget an allocation wastes under a law taken as the truth.

The deadweight compute loss of an allocation ``(N, D)`` at budget ``C`` is
``DCL = C − C_eq``, where ``C_eq`` is the compute the optimal allocation under the truth
needs to reach the loss ``L(N, D)`` the allocation reaches under the truth (Open-Athena,
*scaling-law-analysis*, experiment 10 ``compare_allocations``: "the budget that would
achieve the same (suboptimal) loss with optimal allocation"; their article reports it at
3.8e25 FLOPs for Approach 2 on the Llama 3 IsoFLOP runs). ``C_eq <= C`` whenever the
allocation costs at most ``C``, so ``DCL >= 0``; a plan at the truth's optimum has DCL 0.

Two paths, one answer (tested against each other):

* Closed form, for a law of the Chinchilla form ``E + A/N^α + B/D^β`` (also an extended law at
  fixed variables, which reduces to it) under a cost linear in ``N·D`` (``C = k·N·D``). On the
  optimal curve ``L*(C) = E + K·(C/k)^(−γ)`` with ``γ = αβ/(α+β)`` (Hoffmann et al. 2022
  App. D.2 eq. 4 substituted into the law), so ``C_eq = C_plan·(1 + q)^(−1/γ)`` with
  ``q = (L − L*(C_plan))/(L*(C_plan) − E)``. At the optimum the two terms share ``L* − E`` in
  the ratio ``β : α`` (``αA/N*^α = βB/D*^β``), and on ``N·D = C_plan/k`` the plan sits at
  ``log N = log N* + δ``, ``log D = log D* − δ``, so
  ``q = (β·expm1(−αδ) + α·expm1(βδ))/(α+β)``: no overflow at any budget, and no cancellation
  for plans near the optimum.
* General, for any law of ``N`` and ``D`` (other inputs held fixed) and any cost model:
  ``L*(C) = min over log N of L(N, C/f(N))`` with ``f(N)`` the training FLOPs per unit of data,
  by golden-section search (Kiefer 1953; assumes the loss along a budget is unimodal in
  ``log N``), and ``C_eq`` by safeguarded regula falsi (Illinois variant, Dowell & Jarratt 1971)
  on ``log C`` over the optimal-loss curve, vectorised over every draw and budget.

Shapes: parameter arrays (e.g. bootstrap draws, shape ``(draws,)``) give the leading axes of
the result, the plan arrays ``n, d, budget`` (broadcast together, e.g. ``(budgets,)``) the
trailing ones: the result is ``params_shape + plan_shape``. A draw with a non-finite
parameter (a failed refit) gives NaN in its row, which :func:`deadweight_summary` counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from tsbudget.errors import InputError

__all__ = [
    "deadweight_compute",
    "closed_form_log_ratio",
    "deadweight_summary",
    "equivalent_compute",
    "optimal_loss",
    "flops_per_unit",
    "linear_coefficient",
    "CHINCHILLA_PARAMETERS",
]

CHINCHILLA_PARAMETERS = ("E", "A", "B", "alpha", "beta")
#: default training FLOPs per parameter per token of a dense transformer (Kaplan et al. 2020
#: Table 1: forward 2N, backward 4N per token)
DENSE_FLOPS_PER_PARAM = 6.0

_INVPHI = (math.sqrt(5.0) - 1.0) / 2.0  # golden-section ratio (Kiefer 1953)
_GOLDEN_TOL = 1e-7  # |log N| bracket width at which the inner search stops (loss error ~1e-14 relative)
_ROOT_TOL = 1e-11  # |log C| bracket width at which the outer root stops


# -- cost -----------------------------------------------------------------------------------------
def _resolve(cost_model, unit):
    from tsbudget.registry import costmodels, units

    cm = None if cost_model is None else costmodels.resolve(cost_model)
    un = None if unit is None else units.resolve(unit)
    return cm, un


def flops_per_unit(cost_model=None, unit=None, variables: Mapping | None = None):
    """``f(N)``: training FLOPs per unit of data of a model with ``N`` parameters, as a function.

    ``cost_model.train_flops_per_position(N, **variables) × unit.positions_per_unit()``, the
    planner's cost (training FLOPs = ``D·f(N)``); without a cost model the dense ``6·N`` per
    position (Kaplan et al. 2020 Table 1), without a unit one position per unit (tokens).
    ``cost_model`` and ``unit`` are registered names or instances; a callable ``cost_model``
    is taken as ``f`` itself (FLOPs per unit of the law's data, broadcasting over ``N``).
    """
    if callable(cost_model) and not hasattr(cost_model, "train_flops_per_position"):
        return cost_model
    cm, un = _resolve(cost_model, unit)
    ppu = 1.0 if un is None else float(un.positions_per_unit())
    if cm is None:
        return lambda n: DENSE_FLOPS_PER_PARAM * ppu * np.asarray(n, dtype=float)
    names = {v.name for v in cm.variables}
    cm_vars = {k: v for k, v in dict(variables or {}).items() if k in names}
    return lambda n: np.asarray(cm.train_flops_per_position(n, **cm_vars), dtype=float) * ppu


def linear_coefficient(per_unit) -> float | None:
    """``k`` when ``per_unit(N) = k·N`` exactly (to 1e-12 relative across twelve decades of
    ``N``), else None: a cost with an N-independent part (attention context, router, local
    encoder) is not linear and goes to the general path."""
    n = np.array([1e3, 1e6, 1e9, 1e12, 1e15])
    try:
        per = np.asarray(per_unit(n), dtype=float) / n
    except Exception:  # a cost model that cannot evaluate at these sizes has no closed form
        return None
    if per.shape != n.shape or not np.all(np.isfinite(per)) or per[0] <= 0 or np.ptp(per) > 1e-12 * per[0]:
        return None
    return float(per[0])


# -- inputs -----------------------------------------------------------------------------------------
def _positive(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.size == 0 or not np.all(np.isfinite(a) & (a > 0)):
        raise InputError(f"{name} must be positive and finite, got {x!r}")
    return a


def _params(law, truth_params) -> dict[str, np.ndarray]:
    """Parameter arrays of the truth: ``truth_params`` (a mapping name -> array, an xarray
    Dataset of draws, or None for the law's own values), the law's value for any name missing."""
    values = {k: np.asarray(v, dtype=float) for k, v in law.values.items()}
    if truth_params is None:
        return values
    names = set(getattr(truth_params, "data_vars", truth_params))
    unknown = names - set(values) - {"failed"}
    if unknown and not hasattr(truth_params, "data_vars"):
        raise InputError(f"truth_params: law {law.name!r} has no parameter {sorted(unknown)[0]!r}; "
                         f"it has {sorted(values)}")
    out = {k: np.asarray(truth_params[k], dtype=float) if k in names else v for k, v in values.items()}
    if "failed" in names:  # bootstrap draws: failed refits are NaN rows
        failed = np.asarray(truth_params["failed"], dtype=bool)
        out = {k: np.where(failed, np.nan, v) if v.shape == failed.shape else v for k, v in out.items()}
    return out


def _law_variables(law, variables: Mapping) -> dict:
    return {k: float(v) for k, v in variables.items() if k in law.required_inputs and k not in ("N", "D", "U")}


def _layout(params: dict, plan_shape: tuple) -> tuple[dict, tuple]:
    """Parameter arrays reshaped to ``params_shape + (1,)*len(plan_shape)``."""
    try:
        pshape = np.broadcast_shapes(*(v.shape for v in params.values()))
    except ValueError:
        raise InputError(f"truth_params: parameter arrays of shapes "
                         f"{ {k: v.shape for k, v in params.items()} } do not broadcast") from None
    pad = (1,) * len(plan_shape)
    return {k: np.broadcast_to(v, pshape).reshape(pshape + pad) for k, v in params.items()}, pshape


def _is_chinchilla_form(law) -> bool:
    return (law.has_closed_form and "U" not in law.required_inputs
            and set(CHINCHILLA_PARAMETERS) <= set(law.values))


# -- public ---------------------------------------------------------------------------------------
def equivalent_compute(law, truth_params, n, d, *, cost_model=None, unit=None, variables=None,
                       inputs=None, method: str = "auto") -> np.ndarray:
    """``C_eq``: the compute the optimal allocation under the truth needs to reach the loss
    the allocation ``(n, d)`` reaches under the truth (Open-Athena scaling-law-analysis,
    ``compare_allocations``). Never above the allocation's own cost ``d·f(n)``.

    ``law`` is the truth's form, ``truth_params`` its parameters (mapping name -> array or an
    xarray Dataset of bootstrap draws; None: the law's own values). ``n`` (parameters) and
    ``d`` (data, in ``unit``) broadcast together; the result has shape
    ``params_shape + plan_shape`` (see the module docstring). ``cost_model``/``unit`` price the
    data (:func:`flops_per_unit`; a callable ``f(N)`` is used as given). ``variables`` holds a
    law's or cost model's variables fixed (scalars); ``inputs`` other law inputs (e.g. unique data ``U``).
    ``method``: ``"auto"`` (closed form where it applies), ``"closed"`` (refuse otherwise) or
    ``"general"`` (always the vectorised search).
    """
    return _solve(law, truth_params, n, d, None, cost_model, unit, variables, inputs, method, want="equivalent")


def deadweight_compute(law, truth_params, n, d, budget=None, *, cost_model=None, unit=None, variables=None,
                       inputs=None, method: str = "auto") -> np.ndarray:
    """``DCL = budget − C_eq`` in FLOPs (Open-Athena scaling-law-analysis: deadweight compute
    loss, ``eval_budget − equivalent_C``), see :func:`equivalent_compute` for the arguments and
    shapes. ``budget`` (FLOPs, broadcast with ``n`` and ``d``) defaults to the allocation's own
    training cost ``d·f(n)``; a plan that leaves part of its budget unspent wastes that part too.
    Divide by ``budget`` for the fraction of the budget wasted.
    """
    return _solve(law, truth_params, n, d, budget, cost_model, unit, variables, inputs, method)


def optimal_loss(law, truth_params, flops, *, cost_model=None, unit=None, variables=None, inputs=None,
                 method: str = "auto") -> np.ndarray:
    """``L*(C)``: the truth's lowest loss at training budget ``flops`` (shape
    ``params_shape + flops_shape``); closed form ``E + (A/N*^α)(α+β)/β`` at the Hoffmann
    optimum for the Chinchilla form under ``C = k·N·D``, else the golden-section search."""
    flops = _positive(flops, "flops")
    law_v, p, k, per_unit, extra, _ = _setup(law, truth_params, flops.shape, cost_model, unit, variables,
                                             inputs, method)
    with np.errstate(all="ignore"):
        if k is not None:
            log_n, log_d = _optimum_logs(p, np.log(flops / k))
            return p["E"] + np.exp(np.log(p["A"]) - p["alpha"] * log_n) * (p["alpha"] + p["beta"]) / p["beta"]
        shape = np.broadcast_shapes(flops.shape, *(v.shape for v in p.values()))
        logc = np.broadcast_to(np.log(flops), shape)
        return _curve(law_v, {k_: np.broadcast_to(v, shape) for k_, v in p.items()}, logc, per_unit,
                      {k_: np.broadcast_to(v, shape) for k_, v in extra.items()})[0]


# -- implementation -------------------------------------------------------------------------------
def _setup(law, truth_params, plan_shape, cost_model, unit, variables, inputs, method):
    if method not in ("auto", "closed", "general"):
        raise InputError(f"method must be 'auto', 'closed' or 'general', got {method!r}")
    variables = dict(variables or {})
    law_vars = _law_variables(law, variables)
    params = _params(law, truth_params)
    params = law.params_at(params, **law_vars) if law_vars else params
    law_v = law.at(**law_vars) if law_vars else law
    per_unit = flops_per_unit(cost_model, unit, variables)
    k = linear_coefficient(per_unit)
    closed = k is not None and _is_chinchilla_form(law_v) and not inputs
    if method == "closed" and not closed:
        raise InputError(f"method='closed': law {law_v.name!r} with this cost model has no closed-form "
                         "optimum (needs the Chinchilla form and training FLOPs k·N·D)")
    if method == "general" or not closed:
        k = None
    p, pshape = _layout({name: np.asarray(v, dtype=float) for name, v in params.items()}, plan_shape)
    if k is not None:
        p = {name: p[name] for name in CHINCHILLA_PARAMETERS}
    missing = [x for x in law_v.required_inputs if x not in ("N", "D") and x not in dict(inputs or {})]
    if k is None and missing:
        raise InputError(f"law {law_v.name!r} needs input {missing[0]!r} held fixed: pass inputs={{...}} "
                         f"(or variables={{...}} for a variable)")
    extra = {name: _positive(v, f"inputs[{name!r}]") for name, v in dict(inputs or {}).items()}
    return law_v, p, k, per_unit, extra, pshape


def _optimum_logs(p, log_x):
    """``(log N*, log D*)`` at ``x = C/k`` (Hoffmann et al. 2022 App. D.2 eq. 4, in logs)."""
    s = p["alpha"] + p["beta"]
    log_g = (np.log(p["alpha"]) + np.log(p["A"]) - np.log(p["beta"]) - np.log(p["B"])) / s
    log_n = log_g + (p["beta"] / s) * log_x
    return log_n, log_x - log_n


def _solve(law, truth_params, n, d, budget, cost_model, unit, variables, inputs, method, want="dcl"):
    """``C_eq`` (``want="equivalent"``) or ``DCL`` (``want="dcl"``) over ``params_shape + plan_shape``."""
    n, d = _positive(n, "n"), _positive(d, "d")
    budget = None if budget is None else _positive(budget, "budget")
    plan_shape = np.broadcast_shapes(n.shape, d.shape, () if budget is None else budget.shape)
    law_v, p, k, per_unit, extra, pshape = _setup(law, truth_params, plan_shape, cost_model, unit, variables,
                                                  inputs, method)
    n, d = np.broadcast_to(n, plan_shape), np.broadcast_to(d, plan_shape)
    c_plan = d * per_unit(n)
    if not np.all(np.isfinite(c_plan) & (c_plan > 0)):
        raise InputError(f"the plan's training FLOPs d·f(n) are not positive and finite: {c_plan!r}")
    with np.errstate(all="ignore"):
        if k is not None:
            ratio = _closed_ratio(p, n, c_plan, k)
        else:
            ratio = _general_ratio(law_v, p, n, d, c_plan, per_unit, extra, pshape + plan_shape)
        if want == "equivalent":
            return np.multiply(np.exp(ratio, out=ratio), c_plan, out=ratio)
        spend = c_plan if budget is None else np.broadcast_to(budget, plan_shape)
        # a plan that spends its budget up to rounding (k·N·D of the closed-form optimum) spends it all
        unspent = np.where(np.abs(spend - c_plan) <= 1e-12 * spend, 0.0, spend - c_plan)
        # DCL = (spend − C_plan) + C_plan − C_eq = unspent − C_plan·expm1(log(C_eq/C_plan)), no cancellation
        dcl = np.expm1(ratio, out=ratio)
        np.multiply(dcl, -c_plan, out=dcl)
        if np.any(unspent):
            dcl += unspent
        return dcl


def _closed_ratio(p, n, c_plan, k):
    """``log(C_eq / C_plan)`` in closed form (module docstring), ``δ = log N − log N*``."""
    a, b = p["alpha"], p["beta"]
    s = a + b
    bad = ~(np.isfinite(a) & np.isfinite(b) & np.isfinite(p["A"]) & np.isfinite(p["B"]) & (a > 0) & (b > 0)
            & (p["A"] > 0) & (p["B"] > 0))
    log_g = (np.log(a) + np.log(p["A"]) - np.log(b) - np.log(p["B"])) / s
    # δ = log n − log G − (β/s)·log(C/k)
    log_x = np.log(c_plan / k)
    shape = np.broadcast_shapes(np.shape(s), log_x.shape)
    delta = np.empty(shape)
    np.multiply(b / s, log_x, out=delta)
    np.subtract(np.log(n), delta, out=delta)
    delta -= log_g
    delta = closed_form_log_ratio(a, b, delta)
    if bad.any():
        delta[np.broadcast_to(bad, delta.shape)] = np.nan
    return delta


def closed_form_log_ratio(alpha, beta, delta, scratch=None) -> np.ndarray:
    """``log(C_eq / C_plan)`` of a plan whose ``log N`` lies ``delta`` above the optimum
    ``log N*`` at its own cost, under ``E + A/N^α + B/D^β`` with ``C = k·N·D`` (module
    docstring): ``−log1p(q)·(α+β)/(αβ)``, ``q = (β·expm1(−αδ) + α·expm1(βδ))/(α+β)`` (Hoffmann
    et al. 2022 App. D.2 eq. 4 substituted into the law). ``delta`` (a float array of the
    broadcast shape) is overwritten with the result: few passes over large arrays; ``scratch``, an
    array of its shape, saves allocating one."""
    a, b = np.asarray(alpha, dtype=float), np.asarray(beta, dtype=float)
    s = a + b
    e1 = np.empty_like(delta) if scratch is None else scratch
    np.multiply(-a, delta, out=e1)
    np.expm1(e1, out=e1)
    e1 *= b / s
    np.multiply(b, delta, out=delta)
    np.expm1(delta, out=delta)
    delta *= a / s
    delta += e1
    np.maximum(delta, 0.0, out=delta)  # q >= 0 (convex, 0 at δ = 0); rounding only
    np.log1p(delta, out=delta)
    delta *= -s / (a * b)
    return delta


def _evaluate(law, p, extra, log_n, logc, per_unit):
    nn = np.exp(log_n)
    dd = np.exp(logc) / per_unit(nn)
    return np.asarray(law.evaluate(p, {"N": nn, "D": dd, **extra}), dtype=float)


def _curve(law, p, logc, per_unit, extra):
    """``(L*(C), log N*)`` for each element of ``logc`` (arrays of one shape) by golden-section
    search over ``log N`` in ``[0, log C]`` (one parameter to one parameter per FLOP)."""
    lo, hi = np.zeros_like(logc), np.array(logc, dtype=float)
    x1 = hi - _INVPHI * (hi - lo)
    x2 = lo + _INVPHI * (hi - lo)
    f1 = _evaluate(law, p, extra, x1, logc, per_unit)
    f2 = _evaluate(law, p, extra, x2, logc, per_unit)
    steps = int(math.ceil(math.log(max(float(np.max(hi - lo)), 1.0) / _GOLDEN_TOL) / -math.log(_INVPHI)))
    for _ in range(steps):
        left = f1 < f2  # the minimum lies in [lo, x2] (else in [x1, hi]); NaN rows stay NaN
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
        xn = np.where(left, hi - _INVPHI * (hi - lo), lo + _INVPHI * (hi - lo))
        fn = _evaluate(law, p, extra, xn, logc, per_unit)
        x1, f1, x2, f2 = (np.where(left, xn, x2), np.where(left, fn, f2),
                          np.where(left, x1, xn), np.where(left, f1, fn))
    best = np.where(f1 < f2, f1, f2)
    return best, np.where(f1 < f2, x1, x2)


def _general_ratio(law, p, n, d, c_plan, per_unit, extra, shape):
    """``log(C_eq / C_plan)`` by regula falsi (Illinois) on ``log C`` over ``L*(C) = L_plan``."""
    p = {k: np.broadcast_to(v, shape).ravel() for k, v in p.items()}
    extra = {k: np.broadcast_to(v, shape).ravel() for k, v in extra.items()}
    n = np.broadcast_to(n, shape).ravel()
    d = np.broadcast_to(d, shape).ravel()
    top = np.log(np.broadcast_to(c_plan, shape)).ravel()
    target = np.asarray(law.evaluate(p, {"N": n, "D": d, **extra}), dtype=float).ravel()

    def g(logc):  # L*(C) − L_plan: decreasing in log C
        return _curve(law, p, logc, per_unit, extra)[0] - target

    g_hi = np.minimum(g(top), 0.0)  # at the plan's own cost the optimum is no worse than the plan
    lo = top - 2.0
    g_lo = g(lo)
    for _ in range(40):  # widen downwards (×e^4 per step) until the optimum is worse than the plan
        short = g_lo < 0
        if not short.any():
            break
        lo = np.where(short, lo - 4.0, lo)
        g_lo = np.where(short, g(np.where(short, lo, top)), g_lo)
    hi = top.copy()
    side = np.zeros(hi.shape, dtype=int)
    for _ in range(200):
        open_ = (hi - lo > _ROOT_TOL * np.maximum(1.0, np.abs(hi))) & (g_hi < 0) & np.isfinite(g_lo + g_hi)
        if not open_.any():
            break
        denom = g_lo - g_hi
        x = np.where(denom > 0, (g_lo * hi - g_hi * lo) / np.where(denom > 0, denom, 1.0), 0.5 * (lo + hi))
        x = np.where(open_, np.clip(x, lo, hi), hi)
        gx = g(x)
        pos = open_ & (gx >= 0)  # root above x
        neg = open_ & (gx < 0)
        lo, g_lo = np.where(pos, x, lo), np.where(pos, gx, g_lo)
        hi, g_hi = np.where(neg, x, hi), np.where(neg, gx, g_hi)
        # Illinois: halve the stale end's value when the same end moved twice
        g_hi = np.where(pos & (side == 1), 0.5 * g_hi, g_hi)
        g_lo = np.where(neg & (side == -1), 0.5 * g_lo, g_lo)
        side = np.where(pos, 1, np.where(neg, -1, side))
    denom = g_lo - g_hi
    root = np.where(g_hi >= 0, hi, np.where(denom > 0, (g_lo * hi - g_hi * lo) / np.where(denom > 0, denom, 1.0),
                                            hi))
    bad = ~np.isfinite(g_lo + g_hi + target) | (g_lo < 0)  # no bracket: the search failed
    return np.where(bad, np.nan, np.minimum(root - top, 0.0)).reshape(shape)


# -- summary --------------------------------------------------------------------------------------
def deadweight_summary(dcl, budget, level: float = 0.95, hardware=None, axis: int = 0,
                       partial: bool = False) -> dict:
    """Median and ``level`` percentile interval (:func:`tsbudget.percentiles.percentile_interval`)
    of deadweight compute draws ``dcl`` along ``axis`` (the draws), in FLOPs, in percent of
    ``budget`` and, with a ``hardware`` profile (name or :class:`~tsbudget.hardware.Hardware`),
    in training GPU-hours (FLOPs / (peak · training utilisation · 3600)). Each entry is
    ``(median, lower, upper)`` (arrays over the other axes, floats for 1-d draws); ``draws`` is
    the number of finite draws used and ``failed`` the number left out (NaN: a failed refit
    or a draw the search could not bracket); ``short`` the number of budgets left NaN. Fewer than
    :data:`~tsbudget.percentiles.MIN_VALID_DRAWS` finite draws is an InputError; with ``partial``
    (arrays over budgets) only where every budget has too few, the others reading NaN.
    """
    from tsbudget.percentiles import MIN_VALID_DRAWS, percentile_summary

    v = np.moveaxis(np.asarray(dcl, dtype=float), axis, 0)
    # a finite sum means every draw is finite (no elementwise pass over a large array)
    used = (np.full(v.shape[1:], v.shape[0]) if np.isfinite(np.add.reduce(v, axis=None))
            else np.isfinite(v).sum(axis=0))
    short = used < MIN_VALID_DRAWS
    if np.all(short) or (np.any(short) and not partial):
        raise InputError(f"deadweight compute: {int(np.min(used))} of {v.shape[0]} draws are finite; "
                         f"an interval needs at least {MIN_VALID_DRAWS}")
    if np.any(short):
        v = np.where(short, np.nan, v)
        used = np.where(short, used.max(), used)  # the counts reported are those of the budgets kept
    budget = np.asarray(budget, dtype=float)

    def triple(x):
        import warnings

        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN budget gives NaN, counted above
            med, lo, hi = percentile_summary(x, level, axis=0)  # one selection for all three
        return tuple(float(a) if np.ndim(a) == 0 else np.asarray(a) for a in (med, lo, hi))

    flops = triple(v)
    try:
        fits = np.broadcast_shapes(budget.shape, v.shape) == v.shape
    except ValueError:
        fits = False
    if fits and (budget.ndim < v.ndim or budget.shape[0] == 1):  # one budget along the draws: scale its quantiles
        per_draw = np.broadcast_to(budget, v.shape)[0]
        percent = tuple(float(a) if np.ndim(a) == 0 else np.asarray(a)
                        for a in (100.0 * np.asarray(x) / per_draw for x in flops))
    else:
        percent = triple(100.0 * v / budget)
    out = {"flops": flops, "percent": percent, "level": level,
           "draws": int(np.min(used)), "failed": int(v.shape[0] - np.min(used)), "short": int(np.sum(short))}
    if hardware is not None:
        from tsbudget.hardware import get_hardware

        hw = get_hardware(hardware) if isinstance(hardware, str) else hardware
        per_flop = float(hw.train_hours(1.0))  # linear: GPU-hours of one FLOP
        out["gpu_hours"] = tuple(x * per_flop for x in out["flops"])
        out["hardware"] = hw.name
    return out
