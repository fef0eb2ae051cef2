"""Bootstrap over runs: reproducibility across executors, clusters, failures, derived quantities."""

import importlib
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
import pytest
import xarray as xr

from tsbudget.errors import BootstrapWarning, FitError, InputError, SchemaError
from tsbudget.fitting.fit import fit
from tsbudget.percentiles import monte_carlo_errors
from tsbudget.resampling import resample_indices
from tsbudget.uncertainty.bootstrap import bootstrap, failure_summary
from tsbudget.uncertainty.intervals import intervals

FIT_MODULE = importlib.import_module("tsbudget.fitting.fit")  # tsbudget.fitting.fit is also the function

TRUE = {"E": 1.8, "A": 480.0, "B": 2100.0, "alpha": 0.35, "beta": 0.37}


@pytest.fixture(scope="module")
def noiseless():
    n, d = np.meshgrid(np.geomspace(1e7, 1e10, 6), np.geomspace(1e9, 1e12, 6))
    n, d = n.ravel(), d.ravel()
    loss = TRUE["E"] + TRUE["A"] / n ** TRUE["alpha"] + TRUE["B"] / d ** TRUE["beta"]
    runs = pl.DataFrame({"N": n, "D": d, "flops": 6 * n * d, "loss": loss})
    return fit(runs, "chinchilla", init={k: 1.1 * v for k, v in TRUE.items()})


def test_noiseless_draws_all_recover_the_truth(noiseless):
    r = bootstrap(noiseless, 8, seed=1, budgets=[1e21, 5.88e23])
    for name, value in TRUE.items():
        np.testing.assert_allclose(r.draws[name].values, value, rtol=1e-4)
    assert r.draws.attrs["n_failed"] == 0
    # derived quantities: closed form, Hoffmann et al. 2022 App. D.2 eq. 4, computed here by hand
    a, b = TRUE["alpha"], TRUE["beta"]
    g = (a * TRUE["A"] / (b * TRUE["B"])) ** (1 / (a + b))
    n_opt = g * (5.88e23 / 6) ** (b / (a + b))
    np.testing.assert_allclose(r.draws["N_opt"].sel(budget=5.88e23).values, n_opt, rtol=1e-3)
    np.testing.assert_allclose(r.draws["tokens_per_param"].sel(budget=5.88e23).values,
                               5.88e23 / 6 / n_opt**2, rtol=2e-3)
    np.testing.assert_allclose(r.draws["a"].values, b / (a + b), rtol=1e-4)


def test_golden_bootstrap_shapes(golden, golden_draws):
    r = golden_draws
    ds = r.draws
    assert ds.sizes == {"draw": 24, "budget": 1}
    assert ds.attrs["seed"] == 7 and ds.attrs["n_draws"] == 24 and ds.attrs["cluster"] == "none"
    assert ds["N_opt"].attrs["units"] == "parameters"
    assert ds["budget"].attrs["units"] == "FLOPs"
    assert r.law == golden.law  # the point estimate is untouched


def test_executors_give_identical_draws(golden):
    serial = bootstrap(golden, 12, seed=5, budgets=[1e22])
    with ThreadPoolExecutor(2) as ex:
        threaded = bootstrap(golden, 12, seed=5, budgets=[1e22], executor=ex, chunk_size=5)
    xr.testing.assert_identical(serial.draws, threaded.draws)


def test_dask_local_cluster_matches_serial(golden):
    # worker *processes*: the fit result and every chunk of draws are pickled to the
    # workers and the draws pickled back, as on a real cluster (processes=False would share
    # this process's memory and serialise nothing). Loopback only, no dashboard: no network.
    distributed = pytest.importorskip("distributed")
    serial = bootstrap(golden, 10, seed=11, budgets=[1e22])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        workers = client.run(os.getpid)  # worker address -> its process id
        assert len(workers) == 2 and os.getpid() not in workers.values()
        remote = bootstrap(golden, 10, seed=11, budgets=[1e22], executor=client.get_executor(), chunk_size=3)
    assert cluster.status.name == "closed"
    xr.testing.assert_identical(serial.draws, remote.draws)


def test_cluster_resampling_by_model_size(golden):
    r = bootstrap(golden, 10, seed=2, cluster="N", budgets=[1e22])
    assert r.draws.attrs["cluster"] == "N"
    assert r.draws.attrs["resampling"].startswith("whole clusters")
    sizes = r.draws["n_runs"].values
    assert len(set(sizes.tolist())) > 1  # clusters differ in size, so resamples do too
    with pytest.raises(SchemaError, match="nope"):
        bootstrap(golden, 4, cluster="nope")


