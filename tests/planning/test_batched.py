"""The general optimiser batched across budgets and draws (issue 15): one batched solve gives,
at every budget (and draw), the plan the per-budget solve gives, to 1e-9 relative."""

import math

import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar

from tsbudget.errors import InfeasibleError
from tsbudget.laws.extended import Extended
from tsbudget.laws.presets import get_preset
from tsbudget.planning.closed_form import closed_form_budget
from tsbudget.planning.draws import solve_draw
from tsbudget.planning.objective import Objective
from tsbudget.planning.optimizer_batch import optimize_batch
from tsbudget.planning.plan import plan
from tsbudget.planning.request import PlanRequest
from tsbudget.planning.serving import Serving
from tsbudget.planning.quantities import QUANTITIES
from tsbudget.planning.solve import budget_table, solve, solve_allocations, solve_budgets
from tsbudget.timeseries.effective_data import MUENNIGHOFF_R_D

EPOCH = get_preset("epoch2024").values
UNIQUE = 1e11
# 1e20 .. 1e25: the optimum repeats data (the unique data binds) from about 2e21 FLOPs
BUDGETS = np.geomspace(1e20, 1e25, 16)


def _same(batched, single, rel=1e-9):
    assert batched.method == single.method and batched.binding == single.binding
    for name in ("N", "D", "loss", "train_flops"):
        assert getattr(batched, name) == pytest.approx(getattr(single, name), rel=rel), name
    for name, value in single.variables.items():
        assert batched.variables[name] == pytest.approx(value, rel=rel), name


@pytest.mark.parametrize("law", ["epoch2024", "muennighoff2023"])
def test_batched_budgets_give_the_per_budget_plans_where_unique_data_binds(law):
    request = PlanRequest.build(float(BUDGETS[0]), law=law, unique=UNIQUE)
    plans = solve_budgets(request, BUDGETS)
    assert sum("unique data" in "; ".join(p.binding) for p in plans) >= 8  # the case under test
    assert {p.method for p in plans} >= {"general"}
    for b, batched in zip(BUDGETS, plans):
        _same(batched, plan(float(b), law=law, unique=UNIQUE))


def _scalar_reference(budget):
    """A plain ``minimize_scalar`` over log N of E + A/N^α + B/D'^β, D = C/(6N), D' by
    Muennighoff et al. 2023 eq. 5 (the reference of benchmarks/bench_frontier_general.py), and
    N from the root of the loss's derivative in log N (brentq), which a value-based minimiser
    cannot resolve below ~1e-8 (the loss is flat at its minimum)."""
    E, A, B, al, be = (EPOCH[k] for k in ("E", "A", "B", "alpha", "beta"))
    U, R = UNIQUE, MUENNIGHOFF_R_D

    def parts(x):
        N = math.exp(x)
        D = budget / 6 / N
        if D <= U:
            return N, D, 1.0
        # D' = U + U R (1 - exp(-(D/U - 1)/R)); dD'/dD = exp(-(D/U - 1)/R)
        return N, U + U * R * -math.expm1(-(D / U - 1) / R), math.exp(-(D / U - 1) / R)

    def loss(x):
        N, De, _ = parts(x)
        return E + A * N**-al + B * De**-be

    def slope(x):  # dL/dlog N, with dD/dlog N = -D
        N, De, dDe = parts(x)
        return -al * A * N**-al + be * B * De ** (-be - 1) * dDe * (budget / 6 / N)

    r = minimize_scalar(loss, bounds=(math.log(1e6), math.log(1e15)), method="bounded", options={"xatol": 1e-12})
    x = brentq(slope, r.x - 0.05, r.x + 0.05, xtol=1e-15, rtol=1e-15)
    return r.fun, math.exp(x)


def test_batched_frontier_matches_a_minimize_scalar_reference():
    request = PlanRequest.build(1e20, unique=UNIQUE, method="general")
    got = solve_allocations(request, BUDGETS)
    for j, b in enumerate(BUDGETS):
        loss, N = _scalar_reference(b)
        assert got["loss"][j] == pytest.approx(loss, rel=1e-12)
        assert got["N"][j] == pytest.approx(N, rel=1e-9)
        assert got["D"][j] == pytest.approx(b / 6 / N, rel=1e-9)


