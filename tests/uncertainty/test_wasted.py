"""Deadweight compute (DCL = C − C_eq): closed form, general path and an independent scipy check."""

import math

import numpy as np
import pytest

from costmodels.dense import Dense
from tsbudget.errors import InputError
from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.laws.extended import Extended
from tsbudget.uncertainty.wasted import (
    deadweight_compute,
    deadweight_summary,
    equivalent_compute,
    flops_per_unit,
    linear_coefficient,
    optimal_loss,
)

LAW = Chinchilla()
BUDGETS = np.array([1e19, 1e21, 3.8e25])


def _brute_equivalent(law, loss, per_unit):
    """C_eq by scipy: L*(C) = min over log N of L(N, C/f(N)) (bounded Brent), root in log C (brentq)."""
    from scipy.optimize import brentq, minimize_scalar

    def best(logc):
        f = lambda u: float(law.loss(N=math.exp(u), D=math.exp(logc) / float(per_unit(math.exp(u)))))  # noqa: E731
        return minimize_scalar(f, bounds=(0.0, logc), method="bounded", options={"xatol": 1e-10}).fun

    return math.exp(brentq(lambda lc: best(lc) - loss, 1.0, 140.0, xtol=1e-13))


def test_zero_at_the_truths_optimum():
    n, d = LAW.optimal_allocation(BUDGETS)
    for method in ("closed", "general"):
        dcl = deadweight_compute(LAW, None, n, d, BUDGETS, method=method)
        assert np.all(np.abs(dcl) <= 1e-8 * BUDGETS), method


def test_closed_form_matches_general_and_scipy():
    n, d = LAW.optimal_allocation(BUDGETS)
    n2, d2 = n * 3.0, d / 3.0  # three times too big a model, same budget
    closed = deadweight_compute(LAW, None, n2, d2, BUDGETS, method="closed")
    general = deadweight_compute(LAW, None, n2, d2, BUDGETS, method="general")
    np.testing.assert_allclose(general, closed, rtol=1e-8)
    c_eq = _brute_equivalent(LAW, float(LAW.loss(N=n2[1], D=d2[1])), lambda x: 6.0 * x)
    assert closed[1] == pytest.approx(BUDGETS[1] - c_eq, rel=1e-7)
    # the fraction depends on the misallocation factor and the exponents only (module docstring)
    frac = closed / BUDGETS
    np.testing.assert_allclose(frac, frac[0], rtol=1e-9)
    assert 0.0 < frac[0] < 1.0


def test_optimal_loss_is_the_law_at_the_optimum():
    n, d = LAW.optimal_allocation(BUDGETS)
    np.testing.assert_allclose(optimal_loss(LAW, None, BUDGETS), LAW.loss(N=n, D=d), rtol=1e-12)
    np.testing.assert_allclose(optimal_loss(LAW, None, BUDGETS, method="general"), LAW.loss(N=n, D=d), rtol=1e-10)


def test_equivalent_compute_inverts_the_optimal_loss():
    n, d = LAW.optimal_allocation(1e22)
    c_eq = equivalent_compute(LAW, None, n / 10, d * 10)
    assert float(optimal_loss(LAW, None, c_eq)) == pytest.approx(float(LAW.loss(N=n / 10, D=d * 10)), rel=1e-12)
    assert c_eq < 1e22


def test_draws_lead_budgets_trail():
    rng = np.random.default_rng(1)
    draws = {k: v * (1 + 0.03 * rng.standard_normal(7)) for k, v in LAW.values.items()}
    n, d = LAW.optimal_allocation(BUDGETS)
    dcl = deadweight_compute(LAW, draws, n, d, BUDGETS)
    assert dcl.shape == (7, 3)
    assert np.all(dcl >= 0)
    one = deadweight_compute(LAW, {k: v[4] for k, v in draws.items()}, n, d, BUDGETS)
    np.testing.assert_allclose(dcl[4], one, rtol=1e-12)
    general = deadweight_compute(LAW, draws, n, d, BUDGETS, method="general")
    np.testing.assert_allclose(general, dcl, rtol=1e-6, atol=1e-9 * BUDGETS.max())


def test_failed_draws_are_nan_rows_and_a_missing_parameter_keeps_the_point_value():
    draws = {"alpha": np.array([0.34, np.nan, 0.30])}
    dcl = deadweight_compute(LAW, draws, 1e9, 2e10, 1.2e20)
    assert np.isnan(dcl[1]) and np.all(np.isfinite(dcl[[0, 2]]))