def test_cluster_by_flops_groups_nearby_budgets(golden):
    # The digitised Chinchilla Fig. 4 FLOPs are all distinct (240 values for 240 fitted
    # runs): grouping by exact value would resample single runs, a plain bootstrap under
    # another name. auto_budget_groups puts them in at most 12 budget groups (8 or 11,
    # depending on its method; the figure has Hoffmann et al.'s nine IsoFLOP budgets).
    from tsbudget.fitting.budgets import auto_budget_groups

    flops = golden.runs["flops"].to_numpy()
    assert np.unique(flops).size == golden.runs.height == 240
    with warnings.catch_warnings():
        warnings.simplefilter("error", BootstrapWarning)
        r = bootstrap(golden, 6, seed=3, cluster="flops", budgets=[1e22])
    ds = r.draws
    assert ds.attrs["cluster"] == "flops" and ds.attrs["resampling"].startswith("whole clusters")
    groups = auto_budget_groups(flops)
    assert ds.attrs["n_clusters"] == np.unique(groups).size <= 12  # far fewer clusters than runs
    assert ds.attrs["n_clusters"] >= 2
    assert "auto_budget_groups" in ds.attrs["cluster_grouping"]
    sizes = dict(zip(*np.unique(groups, return_counts=True)))
    for idx in resample_indices(golden.runs.height, 6, seed=3, clusters=groups):
        picked = groups[idx]
        for g in np.unique(picked):  # whole groups only
            assert np.sum(picked == g) % sizes[g] == 0
    assert len(set(ds["n_runs"].values.tolist())) > 1
    # a plain bootstrap resamples runs: one cluster per run
    assert bootstrap(golden, 2, seed=0, budgets=[1e22]).draws.attrs["n_clusters"] == 240


def test_degenerate_clusters_warn(golden):
    n = golden.runs.height
    with pytest.warns(BootstrapWarning, match=f"each of the {n} clusters is a single run"):
        r = bootstrap(golden, 2, seed=0, cluster=np.arange(n), budgets=[1e22])
    assert r.draws.attrs["n_clusters"] == n
    with pytest.warns(BootstrapWarning, match="one cluster"):
        bootstrap(golden, 2, seed=0, cluster=np.zeros(n), budgets=[1e22])
    # model sizes: 140 distinct sizes among 240 runs, several runs each, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", BootstrapWarning)
        assert bootstrap(golden, 2, seed=0, cluster="N", budgets=[1e22]).draws.attrs["n_clusters"] < n


def test_failed_draws_are_counted_not_dropped(golden, monkeypatch):
    real = FIT_MODULE.refit
    calls = {"n": 0}

    def flaky(result, runs, init=None):
        calls["n"] += 1
        if calls["n"] % 3 == 0:
            raise FitError("no finite objective (injected)")
        return real(result, runs, init=init)

    monkeypatch.setattr(FIT_MODULE, "refit", flaky)
    r = bootstrap(golden, 6, seed=0, budgets=[1e22], method="refit")
    ds = r.draws
    assert ds.attrs["n_failed"] == 2
    assert int(ds["failed"].sum()) == 2
    assert np.isnan(ds["alpha"].values[ds["failed"].values]).all()
    assert "injected" in ds.attrs["failure_messages"]
    assert intervals(r).filter(pl.col("name") == "alpha")["n"].item() == 4

    monkeypatch.setattr(FIT_MODULE, "refit", lambda *a, **k: (_ for _ in ()).throw(FitError("always")))
    with pytest.raises(FitError, match="every one of 4"):
        bootstrap(golden, 4, method="refit")


def test_batched_draw_with_too_few_runs_fails_visibly(golden):
    # two clusters, one of 3 runs: a draw that picks it twice has 3 distinct runs for 5 parameters
    labels = np.r_[np.zeros(3), np.ones(golden.runs.height - 3)]
    r = bootstrap(golden, 16, seed=0, cluster=labels, budgets=[1e22])
    failed = r.draws["failed"].values
    assert 0 < failed.sum() < 16
    assert r.draws.attrs["n_failed"] == failed.sum()
    assert (r.draws["n_runs"].values[failed] == 6).all()
    assert "distinct runs" in r.draws.attrs["failure_messages"]


def test_batched_matches_one_refit_per_draw(golden):
    fast = bootstrap(golden, 8, seed=9, budgets=[5.88e23])
    slow = bootstrap(golden, 8, seed=9, budgets=[5.88e23], method="refit")
    assert fast.draws.attrs["method"] == "batched" and slow.draws.attrs["method"] == "refit"
    # the same objective (multiplicities as weights == duplicated rows), the same optimum:
    # objectives agree to 1e-6; the Huber valley is flat along A-alpha, so the parameters
    # agree to a few 1e-4 (measured 6e-4 on A)
    np.testing.assert_allclose(fast.draws["objective"], slow.draws["objective"], rtol=1e-6)
    for name in ("E", "A", "B", "alpha", "beta"):
        np.testing.assert_allclose(fast.draws[name], slow.draws[name], rtol=5e-3)
    np.testing.assert_allclose(fast.draws["tokens_per_param"], slow.draws["tokens_per_param"], rtol=5e-3)


