"""IsoFLOP slices: the loss along one budget, over N and free variables."""

import numpy as np
import pytest
import xarray as xr

from tsbudget.laws.presets import get_preset
from tsbudget.planning.isoflop import isoflop
from tsbudget.planning.plan import plan
from tsbudget.planning.serving import Serving

EPOCH = get_preset("epoch2024").values


def test_isoflop_valley_is_lowest_at_the_plan():
    ds = isoflop(1e21, points=201)
    p = plan(1e21)
    assert ds.attrs["N_opt"] == pytest.approx(p.N)
    i = int(np.argmin(ds.loss.values))
    assert float(ds.N[i]) == pytest.approx(p.N, rel=0.02)
    assert float(ds.loss.min()) >= p.loss - 1e-12
    np.testing.assert_allclose(6 * ds.N * ds.D, 1e21, rtol=1e-12)
    assert bool(ds.feasible.all())


def test_isoflop_over_an_integer_variable():
    from tsbudget.laws.extended import Extended

    law = Extended.for_cost_model("moe", **EPOCH, gamma=(0.1, 0.0, 0.0), eta=(0.0, 0.0, 0.0))
    ds = isoflop(1e21, law=law, cost_model="moe", over="experts", values={"experts": [1, 8, 64]}, points=11)
    assert ds.loss.dims == ("N", "experts")
    # at the same N the gamma > 0 law prefers more experts (no router cost without d_model)
    assert np.all(ds.loss.sel(experts=64) < ds.loss.sel(experts=1))


def test_isoflop_marks_infeasible_points():
    ds = isoflop(1e20, n=[1e6, 1e9, 1e10], serving=Serving(positions=1e10))
    # serving 2·N·1e10 exceeds 1e20 once N >= 5e9
    assert ds.feasible.values.tolist() == [True, True, False]
    assert np.isnan(ds.loss.values[2])


def test_isoflop_loss_interval_with_draws():
    rng = np.random.default_rng(4)
    draws = xr.Dataset({k: ("draw", v * np.exp(0.02 * rng.standard_normal(100))) for k, v in EPOCH.items()})
    ds = isoflop(1e21, points=5, draws=draws)
    assert np.all(ds.loss_lower < ds.loss) and np.all(ds.loss < ds.loss_upper)


def test_isoflop_points_with_less_than_one_position_of_data_are_infeasible():
    # 1e12 FLOPs on 1e12 parameters leaves D = 1/6 token: below the planner's one-position floor
    ds = isoflop(1e12, n=[1e2, 1e9, 1e12])
    assert ds.feasible.values.tolist() == [True, True, False]
    assert np.isnan(float(ds.D[2])) and float(ds.D[1]) == pytest.approx(1e12 / 6e9, rel=1e-12)
