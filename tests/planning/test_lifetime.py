"""Lifetime cost against model size for several serving loads (Sardana & Frankle 2024, Fig. 1-2,
with the serving roofline; issue 13)."""

import numpy as np
import polars as pl
import pytest

from tsbudget.errors import InputError
from tsbudget.planning.lifetime import LIFETIME_COLUMNS, lifetime_minima, lifetime_table
from tsbudget.planning.plan import plan
from tsbudget.planning.serving import Serving

WORKLOAD = Serving(requests=1, context=900, generate=100, latency_ms=5, price_per_gpu_hour=2.5)
#: a dense model with attention geometry, so decode also reads a KV cache
DENSE = dict(cost_model="dense", cost_settings={"d_model": 4096, "n_layer": 32, "n_ctx": 1024}, hardware="h200")


@pytest.fixture(scope="module")
def table():
    return lifetime_table(2.2, [0, 1e8, 1e9, 1e10], serving=WORKLOAD, points=25, **DENSE)


def test_columns_rows_and_the_training_only_curve(table):
    assert table.columns == list(LIFETIME_COLUMNS) and table.height == 4 * 25
    alone = table.filter(pl.col("load") == 0)
    assert alone["serve_gpu_hours"].drop_nans().to_list() == [0.0] * alone["feasible"].sum()


def test_the_cheapest_size_falls_as_the_load_grows(table):
    best = lifetime_minima(table)
    assert best["load"].to_list() == [0, 1e8, 1e9, 1e10]
    n = best["N"].to_numpy()
    assert np.all(np.diff(n) < 0)  # serve more, train a smaller model longer (Sardana & Frankle 2024)
    assert np.all(np.diff(best["D"].to_numpy()) > 0)


def test_each_row_is_the_plan_at_that_size(table):
    # the row's data reaches the target and its costs are what a plan with N fixed reports
    row = table.filter((pl.col("load") == 1e9) & pl.col("feasible")).row(5, named=True)
    p = plan(target_loss=2.2, n_bounds=(row["N"], row["N"]), serving=Serving(
        requests=1e9, context=900, generate=100, latency_ms=5, price_per_gpu_hour=2.5), **DENSE)
    assert p.D == pytest.approx(row["D"], rel=1e-9)
    assert p.train_gpu_hours == pytest.approx(row["train_gpu_hours"], rel=1e-9)
    assert p.serve_gpu_hours == pytest.approx(row["serve_gpu_hours"], rel=1e-9)
    assert p.diagnostics["lifetime_cost_money"] == pytest.approx(row["lifetime_cost_money"], rel=1e-9)


def test_models_that_miss_the_latency_target_or_the_loss_are_infeasible(table):
    heavy = table.filter(pl.col("load") == 1e9)
    missed = heavy.filter(pl.col("decode_latency_ms") > 5 * (1 + 1e-9))
    assert missed.height > 0 and not missed["feasible"].any() and missed["lifetime_gpu_hours"].is_nan().all()
    assert heavy.filter(pl.col("D").is_nan())["feasible"].sum() == 0


def test_flops_only_loads_are_served_data_in_the_plan_unit():
    t = lifetime_table(2.2, [1e12], points=5)
    assert set(t["decode_limit"].to_list()) == {"flops only"} and t["served_positions"][0] == 1e12


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"loads": [-1]}, "loads must be"),
        ({"loads": [1], "free": ("experts",), "cost_model": "moe"}, "every variable fixed"),
        ({"loads": [1], "budget": 1e21}, "takes a target loss"),
        ({"loads": [1], "points": 1}, "points must be an integer >= 2"),
    ],
)
def test_bad_inputs(kwargs, match):
    with pytest.raises(InputError, match=match):
        lifetime_table(2.2, **kwargs)
