"""Solving a :class:`~tsbudget.planning.request.PlanRequest` for its point plan.

Where the Chinchilla closed form applies and its optimum is valid
(:func:`~tsbudget.planning.closed_form.closed_form_plan`) it is the plan; otherwise the
general optimiser (:func:`~tsbudget.planning.optimizer.optimize`) searches the
:class:`~tsbudget.planning.objective.Objective`. In target mode with a spending floor
(Sardana & Frankle 2024 read with a budget lower limit), a target reached for less than the
floor becomes the budget-mode plan at the floor. Bootstrap draws are not planned here
(:mod:`tsbudget.planning.draws` does that, by calling :func:`solve` per draw).

Many budgets at once (a frontier) and each of many draws at every budget:
:func:`solve_budgets` and :func:`solve_allocations` give what :func:`solve` gives at each
budget (and draw), the closed form in one vectorised pass where it is valid and the general
optimiser for the rest in one batched run (:func:`~tsbudget.planning.optimizer_batch.optimize_batch`).
"""

from __future__ import annotations

import attrs
import numpy as np

from tsbudget.errors import InfeasibleError, InputError
from tsbudget.planning.assembly import assemble, budget_bindings, corner_note, plan_cost
from tsbudget.planning.closed_form import closed_form_coefficient, closed_form_plan
from tsbudget.planning.infeasible import raise_infeasible
from tsbudget.planning.objective import Objective
from tsbudget.planning.optimizer import optimize
from tsbudget.planning.optimizer_batch import optimize_batch
from tsbudget.planning.quantities import QUANTITIES, plan_quantities
from tsbudget.planning.request import PlanRequest
from tsbudget.planning.result import Plan

__all__ = ["BudgetTable", "budget_table", "closed_form_goal", "solve", "solve_allocations", "solve_budgets"]


def solve(s: PlanRequest) -> tuple[Plan, PlanRequest]:
    """The point plan of ``s`` (its draws ignored) and the request it is the optimum of:
    ``s`` itself, or the budget-mode request at the budget lower limit when the cheapest
    allocation reaching the target costs less than that limit."""
    planned = _solve_once(s)
    if s.mode == "target" and s.lb > 0 and plan_cost(planned) < s.lb * (1 - 1e-9):
        return _spend_lower_limit(s, planned)
    return planned, s


def closed_form_goal(s: PlanRequest) -> dict:
    """Keywords of :func:`~tsbudget.planning.closed_form.closed_form_plan` for the goal of
    ``s``: the budget ``ub`` in budget mode; the target loss, capped at ``ub``, in target mode."""
    if s.mode == "budget":
        return {"flops": s.ub}
    return {"loss": s.target, "cap": s.ub}


def _spend_lower_limit(s: PlanRequest, cheapest: Plan) -> tuple[Plan, PlanRequest]:
    """Target mode when the cheapest allocation reaching the target costs less than the
    budget lower limit ``lb``: spending must reach ``lb``, and every allocation that costs
    ``lb`` and reaches the target qualifies; the one with the lowest loss is the budget-mode
    plan at ``lb`` (its loss is below the target, since the cheaper allocation already
    reached it). Reported in target mode with ``"budget lower limit"`` binding."""
    at_lb_request = attrs.evolve(s, mode="budget", lb=s.lb, ub=s.lb, target=None)
    at_lb = _solve_once(at_lb_request)
    bound = ("budget lower limit",) + tuple(b for b in at_lb.binding if b != "budget")
    message = (
        f"the cheapest allocation reaching loss {s.target:.6g} costs {plan_cost(cheapest):.4g} FLOPs, below the "
        f"budget lower limit {s.lb:.4g}; spending the lower limit, the best loss is {at_lb.loss:.6g} "
        f"(binding: {', '.join(bound)})"
    )
    if at_lb.at_bound:
        message += "; " + corner_note(s.problem, at_lb.variables, at_lb.at_bound)
    diagnostics = {
        **at_lb.diagnostics,
        "cheapest_reaching_target_flops": plan_cost(cheapest),
        "cheapest_reaching_target_N": cheapest.N,
    }
    reported = attrs.evolve(at_lb, message=message, mode="target", target_loss=s.target, budget=s.budget_given,
                            binding=bound, diagnostics=diagnostics)
    return reported, at_lb_request


