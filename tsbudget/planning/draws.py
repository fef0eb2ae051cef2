"""What a law's bootstrap draws say about a plan.

Planning under each draw taken as the truth gives the spread of the optimum (Hoffmann et al.
2022 App. D.2: intervals of the per-draw optimal allocation). :func:`plan_draws` is the
solving step: the closed form for every draw where it is valid (one vectorised pass), the
general optimiser for the draws where it is not (:func:`solve_draw`, the first
:data:`MAX_REPLANNED_DRAWS`). :func:`with_draw_intervals` then only reports: the ``level``
percentile interval of the plan's loss across draws and of the per-draw optima, and the
deadweight compute of the point plan under each draw taken as the truth
(:func:`plan_deadweight`, :func:`tsbudget.uncertainty.wasted.deadweight_compute`).
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from tsbudget.errors import InfeasibleError, InputError
from tsbudget.percentiles import percentile_interval
from tsbudget.planning.assembly import plan_cost
from tsbudget.planning.closed_form import closed_form_coefficient, closed_form_plan, parameter_arrays
from tsbudget.planning.request import PlanRequest
from tsbudget.planning.result import Plan
from tsbudget.planning.solve import closed_form_goal, solve

__all__ = ["MAX_REPLANNED_DRAWS", "DrawPlans", "draw_quantiles", "fast_deadweight", "plan_deadweight", "plan_draws",
           "solve_draw", "vectorised_deadweight", "with_draw_intervals"]

MAX_REPLANNED_DRAWS = 200  # bootstrap draws re-planned by the general optimizer in one plan


def draw_quantiles(x, level: float) -> tuple[float, float, float]:
    """``(median, lower, upper)``: the median and the ``level`` percentile interval of the
    finite values of ``x`` (draws the planner could not solve are left out; NaN if none)."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    lower, upper = percentile_interval(x, level)
    return float(np.median(x)), float(lower), float(upper)


def solve_draw(s: PlanRequest, params, i: int) -> Plan | None:
    """The point plan of ``s`` with the law's parameters at draw ``i`` of ``params`` (arrays
    over draws), or None where that draw makes the request infeasible."""
    try:
        return solve(s.with_params({k: float(v[i]) for k, v in params.items()}))[0]
    except InfeasibleError:
        return None


@attrs.frozen
class DrawPlans:
    """The draws of a plan: ``params`` (the draws used), the plan's ``losses`` under each,
    and, when the closed form planned it, each draw's optimum ``N``, ``D`` (nan where
    infeasible), with ``replanned`` the number the general optimiser planned."""

    params: dict
    losses: np.ndarray
    N: np.ndarray | None = None
    D: np.ndarray | None = None
    replanned: int = 0
    available: int = 0


def plan_draws(s: PlanRequest, point: Plan) -> DrawPlans:
    """Plan every draw of request ``s`` whose point plan is ``point``.

    The plan's loss is evaluated under every draw. When the point plan is the closed form,
    so is each draw's optimum where :func:`~tsbudget.planning.closed_form.closed_form_plan`
    finds it valid; the draws whose closed-form optimum repeats data or leaves the bounds are
    re-planned by the general optimiser, and then only the first :data:`MAX_REPLANNED_DRAWS`
    draws are kept (each re-plan is a full optimisation).
    """
    p = s.problem
    params = parameter_arrays(p.law, s.draws)
    variables = {k: np.asarray(v, float) for k, v in point.variables.items()}
    losses = p.loss(np.asarray(point.N, float), np.asarray(point.D, float), variables, params=params)
    if point.method != "closed form":
        return DrawPlans(params, losses)
    k = closed_form_coefficient(p)
    n_d, d_d, valid = closed_form_plan(p, k, params, **closed_form_goal(s))
    bad = ~valid
    available = n_d.size
    if not np.any(bad):
        return DrawPlans(params, losses, n_d, d_d, 0, available)
    used = n_d.size if not np.any(bad[MAX_REPLANNED_DRAWS:]) else min(n_d.size, MAX_REPLANNED_DRAWS)
    n_d, d_d = n_d[:used].copy(), d_d[:used].copy()
    params = {name: np.asarray(v)[:used] for name, v in params.items()}
    general = attrs.evolve(s, method="general")
    for i in np.flatnonzero(bad[:used]):
        solved = solve_draw(general, params, i)
        n_d[i], d_d[i] = (solved.N, solved.D) if solved is not None else (np.nan, np.nan)
    return DrawPlans(params, losses, n_d, d_d, int(bad[:used].sum()), available)


