"""The quantities that describe planned allocations, computed in one vectorised pass.

A :class:`~tsbudget.planning.result.Plan` (one allocation), a frontier (one per budget) and
an IsoFLOP slice (a grid) all report the same quantities of ``(N, D, variables)``; this is
where they are computed.
"""

from __future__ import annotations

import numpy as np

from tsbudget.hardware import gpu_hours

__all__ = ["QUANTITIES", "SERVING_QUANTITIES", "lifetime_cost", "plan_quantities", "serving_quantities"]

#: Names of the per-plan quantities, in the order results report them.
QUANTITIES = (
    "N", "active_params", "total_params", "D", "positions", "data_per_param", "epochs", "effective_data", "loss",
    "train_flops", "inference_flops", "train_gpu_hours", "serve_gpu_hours",
)


def plan_quantities(problem, hardware, N, D, variables) -> dict[str, np.ndarray]:
    """Every name of :data:`QUANTITIES` for allocations ``(N, D, variables)`` of ``problem``
    (arrays that broadcast; ``D`` in the plan's unit, ``variables`` every cost-model variable).

    ``N`` is what the law sees; active and total parameters come from the cost model;
    positions are ``D`` × positions per unit; epochs are ``D / unique`` (1 when unique data is
    unlimited); effective data is what the law's data term counts
    (:meth:`~tsbudget.planning.problem.Problem.effective_data`); training FLOPs are FLOPs per
    unit × ``D``, serving FLOPs those of the served positions (Sardana & Frankle 2024); and
    GPU-hours = FLOPs / (peak FLOP/s · utilisation · 3600) with the hardware's training
    utilisation, and for serving the Serving's own utilisation when it has one. A roofline
    serving workload's GPU-hours are its GPU-seconds (:meth:`Serving.gpu_seconds`: the roofline,
    not FLOPs) / 3600, ``inf`` where its latency target or capacity rule the model out.
    """
    p = problem
    N, D = np.asarray(N, float), np.asarray(D, float)
    ones = np.ones(np.broadcast(N, D).shape)
    train = p.flops_per_unit(N, variables) * D
    serve = p.serve_flops(N, variables)
    util = (p.serving.utilization if p.serving is not None else None) or hardware.serve_utilization
    return {
        "N": N,
        "active_params": np.asarray(p.cost_model.active_params(N, **variables), float) * ones,
        "total_params": np.asarray(p.cost_model.total_params(N, **variables), float) * ones,
        "D": D,
        "positions": D * p.ppu,
        "data_per_param": D / N,
        "epochs": D / p.unique if p.unique else ones,
        "effective_data": np.asarray(p.effective_data(N, D, variables), float) * ones,
        "loss": p.loss(N, D, variables),
        "train_flops": train,
        "inference_flops": serve,
        "train_gpu_hours": hardware.train_hours(train),
        "serve_gpu_hours": (p.serving.gpu_seconds(p.cost_model, N, hardware, variables) / 3600.0 * ones
                            if p.serving is not None and p.serving.roofline
                            else gpu_hours(serve, hardware.peak_flops, util)),
    }


def lifetime_cost(problem, N, D, variables) -> np.ndarray:
    """What a plan spends, in the budget's unit (FLOPs): training FLOPs + the serving cost
    (:meth:`~tsbudget.planning.problem.Problem.serve_cost`: inference FLOPs, or for a roofline
    workload its GPU time at the training throughput)."""
    p = problem
    return p.flops_per_unit(N, variables) * np.asarray(D, float) + p.serve_cost(N, variables)


#: Per-plan numbers of a roofline serving workload (one replica serving one request), in the
#: order results report them; ``*_limit`` name the bound that sets each.
SERVING_QUANTITIES = (
    "devices_per_replica", "batch", "prefill_seconds", "prefill_latency_seconds", "decode_latency_ms", "throughput",
    "gpu_seconds_per_request", "prefill_limit", "decode_limit", "devices_limit", "batch_limit", "latency_limit",
    "feasible", "shortfall",
)


def serving_quantities(problem, N, variables) -> dict[str, np.ndarray]:
    """Every name of :data:`SERVING_QUANTITIES` for models ``(N, variables)`` of a problem with a
    roofline workload (:func:`tsbudget.roofline.serving_roofline`); empty without one."""
    p = problem
    if p.serving is None or not p.serving.roofline:
        return {}
    rf = p.serving.roofline_of(p.cost_model, N, p.hardware, variables)
    names = {"devices_per_replica": "devices"}
    return {k: np.asarray(getattr(rf, names.get(k, k))) for k in SERVING_QUANTITIES}
