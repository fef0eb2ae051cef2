"""Planning across budgets: the compute-optimal frontier, as an xarray Dataset.

:func:`frontier` is the plan at every budget of a list. Where the Chinchilla closed form
applies (and is valid at every budget and draw) it is evaluated in one vectorized pass over
budgets × bootstrap draws (Hoffmann et al. 2022 App. D.2 eq. 4); elsewhere the general
optimizer plans every budget (and every draw at every budget, up to ``max_draws`` draws) in
one batched solve (:func:`~tsbudget.planning.solve.budget_table`,
:func:`~tsbudget.planning.solve.solve_allocations`). Also the budget list parser, the
frontier's plot and its table.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from tsbudget.errors import InputError
from tsbudget.percentiles import percentile_summary, quantiles_by_order
from tsbudget.planning.closed_form import closed_form_coefficient, closed_form_plan, parameter_arrays
from tsbudget.planning.draws import fast_deadweight, vectorised_deadweight
from tsbudget.planning.extrapolation import WARN_FACTOR, extrapolation_arrays
from tsbudget.planning.quantities import QUANTITIES, plan_quantities
from tsbudget.planning.request import MAX_BUDGETS, PlanRequest, budget_array
from tsbudget.planning.solve import budget_table, solve_allocations
from tsbudget.timeseries.effective_data import MUENNIGHOFF_R_D

if TYPE_CHECKING:
    import xarray as xr

#: Budgets per decade below which the interpolated deadweight compute (serving or free variables)
#: is flagged: at 5 per decade C_eq was within 2e-4 of the budget of the exact value; 1 per decade
#: read the median 7% low (a coarse grid's cubic through few optima).
DCL_BUDGETS_PER_DECADE = 5
NO_DEADWEIGHT = "not computed (deadweight=False)"

__all__ = ["DCL_BUDGETS_PER_DECADE", "MAX_BUDGETS", "frontier", "frontier_table", "interpolated_deadweight", "parse_budgets"]


def parse_budgets(text: str) -> np.ndarray:
    """``"1e18:1e25:29"`` -> 29 log-spaced budgets; ``"1e20,1e21"`` -> a list.

    LOW and HIGH must be finite numbers > 0 and COUNT an integer from 1 (which gives
    LOW, as ``numpy.geomspace`` does) to :data:`MAX_BUDGETS`; every listed budget must be
    finite and > 0, and a list holds at most :data:`MAX_BUDGETS` of them.
    Anything else is an :class:`InputError` that quotes the text, raised before numpy
    sees it.
    """
    raw = str(text)
    text = raw.strip()
    usage = "give LOW:HIGH:COUNT, log-spaced, or a comma list of FLOPs"

    def fail(why: str):
        raise InputError(f"budgets {raw!r}: {why} ({usage})")

    def number(part: str, what: str) -> float:
        try:
            value = float(part)
        except ValueError:
            fail(f"{what} {part.strip()!r} is not a number")
        if not math.isfinite(value) or value <= 0:
            fail(f"{what} {part.strip()!r} must be finite and > 0")
        return value

    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            fail(f"{len(parts)} ':'-separated fields, need 3")
        lo, hi = number(parts[0], "LOW"), number(parts[1], "HIGH")
        try:
            n = int(parts[2])
        except ValueError:
            fail(f"COUNT {parts[2].strip()!r} is not an integer")
        if n < 1:
            fail(f"COUNT {parts[2].strip()!r} must be >= 1")
        if n > MAX_BUDGETS:
            fail(f"COUNT {n} is more than the limit of {MAX_BUDGETS} budgets (a frontier that fine "
                 "would take minutes and say nothing more); give a smaller COUNT or split the range")
        return np.geomspace(lo, hi, n)
    items = [x for x in text.split(",") if x.strip()]
    if not items:
        fail("no budgets")
    if len(items) > MAX_BUDGETS:
        fail(f"{len(items)} budgets listed, more than the limit of {MAX_BUDGETS}; give fewer")
    return np.array([number(x, "budget") for x in items])


def frontier(
    budgets,
    *,
    law="epoch2024",
    cost_model=None,
    unit=None,
    unique=None,
    serving=None,
    fixed=None,
    free=(),
    n_bounds=None,
    d_bounds=None,
    hardware="h100-sxm",
    cost_settings=None,
    unit_settings=None,
    draws=None,
    level: float = 0.95,
    repetition_decay: float = MUENNIGHOFF_R_D,
    method: str = "auto",
    max_draws: int | None = None,
    mix="optimal",
    deadweight: bool = True,
) -> xr.Dataset:
    """The plan at every budget, as a Dataset over ``budget`` (and ``draw``).

    Point estimates are data variables over ``budget``: N, active/total parameters, D,
    positions, data per parameter, epochs, effective data, loss, training and serving
    FLOPs and GPU-hours, and every free variable. When the law carries bootstrap draws
    (a FitResult, or ``draws``) the per-draw optima ``<q>_draw`` over ``(draw, budget)``
    and their ``<q>_median``, ``<q>_lower``, ``<q>_upper`` (the ``level`` percentile
    interval) are added for N, D, data per parameter, loss and each free variable, and the
    wasted compute of each budget's point plan if a draw is the truth: ``dcl_draw`` (deadweight
    compute ``C − C_eq`` in FLOPs, Open-Athena's scaling-law analysis) with ``dcl_*``,
    ``dcl_percent_*`` and ``dcl_gpu_hours_*`` (median, lower, upper). The
    closed form uses every draw; the general optimizer re-plans only the first
    ``max_draws`` (default 100, since each is a full optimisation), so its intervals rest
    on those draws alone. Every budget reports how far its plan lies outside the law's fitted
    ranges (``extrapolation_*``, ``extrapolated``; see :mod:`tsbudget.planning.extrapolation`).
    ``attrs["draws_used"]`` and ``attrs["draws_available"]`` record
    how many draws the intervals use out of how many the law carries (both 0 without draws),
    and ``attrs["draws_method"]`` how the draws were planned (``attrs["method"]`` is the
    point plans' method). ``deadweight=False`` leaves out the ``dcl_*`` variables (one
    ``(draw, budget)`` array and its summaries fewer; ``attrs["dcl_note"]`` says so).
    """
    if not isinstance(deadweight, (bool, np.bool_)):
        raise InputError(f"deadweight must be True or False, got {deadweight!r}")
    budgets = budget_array(budgets, max_draws=max_draws)
    request = PlanRequest.build(
        float(budgets[0]), law=law, cost_model=cost_model, unit=unit, unique=unique, serving=serving, fixed=fixed,
        free=free, n_bounds=n_bounds, d_bounds=d_bounds, hardware=hardware, cost_settings=cost_settings,
        unit_settings=unit_settings, draws=draws, level=level, repetition_decay=repetition_decay, method=method,
        mix=mix,
    )
    p = request.problem
    params = parameter_arrays(p.law, request.draws) if request.draws is not None else None
    k = closed_form_coefficient(p) if method != "general" else None
    if k is not None:
        N, D, valid = closed_form_plan(p, k, flops=budgets)
        drawn = None
        if valid.all() and params is not None:
            # every draw's closed-form optimum must be valid too (a draw may want more data
            # than is unique, or leave the bounds); else the general optimizer plans them
            drawn = _closed_form_draws(request, k, params, budgets, N, D, deadweight)
            valid = np.array(drawn is not None)
        if valid.all():
            ds = _closed_form_dataset(request, budgets, N, D, drawn, params, deadweight)
            return _finish(ds, request, budgets, "closed form")
    if method == "closed_form":
        raise InputError("the closed form does not apply to this frontier; use method='auto' or 'general'")
    # point plans only: the draws are planned below (their per-plan intervals would be discarded)
    plans = budget_table(request, budgets)  # one batched solve (the general optimiser across budgets)
    ds = _plans_dataset(request, budgets, plans)
    if params is not None:
        n_draws = next(iter(params.values())).size
        take = min(n_draws, 100 if max_draws is None else int(max_draws))
        if take > 0:
            ds = _general_draws(ds, request, budgets, params, take)
        # the point plans may use the closed form while the draws do not
        ds.attrs.update(draws_used=take, draws_available=n_draws, draws_method="general")
        if take > 0 and deadweight:
            ds = _add_deadweight(ds, request, budgets, {k: np.asarray(v)[:take] for k, v in params.items()})
        elif not deadweight:
            ds.attrs["dcl_note"] = NO_DEADWEIGHT
        if take < n_draws:
            ds.attrs["draws_note"] = (
                f"intervals from the first {take} of {n_draws} bootstrap draws (each re-planned by the general "
                f"optimizer; raise max_draws for more)"
            )
    return _finish(ds, request, budgets, plans.method)


def _closed_form_draws(request, k, params, budgets, N, D, deadweight=True) -> dict | None:
    """Every draw's closed-form optimum over ``(draw, budget)`` (``N``, ``D``, ``data_per_param``,
    ``loss``, and ``dcl`` of the point plans ``N``, ``D`` where :mod:`~tsbudget.planning.frontier_draws`
    applies), or None when a draw's optimum is not valid (then the general optimiser plans them)."""
    from tsbudget.planning import frontier_draws

    p = request.problem
    if frontier_draws.applies(p) and request.method != "general":
        return frontier_draws.chinchilla_draws(p, k, params, budgets, N, D, deadweight=deadweight)
    col = {n: v[:, None] for n, v in params.items()}
    Nd, Dd, valid = closed_form_plan(p, k, col, flops=budgets[None, :])
    if not valid.all():
        return None
    fixed = {n: np.asarray(v, float) for n, v in p.fixed.items()}
    return {"N": Nd, "D": Dd, "data_per_param": Dd / Nd, "loss": p.loss(Nd, Dd, fixed, params=col)}


