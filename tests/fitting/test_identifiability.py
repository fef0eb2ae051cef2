"""Runs that cannot separate a law's parameters are flagged (tsbudget.fitting.identifiability)."""

import warnings

import numpy as np
import polars as pl
import pytest

from tsbudget.datasets.chinchilla import load_chinchilla_runs
from tsbudget.errors import FidelityWarning, FitError
from tsbudget.fitting.fit import fit
from tsbudget.fitting.identifiability import COLLINEAR_TOL, design_notes

TRUE = {"E": 1.7, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28}


def _loss(n, d):
    return TRUE["E"] + TRUE["A"] / n ** TRUE["alpha"] + TRUE["B"] / d ** TRUE["beta"]


def test_thirty_copies_of_one_run_are_refused():
    runs = pl.DataFrame({"N": [1e8] * 30, "D": [2e9] * 30, "loss": [3.0] * 30})
    with pytest.raises(FitError, match="1 distinct design points cannot determine 5 free parameters"):
        fit(runs)


def test_runs_on_one_d_over_n_ratio_are_flagged():
    # D = 20 N: A/N^alpha and B/D^beta are both powers of N, so A, B, alpha, beta cannot be separated
    n = np.geomspace(1e7, 1e9, 12)
    with pytest.warns(FidelityWarning, match="NOT IDENTIFIABLE: the runs cannot separate A, B, alpha, beta "
                                             r"\(every run has the same D/N ratio"):
        r = fit({"N": n, "D": 20 * n, "loss": _loss(n, 20 * n)}, init=TRUE)
    assert "NOT IDENTIFIABLE" in r.message and r.diagnostics["identifiable"] is False
    assert r.diagnostics["jacobian_min_singular"] < COLLINEAR_TOL


def test_runs_on_one_data_size_are_flagged():
    n = np.geomspace(1e7, 1e9, 10)
    d = np.full(10, 3e11)
    with pytest.warns(FidelityWarning, match=r"every run has the same D \(within 5%"):
        r = fit({"N": n, "D": d, "loss": _loss(n, d)}, init=TRUE)
    assert r.diagnostics["identifiable"] is False


@pytest.mark.slow
def test_a_well_spread_design_is_not_flagged():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FidelityWarning)
        r = fit(load_chinchilla_runs(), drop_highest_loss=5,
                init={"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658})
    assert r.diagnostics["identifiable"] is True and "NOT IDENTIFIABLE" not in r.message
    assert r.diagnostics["jacobian_min_singular"] > 10 * COLLINEAR_TOL


def test_fixing_the_inseparable_parameters_clears_the_flag():
    n = np.geomspace(1e7, 1e9, 10)
    d = np.full(10, 3e11)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FidelityWarning)
        r = fit({"N": n, "D": d, "loss": _loss(n, d)}, fixed={"B": TRUE["B"], "beta": TRUE["beta"]}, init=TRUE)
    assert r.diagnostics["identifiable"] is True


def test_design_notes_name_the_constant_axis():
    df = pl.DataFrame({"N": [1e8, 1.02e8, 1.01e8], "D": [1e9, 1e10, 1e11]})
    assert design_notes(df) == ["every run has the same N (within 5%: 1e+08 to 1.02e+08)"]
    assert design_notes(pl.DataFrame({"N": [1e8, 1e9], "D": [1e9, 1e11]})) == []
