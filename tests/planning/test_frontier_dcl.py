"""The frontier carries, per budget, the wasted compute of its point plan if a draw is the truth."""

import numpy as np
import pytest

import tsbudget as tb
from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.planning.serving import Serving
from tsbudget.uncertainty.wasted import deadweight_compute

LAW = Chinchilla()
BUDGETS = np.logspace(19, 24, 6)


def _draws(n=30, seed=5):
    rng = np.random.default_rng(seed)
    return {k: v * (1 + 0.03 * rng.standard_normal(n)) for k, v in LAW.values.items()}


def test_closed_form_frontier_dcl_per_budget():
    draws = _draws()
    ds = tb.frontier(BUDGETS, law=LAW, draws=draws)
    want = deadweight_compute(LAW, draws, ds["N"].values, ds["D"].values, BUDGETS)
    np.testing.assert_allclose(ds["dcl_draw"].values, want, rtol=1e-12)
    np.testing.assert_allclose(ds["dcl_median"].values, np.median(want, axis=0), rtol=1e-12)
    np.testing.assert_allclose(ds["dcl_percent_upper"].values,
                               100 * np.quantile(want, 0.975, axis=0) / BUDGETS, rtol=1e-12)
    assert ds["dcl_gpu_hours_median"].attrs["units"] == "GPU-hours"
    assert ds.attrs["dcl_draws"] == 30 and ds.attrs["dcl_failed"] == 0
    assert np.all(np.abs(ds["dcl_point_percent"].values) < 1e-9)  # the point plans are the point law's optima
    # a frontier point is the plan at that budget: the same numbers as tb.plan
    pl = tb.plan(float(BUDGETS[3]), law=LAW, draws=draws)
    assert pl.deadweight["percent"][0] == pytest.approx(float(ds["dcl_percent_median"][3]), rel=1e-9)


def test_repeated_data_frontier_uses_the_problems_own_loss():
    draws = _draws(6)
    ds = tb.frontier(np.logspace(21, 23, 3), law=LAW, draws=draws, unique=2e10, max_draws=6)
    assert ds.sizes["draw"] == 6
    assert np.all(np.isfinite(ds["dcl_draw"].values)) and np.all(ds["dcl_draw"].values >= 0)
    pl = tb.plan(1e22, law=LAW, draws=draws, unique=2e10)
    assert pl.deadweight["flops"][0] == pytest.approx(float(ds["dcl_median"].sel(budget=1e22)), rel=1e-4)


def test_serving_frontier_reads_c_eq_off_each_draws_frontier():
    budgets = np.geomspace(1e21, 1e23, 6)
    ds = tb.frontier(budgets, law=LAW, draws=_draws(5), serving=Serving(units=1e12), max_draws=5)
    assert "interpolated" in ds.attrs["dcl_method"]
    dcl = ds["dcl_draw"].values
    assert dcl.shape == (5, 6) and np.all(dcl[np.isfinite(dcl)] >= 0)
    assert np.isfinite(ds["dcl_median"].values[1:]).all()  # the smallest budget has nothing below it


def test_interpolated_dcl_matches_the_exact_one_on_a_fine_grid():
    from tsbudget.planning.closed_form import parameter_arrays
    from tsbudget.planning.frontier import interpolated_deadweight
    from tsbudget.planning.request import PlanRequest

    draws = _draws(40, seed=1)
    budgets = np.logspace(19, 24, 26)  # 5 per decade
    ds = tb.frontier(budgets, law=LAW, draws=draws)  # closed form: exact dcl_draw and the draws' optima
    approx = interpolated_deadweight(ds, PlanRequest.build(1e19, law=LAW, draws=draws), parameter_arrays(LAW, draws))
    ok = np.isfinite(approx)
    assert ok.mean() > 0.9
    err = np.abs(approx - ds["dcl_draw"].values) / budgets
    assert np.max(err[ok]) < 5e-4  # of the budget, against a median DCL of about 3.5%
