"""fit / refit / FitResult on the Chinchilla Figure 4 runs (Besiroglu et al. 2024 data)."""

import json
import math

import numpy as np
import polars as pl
import pytest
import xarray as xr

from tsbudget.datasets.chinchilla import load_chinchilla_runs
from tsbudget.errors import FitError, InputError, SchemaError
from tsbudget.fitting.fit import fit, refit
from tsbudget.fitting.result import FitResult
from tsbudget.laws.chinchilla import Chinchilla

# 32 starts around the known optimum: enough for the tests, fast
SMALL = {"E": [0.0, 0.5], "A": [5.0, 10.0], "B": [5.0, 10.0], "alpha": [0.0, 0.5], "beta": [0.0, 0.5]}


@pytest.fixture(scope="module")
def runs():
    return load_chinchilla_runs()


@pytest.fixture(scope="module")
def result(runs):
    return fit(runs, "chinchilla", drop_highest_loss=5, grid=SMALL)


def test_batched_and_reference_agree(runs, result):
    # starts near the optimum keep the one-scipy-call-per-start loop fast
    near = {"E": [0.5], "A": [5.0, 6.5], "B": [7.0, 8.0], "alpha": [0.3, 0.5], "beta": [0.3, 0.5]}
    ref = fit(runs, "chinchilla", drop_highest_loss=5, grid=near, method="reference")
    bat = fit(runs, "chinchilla", drop_highest_loss=5, grid=near)
    assert bat.success and ref.success
    assert bat.objective == pytest.approx(ref.objective, rel=1e-6)
    assert result.objective == pytest.approx(ref.objective, rel=1e-6)
    for k, v in ref.parameters.items():
        assert bat.parameters[k] == pytest.approx(v, rel=1e-3), k
    assert bat.n_starts == ref.n_starts == 16
    assert 1 <= bat.n_at_best <= 16 and 1 <= ref.n_at_best <= 16


def test_warm_start_polishes_to_the_same_optimum(result):
    start = result.law.replace(E=1.7, alpha=0.3)
    again = refit(result, result.runs, init=start)
    assert again.n_starts == 1 and again.success
    assert again.objective == pytest.approx(result.objective, rel=1e-6)
    # the objective is nearly flat along a valley: parameters agree to ~1e-4 at equal objective
    assert again.parameters["alpha"] == pytest.approx(result.parameters["alpha"], rel=1e-3)


def test_dropping_and_region(runs, result):
    assert result.n_runs == runs.height - 5
    dropped = set(range(runs.height)) - set(result.runs["run"].to_list())
    top5 = set(np.argsort(-runs["loss"].to_numpy())[:5].tolist())
    assert dropped == top5
    sub = fit(runs, region={"N": (1e8, None), "flops": (None, 1e21)}, grid=SMALL)
    assert sub.runs["N"].min() >= 1e8 and sub.runs["flops"].max() <= 1e21
    assert sub.n_runs == runs.filter((pl.col("N") >= 1e8) & (pl.col("flops") <= 1e21)).height


def test_fixed_parameter(runs, result):
    held = fit(runs, drop_highest_loss=5, fixed={"alpha": 0.3}, grid={k: v for k, v in SMALL.items() if k != "alpha"})
    assert held.parameters["alpha"] == 0.3
    assert held.free == ("E", "A", "B", "beta") and held.fixed == {"alpha": 0.3}
    assert held.objective >= result.objective  # a constrained optimum cannot be better


def test_weights_reduction_and_penalty(runs, result):
    doubled = fit(runs, drop_highest_loss=5, weights=np.full(runs.height, 2.0), grid=SMALL)
    assert doubled.objective == pytest.approx(2 * result.objective, rel=1e-6)
    assert doubled.parameters["beta"] == pytest.approx(result.parameters["beta"], rel=1e-4)
    by_name = fit(runs.with_columns(w=pl.lit(2.0)), drop_highest_loss=5, weights="w", grid=SMALL)
    assert by_name.objective == pytest.approx(doubled.objective, rel=1e-9)
    mean = fit(runs, drop_highest_loss=5, reduction="mean", grid=SMALL)
    assert mean.objective == pytest.approx(result.objective / result.n_runs, rel=1e-6)
    # penalising over-prediction pushes the fit below more of the runs
    pen = fit(runs, drop_highest_loss=5, overprediction_penalty=10.0, grid=SMALL)
    over = lambda r: np.mean(r.predict() > r.runs["loss"].to_numpy())  # noqa: E731
    assert over(pen) < over(result)


@pytest.mark.parametrize(
    "change, error, words",
    [
        (lambda d: d.drop("loss"), SchemaError, ["'loss'", "columns present"]),
        (lambda d: d.with_columns(pl.when(pl.int_range(pl.len()) == 7).then(-1.0).otherwise(pl.col("loss")).alias("loss")),
         SchemaError, ["'loss'", "row 7"]),
        (lambda d: d.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(float("nan")).otherwise(pl.col("N")).alias("N")),
         SchemaError, ["'N'", "row 3"]),
        (lambda d: d.head(4), FitError, ["4 runs", "5 free"]),
    ],
)
def test_bad_input_is_named(runs, change, error, words):
    with pytest.raises(error) as info:
        fit(change(runs), grid=SMALL)
    for w in words:
        assert w in str(info.value)