def test_chinchilla_draws_are_refitted_by_batched_newton_in_few_evaluations(golden, golden_draws):
    # the Chinchilla objective has an analytic Hessian: damped Newton from the point estimate,
    # ~10 evaluations per draw (scipy's L-BFGS-B needs ~70 from the same start, benchmarks/README.md)
    ds = golden_draws.draws
    assert ds.attrs["refit"].startswith("batched Newton")
    assert 0 < ds.attrs["n_evaluations"] <= 20 * ds.attrs["n_draws"]
    assert ds.attrs["n_failed"] == 0 and ds.attrs["n_unconverged"] == 0
    # a draw's refit does not depend on the chunk it was solved in
    chunked = bootstrap(golden, 24, seed=7, budgets=[5.88e23], chunk_size=5)
    np.testing.assert_array_equal(chunked.draws["alpha"].values, ds["alpha"].values)


def test_draws_round_trip_netcdf(golden, tmp_path):
    r = bootstrap(golden, 4, seed=0, budgets=[1e21, 1e22])
    path = tmp_path / "draws.nc"
    r.draws.to_netcdf(path)
    xr.testing.assert_identical(xr.load_dataset(path), r.draws)


def test_bad_arguments(golden):
    with pytest.raises(InputError, match="n_draws"):
        bootstrap(golden, 1)
    with pytest.raises(InputError, match="level"):
        bootstrap(golden, 4, level=1.5)
    with pytest.raises(InputError, match="budgets"):
        bootstrap(golden, 4, budgets=[-1.0])
    with pytest.raises(InputError, match="method"):
        bootstrap(golden, 4, method="magic")


def test_a_draw_outside_the_domain_fails_with_its_reason(golden, monkeypatch):
    # a refit whose data term vanished (B = 0: finite, but outside log B's domain) used to pass
    # as a valid draw and crash the closed form downstream; now it is a failed draw with its reason
    real = FIT_MODULE.refit
    calls = {"n": 0}

    def vanishing(result, runs, init=None):
        r = real(result, runs, init=init)
        calls["n"] += 1
        return _with_law(r, r.law.replace(B=0.0)) if calls["n"] % 2 == 0 else r

    monkeypatch.setattr(FIT_MODULE, "refit", vanishing)
    r = bootstrap(golden, 6, seed=0, budgets=[1e22], method="refit")
    ds = r.draws
    assert ds.attrs["n_failed"] == 3 and np.isnan(ds["B"].values[ds["failed"].values]).all()
    assert np.isnan(ds["N_opt"].values[ds["failed"].values]).all()
    reasons = json.loads(ds.attrs["failure_reasons"])
    assert list(reasons.values()) == [3] and "B outside its domain (> 0)" in next(iter(reasons))
    summary = failure_summary(ds)
    assert summary.startswith("3 of 6 draws failed: 3 × B outside its domain (> 0)")
    assert "term vanished" in summary


def _with_law(result, law):
    import attrs

    return attrs.evolve(result, law=law)


def test_failure_summary_is_empty_without_failures(golden_draws):
    assert golden_draws.draws.attrs["n_failed"] == 0 and failure_summary(golden_draws.draws) == ""


def test_mc_target_draws_batches_until_the_monte_carlo_error_is_small(golden):
    r = bootstrap(golden, 20, seed=3, budgets=[1e22], mc_target=0.5, max_draws=1000)
    ds = r.draws
    n = ds.attrs["n_draws"]
    assert n % 20 == 0 and n == 20 * ds.attrs["mc_batches"] > 20 and ds.attrs["mc_target"] == 0.5
    names = ["E", "A", "B", "alpha", "beta"]

    def worst(k):  # largest Monte Carlo error over the first k draws, relative to the standard error
        out = 0.0
        for name in names:
            v = ds[name].values[:k]
            out = max(out, max(monte_carlo_errors(v, 0.95)) / v.std(ddof=1))
        return out

    # it stopped at the first batch whose Monte Carlo errors were all within the target
    assert n < 1000 and worst(n) <= 0.5 < worst(n - 20)
    params = intervals(r).filter(pl.col("name").is_in(names))
    assert (params.select(pl.max_horizontal("se_mc", "lower_mc", "upper_mc") / pl.col("se")).to_series() <= 0.5).all()
    # the same draws as one bootstrap of the final size: draw i does not depend on the batches
    once = bootstrap(golden, int(n), seed=3, budgets=[1e22])
    np.testing.assert_array_equal(ds["alpha"].values, once.draws["alpha"].values)


def test_mc_target_options_are_checked(golden):
    with pytest.raises(InputError, match="mc_target"):
        bootstrap(golden, 4, mc_target=0)
    with pytest.raises(InputError, match="max_draws"):
        bootstrap(golden, 40, mc_target=0.1, max_draws=10)
    with pytest.raises(InputError, match="given indices"):
        bootstrap(golden, 2, mc_target=0.1, indices=[np.arange(5), np.arange(5)])
