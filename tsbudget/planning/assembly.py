"""Assembling a :class:`~tsbudget.planning.result.Plan` from a solved allocation.

Assembly only evaluates: it reports the per-plan quantities
(:func:`~tsbudget.planning.quantities.plan_quantities`), what binds, and regime
diagnostics. It never solves (draws are planned before, in :mod:`tsbudget.planning.draws`).
"""

from __future__ import annotations

import math

import numpy as np

from tsbudget.planning.extrapolation import extrapolation
from tsbudget.planning.quantities import lifetime_cost, plan_quantities, serving_quantities
from tsbudget.planning.request import PlanRequest
from tsbudget.planning.result import Plan

__all__ = ["FLOPS_ONLY_NOTE", "assemble", "at_bound", "binding", "budget_bindings", "corner_note", "plan_cost", "serving_diagnostics"]

#: What a plan with FLOPs-only serving says about its serving cost.
FLOPS_ONLY_NOTE = ("serving costed by FLOPs only (memory bandwidth, memory capacity and latency ignored; give a "
                   "workload, context/generate per request, for the roofline)")


def assemble(s: PlanRequest, N: float, D: float, free_values: dict, method: str, diagnostics: dict) -> Plan:
    """The :class:`Plan` of allocation ``(N, D)`` (``D`` in the plan's unit) with the free
    variables at ``free_values``, found by ``method`` for request ``s``."""
    p = s.problem
    merged = {**p.fixed, **free_values}
    variables = {v.name: merged[v.name] for v in p.cost_model.variables}  # declaration order
    arr = {k: np.asarray(v, float) for k, v in variables.items()}
    q = {k: float(v) for k, v in plan_quantities(p, s.hardware, N, D, arr).items()}
    if p.law_scale != 1.0:  # the law reads another unit: keep what it sees as a diagnostic
        diagnostics = {**diagnostics, "effective_data_law_unit": q["effective_data"] * p.law_scale}
    if p.regimes is not None:
        shares = np.asarray(p.regime_mix(np.asarray(D, float)), float).reshape(-1)
        diagnostics = {**diagnostics, **{f"mix[{r}]": float(x) for r, x in zip(p.regimes.regimes, shares)}}
        diagnostics.update({f"epochs[{r}]": float(x) for r, x in zip(p.regimes.regimes, D * shares / p.regimes.unique)})
    cost = float(lifetime_cost(p, np.asarray(N, float), D, arr))
    served = serving_diagnostics(p, s.hardware, N, arr, q, cost)
    diagnostics = {**diagnostics, **served}
    bound = binding(s, N, D, free_values, cost)
    if served.get("latency_binds"):
        bound.append("latency target")
    corner = at_bound(p, free_values)
    message = "compute-optimal allocation found" if s.mode == "budget" else "cheapest allocation reaching the target"
    if bound:
        message += f" (binding: {', '.join(bound)})"
    if corner:
        message += "; " + corner_note(p, free_values, corner)
    extra = extrapolation(s.ranges, q["train_flops"], float(N), q["effective_data"] * p.law_scale)
    message += "; " + extra["warning"] if extra.get("warning") else ""
    if p.serving is not None and not p.serving.roofline:
        message += "; " + FLOPS_ONLY_NOTE
    integer = {v.name for v in p.cost_model.variables if v.integer}
    serving = p.serving
    return Plan(
        success=True,
        message=message,
        mode=s.mode,
        method=method,
        N=float(N),
        active_params=q["active_params"],
        total_params=q["total_params"],
        D=float(D),
        unit=p.unit.name,
        positions=q["positions"],
        unique=p.unique,
        epochs=q["epochs"],
        effective_data=q["effective_data"],
        variables={k: (int(v) if k in integer else float(v)) for k, v in variables.items()},
        loss=q["loss"],
        train_flops=q["train_flops"],
        inference_flops=q["inference_flops"],
        served_positions=float(serving.served_positions) if serving is not None else 0.0,
        train_gpu_hours=q["train_gpu_hours"],
        serve_gpu_hours=q["serve_gpu_hours"],
        hardware=s.hardware.name,
        law=s.label,
        cost_model=p.cost_model.name,
        budget=s.budget_given,
        target_loss=s.target,
        serving_variables=(
            {k: float(v) for k, v in serving.serving_variables(p.cost_model).items()} if serving is not None else {}
        ),
        level=s.level,
        binding=tuple(bound),
        diagnostics=diagnostics,
        at_bound=tuple(corner),
        served_units=float(serving.served_units()) if serving is not None else 0.0,
        extrapolation=extra,
    )


