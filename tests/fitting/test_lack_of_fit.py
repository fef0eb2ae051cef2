"""Lack-of-fit intervals (Student-t, n − p degrees of freedom) on parameters and derived quantities."""

import math

import attrs

import numpy as np
import polars as pl
import pytest
from scipy.stats import t as student_t

from tsbudget.errors import FitError, InputError
from tsbudget.fitting.fit import fit
from tsbudget.fitting.lack_of_fit import lack_of_fit

TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
SMALL = {"E": [0.0, 0.5], "A": [5.0, 7.0], "B": [5.0, 7.0], "alpha": [0.3, 0.5], "beta": [0.3, 0.5]}
SMALL_E_FIXED = {k: v for k, v in SMALL.items() if k != "E"}


def _runs(noise, seed=3):
    rng = np.random.default_rng(seed)
    rows = []
    for c in (1e18, 1e19, 1e20, 1e21, 1e22):
        for n in np.logspace(np.log10(c / 6) / 2 - 1, np.log10(c / 6) / 2 + 1, 12):
            d = c / (6 * n)
            loss = TRUTH["E"] + TRUTH["A"] * n ** -TRUTH["alpha"] + TRUTH["B"] * d ** -TRUTH["beta"]
            rows.append({"N": n, "D": d, "loss": loss * math.exp(noise * rng.standard_normal())})
    return pl.DataFrame(rows)


def test_intervals_cover_the_truth_and_use_n_minus_p_dof():
    # δ above every residual: the Huber fit is least squares, the setting the intervals assume
    r = fit(_runs(0.01), "chinchilla", grid=SMALL, delta=1.0)
    lof = lack_of_fit(r, level=0.95, budgets=[1e23])
    assert lof.dof == 60 - 5 and lof.t == pytest.approx(student_t.ppf(0.975, 55))
    resid = np.log(r.predict()) - np.log(r.runs["loss"].to_numpy())
    assert lof.s2 == pytest.approx(float(np.sum(resid ** 2) / 55), rel=1e-9)
    rows = {(x["name"], x["budget"]): x for x in lof.table.iter_rows(named=True)}
    for k in ("alpha", "beta", "E"):
        row = rows[(k, None)]
        assert row["lower"] < TRUTH[k] < row["upper"], k
        assert row["lower"] < row["estimate"] < row["upper"]
    n_opt, _ = r.law.optimal_allocation(1e23, params=TRUTH)
    row = rows[("N_opt", 1e23)]
    assert row["lower"] < float(n_opt) < row["upper"] and row["se"] > 0


def test_noiseless_runs_give_tight_intervals():
    r = fit(_runs(0.0), "chinchilla", grid=SMALL)
    lof = lack_of_fit(r, budgets=[1e21])
    assert lof.s2 < 1e-20
    for row in lof.table.iter_rows(named=True):
        assert (row["upper"] - row["lower"]) < 1e-6 * abs(row["estimate"]), row["name"]


def test_wider_at_higher_level_and_fixed_parameters_are_left_out():
    r = fit(_runs(0.01), "chinchilla", grid=SMALL_E_FIXED, fixed={"E": 1.69})
    a, b = lack_of_fit(r, level=0.8), lack_of_fit(r, level=0.99)
    assert "E" not in a.table["name"].to_list() and a.dof == 60 - 4
    wa = (a.table["upper"] - a.table["lower"]).to_numpy()
    wb = (b.table["upper"] - b.table["lower"]).to_numpy()
    assert np.all(wb > wa)
    assert "Student-t" in repr(a) and a.to_dict()["dof"] == 56


def test_vpnls_intervals_are_in_linear_loss():
    r = fit(_runs(0.01), "chinchilla", method="vpnls")
    lof = lack_of_fit(r)
    assert lof.space == "linear"
    resid = r.predict() - r.runs["loss"].to_numpy()
    assert lof.s2 == pytest.approx(float(np.sum(resid ** 2)) / 55, rel=1e-9)


def test_refusals():
    r = fit(_runs(0.01), "chinchilla", grid=SMALL)
    with pytest.raises(InputError, match="level"):
        lack_of_fit(r, level=1.5)
    few = attrs.evolve(r, runs=r.runs.head(5), n_runs=5)  # as many runs as free parameters: no residual dof
    with pytest.raises(FitError, match="more runs"):
        lack_of_fit(few)