def test_unspent_budget_is_wasted_too():
    n, d = LAW.optimal_allocation(1e21)
    assert float(deadweight_compute(LAW, None, n, d, 2e21)) == pytest.approx(1e21, rel=1e-9)


def test_nonlinear_cost_goes_to_the_general_path_and_matches_scipy():
    cm = Dense(n_layer=32, n_ctx=8192, d_model=4096)
    per_unit = flops_per_unit(cm)
    assert linear_coefficient(per_unit) is None
    assert linear_coefficient(flops_per_unit("dense")) == 6.0
    n, d = 1e9, 1e10
    loss = float(LAW.loss(N=n, D=d))
    c_eq = float(equivalent_compute(LAW, None, n, d, cost_model=cm))
    assert c_eq == pytest.approx(_brute_equivalent(LAW, loss, per_unit), rel=1e-7)
    with pytest.raises(InputError, match="closed-form"):
        deadweight_compute(LAW, None, n, d, method="closed", cost_model=cm)


def test_extended_law_at_fixed_variables_reduces_to_chinchilla():
    law = Extended(variables=("experts",), gamma=(0.1,), eta=(0.05,))
    at = law.at(experts=8.0)
    got = deadweight_compute(law, None, 2e9, 3e10, variables={"experts": 8.0}, cost_model="dense")
    want = deadweight_compute(at, None, 2e9, 3e10)
    assert float(got) == pytest.approx(float(want), rel=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"n": -1.0}, "n must be positive"),
    ({"d": np.nan}, "d must be positive"),
    ({"budget": 0.0}, "budget must be positive"),
    ({"method": "fast"}, "method must be"),
])
def test_bad_input(kwargs, match):
    args = {"n": 1e9, "d": 1e10, "budget": 6e19, **kwargs}
    method = args.pop("method", "auto")
    with pytest.raises(InputError, match=match):
        deadweight_compute(LAW, None, args["n"], args["d"], args["budget"], method=method)


def test_unknown_parameter_is_named():
    with pytest.raises(InputError, match="no parameter 'gamma'"):
        deadweight_compute(LAW, {"gamma": [1.0]}, 1e9, 1e10)


def test_summary_in_flops_percent_and_gpu_hours_and_partial_budgets():
    from tsbudget.hardware import get_hardware
    from tsbudget.uncertainty.wasted import deadweight_summary

    rng = np.random.default_rng(0)
    dcl = rng.exponential(1e19, (50, 3))
    budget = np.array([1e21, 1e22, 1e23])
    out = deadweight_summary(dcl, budget, 0.9, "h100-sxm")
    np.testing.assert_allclose(out["flops"][0], np.median(dcl, axis=0))
    np.testing.assert_allclose(out["percent"][2], 100 * np.quantile(dcl, 0.95, axis=0) / budget)
    np.testing.assert_allclose(out["gpu_hours"][1], get_hardware("h100-sxm").train_hours(np.quantile(dcl, 0.05, axis=0)))
    dcl[:, 0] = np.nan  # a budget without enough draws: refused, or NaN with partial=True
    with pytest.raises(InputError, match="finite"):
        deadweight_summary(dcl, budget)
    part = deadweight_summary(dcl, budget, partial=True)
    assert np.isnan(part["flops"][0][0]) and np.isfinite(part["flops"][0][1:]).all() and part["short"] == 1


def test_deadweight_summary_in_percent_keeps_the_shape_of_the_flops_summary():
    # the review: percent came back as (1,) arrays or (1, m) when one budget spanned the draws
    rng = np.random.default_rng(0)
    one = np.abs(rng.standard_normal(50)) * 1e18
    for budget in (1e21, np.array(1e21), np.array([1e21]), np.full(50, 1e21)):
        s = deadweight_summary(one, budget, 0.95)
        assert all(type(x) is float for x in s["percent"]), budget
        assert s["percent"][0] == pytest.approx(100 * s["flops"][0] / 1e21, rel=1e-15)
    many = np.abs(rng.standard_normal((50, 4))) * 1e18
    for budget in (np.full(4, 1e21), np.full((1, 4), 1e21), np.full((50, 4), 1e21)):
        s = deadweight_summary(many, budget, 0.95)
        assert [np.shape(x) for x in s["percent"]] == [(4,)] * 3, np.shape(budget)