def plan_cost(plan) -> float:
    """What ``plan`` spends in the budget's unit: its lifetime cost (``lifetime_cost_flops``
    diagnostic, training FLOPs + a roofline workload's GPU time at the training throughput)
    where it has one, else its training + inference FLOPs."""
    return float(plan.diagnostics.get("lifetime_cost_flops", plan.total_flops))


def serving_diagnostics(p, hardware, N, variables, q, cost) -> dict:
    """The serving numbers a plan reports as diagnostics: for a roofline workload its lifetime
    cost (``lifetime_cost_flops``, in the budget's unit, and ``lifetime_gpu_hours``, training
    GPU-hours plus serving GPU-hours weighed by the serving/training price ratio), one
    replica's devices, batch, prefill time, decode latency per generated position, throughput
    and GPU-seconds per request with the bound that limits each, and ``latency_binds`` (a
    model 1e-6 larger would miss the latency target); with a price per GPU-hour,
    ``lifetime_cost_money`` = training GPU-hours × price + serving GPU-hours × serving price.
    Empty without serving."""
    serving = p.serving
    if serving is None:
        return {}
    out = {}
    # a serving GPU-hour weighs price_ratio training GPU-hours (1: the same device, one price)
    hours = q["train_gpu_hours"] + p.price_ratio * q["serve_gpu_hours"]
    if serving.roofline:
        rq = {k: np.asarray(v).reshape(-1)[0] for k, v in serving_quantities(p, np.asarray([N], float),
                                                                            variables).items()}
        out = {
            "lifetime_cost_flops": cost,
            "lifetime_gpu_hours": hours,
            "serving_hardware": serving.serving_hardware(hardware).name,
            "serving_precision": serving.precision or "bf16",
            "devices_per_replica": int(rq["devices_per_replica"]),
            "batch": int(rq["batch"]) if np.isfinite(rq["batch"]) else float(rq["batch"]),
            "prefill_ms": float(rq["prefill_seconds"]) * 1e3,  # per request: its share of its group's prefill
            "prefill_latency_ms": float(rq["prefill_latency_seconds"]) * 1e3,  # a request waits this long
            "decode_latency_ms": float(rq["decode_latency_ms"]),
            "throughput_requests_per_s": float(rq["throughput"]),
            "gpu_seconds_per_request": float(rq["gpu_seconds_per_request"]),
            "prefill_limit": str(rq["prefill_limit"]),
            "decode_limit": str(rq["decode_limit"]),
            "devices_limit": str(rq["devices_limit"]),
            "batch_limit": str(rq["batch_limit"]),
        }
        if serving.latency_ms is not None or serving.request_latency_ms is not None:
            if serving.latency_ms is not None:
                out["latency_target_ms"] = serving.latency_ms
            if serving.request_latency_ms is not None:
                out["request_latency_target_ms"] = serving.request_latency_ms
            larger = serving_quantities(p, np.asarray([N * (1 + 1e-6)], float), variables)
            out["latency_binds"] = not bool(np.asarray(larger["feasible"]).reshape(-1)[0])
    if serving.price_per_gpu_hour is not None:
        out["lifetime_cost_money"] = hours * serving.price_per_gpu_hour
    return out