def _closed_form_dataset(request, budgets, N, D, drawn, params, deadweight=True) -> xr.Dataset:
    """The frontier from closed-form optima ``N``, ``D`` over budgets, with the draws' optima
    ``drawn`` (:func:`_closed_form_draws`) and their deadweight compute, in one constructor."""
    p = request.problem
    fixed = {n: np.asarray(v, float) for n, v in p.fixed.items()}
    data = {name: ("budget", np.asarray(v, float)) for name, v in plan_quantities(p, request.hardware, N, D,
                                                                                    fixed).items()}
    attrs = {}
    if drawn is not None:
        dcl = drawn.pop("dcl", None)
        falling = drawn.pop("falling", True)  # functions of N from the one-pass draws: all finite there
        data.update(_draw_variables(drawn, request.level, falling_in_n=falling, finite=isinstance(falling, dict)))
        if deadweight:
            added, attrs = _deadweight_variables(request, budgets, params, N, D, dcl=dcl)
            data.update(added)
        else:
            attrs = {"dcl_note": NO_DEADWEIGHT}
        n_draws = next(iter(params.values())).size
        attrs.update(draws_used=n_draws, draws_available=n_draws, draws_method="closed form")
    ds = _budget_dataset(request, budgets, data)
    ds.attrs.update(attrs)
    return ds


