"""Compute-optimal planning: the allocation that minimises predicted loss for a budget,
or the cheapest allocation (training + serving) that reaches a target loss.

Budget mode (Hoffmann et al. 2022 §3): minimise ``L(N, D, variables)`` subject to
``lb <= training FLOPs + serving FLOPs <= ub``. Target mode (Sardana & Frankle 2024,
"Beyond Chinchilla-Optimal", eq. 2-3): minimise lifetime FLOPs = training + inference
FLOPs over the served positions, subject to ``L = target``.

:func:`plan` builds a :class:`~tsbudget.planning.request.PlanRequest` (inputs resolved and
checked), solves it (:func:`~tsbudget.planning.solve.solve`: the Chinchilla closed form of
:mod:`tsbudget.planning.closed_form` where it applies, else the general optimiser of
:mod:`tsbudget.planning.optimizer`), plans the law's bootstrap draws
(:mod:`tsbudget.planning.draws`) and reports them on the :class:`Plan`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tsbudget.planning.draws import plan_draws, with_draw_intervals
from tsbudget.planning.request import PlanRequest
from tsbudget.planning.result import Plan
from tsbudget.planning.solve import solve
from tsbudget.timeseries.effective_data import MUENNIGHOFF_R_D

__all__ = ["plan"]


def plan(
    budget=None,
    *,
    law="epoch2024",
    cost_model=None,
    unit=None,
    unique=None,
    serving=None,
    fixed: Mapping[str, float] | None = None,
    free: Sequence[str] | str = (),
    target_loss: float | None = None,
    budget_bounds=None,
    n_bounds=None,
    d_bounds=None,
    hardware="h100-sxm",
    cost_settings: Mapping | None = None,
    unit_settings: Mapping | None = None,
    draws=None,
    level: float = 0.95,
    repetition_decay: float = MUENNIGHOFF_R_D,
    method: str = "auto",
    mix="optimal",
) -> Plan:
    """Plan a compute-optimal allocation.

    ``law``: a preset name (``epoch2024``, ...), a registered law name, a Law, or a
    FitResult whose bootstrap ``draws`` give intervals (``draws`` overrides them).
    ``cost_model``/``unit``: names or instances (``cost_settings``/``unit_settings`` are
    passed to the plugin); ``None`` (the default) takes a FitResult's own cost model and
    unit with their settings, else ``dense`` and ``tokens``.
    ``unique``: unique data in the unit (a number, a DataCount in the plan's unit, or a
    :class:`~tsbudget.timeseries.regimes.RegimeData` whose regimes repeat with their own decay, counted
    in the plan's unit or in ``"positions"``); repeated epochs are valued by effective data
    (Muennighoff et al. 2023 eq. 5, decay ``repetition_decay``) unless the law takes ``U``
    itself (``data_constrained``, ``repetition_penalty``: their own fitted repetition model;
    RegimeData is refused for them, since one ``U`` cannot carry per-regime decay). With
    regimes, ``mix`` is the sampling mix: ``"optimal"`` (water filling,
    :meth:`RegimeData.optimal_mix`), ``"natural"`` (the corpus's own shares) or an array of
    shares; the closed form is used only while no regime is repeated under that mix.
    ``Plan.effective_data`` is in the plan's unit. ``serving``: a :class:`~tsbudget.planning.serving.Serving`
    or a mapping of its fields: a FLOPs-only load (served units or positions, costed by their
    inference FLOPs; memory and latency ignored, as the plan's message says) or a roofline
    workload (requests × context/generate per request, latency targets, precision, batch;
    costed by :func:`tsbudget.roofline.serving_roofline` on ``hardware``). A workload's GPU time
    counts in the budget as the FLOPs the hardware trains in that time (peak × training
    utilisation), so a budget (or target-mode cost) is then training + serving GPU-hours in
    FLOPs units: ``Plan.diagnostics["lifetime_cost_flops"]`` and ``["lifetime_gpu_hours"]``, with
    the replica's devices, batch, decode latency and the limit of each; a model whose replica
    misses the latency target is not allowed, and when none is the error names the binding
    limit (bandwidth, compute) and the factor. ``fixed`` pins cost-model
    variables; ``free`` names the ones to optimise (``"all"`` for every one); the rest
    stay at their defaults. ``budget`` (training + serving FLOPs) or ``budget_bounds=(lb,
    ub)``; with ``target_loss`` the plan minimises lifetime FLOPs, a ``budget`` or ``ub``
    caps them (error when the target costs more) and ``lb`` is a floor on spending: when
    the cheapest allocation reaching the target costs less than ``lb``, the plan is the
    budget-mode plan at ``lb`` (the lowest loss for that spend, below the target), with
    ``"budget lower limit"`` binding. ``n_bounds`` limit the law's ``N``; ``d_bounds``
    limit ``D`` in the unit, never below one model position (the default lower limit).
    ``method``: ``"auto"`` (closed form where it applies), ``"closed_form"`` (error if
    it does not) or ``"general"``.
    """
    request = PlanRequest.build(
        budget, law=law, cost_model=cost_model, unit=unit, unique=unique, serving=serving, fixed=fixed, free=free,
        target_loss=target_loss, budget_bounds=budget_bounds, n_bounds=n_bounds, d_bounds=d_bounds,
        hardware=hardware, cost_settings=cost_settings, unit_settings=unit_settings, draws=draws, level=level,
        repetition_decay=repetition_decay, method=method, mix=mix,
    )
    point, solved = solve(request)
    if solved.draws is None:
        return point
    drawn = plan_draws(solved, point)  # solves the draws; reporting them below only evaluates
    return with_draw_intervals(point, solved, drawn)