def at_bound(p, free_values) -> list[str]:
    """The free variables whose value lies on a bound of their range (within 1e-6 relative)."""
    return [v.name for v in p.ints + p.reals if _side(v, free_values[v.name])]


def _side(var, x) -> str:
    if _near(x, var.lower):
        return "lower"
    if _near(x, var.upper):
        return "upper"
    return ""


def _near(a, b) -> bool:
    return abs(a - b) <= 1e-6 * max(abs(b), 1e-300)


def corner_note(p, free_values, names) -> str:
    """A sentence for the plan's message naming each free variable settled on a bound."""
    parts = []
    for v in p.ints + p.reals:
        if v.name in names:
            side = _side(v, free_values[v.name])
            parts.append(f"{v.name}={free_values[v.name]:g} (its {side} bound)")
    return (f"warning: free variable{'s' if len(parts) > 1 else ''} at a bound: {', '.join(parts)}; the best "
            f"value in the range is the bound itself, so this is a corner of the search, not an interior "
            f"optimum (the law may prefer values past the bound; check the range or fix the variable)")


def binding(s: PlanRequest, N, D, free_values, cost) -> list[str]:
    """The bounds and constraints that bind at ``(N, D, free_values)`` costing ``cost`` (FLOPs, the budget's unit)
    (within 1e-6 relative), and ``unique data`` when the plan repeats data."""
    p, out = s.problem, []
    near = _near
    if s.mode == "budget":
        if s.lb == s.ub:
            out.append("budget")
        else:
            if near(cost, s.ub):
                out.append("budget upper limit")
            if near(cost, s.lb):
                out.append("budget lower limit")
    else:
        out.append("target loss")
        if math.isfinite(s.ub) and near(cost, s.ub):
            out.append("budget upper limit")
    for name, (lo, hi), x in (("N", p.n_bounds, N), ("D", p.d_bounds, D)):
        if lo > 0 and near(x, lo):
            out.append(f"{name} lower bound")
        if math.isfinite(hi) and near(x, hi):
            out.append(f"{name} upper bound")
    for v in p.ints + p.reals:
        side = _side(v, free_values[v.name])
        if side:
            out.append(f"{v.name} {side} bound")
    if p.unique is not None and D > p.unique:
        out.append(f"unique data ({D / p.unique:.3g} epochs)")
    return out


def budget_bindings(p, N, D, free_values, n) -> tuple:
    """:func:`binding` of ``n`` budget-mode plans of problem ``p`` that each spend their whole
    budget (``lb == ub``, as :meth:`PlanRequest.at_budget` sets it): ``N``, ``D`` and each free
    variable in ``free_values`` arrays over the plans. The same tests (within 1e-6 relative),
    each bound tested for all plans at once; a tuple per plan."""
    def near(x, b):
        return np.abs(x - b) <= 1e-6 * max(abs(b), 1e-300)  # _near, over an array

    N, D = (np.broadcast_to(np.asarray(x, float), (n,)) for x in (N, D))
    flags = []  # (constraint, plans it binds), in binding()'s order
    for name, (lo, hi), x in (("N", p.n_bounds, N), ("D", p.d_bounds, D)):
        if lo > 0:
            flags.append((f"{name} lower bound", near(x, lo)))
        if math.isfinite(hi):
            flags.append((f"{name} upper bound", near(x, hi)))
    for v in p.ints + p.reals:
        x = np.broadcast_to(np.asarray(free_values[v.name], float), (n,))
        low = near(x, v.lower)
        flags.append((f"{v.name} lower bound", low))
        flags.append((f"{v.name} upper bound", ~low & near(x, v.upper)))
    repeats = np.zeros(n, bool) if p.unique is None else D > p.unique
    out = []
    for j in range(n):
        bound = ["budget"] + [name for name, at in flags if at[j]]
        if repeats[j]:
            bound.append(f"unique data ({float(D[j]) / p.unique:.3g} epochs)")
        out.append(tuple(bound))
    return tuple(out)