def _add_draws(ds, drawn: dict, level) -> xr.Dataset:
    """``ds`` with :func:`_draw_variables` of ``drawn``, in one merge."""
    added = _draw_variables(drawn, level)
    return ds.assign(added).assign_coords(draw=np.arange(next(iter(drawn.values())).shape[0]))


def _draw_variables(drawn: dict, level, falling_in_n=False, finite: bool = False) -> dict:
    """The draws' optima ``<q>_draw`` and their ``<q>_median/_lower/_upper``. With
    ``falling_in_n`` (every draw spends the budget, ``D = C/(k·N)``: the closed form), ``D`` and
    ``D/N`` fall as ``N`` rises at each budget, so their quantiles are read off ``N``'s order
    statistics (:func:`~tsbudget.percentiles.quantiles_by_order`): one selection for all three;
    ``falling_in_n`` may map ``D`` and ``data_per_param`` to functions of ``N`` giving them.
    ``finite``: every value is known finite (no NaN to look for)."""
    q = [0.5, (1 - level) / 2, (1 + level) / 2]
    arrays = {name: np.asarray(arr, float) for name, arr in drawn.items() if name != "falling"}

    def is_finite(arr):  # a finite sum means every value is finite (no elementwise pass)
        return finite or bool(np.isfinite(np.add.reduce(arr, axis=None)))

    summaries = {}
    if falling_in_n and all(is_finite(arrays[n]) for n in ("N", "D", "data_per_param")):
        by = {n: falling_in_n.get(n, arrays[n]) if isinstance(falling_in_n, dict) else arrays[n]
              for n in ("D", "data_per_param")}
        own, falling = quantiles_by_order(arrays["N"], q, decreasing=(by["D"], by["data_per_param"]))
        summaries = {"N": own, "D": falling[0], "data_per_param": falling[1]}
    added = {}
    for name, arr in arrays.items():
        added[f"{name}_draw"] = (("draw", "budget"), arr)
        if name not in summaries:  # one selection for all three
            summaries[name] = quantiles_by_order(arr, q)[0] if finite else percentile_summary(arr, level, axis=0)
        median, lower, upper = summaries[name]
        added.update({f"{name}_median": ("budget", median), f"{name}_lower": ("budget", lower),
                      f"{name}_upper": ("budget", upper)})
    return added