def _solve_once(s: PlanRequest) -> Plan:
    p = s.problem
    _check_target(s)
    if s.method != "general":
        k = closed_form_coefficient(p)
        if k is not None:
            N, D, valid = closed_form_plan(p, k, **closed_form_goal(s))
            if bool(valid):
                return assemble(s, float(N), float(D), {}, "closed form", {"flops_per_param_unit": k})
        if s.method == "closed_form":
            raise InputError(
                "the closed form does not apply here (it needs a Chinchilla-form law, training FLOPs "
                "exactly k·N·D, every variable fixed, no serving, no repetition and an optimum inside the bounds)"
            )
    obj = Objective(p, s.mode, s.lb, s.ub, s.target)
    found = optimize(obj)
    if found is None:
        raise_infeasible(s)
    z, kint, f, combos = found
    N, variables = obj.decode(z[None, :], kint[None, :])
    D = float(obj.data(z[None, :], kint[None, :], N, variables)[0])
    free_values = {v.name: float(kint[j]) for j, v in enumerate(p.ints)}
    free_values.update({v.name: float(variables[v.name][0]) for v in p.reals})
    diag = {"evaluations": p.evaluations, "integer_settings_polished": combos}
    planned = assemble(s, float(N[0]), D, free_values, "general", diag)
    cost = plan_cost(planned)
    if s.mode == "target" and cost > s.ub * (1 + 1e-9):
        raise InfeasibleError(
            f"the cheapest allocation reaching loss {s.target:.6g} costs {cost:.4g} FLOPs, "
            f"above the budget upper limit {s.ub:.4g} by {cost - s.ub:.4g} "
            f"(×{cost / s.ub:.3g})"
        )
    return planned


def _check_target(s: PlanRequest):
    if s.mode != "target":
        return
    E = s.problem.params.get("E")
    if E is not None and s.target <= E:
        raise InfeasibleError(
            f"target loss {s.target:.6g} is at or below the law's irreducible loss E={float(E):.6g} "
            f"(by {float(E) - s.target:.4g}); no allocation reaches it"
        )


def solve_budgets(s: PlanRequest, budgets) -> list[Plan]:
    """``[solve(s.at_budget(b))[0] for b in budgets]``, batched: the closed form over every
    budget where it is valid, the general optimiser over the others in one batched run.
    Raises as :func:`solve` does at the first budget with no feasible allocation."""
    budgets = np.asarray(budgets, float).reshape(-1)
    got = solve_allocations(s, budgets)
    p = s.problem
    plans = []
    for j, b in enumerate(budgets):
        at = s.at_budget(b)
        N, D = float(got["N"][j]), float(got["D"][j])
        if not got["general"][j]:
            plans.append(assemble(at, N, D, {}, "closed form", {"flops_per_param_unit": got["k"]}))
            continue
        if not np.isfinite(N):
            raise_infeasible(at)
        free_values = {v.name: float(got[v.name][j]) for v in p.ints + p.reals}
        diag = {"evaluations": p.evaluations, "integer_settings_polished": int(got["settings"][j])}
        plans.append(assemble(at, N, D, free_values, "general", diag))
    return plans


@attrs.frozen
class BudgetTable:
    """The plans of many budgets as columns: ``columns`` maps every name of
    :data:`~tsbudget.planning.quantities.QUANTITIES` and each free variable to an array over the
    budgets; ``binding`` holds each plan's binding constraints and ``methods`` how each was found."""

    columns: dict
    binding: tuple
    methods: tuple

    @property
    def method(self) -> str:
        """The plans' method, ``"mixed"`` when they differ."""
        return self.methods[0] if len(set(self.methods)) == 1 else "mixed"

    @classmethod
    def of_plans(cls, plans, problem) -> "BudgetTable":
        columns = {n: np.array([getattr(pl, n) for pl in plans], float) for n in QUANTITIES}
        for v in problem.ints + problem.reals:
            columns[v.name] = np.array([pl.variables[v.name] for pl in plans], float)
        return cls(columns, tuple(pl.binding for pl in plans), tuple(pl.method for pl in plans))


