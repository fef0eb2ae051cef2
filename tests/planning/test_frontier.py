"""Frontier over budgets (closed form vectorized over draws)."""

import numpy as np
import pytest
import xarray as xr

from tsbudget.planning.closed_form import closed_form_budget
from tsbudget.errors import InputError
from tsbudget.planning.frontier import frontier, parse_budgets
from tsbudget.planning.plan import plan
from tsbudget.laws.presets import get_preset
from tsbudget.planning.serving import Serving

EPOCH = get_preset("epoch2024").values
BUDGETS = np.geomspace(1e18, 1e25, 29)


def test_parse_budgets():
    np.testing.assert_allclose(parse_budgets("1e18:1e25:29"), BUDGETS)
    np.testing.assert_allclose(parse_budgets("1e20, 3e21"), [1e20, 3e21])
    for bad in ("1e18:1e25", "a,b", "1e18:1e20:0", "-1,2"):
        with pytest.raises(InputError):
            parse_budgets(bad)


def test_closed_form_frontier_matches_formula_and_spends_every_budget():
    ds = frontier(BUDGETS)
    assert ds.attrs["method"] == "closed form"
    N, D = closed_form_budget(EPOCH, BUDGETS)
    np.testing.assert_allclose(ds.N, N, rtol=1e-12)
    np.testing.assert_allclose(6 * ds.N * ds.D, BUDGETS, rtol=1e-12)
    np.testing.assert_allclose(ds.train_flops, BUDGETS, rtol=1e-12)
    assert np.all(np.diff(ds.loss.values) < 0)
    assert ds.budget.attrs["units"] == "FLOPs" and ds.D.attrs["units"] == "tokens"


def test_general_frontier_agrees_with_closed_form():
    b = BUDGETS[::7]
    fast, slow = frontier(b), frontier(b, method="general")
    assert slow.attrs["method"] == "general"
    np.testing.assert_allclose(slow.N, fast.N, rtol=1e-6)
    np.testing.assert_allclose(slow.D, fast.D, rtol=1e-6)
    np.testing.assert_allclose(slow.loss, fast.loss, rtol=1e-12)


def test_draws_add_a_draw_dim_and_intervals():
    rng = np.random.default_rng(3)
    draws = xr.Dataset({k: ("draw", v * np.exp(0.02 * rng.standard_normal(300))) for k, v in EPOCH.items()})
    ds = frontier(BUDGETS, draws=draws)
    assert ds.N_draw.dims == ("draw", "budget") and ds.sizes["draw"] == 300
    for q in ("N", "D", "data_per_param", "loss"):
        assert np.all(ds[f"{q}_lower"] <= ds[f"{q}_median"]) and np.all(ds[f"{q}_median"] <= ds[f"{q}_upper"])
    i = 17
    n_i, _ = closed_form_budget({k: float(draws[k][i]) for k in EPOCH}, BUDGETS[5])
    assert float(ds.N_draw[i, 5]) == pytest.approx(float(n_i), rel=1e-12)
    assert float(ds.N_lower[5]) == pytest.approx(np.quantile(ds.N_draw[:, 5], 0.025))


def test_general_frontier_with_free_variable_and_serving():
    from tsbudget.laws.extended import Extended

    law = Extended(**EPOCH, variables=("ratio_inner",), references=(1.0,), gamma=(-0.3,), eta=(0.0,))
    b = np.array([1e20, 1e22])
    ds = frontier(b, law=law, cost_model="hierarchical", free=("ratio_inner",), serving=Serving(positions=1e10))
    assert "ratio_inner" in ds and ds.attrs["free"] == "ratio_inner"
    np.testing.assert_allclose(ds.train_flops + ds.inference_flops, b, rtol=1e-9)
    p = plan(1e22, law=law, cost_model="hierarchical", free=("ratio_inner",), serving=Serving(positions=1e10))
    assert float(ds.N[1]) == pytest.approx(p.N, rel=1e-9)


def test_general_frontier_draws_are_replanned():
    rng = np.random.default_rng(0)
    draws = xr.Dataset({k: ("draw", v * np.exp(0.02 * rng.standard_normal(5))) for k, v in EPOCH.items()})
    ds = frontier([1e21], unique=1e9, draws=draws, max_draws=3)
    assert ds.sizes["draw"] == 3 and np.all(np.isfinite(ds.N_draw))
    law = get_preset("epoch2024").replace(**{k: float(draws[k][1]) for k in EPOCH})
    assert float(ds.N_draw[1, 0]) == pytest.approx(plan(1e21, law=law, unique=1e9).N, rel=1e-9)
    # the Dataset says that its intervals rest on 3 of the 5 draws
    assert ds.attrs["draws_used"] == 3 and ds.attrs["draws_available"] == 5
    assert "first 3 of 5 bootstrap draws" in ds.attrs["draws_note"]
    every = frontier([1e21], unique=1e9, draws=draws)
    assert every.attrs["draws_used"] == every.attrs["draws_available"] == 5 and "draws_note" not in every.attrs
    closed = frontier([1e21], draws=draws)
    assert closed.attrs["method"] == "closed form" and closed.attrs["draws_used"] == 5
    assert closed.attrs["draws_method"] == "closed form" and ds.attrs["draws_method"] == "general"
    assert frontier([1e21]).attrs["draws_used"] == 0


def test_draws_that_outgrow_the_unique_data_are_not_planned_by_the_closed_form():
    # The point estimate's D fits in the unique data at 1e21, but the draws spread around
    # it and some want more data than is unique: those must be valued by effective data
    # (general optimizer), so no draw may train on more data than the closed form gives it.
    rng = np.random.default_rng(4)
    draws = xr.Dataset({k: ("draw", v * np.exp(0.05 * rng.standard_normal(40))) for k, v in EPOCH.items()})
    _, d_point = closed_form_budget(EPOCH, 1e21)
    unique = 1.02 * float(d_point)
    ds = frontier([1e21], draws=draws, unique=unique, max_draws=40)
    d_closed = np.array([float(closed_form_budget({k: float(draws[k][i]) for k in EPOCH}, 1e21)[1])
                         for i in range(40)])
    assert np.any(d_closed > unique)  # the case under test: some draws outgrow the data
    assert ds.attrs["draws_used"] == 40
    assert ds.attrs["method"] == "closed form" and ds.attrs["draws_method"] == "general"
    for i in np.flatnonzero(d_closed > unique):
        expected = plan(1e21, law=get_preset("epoch2024").replace(**{k: float(draws[k][i]) for k in EPOCH}),
                        unique=unique)
        assert float(ds.D_draw[i, 0]) == pytest.approx(expected.D, rel=1e-4)
