"""Lifetime cost against model size for several serving loads: :func:`lifetime_table`.

Sardana & Frankle 2024 ("Beyond Chinchilla-Optimal: Accounting for Inference in Language
Model Scaling Laws", Fig. 1-2) draw, for a fixed quality, the lifetime cost of each model
size: a smaller model must train on more data to reach the loss, and pays for it in training,
but costs less per served position; the more is served, the smaller the cheapest model. Here
serving is the planner's serving cost (:meth:`~tsbudget.planning.problem.Problem.serve_cost`):
FLOPs only for a FLOPs-only load, the roofline (memory bandwidth, capacity, latency) for a
workload, whose models that miss the latency target are marked infeasible.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from tsbudget.errors import InputError
from tsbudget.planning.objective import Objective
from tsbudget.planning.quantities import serving_quantities
from tsbudget.planning.request import PlanRequest
from tsbudget.planning.serving import as_serving
from tsbudget.variables import as_positive_array

__all__ = ["LIFETIME_COLUMNS", "lifetime_minima", "lifetime_table"]

#: Columns of :func:`lifetime_table`, in order.
LIFETIME_COLUMNS = (
    "load", "served_positions", "N", "D", "feasible", "train_flops", "serve_cost_flops", "lifetime_cost_flops",
    "train_gpu_hours", "serve_gpu_hours", "lifetime_gpu_hours", "lifetime_cost_money", "decode_limit",
    "decode_latency_ms",
)


def lifetime_table(target_loss, loads, *, serving=None, n=None, points: int = 41, span=(30.0, 3.0), **keywords):
    """Lifetime cost of reaching ``target_loss`` with each model size, for each serving load.

    ``serving`` is the load's form (a :class:`~tsbudget.planning.serving.Serving` or mapping:
    a roofline workload, or a FLOPs-only ``units``/``positions`` load); each of ``loads``
    replaces its size: a number of requests for a workload, else served data in the plan's
    unit (``positions`` when it counts positions). A load of 0 is training alone. Without
    ``serving`` the loads are served data in the plan's unit, costed by FLOPs. ``n``: model
    sizes (default ``points`` sizes from ``N0/span[0]`` to ``N0·span[1]``, ``N0`` the model
    that reaches the target for the least training compute). The other keywords are those of
    :func:`~tsbudget.planning.plan.plan` (law, cost model, unit, unique data, fixed variables,
    hardware, ...); every cost-model variable is held fixed (the curve is over ``N``).

    For each size, ``D`` is the least data reaching the target (the planner's target-mode
    data, :meth:`~tsbudget.planning.objective.Objective.solve_target`); training FLOPs, the
    serving cost in the budget's unit (FLOPs-equivalent at the training throughput for a
    workload) and their sum follow, with GPU-hours (``lifetime_gpu_hours`` = training +
    serving GPU-hours, a serving hour weighed by the serving/training price ratio when the
    workload is served on other hardware; for a workload it is lifetime cost / (peak ·
    training utilisation · 3600)) and, with the Serving's ``price_per_gpu_hour``, money. Rows where the target is out
    of reach, or a workload's latency target is missed, have ``feasible`` False and NaN costs.
    Returns a polars DataFrame with :data:`LIFETIME_COLUMNS`.
    """
    import polars as pl

    if keywords.get("free"):
        raise InputError("lifetime_table draws the cost over N with every variable fixed; give fixed values, "
                         f"not free={keywords['free']!r}")
    for name in ("budget", "budget_bounds", "draws"):
        if keywords.get(name) is not None:
            raise InputError(f"lifetime_table takes a target loss, not {name}")
    loads = np.atleast_1d(np.asarray(loads, float))
    if loads.ndim != 1 or loads.size == 0 or not np.all(np.isfinite(loads) & (loads >= 0)):
        raise InputError(f"loads must be one or more finite numbers >= 0, got {loads!r}")
    base = PlanRequest.build(target_loss=target_loss, **keywords)
    template = as_serving(serving)
    sizes = _sizes(base, n, points, span)
    rows = []
    for load in loads:
        request = base if load == 0 else PlanRequest.build(
            target_loss=target_loss, serving=_with_load(template, float(load)), **keywords)
        rows.append(_curve(request, sizes, float(load)))
    table = {k: np.concatenate([r[k] for r in rows]) for k in LIFETIME_COLUMNS}
    return pl.DataFrame({k: (table[k].tolist() if table[k].dtype == object else table[k]) for k in LIFETIME_COLUMNS})


def lifetime_minima(table):
    """The cheapest feasible row of each load (the Sardana & Frankle optimum on the grid)."""
    import polars as pl

    feasible = table.filter(pl.col("feasible"))
    return feasible.sort("lifetime_gpu_hours").group_by("load", maintain_order=True).first().sort("load")


def _with_load(template, load: float):
    if template is None:
        from tsbudget.planning.serving import Serving

        return Serving(units=load)
    if template.roofline:
        return attrs.evolve(template, requests=load)
    if template.positions is not None:
        return attrs.evolve(template, positions=load)
    if template.units is not None:
        return attrs.evolve(template, units=load)
    return attrs.evolve(template, requests=load)


def _sizes(request, n, points, span) -> np.ndarray:
    if n is not None:
        return np.unique(as_positive_array(np.atleast_1d(n), "n").ravel())
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 2:
        raise InputError(f"points must be an integer >= 2, got {points!r}")
    lo, hi = (float(x) for x in span)
    if not (lo >= 1 and hi >= 1 and lo * hi > 1):
        raise InputError(f"span must be (below, above) factors >= 1, not both 1, got {span!r}")
    from tsbudget.planning.solve import solve

    n0 = solve(request.without_draws())[0].N
    nlo, nhi = request.problem.n_bounds
    return np.geomspace(max(n0 / lo, nlo), min(n0 * hi, nhi), int(points))


def _curve(request, sizes, load) -> dict[str, np.ndarray]:
    p, hw = request.problem, request.hardware
    m = sizes.size
    variables = {k: np.full(m, float(v)) for k, v in p.fixed.items()}
    D = Objective(p, "target", 0.0, math.inf, request.target).solve_target(sizes, variables)
    reach = np.isfinite(D)
    Dsafe = np.where(reach, D, 1.0)
    train = p.flops_per_unit(sizes, variables) * Dsafe
    serve = np.broadcast_to(p.serve_cost(sizes, variables), (m,)).astype(float)
    feasible = reach & np.isfinite(serve)
    rate = float(hw.peak_flops) * float(hw.train_utilization) * 3600.0  # FLOPs per training GPU-hour
    train_hours = train / rate
    roofline = p.serving is not None and p.serving.roofline
    if p.serving is None:
        serve_hours = np.zeros(m)
    elif roofline:
        serve_hours = p.serve_seconds(sizes, variables) / 3600.0  # on the serving device
    else:
        util = p.serving.utilization or hw.serve_utilization
        serve_hours = p.serve_flops(sizes, variables) / (float(hw.peak_flops) * util * 3600.0)
    hours = train_hours + p.price_ratio * serve_hours  # training GPU-hours' worth
    price = p.serving.price_per_gpu_hour if p.serving is not None else None
    nan = np.full(m, np.nan)
    q = serving_quantities(p, sizes, variables) if roofline else {}
    keep = lambda a: np.where(feasible, a, np.nan)  # noqa: E731
    return {
        "load": np.full(m, load),
        "served_positions": np.full(m, p.serving.served_positions if p.serving is not None else 0.0),
        "N": sizes,
        "D": np.where(reach, D, np.nan),
        "feasible": feasible,
        "train_flops": keep(train),
        "serve_cost_flops": keep(serve),
        "lifetime_cost_flops": keep(train + serve),
        "train_gpu_hours": keep(train_hours),
        "serve_gpu_hours": keep(serve_hours),
        "lifetime_gpu_hours": keep(hours),
        "lifetime_cost_money": keep(hours * price) if price is not None else nan,
        "decode_limit": np.broadcast_to(np.asarray(q["decode_limit"]), (m,)).astype(object) if q
        else np.full(m, "flops only" if p.serving is not None else "none", dtype=object),
        "decode_latency_ms": np.broadcast_to(np.asarray(q["decode_latency_ms"], float), (m,)) if q else nan,
    }