def _add_deadweight(ds, request, budgets, params) -> xr.Dataset:
    """``ds`` (point plans over ``budget``, with ``loss_draw`` where the draws were planned) with
    :func:`_deadweight_variables`, in one merge. With serving or free variables (no vectorised
    path) ``C_eq`` is read off each draw's own frontier (:func:`interpolated_deadweight`),
    ``attrs["dcl_method"]`` says so."""
    attrs, dcl = {}, None
    if not fast_deadweight(request.problem):
        if "loss_draw" not in ds:
            ds.attrs["dcl_note"] = "deadweight compute needs the draws' own frontiers here (max_draws > 0)"
            return ds
        dcl = interpolated_deadweight(ds, request, params)
        attrs["dcl_method"] = ("interpolated: C_eq read off each draw's own frontier (monotone cubic in log C "
                               "through its per-budget optima); NaN below the smallest budget")
        per_decade = (budgets.size - 1) / max(np.log10(budgets.max() / budgets.min()), 1e-300)
        if per_decade < DCL_BUDGETS_PER_DECADE:  # the interpolation's error grows as the grid coarsens
            attrs["dcl_method"] += (f"; WARNING: {per_decade:.2g} budgets per decade, fewer than the "
                                    f"{DCL_BUDGETS_PER_DECADE} this interpolation needs (a 4-budget grid over "
                                    "three decades read the median 7% low): give a denser grid")
    added, more = _deadweight_variables(request, budgets, params, ds["N"].values, ds["D"].values, dcl=dcl)
    ds = ds.assign(added).assign_coords(draw=np.arange(added["dcl_draw"][1].shape[0]))
    ds.attrs.update({**attrs, **more})
    return ds


def _deadweight_variables(request, budgets, params, N, D, dcl=None) -> tuple[dict, dict]:
    """``(variables, attrs)``: the deadweight compute of each budget's point plan ``N``, ``D``
    under every draw taken as the truth (``dcl`` when already computed, else
    :func:`~tsbudget.planning.draws.vectorised_deadweight`): ``dcl_draw`` over ``(draw,
    budget)`` in FLOPs, and its median and ``level`` percentile interval in FLOPs
    (``dcl_*``), percent of the budget (``dcl_percent_*``) and training GPU-hours
    (``dcl_gpu_hours_*``), and ``dcl_point_percent``, the waste under the point law itself (0
    unless the law's allocation rule is not its loss minimum)."""
    from tsbudget.uncertainty.wasted import deadweight_summary

    spent = budgets  # every point plan of a frontier spends its budget
    fast = fast_deadweight(request.problem)
    if dcl is None:
        dcl = vectorised_deadweight(request, params, N, D, spent)
    added = {"dcl_draw": (("draw", "budget"), dcl)}
    try:
        summary = deadweight_summary(dcl, budgets, request.level, request.hardware, partial=not fast)
    except InputError as exc:
        return added, {"dcl_note": str(exc)}
    for key, prefix in (("flops", "dcl"), ("percent", "dcl_percent"), ("gpu_hours", "dcl_gpu_hours")):
        for part, value in zip(("median", "lower", "upper"), summary[key]):
            added[f"{prefix}_{part}"] = ("budget", np.asarray(value, float))
    if fast:  # the point plans' waste under the point law itself (0 for compute-optimal plans)
        own = {k: np.atleast_1d(np.asarray(v, float)) for k, v in request.problem.params.items()}
        added["dcl_point_percent"] = ("budget", 100 * vectorised_deadweight(request, own, N, D, spent)[0] / budgets)
    return added, {"dcl_draws": summary["draws"], "dcl_failed": summary["failed"]}