def test_batched_general_optimiser_agrees_with_the_closed_form_oracle():
    request = PlanRequest.build(1e20, method="general")
    budgets = np.geomspace(1e18, 1e25, 15)
    got = solve_allocations(request, budgets)
    assert got["general"].all()
    N, D = closed_form_budget(EPOCH, budgets)
    np.testing.assert_allclose(got["N"], N, rtol=1e-6)
    np.testing.assert_allclose(got["D"], D, rtol=1e-6)


def test_a_batched_objective_values_each_candidate_as_its_own_problem_does():
    law = Extended(**EPOCH, variables=("ratio_inner",), references=(1.0,), gamma=(-0.3,), eta=(0.0,))
    p = PlanRequest.build(1e21, law=law, cost_model="hierarchical", free=("ratio_inner",), unique=1e10,
                          serving=Serving(positions=1e10)).problem
    budgets = np.array([1e19, 1e21, 1e23])
    batch = Objective(p, "budget", budgets, budgets, None)
    rng = np.random.default_rng(1)
    Z = np.column_stack([rng.uniform(0, batch.hi[0], 60), rng.uniform(batch.lo[1], batch.hi[1], 60)])
    rows = rng.integers(0, 3, 60)
    got = batch(Z, np.zeros((1, 0)), rows)
    for r, b in enumerate(budgets):
        own = Objective(p, "budget", b, b, None)(Z[rows == r], np.zeros((1, 0)))
        np.testing.assert_array_equal(got[rows == r], own)
    assert np.isfinite(got).sum() > 30


def test_a_batched_objective_needs_the_rows_and_budget_mode():
    p = PlanRequest.build(1e21, unique=1e10).problem
    with pytest.raises(ValueError, match="rows"):
        Objective(p, "budget", np.array([1e20, 1e21]), np.array([1e20, 1e21]), None)(np.zeros((1, 1)), None)
    with pytest.raises(ValueError, match="budget mode"):
        Objective(p, "target", np.array([0.0]), np.array([np.inf]), 2.5)
    with pytest.raises(ValueError, match="batched objective"):
        optimize_batch(Objective(p, "budget", 1e21, 1e21, None))


def test_batched_draws_give_each_draws_own_plan():
    rng = np.random.default_rng(0)
    params = {k: v * np.exp(0.03 * rng.standard_normal(4)) for k, v in EPOCH.items()}
    request = PlanRequest.build(1e20, unique=UNIQUE)
    budgets = BUDGETS[::3]
    got = solve_allocations(request, budgets, params)
    assert got["N"].shape == (4, budgets.size) and got["general"].any() and not got["general"].all()
    for i in range(4):
        for j, b in enumerate(budgets):
            single = solve_draw(request.at_budget(b), params, i)
            for name in ("N", "D", "loss"):
                assert got[name][i, j] == pytest.approx(getattr(single, name), rel=1e-9), (i, j, name)


def test_batched_plans_with_serving_and_a_free_variable_match_the_per_budget_plans():
    law = Extended(**EPOCH, variables=("ratio_inner",), references=(1.0,), gamma=(-0.3,), eta=(0.0,))
    kw = dict(law=law, cost_model="hierarchical", free=("ratio_inner",), serving=Serving(positions=1e10))
    budgets = np.geomspace(1e19, 1e23, 5)
    request = PlanRequest.build(1e21, **kw)
    for b, batched in zip(budgets, solve_budgets(request, budgets)):
        _same(batched, plan(float(b), **kw))


def test_batched_plans_with_a_roofline_workload_match_the_per_budget_plans():
    kw = dict(serving=Serving(requests=1e9, context=900, generate=100, latency_ms=30))
    budgets = np.geomspace(1e20, 1e24, 4)
    request = PlanRequest.build(1e21, **kw)
    plans = solve_budgets(request, budgets)
    assert all(p.method == "general" for p in plans)
    for b, batched in zip(budgets, plans):
        single = plan(float(b), **kw)
        _same(batched, single)
        assert batched.diagnostics["lifetime_cost_flops"] == pytest.approx(b, rel=1e-9)


