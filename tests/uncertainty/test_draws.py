"""Normal draws from a bootstrap's covariance."""

import json

import numpy as np
import polars as pl
import pytest
import xarray as xr

from tsbudget.errors import InputError
from tsbudget.uncertainty.bootstrap import bootstrap
from tsbudget.uncertainty.intervals import intervals


def test_normal_draws_match_the_bootstrap_covariance(golden):
    from tsbudget.uncertainty.draws import normal_draws

    boot = bootstrap(golden, 40, seed=4, budgets=[5.88e23])
    names = ["E", "A", "B", "alpha", "beta"]
    log = {"E", "A", "B"}  # fit coordinates of the Chinchilla law: (log E, log A, log B, alpha, beta)

    def fit_coords(ds):
        return np.stack([np.log(ds[n].values) if n in log else ds[n].values for n in names])

    cov = np.cov(fit_coords(boot.draws))
    r = normal_draws(boot, 20_000, seed=1)
    ds = r.draws
    assert ds.attrs["method"] == "normal" and ds.attrs["space"] == "fit" and ds.attrs["n_failed"] == 0
    assert "log A" in ds.attrs["resampling"]
    np.testing.assert_allclose(json.loads(ds.attrs["covariance"]), cov, rtol=1e-12)
    x = fit_coords(ds)
    point = np.array([np.log(golden.parameters[n]) if n in log else golden.parameters[n] for n in names])
    sd = np.sqrt(np.diag(cov))
    # sample mean within 5 standard errors of the point estimate, covariance within ~10%
    assert np.all(np.abs(x.mean(axis=1) - point) < 5 * sd / np.sqrt(20_000))
    np.testing.assert_allclose(np.cov(x), cov, rtol=0.1, atol=0.05 * np.outer(sd, sd).max())
    # derived quantities are the closed form of each draw
    a, b = ds["alpha"].values, ds["beta"].values
    g = (a * ds["A"].values / (b * ds["B"].values)) ** (1 / (a + b))
    np.testing.assert_allclose(ds["N_opt"].sel(budget=5.88e23).values, g * (5.88e23 / 6) ** (b / (a + b)), rtol=1e-9)
    # reproducible, and the planner and intervals() take it like a bootstrap
    xr.testing.assert_identical(ds, normal_draws(boot, 20_000, seed=1).draws)
    assert not ds.equals(normal_draws(boot, 20_000, seed=2).draws)
    assert intervals(r).filter(pl.col("name") == "alpha")["n"].item() == 20_000
    # another centre: the draws move with it
    shifted = normal_draws(boot, 2_000, seed=1, mean={"alpha": 0.40})
    assert np.median(shifted.draws["alpha"].values) == pytest.approx(0.40, abs=0.002)  # se of alpha ~0.015


def test_normal_draws_in_natural_coordinates_drop_impossible_draws(golden):
    from tsbudget.uncertainty.draws import normal_draws

    boot = bootstrap(golden, 40, seed=4, budgets=[5.88e23])
    r = normal_draws(boot, 5_000, seed=0, space="natural")
    ds = r.draws
    bad = ds["failed"].values
    # B's bootstrap se is about half its value: a normal in B itself goes below zero
    assert 0 < bad.sum() == ds.attrs["n_failed"] < 5_000 // 4
    assert np.isnan(ds["B"].values[bad]).all() and (ds["B"].values[~bad] > 0).all()
    assert intervals(r).filter(pl.col("name") == "B")["n"].item() == 5_000 - bad.sum()


def test_normal_draws_bad_arguments(golden):
    from tsbudget.uncertainty.draws import normal_draws

    with pytest.raises(InputError, match="no bootstrap draws"):
        normal_draws(golden)
    boot = bootstrap(golden, 4, seed=0, budgets=[1e22])
    with pytest.raises(InputError, match="space"):
        normal_draws(boot, space="log")
    with pytest.raises(InputError, match="at least 6 successful"):
        normal_draws(boot)
    boot = bootstrap(golden, 8, seed=0, budgets=[1e22])
    with pytest.raises(InputError, match="no parameter 'gamma'"):
        normal_draws(boot, mean={"gamma": 1.0})
    with pytest.raises(InputError, match="n_draws"):
        normal_draws(boot, 1)