def interpolated_deadweight(ds, request, params) -> np.ndarray:
    """DCL ``(draws, budgets)`` of the frontier's point plans where no vectorised path exists
    (serving, free variables): each draw's own optimal loss at every budget (``loss_draw``, from
    the general optimiser) traces its frontier ``L*_d(C)``; ``C_eq`` solves ``L*_d(C_eq) =`` the
    point plan's loss under draw ``d``, read off a monotone cubic (Fritsch & Carlson 1980, PCHIP)
    of ``log C`` against ``L*_d`` through those budgets. NaN where ``C_eq`` lies below the smallest
    budget or a draw's frontier is not decreasing; ``C_eq`` above the plan's budget (interpolation
    error) is clipped to it. Accuracy follows the budget grid's density."""
    from scipy.interpolate import PchipInterpolator

    p = request.problem
    budgets = ds["budget"].values
    opt = ds["loss_draw"].values
    take = opt.shape[0]
    cols = {k: np.asarray(v, float)[:take] for k, v in params.items()}
    free = [v.name for v in p.ints + p.reals]
    plan_loss = np.empty_like(opt)
    for j in range(budgets.size):
        variables = {**{k: np.asarray(v, float) for k, v in p.fixed.items()},
                     **{k: np.asarray(ds[k].values[j], float) for k in free}}
        plan_loss[:, j] = p.loss(np.asarray(ds["N"].values[j], float), np.asarray(ds["D"].values[j], float),
                                 variables, params=cols)
    logc = np.log(budgets)
    dcl = np.full(opt.shape, np.nan)
    for d in range(take):
        ok = np.isfinite(opt[d])
        x, y = opt[d][ok], logc[ok]
        if x.size < 2 or np.any(np.diff(x) >= 0):  # a frontier must fall with budget
            continue
        curve = PchipInterpolator(x[::-1], y[::-1], extrapolate=False)
        ceq = np.exp(curve(plan_loss[d]))
        dcl[d] = np.where(np.isfinite(ceq), np.maximum(budgets - ceq, 0.0), np.nan)
    return dcl


def _plans_dataset(request, budgets, plans) -> xr.Dataset:
    """The point plans (a :class:`~tsbudget.planning.solve.BudgetTable`) over ``budget``."""
    data = {n: ("budget", plans.columns[n]) for n in QUANTITIES}
    for v in request.problem.ints + request.problem.reals:
        data[v.name] = ("budget", plans.columns[v.name])
    # str, not object: xarray infers the type of an object array element by element
    data["binding"] = ("budget", np.array(["; ".join(b) for b in plans.binding], dtype=str))
    return _budget_dataset(request, budgets, data)


def _budget_dataset(request, budgets, data: dict) -> xr.Dataset:
    """The point plans' ``data`` (name -> (dims, values)) over ``budget`` with the extrapolation
    variables (:func:`_extrapolation`), built by one constructor (each later addition is a merge)."""
    import xarray as xr

    def values(name):
        return np.asarray(data[name][1], float)

    added, attrs = _extrapolation(request, values("train_flops"), values("N"), values("effective_data"), budgets)
    coords = {"budget": budgets}
    draws = [v[1].shape[0] for v in data.values() if v[0] == ("draw", "budget")]
    if draws:
        coords["draw"] = np.arange(draws[0])
    ds = xr.Dataset({**data, **added}, coords=coords)
    ds.attrs.update(attrs)
    return ds


def _general_draws(ds, request, budgets, params, take) -> xr.Dataset:
    """Per-draw optima by the general optimiser: the first ``take`` draws at every budget, in one
    batched solve (:func:`~tsbudget.planning.solve.solve_allocations`; nan where infeasible)."""
    p = request.problem
    got = solve_allocations(request, budgets, {k: np.asarray(v)[:take] for k, v in params.items()})
    names = ["N", "D", "data_per_param", "loss"] + [v.name for v in p.ints + p.reals]
    out = {n: got["D"] / got["N"] if n == "data_per_param" else got[n] for n in names}
    return _add_draws(ds, out, request.level)


