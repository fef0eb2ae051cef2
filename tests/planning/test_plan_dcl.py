"""A plan's wasted compute (deadweight compute loss) when each bootstrap draw is the truth."""

import json

import numpy as np
import pytest

import tsbudget as tb
from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.planning import draws as draws_mod
from tsbudget.planning.request import PlanRequest
from tsbudget.planning.solve import solve
from tsbudget.uncertainty.wasted import deadweight_compute

LAW = Chinchilla()


def _draws(n=40, spread=0.03, seed=3):
    rng = np.random.default_rng(seed)
    return {k: v * (1 + spread * rng.standard_normal(n)) for k, v in LAW.values.items()}


def test_plan_reports_the_dcl_of_its_point_plan_under_every_draw():
    draws = _draws()
    pl = tb.plan(1e22, law=LAW, draws=draws)
    dcl = deadweight_compute(LAW, draws, pl.N, pl.D, 1e22)
    dw = pl.deadweight
    assert dw["method"] == "vectorised" and dw["draws"] == 40 and dw["failed"] == 0
    assert dw["flops"][0] == pytest.approx(float(np.median(dcl)), rel=1e-9)
    assert dw["percent"][0] == pytest.approx(100 * float(np.median(dcl)) / 1e22, rel=1e-9)
    lo, hi = np.quantile(dcl, [0.025, 0.975])
    assert dw["flops"][1:] == pytest.approx((lo, hi), rel=1e-9)
    assert dw["gpu_hours"][0] == pytest.approx(dw["flops"][0] / 1e22 * pl.train_gpu_hours, rel=1e-9)
    assert "wasted compute if a draw is the truth" in pl.headline()
    assert json.loads(pl.to_json())["deadweight"]["percent"][0] == pytest.approx(dw["percent"][0])


def test_draws_equal_to_the_point_waste_nothing():
    same = {k: np.full(5, v) for k, v in LAW.values.items()}
    pl = tb.plan(1e21, law=LAW, draws=same)
    assert pl.deadweight["flops"][2] <= 1e-9 * 1e21


def test_no_draws_no_deadweight():
    pl = tb.plan(1e21, law=LAW)
    assert pl.deadweight == {} and "wasted" not in pl.headline()


def test_repeated_data_vectorised_search_matches_replanning_each_draw(monkeypatch):
    draws = _draws(6)
    request = PlanRequest.build(1e22, law=LAW, unique=5e10, draws=draws)
    point, solved = solve(request)
    assert "unique data" in ", ".join(point.binding)  # the plan repeats data
    params = {k: np.asarray(v) for k, v in draws.items()}
    fast, how = draws_mod.plan_deadweight(solved, point, params)
    assert how == "vectorised"
    monkeypatch.setattr(draws_mod, "fast_deadweight", lambda p: False)
    slow, how = draws_mod.plan_deadweight(solved, point, params)
    assert how == "re-planned draws"
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-7 * 1e22)
    assert np.all(fast >= 0)


def test_a_plan_that_is_not_its_laws_loss_optimum_says_so():
    # Kaplan et al. 2020's compute-efficient allocation (their eq. 1.7 frontier) is not the minimum
    # of their L(N, D) at a fixed budget: that part of the waste is the plan's, not the draws'
    from tsbudget.laws.presets import get_preset

    law = get_preset("kaplan2020")
    same = {k: np.full(4, v) for k, v in law.values.items()}
    pl = tb.plan(1e21, law=law, draws=same)
    optimum = tb.plan(1e21, law=law, method="general")
    assert optimum.loss < pl.loss
    assert pl.deadweight["point_percent"] > 1 and pl.deadweight["percent"][0] == pytest.approx(
        pl.deadweight["point_percent"], rel=1e-9)
    assert "under the point law itself" in pl.headline()
    own = tb.plan(1e21, law=LAW, draws={k: np.full(4, v) for k, v in LAW.values.items()})
    assert abs(own.deadweight["point_percent"]) < 1e-9 and "point law itself" not in own.headline()