def budget_table(s: PlanRequest, budgets) -> BudgetTable:
    """What :func:`solve_budgets` reports, as columns, without building a Plan per budget: the
    quantities of every plan in one vectorised pass
    (:func:`~tsbudget.planning.quantities.plan_quantities`, as each Plan computes them) and the
    binding constraints of each (:func:`~tsbudget.planning.assembly.binding`). With a roofline
    workload (whose binding latency target only the Plan's serving diagnostics find), from the
    Plans themselves."""
    p = s.problem
    budgets = np.asarray(budgets, float).reshape(-1)
    if p.serving is not None and p.serving.roofline:
        return BudgetTable.of_plans(solve_budgets(s, budgets), p)
    got = solve_allocations(s, budgets)
    missing = np.flatnonzero(~np.isfinite(got["N"]))
    if missing.size:
        raise_infeasible(s.at_budget(budgets[missing[0]]))
    N, D = got["N"], got["D"]
    free = {v.name: got[v.name] for v in p.ints + p.reals}
    merged = {**p.fixed, **free}
    variables = {v.name: np.asarray(merged[v.name], float) for v in p.cost_model.variables}
    columns = {k: np.asarray(v, float) * np.ones(budgets.shape) for k, v in
               plan_quantities(p, s.hardware, N, D, variables).items()}
    columns.update(free)
    # binding() of each s.at_budget(b): budget mode with lb == ub == b
    bound = budget_bindings(p, N, D, free, budgets.size)
    methods = tuple("general" if g else "closed form" for g in got["general"])
    return BudgetTable(columns, bound, methods)


def solve_allocations(s: PlanRequest, budgets, params=None) -> dict:
    """The optimum of ``s`` at every budget (budget mode, the whole budget spent), under the
    law's point values or, with ``params`` (parameter arrays over draws), under each draw:
    arrays over ``(budget,)`` or ``(draw, budget)`` of ``N``, ``D`` (nan where infeasible),
    each free variable and ``loss`` (under the row's own parameters), with ``general`` true
    where the general optimiser planned and ``k`` the closed form's cost coefficient. Each
    allocation is the one :func:`solve` finds for ``s.at_budget(b)`` (with the draw's
    parameters), which it matches to the optimiser's precision."""
    p = s.problem
    budgets = np.asarray(budgets, float).reshape(-1)
    if params is not None:
        params = {name: np.asarray(v, float).reshape(-1) for name, v in params.items()}
        shape = (next(iter(params.values())).size, budgets.size)
        col = {name: v[:, None] for name, v in params.items()}
    else:
        shape, col = budgets.shape, None
    flops = np.broadcast_to(budgets, shape)
    names = [v.name for v in p.ints + p.reals]
    out = {n: np.full(shape, np.nan) for n in ["N", "D", "loss", *names]}
    general = np.ones(shape, bool)
    k = closed_form_coefficient(p) if s.method != "general" else None
    if k is not None:
        N, D, valid = closed_form_plan(p, k, col, flops=flops)
        valid = np.broadcast_to(valid, shape)
        out["N"][valid], out["D"][valid] = np.broadcast_to(N, shape)[valid], np.broadcast_to(D, shape)[valid]
        general = ~valid
        if general.any() and s.method == "closed_form":
            closed_form_plan_refused()
    out["general"], out["k"] = general, k
    out["settings"] = np.zeros(shape, int)  # integer settings polished per general plan
    rows = np.flatnonzero(general.reshape(-1))
    if rows.size:
        row_params = None if params is None else {n: v[rows // shape[-1]] for n, v in params.items()}
        obj = Objective(p, "budget", flops.reshape(-1)[rows], flops.reshape(-1)[rows], None, row_params)
        Z, K, F, settings = optimize_batch(obj)
        ok = np.isfinite(F)
        idx = np.arange(rows.size)[ok]
        N, variables = obj.decode(Z[ok], K[ok], idx)
        D = obj.data(Z[ok], K[ok], N, variables, idx)
        out["settings"].reshape(-1)[rows] = settings
        for name, value in (("N", N), ("D", D), *((v.name, variables[v.name]) for v in p.ints + p.reals)):
            out[name].reshape(-1)[rows[ok]] = value
    fixed = {n: np.asarray(v, float) for n, v in p.fixed.items()}
    variables = {**fixed, **{n: out[n] for n in names}}
    solved = np.isfinite(out["D"])
    safe = {**variables, **{v.name: np.where(solved, out[v.name], v.lower) for v in p.ints + p.reals}}
    loss = p.loss(np.where(solved, out["N"], 1.0), np.where(solved, out["D"], 1.0), safe, params=col)
    out["loss"] = np.where(solved, loss, np.nan)
    return out


def closed_form_plan_refused():
    raise InputError(
        "the closed form does not apply here (it needs a Chinchilla-form law, training FLOPs "
        "exactly k·N·D, every variable fixed, no serving, no repetition and an optimum inside the bounds)"
    )