def _finish(ds, request, budgets, method) -> xr.Dataset:
    p = request.problem
    units = {
        "budget": "FLOPs", "N": "parameters", "active_params": "parameters", "total_params": "parameters",
        "D": p.unit.name, "positions": "positions", "effective_data": p.unit.name, "train_flops": "FLOPs",
        "inference_flops": "FLOPs", "train_gpu_hours": "GPU-hours", "serve_gpu_hours": "GPU-hours",
        "data_per_param": f"{p.unit.name} per parameter", "epochs": "passes over unique data",
        "dcl": "FLOPs", "dcl_percent": "percent of the budget", "dcl_gpu_hours": "GPU-hours",
        "dcl_point_percent": "percent of the budget",
    }
    for name in list(ds.data_vars) + ["budget"]:
        base = name
        for suffix in ("_draw", "_median", "_lower", "_upper"):
            if name.endswith(suffix):
                base = name[: -len(suffix)]
        if base in units:
            ds.variables[name].attrs["units"] = units[base]
    ds.attrs.update(
        {
            "law": request.label,
            "cost_model": p.cost_model.name,
            "unit": p.unit.name,
            "method": method,
            "hardware": request.hardware.name,
            "level": request.level,
            "free": ",".join(v.name for v in p.ints + p.reals),
            "fixed": ",".join(f"{k}={v:g}" for k, v in p.fixed.items()),
            "unique": p.unique if p.unique is not None else "unlimited",
            "served_positions": p.serving.served_positions if p.serving is not None else 0.0,
        }
    )
    ds.attrs.setdefault("draws_used", 0)
    ds.attrs.setdefault("draws_available", 0)
    return ds


def _extrapolation(request, train_flops, N, effective_data, budgets) -> tuple[dict, dict]:
    """``(variables, attrs)``: per budget, the factor by which the plan's training FLOPs, ``N`` and
    the data the law reads lie outside the law's fitted ranges (``extrapolation_budget``/``_n``/``_d``,
    1 inside; :mod:`tsbudget.planning.extrapolation`), ``extrapolated`` where any passes
    :data:`~tsbudget.planning.extrapolation.WARN_FACTOR`, and ``attrs["extrapolation_warning"]``
    naming the budgets that do."""
    extra = extrapolation_arrays(request.ranges, train_flops, N, effective_data * request.problem.law_scale)
    if not extra:
        return {}, {"extrapolation_note": "the law carries no fitted ranges: how far the frontier extrapolates is unknown"}
    unit = {"units": "factor outside the fitted range (1 inside)"}
    added = {f"extrapolation_{key}": ("budget", extra[key], unit) for key in ("budget", "n", "d") if key in extra}
    added["extrapolated"] = ("budget", extra["beyond"])
    known = {k: getattr(request.ranges, k) for k in ("budget", "n", "d") if getattr(request.ranges, k) is not None}
    attrs = {"extrapolation_factor": WARN_FACTOR,
             "fit_ranges": ", ".join(f"{k} {lo:.3g}..{hi:.3g}" for k, (lo, hi) in known.items())}
    if extra["beyond"].any():
        out = np.asarray(budgets, float)[extra["beyond"]]
        attrs["extrapolation_warning"] = (
            f"warning: extrapolation: {out.size} of {np.size(budgets)} budgets ({out.min():.3g} to {out.max():.3g} "
            f"FLOPs) plan more than {WARN_FACTOR:g}x outside the runs the law was fitted on ({attrs['fit_ranges']}); "
            f"beyond any held-out check, a projection")
    return added, attrs


def frontier_table(ds: xr.Dataset):
    """The budget-indexed variables of a frontier as a polars DataFrame (one row per budget)."""
    import polars as pl

    cols = {"budget": ds.budget.values}
    for name, da in ds.data_vars.items():
        if da.dims == ("budget",):
            cols[name] = da.values.tolist() if da.dtype == object else da.values
    return pl.DataFrame(cols)
