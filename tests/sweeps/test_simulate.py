"""simulate_runs: the law's loss at every planned run, seeded log-normal noise, synthetic labels,
a table that fit reads as written."""

import json

import numpy as np
import polars as pl
import pytest

from tsbudget.errors import InputError, SchemaError
from tsbudget.fitting.fit import fit
from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.laws.extended import Extended
from tsbudget.registry import laws
from tsbudget.sweeps.design import sweep
from tsbudget.sweeps.simulate import Simulation, simulate_runs


@pytest.fixture(scope="module")
def plan_runs():
    return sweep("chinchilla2022", "1e18:1e20:3", per_budget=5, cost_model="adaptive_patching",
                 variables={"compression": [2.0, 8.0]})


def test_noise_free_loss_is_the_law(plan_runs):
    law = Extended(variables=("compression",), references=(4.5,), gamma=(0.05,), eta=(-0.1,))
    sim = simulate_runs(plan_runs, law, noise=0.0, seed=3)
    t = sim.table
    expected = law.loss(N=t["N"].to_numpy(), D=t["D"].to_numpy(), compression=t["compression"].to_numpy())
    np.testing.assert_array_equal(t["loss"].to_numpy(), expected)
    np.testing.assert_array_equal(t["loss_noiseless"].to_numpy(), expected)


def test_noise_is_seeded_log_normal(plan_runs):
    a = simulate_runs(plan_runs, "chinchilla2022", noise=0.02, seed=7)
    b = simulate_runs(plan_runs.table, "chinchilla2022", noise=0.02, seed=7)
    c = simulate_runs(plan_runs, "chinchilla2022", noise=0.02, seed=8)
    assert a.table.equals(b.table)
    assert not np.array_equal(a.table["loss"].to_numpy(), c.table["loss"].to_numpy())
    r = np.log(a.table["loss"].to_numpy() / a.table["loss_noiseless"].to_numpy())
    z = np.random.default_rng(7).standard_normal(a.table.height)
    np.testing.assert_allclose(r, 0.02 * z, rtol=1e-12, atol=1e-15)


def test_labelled_synthetic_with_law_and_seed(plan_runs):
    law = Extended(variables=("compression",), references=(4.5,), eta=(-0.2,))
    sim = simulate_runs(plan_runs, law, noise=0.01, seed=5)
    t = sim.table
    assert t["synthetic"].all() and set(t["seed"]) == {5} and set(t["noise"]) == {0.01}
    assert set(t["law"]) == {"extended"}
    spec = json.loads(t["law_spec"][0])
    rebuilt = laws.resolve(spec.pop("name"), **spec)
    assert rebuilt == law
    assert sim.options["seed"] == 5 and sim.options["parameters"] == law.values
    assert sim.to_dict()["synthetic"] is True
    text = repr(sim)
    assert "synthetic" in text and "seed 5" in text and "extended" in text
    # every column of the plan is kept
    assert set(plan_runs.table.columns) <= set(t.columns)


def test_law_by_preset_registered_name_or_fit(plan_runs):
    preset = simulate_runs(plan_runs, "epoch2024", noise=0.0)
    assert preset.options["law"].startswith("epoch2024")
    registered = simulate_runs(plan_runs, "chinchilla", noise=0.0)
    np.testing.assert_array_equal(registered.table["loss"].to_numpy(),
                                  Chinchilla().loss(N=plan_runs.table["N"].to_numpy(),
                                                    D=plan_runs.table["D"].to_numpy()))
    fitted = fit(preset.table, "chinchilla")
    again = simulate_runs(plan_runs, fitted, noise=0.0)
    np.testing.assert_allclose(again.table["loss"].to_numpy(), preset.table["loss"].to_numpy(), rtol=1e-6)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_written_runs_fit_directly(plan_runs, tmp_path, suffix):
    from tsbudget.io import read_runs

    law = Extended(variables=("compression",), references=(4.5,), gamma=(0.05,), eta=(-0.1,))
    sim = simulate_runs(plan_runs, law, noise=0.0)
    path = sim.write(tmp_path / f"runs{suffix}")
    back = read_runs(path)
    assert back["synthetic"].dtype == pl.Boolean and back["synthetic"].all()
    result = fit(back, Extended(variables=("compression",), references=(4.5,)), cost_model="adaptive_patching")
    for name, value in law.values.items():
        assert result.law.values[name] == pytest.approx(value, rel=1e-3, abs=1e-4), name


def test_bad_inputs_name_what_is_wrong(plan_runs, tmp_path):
    with pytest.raises(InputError, match="noise"):
        simulate_runs(plan_runs, "chinchilla2022", noise=-0.1)
    with pytest.raises(InputError, match="seed"):
        simulate_runs(plan_runs, "chinchilla2022", seed=1.5)
    with pytest.raises(SchemaError, match="'experts'"):
        simulate_runs(plan_runs, Extended(variables=("experts",)))
    with pytest.raises(SchemaError, match="column 'N'"):
        simulate_runs({"N": [1e8, -1.0], "D": [1e9, 1e9]}, "chinchilla2022")
    with pytest.raises(InputError, match=r"\.csv or \.parquet"):
        simulate_runs(plan_runs, "chinchilla2022").write(tmp_path / "runs.json")
    assert isinstance(simulate_runs({"N": [1e8], "D": [2e9]}, "chinchilla2022"), Simulation)
