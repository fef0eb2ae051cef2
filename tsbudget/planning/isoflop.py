"""The IsoFLOP slice of one budget, as an xarray Dataset.

:func:`isoflop` is the predicted loss along one budget's IsoFLOP slice (Hoffmann et al.
2022 §3.2, Figure 3), over ``N`` and any free variable, so a user sees how flat the valley
around the planned optimum is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tsbudget.errors import InputError
from tsbudget.percentiles import percentile_interval
from tsbudget.planning.closed_form import parameter_arrays
from tsbudget.planning.optimizer import integer_candidates
from tsbudget.planning.quantities import plan_quantities
from tsbudget.planning.request import PlanRequest, budget_array
from tsbudget.planning.solve import solve
from tsbudget.timeseries.effective_data import MUENNIGHOFF_R_D
from tsbudget.variables import as_positive_array

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["isoflop"]


def isoflop(
    budget,
    *,
    n=None,
    points: int = 101,
    span: float = 30.0,
    over=None,
    values=None,
    law="epoch2024",
    cost_model=None,
    unit=None,
    unique=None,
    serving=None,
    fixed=None,
    free=(),
    d_bounds=None,
    hardware="h100-sxm",
    cost_settings=None,
    unit_settings=None,
    draws=None,
    level: float = 0.95,
    repetition_decay: float = MUENNIGHOFF_R_D,
    mix="optimal",
) -> xr.Dataset:
    """Predicted loss along the IsoFLOP slice of ``budget`` (training FLOPs + the serving cost, in
    FLOPs; a roofline workload's GPU time at the training throughput, Problem.serve_cost).

    Dims: ``N`` (``n``, or ``points`` log-spaced over ``[N_opt/span, N_opt·span]``
    around the planned optimum) and one dim per variable in ``over`` (default: the
    ``free`` variables; ``values`` maps a variable to the values to sweep, by default
    every integer up to 33 values or 17 points across its bounds). For each point ``D``
    spends the budget exactly; ``feasible`` is False where that ``D`` leaves the data
    bounds (serving alone exceeds the budget, or less than one model position is left),
    and there the other variables are NaN. With draws, ``loss_lower`` /
    ``loss_upper`` give the ``level`` interval of the loss at each point.
    """
    import xarray as xr

    budgets = budget_array(budget, "budget")
    if budgets.size != 1:
        raise InputError(f"budget must be one number (FLOPs), got {budgets.size} values; use tb.frontier for several")
    budget = float(budgets[0])
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 2:
        raise InputError(f"points must be an integer >= 2, got {points!r}")
    request = PlanRequest.build(
        budget, law=law, cost_model=cost_model, unit=unit, unique=unique, serving=serving, fixed=fixed, free=free,
        d_bounds=d_bounds, hardware=hardware, cost_settings=cost_settings, unit_settings=unit_settings, draws=draws,
        level=level, repetition_decay=repetition_decay, mix=mix,
    )
    p = request.problem
    over = tuple(v.name for v in p.ints + p.reals) if over is None else ((over,) if isinstance(over, str) else tuple(over))
    known = {v.name: v for v in p.cost_model.variables}
    for name in over:
        if name not in known:
            raise InputError(f"cost model {p.cost_model.name!r} has no variable {name!r}; its variables are {sorted(known)}")
    best, _ = solve(request)  # the point optimum (solve leaves the draws aside)
    if n is None:
        if not (span > 1):
            raise InputError(f"span must be > 1, got {span!r}")
        n = np.geomspace(best.N / span, best.N * span, int(points))
    n = as_positive_array(np.atleast_1d(n), "n").ravel()
    axes = {"N": n}
    values = dict(values or {})
    for name in over:
        var = known[name]
        if name in values:
            axes[name] = np.asarray(var.check(np.atleast_1d(values[name])), float)
        elif var.integer:
            axes[name] = integer_candidates(var)
        else:
            axes[name] = np.geomspace(var.lower, var.upper, 17) if var.log else np.linspace(var.lower, var.upper, 17)
    grids = np.meshgrid(*axes.values(), indexing="ij")
    shape = grids[0].shape
    N = grids[0]
    # swept variables vary; the others sit at the planned optimum (fixed ones at their value)
    variables = {k: np.full(shape, float(v)) for k, v in best.variables.items() if k not in over}
    variables.update({name: grids[i + 1] for i, name in enumerate(over)})
    per_unit = p.flops_per_unit(N, variables)
    D = (budget - p.serve_cost(N, variables)) / per_unit
    # the planner's data bounds (at least one model position by default) apply here too
    feasible = (D > 0) & (D >= p.d_bounds[0]) & (D <= p.d_bounds[1])
    Dsafe = np.where(feasible, D, 1.0)
    q = plan_quantities(p, request.hardware, N, Dsafe, variables)
    nan = lambda a: np.where(feasible, a, np.nan)  # noqa: E731
    dims = tuple(axes)
    data = {
        "loss": (dims, nan(q["loss"])),
        "D": (dims, nan(D)),
        "positions": (dims, nan(q["positions"])),
        "epochs": (dims, nan(q["epochs"])),
        "train_flops": (dims, nan(q["train_flops"])),
        "inference_flops": (dims, np.broadcast_to(q["inference_flops"], shape).astype(float)),
        "feasible": (dims, feasible),
    }
    if request.draws is not None:
        params = parameter_arrays(p.law, request.draws)
        lo = np.empty(shape)
        hi = np.empty(shape)
        flat = np.ravel_multi_index(np.indices(shape).reshape(len(shape), -1), shape)
        for chunk in np.array_split(flat, max(1, flat.size // 2000)):
            idx = np.unravel_index(chunk, shape)
            vv = {k: np.asarray(v)[idx][None, :] for k, v in variables.items()}
            L = p.loss(N[idx][None, :], Dsafe[idx][None, :], vv, params={k: v[:, None] for k, v in params.items()})
            lo[idx], hi[idx] = percentile_interval(L, request.level, axis=0)
        data["loss_lower"] = (dims, np.where(feasible, lo, np.nan))
        data["loss_upper"] = (dims, np.where(feasible, hi, np.nan))
    ds = xr.Dataset(data, coords=axes)
    ds["N"].attrs["units"] = "parameters"
    ds["D"].attrs["units"] = p.unit.name
    ds.attrs.update(
        {
            "budget": budget,
            "law": request.label,
            "cost_model": p.cost_model.name,
            "unit": p.unit.name,
            "N_opt": best.N,
            "D_opt": best.D,
            "loss_opt": best.loss,
            "variables_opt": ",".join(f"{k}={v:g}" for k, v in best.variables.items()),
        }
    )
    return ds