def with_draw_intervals(point: Plan, s: PlanRequest, drawn: DrawPlans) -> Plan:
    """``point`` with its loss interval across the draws and, when the draws' optima were
    planned, the intervals of optimal ``N``, ``D``, ``D/N`` and loss (``(median, lower,
    upper)`` at ``s.level``). Reports only; the solving was done by :func:`plan_draws`."""
    _, lo, hi = draw_quantiles(drawn.losses, s.level)
    point = attrs.evolve(point, deadweight=deadweight_report(s, point, drawn.params, drawn.losses))
    if drawn.N is None:
        return attrs.evolve(point, loss_interval=(lo, hi))
    diagnostics = dict(point.diagnostics)
    if drawn.replanned or drawn.N.size < drawn.available:
        diagnostics.update(draws_used=int(drawn.N.size), draws_replanned=drawn.replanned)
    variables = {k: np.asarray(v, float) for k, v in point.variables.items()}
    opt_loss = s.problem.loss(drawn.N, drawn.D, variables, params=drawn.params)
    intervals = {
        "N_opt": draw_quantiles(drawn.N, s.level),
        "D_opt": draw_quantiles(drawn.D, s.level),
        "data_per_param": draw_quantiles(drawn.D / drawn.N, s.level),
        "loss_opt": draw_quantiles(opt_loss, s.level),
    }
    return attrs.evolve(point, loss_interval=(lo, hi), intervals=intervals, diagnostics=diagnostics)


def fast_deadweight(problem) -> bool:
    """True when the deadweight compute of a plan of ``problem`` is the vectorised
    :func:`~tsbudget.uncertainty.wasted.deadweight_compute` over all draws at once: training
    cost only (no serving) and no free variable. Unique data and its regimes are allowed: the
    loss along a budget is then the problem's own (effective data under repetition)."""
    return problem.serving is None and not problem.ints and not problem.reals


def vectorised_deadweight(s: PlanRequest, params: dict, N, D, spent) -> np.ndarray:
    """The deadweight compute of allocations ``(N, D)`` (``D`` in the plan's unit; arrays, e.g.
    over budgets) spending ``spent`` FLOPs, under each draw of ``params`` (1-d arrays): shape
    ``(draws,) + shape of N``. Needs :func:`fast_deadweight`. The law in its own unit (closed
    form where it applies) when no unit is limited; else the problem's own loss, searched."""
    from tsbudget.uncertainty.wasted import deadweight_compute

    p = s.problem
    fixed = {k: np.asarray(v, float) for k, v in p.fixed.items()}
    if p.unique is None and "U" not in p.law.required_inputs and s.method != "general":
        scale = p.law_scale
        return np.asarray(deadweight_compute(
            p.law, params, N, np.asarray(D, float) * scale, spent,
            cost_model=lambda n: p.flops_per_unit(n, fixed) / scale,
            variables={k: float(v) for k, v in p.fixed.items()}), float)
    return np.asarray(deadweight_compute(_ProblemLaw(p), params, N, D, spent,
                                         cost_model=lambda n: p.flops_per_unit(n, fixed), method="general"), float)