def test_bad_options(runs):
    with pytest.raises(InputError, match="gamma"):
        fit(runs, fixed={"gamma": 1.0})
    with pytest.raises(InputError, match="delta"):
        fit(runs, delta=0.0)
    with pytest.raises(InputError, match="reduction"):
        fit(runs, reduction="median", grid=SMALL)
    with pytest.raises(FitError, match="finite objective"):
        fit(runs, grid={**SMALL, "E": [1e4]})  # E = exp(1e4): every start overflows


def test_save_load_round_trip(tmp_path, result):
    draws = xr.Dataset({k: ("draw", np.random.default_rng(0).normal(v, 0.01 * abs(v), 7))
                        for k, v in result.parameters.items()})
    full = result.with_draws(draws)
    path = full.save(tmp_path / "fit.json")
    back = FitResult.load(path)
    assert back.to_dict() == full.to_dict()
    assert back.law == full.law and back.runs.equals(full.runs)
    xr.testing.assert_identical(back.draws, draws)
    # floats survive exactly (repr-exact JSON)
    assert json.loads(full.to_json())["parameters"]["A"] == full.parameters["A"]
    assert not list(tmp_path.glob("*.pkl"))


def test_repr_reads_like_a_report(result):
    text = repr(result)
    assert text.startswith("FitResult(chinchilla): success: converged")
    assert text.index("alpha") < text.index("\n  objective") < text.index("starts:")


def test_predict_and_refit_raw(runs, result):
    np.testing.assert_allclose(result.predict(), result.law.loss(N=result.runs["N"], D=result.runs["D"]), rtol=1e-12)
    again = refit(result, runs)  # raw table: the 5 highest losses are dropped again
    assert again.n_runs == result.n_runs
    assert again.objective == pytest.approx(result.objective, rel=1e-6)
    resample = result.runs.sample(fraction=1.0, with_replacement=True, seed=1)
    boot = refit(result, resample, init=result.law)  # prepared table: used as it is
    assert boot.n_runs == result.n_runs and math.isfinite(boot.objective)
    assert boot.runs["run"].to_list() == resample["run"].to_list()
    assert isinstance(result.law, Chinchilla)


def test_saved_unit_and_cost_settings_are_used_on_new_runs(tmp_path):
    # D derived from FLOPs through a hierarchical cost model (two levels) and cells patched
    # by 16: predict() on the raw runs and refit() must rebuild both with their settings.
    from costmodels.hierarchical import HierarchicalCompression
    from units.cells import ChannelTimeCells

    from tsbudget.fitting.fit import refit
    from tsbudget.fitting.result import FitResult
    from tsbudget.laws.presets import get_preset

    law = get_preset("epoch2024")
    cm = HierarchicalCompression(levels=[(1, 0.5), (4, 0.5)])
    unit = ChannelTimeCells(patch_length=16)
    n = np.repeat(np.geomspace(1e7, 1e9, 5), 4)
    flops = np.tile(np.geomspace(1e18, 1e21, 4), 5)
    d = unit.from_positions(flops / cm.train_flops_per_position(n))
    raw = pl.DataFrame({"N": n, "flops": flops, "loss": law.evaluate(law.values, {"N": n, "D": d})})
    res = fit(raw, "chinchilla", cost_model=cm, unit=unit, init=law)
    assert res.options["unit_settings"]["patch_length"] == 16
    np.testing.assert_allclose(res.runs["D"].to_numpy(), d, rtol=1e-12)
    np.testing.assert_allclose(res.predict(raw), res.predict(), rtol=1e-12)
    loaded = FitResult.load(res.save(tmp_path / "fit.json"))  # nested level settings are JSON
    np.testing.assert_allclose(loaded.predict(raw), res.predict(), rtol=1e-12)
    again = refit(loaded, raw, init=loaded.law)
    np.testing.assert_allclose(again.runs["D"].to_numpy(), d, rtol=1e-12)


def test_concurrent_polishes_restore_the_blas_thread_setting():
    # the one-BLAS-thread limit is process-wide: threads polishing at once share it and the
    # last one out restores what was there before (interleaved enter/exit left 1 for good)
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    res = fit(load_chinchilla_runs(), "chinchilla", drop_highest_loss=5, init={"E": 1.8, "A": 480.0, "B": 2100.0,
                                                                            "alpha": 0.35, "beta": 0.37})
    before = blas_threads()
    rng = np.random.default_rng(0)
    samples = [res.runs[rng.integers(0, res.runs.height, res.runs.height)] for _ in range(24)]
    with ThreadPoolExecutor(4) as ex:
        out = list(ex.map(lambda s: refit(res, s, init=res.law), samples))
    assert all(r.success for r in out)
    assert blas_threads() == before