def test_a_budget_with_no_feasible_allocation_raises_what_the_single_plan_raises():
    budgets = np.array([1e21, 1e8])  # 1e8 FLOPs cannot train a 1e8-parameter model on one token
    request = PlanRequest.build(1e21, unique=UNIQUE, method="general", n_bounds=(1e8, 1e13))
    with pytest.raises(InfeasibleError, match="below the smallest allowed model") as single:
        solve(request.at_budget(1e8))
    with pytest.raises(InfeasibleError) as batched:
        solve_budgets(request, budgets)
    assert str(batched.value) == str(single.value)
    got = solve_allocations(request, budgets)  # the arrays mark it nan instead
    assert np.isfinite(got["N"][0]) and np.isnan(got["N"][1]) and np.isnan(got["loss"][1])


@pytest.mark.parametrize("kw", [dict(unique=UNIQUE), dict(law="muennighoff2023", unique=UNIQUE, d_bounds=(1e9, 3e11)),
                                dict(serving=Serving(positions=1e11))])
def test_the_budget_table_reports_what_the_plans_report(kw):
    request = PlanRequest.build(float(BUDGETS[0]), **kw)
    table = budget_table(request, BUDGETS)
    plans = solve_budgets(request, BUDGETS)
    assert table.binding == tuple(p.binding for p in plans)
    assert table.methods == tuple(p.method for p in plans)
    assert table.method == (plans[0].method if len({p.method for p in plans}) == 1 else "mixed")
    for name in QUANTITIES:
        np.testing.assert_allclose(table.columns[name], [getattr(p, name) for p in plans], rtol=1e-12, err_msg=name)


def _moe(**kw):
    from tsbudget.laws.joint_moe import JointMoE

    return dict(law=JointMoE(), cost_model="moe", fixed={"top_k": 1}, hardware="h100-sxm", **kw)


@pytest.mark.parametrize("kw", [
    _moe(free=("experts",), serving=Serving(positions=1e11)),
    # efficiencies peaking inside the ranges (experts ~160, granularity ~5): both settle in the interior
    dict(law=Extended(**EPOCH, variables=("experts", "granularity"), references=(8.0, 1.0),
                      kinds=("quadratic", "quadratic"), gamma=(0.3, 0.2), gamma2=(-0.05, -0.06)),
         cost_model="moe", fixed={"top_k": 1}, free=("experts", "granularity"), unique=1e10),
])
def test_batched_plans_with_integer_variables_match_the_per_budget_plans(kw):
    budgets = np.geomspace(1e20, 1e23, 4)
    request = PlanRequest.build(1e21, **kw)
    for b, batched in zip(budgets, solve_budgets(request, budgets)):
        single = solve(request.at_budget(b))[0]
        _same(batched, single)
        assert batched.variables == single.variables
        assert batched.diagnostics["integer_settings_polished"] == single.diagnostics["integer_settings_polished"]
        assert "granularity" not in kw["free"] or batched.at_bound == ()


def test_batched_draws_with_an_integer_variable_give_each_draws_own_plan():
    from tsbudget.laws.joint_moe import JointMoE

    law = JointMoE()
    rng = np.random.default_rng(2)
    params = {k: np.asarray(v, float) * np.exp(0.02 * rng.standard_normal(3)) for k, v in law.values.items()}
    request = PlanRequest.build(1e21, **_moe(free=("experts",), unique=1e10))
    budgets = np.array([1e20, 1e22])
    got = solve_allocations(request, budgets, params)
    for i in range(3):
        for j, b in enumerate(budgets):
            single = solve_draw(request.at_budget(b), params, i)
            assert got["experts"][i, j] == single.variables["experts"]
            for name in ("N", "D", "loss"):
                assert got[name][i, j] == pytest.approx(getattr(single, name), rel=1e-9), (i, j, name)


def test_a_batch_too_large_for_one_grid_is_solved_in_parts_with_the_same_optima(monkeypatch):
    import tsbudget.planning.optimizer_batch as batch_module

    request = PlanRequest.build(1e21, **_moe(free=("experts",), unique=1e10))
    budgets = np.geomspace(1e20, 1e23, 5)
    whole = solve_allocations(request, budgets)
    monkeypatch.setattr(batch_module, "_VALUES_CAP", 10)  # one problem per part
    parts = solve_allocations(request, budgets)
    for name in ("N", "D", "experts", "settings"):
        np.testing.assert_array_equal(parts[name], whole[name])