class _ProblemLaw:
    """The loss of a planning problem at its fixed variables as a law of ``(N, D)`` (``D`` in the
    plan's unit, repetition discounted as the planner does), for the general path of
    :func:`~tsbudget.uncertainty.wasted.deadweight_compute`."""

    has_closed_form = False
    required_inputs = ("N", "D")

    def __init__(self, problem):
        self.problem = problem
        self.name = problem.law.name
        self.values = problem.law.values
        self.fixed = {k: np.asarray(v, float) for k, v in problem.fixed.items()}

    def evaluate(self, params, inputs):
        return self.problem.loss(inputs["N"], inputs["D"], self.fixed, params=params)


def plan_deadweight(s: PlanRequest, point: Plan, params: dict, losses=None) -> tuple[np.ndarray, str]:
    """``(DCL per draw, how)``: the deadweight compute (FLOPs, in the budget's unit) of the point
    plan under each draw of ``params`` taken as the truth, ``DCL = C − C_eq`` with ``C`` what the
    plan spends and ``C_eq`` what the draw's own optimal plan spends to reach the loss the point
    plan reaches under that draw (Open-Athena scaling-law-analysis, deadweight compute loss).

    Where :func:`fast_deadweight` holds, every draw at once: the closed form when the problem is
    the Chinchilla form under ``C = k·N·D`` with every unit fresh, else the vectorised search
    over the problem's own loss (effective data under repetition included). Otherwise (serving,
    free variables) each draw's ``C_eq`` is the target-mode plan under that draw for the point
    plan's loss there (lifetime cost with serving, free variables optimised), for the first
    :data:`MAX_REPLANNED_DRAWS` draws (NaN after them and where a draw cannot reach the loss).
    Both ignore ``n_bounds``/``d_bounds``: the truth's optimum is not bounded.
    """
    p = s.problem
    spent = plan_cost(point)
    if fast_deadweight(p):
        return vectorised_deadweight(s, params, point.N, point.D, spent), "vectorised"
    if losses is None:
        variables = {k: np.asarray(v, float) for k, v in point.variables.items()}
        losses = p.loss(np.asarray(point.N, float), np.asarray(point.D, float), variables, params=params)
    size = np.asarray(losses).size
    dcl = np.full(size, np.nan)
    for i in range(min(size, MAX_REPLANNED_DRAWS)):
        loss = float(np.asarray(losses).ravel()[i])
        if not math.isfinite(loss):
            continue
        target = attrs.evolve(s.with_params({k: float(np.asarray(v).ravel()[i]) for k, v in params.items()}),
                              mode="target", target=loss, lb=0.0, ub=math.inf, budget_given=None)
        try:
            dcl[i] = spent - min(plan_cost(solve(target)[0]), spent)
        except (InfeasibleError, InputError):
            continue
    return dcl, "re-planned draws"


def deadweight_report(s: PlanRequest, point: Plan, params: dict, losses=None) -> dict:
    """What a plan reports of its deadweight compute over the draws: ``(median, lower, upper)``
    in FLOPs, percent of what the plan spends and training GPU-hours on the plan's hardware
    (:func:`tsbudget.uncertainty.wasted.deadweight_summary`), with ``method`` and the draws
    used; ``{}`` when fewer than three draws give a value (said in ``note``). ``point_percent`` is
    the plan's waste under the point law itself (0 for a compute-optimal plan; not for a law whose
    own allocation rule is not its loss minimum, e.g. Kaplan et al.'s compute-efficient frontier),
    so that part of the spread is not mistaken for uncertainty."""
    from tsbudget.uncertainty.wasted import deadweight_summary

    dcl, how = plan_deadweight(s, point, params, losses)
    spent = plan_cost(point)
    try:
        out = deadweight_summary(dcl, spent, s.level, s.hardware)
    except InputError as exc:
        return {"note": str(exc)}
    out["method"] = how
    if fast_deadweight(s.problem):
        own = {k: np.atleast_1d(np.asarray(v, float)) for k, v in s.problem.params.items()}
        out["point_percent"] = float(100 * vectorised_deadweight(s, own, point.N, point.D, spent)[0] / spent)
    return out
