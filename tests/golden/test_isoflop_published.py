"""Approach 2 (IsoFLOP profiles) on published sweeps, with the default budget grouping.

- Li, Kudugunta & Zettlemoyer 2025, "(Mis)Fitting: A Survey of Scaling Laws": 26 log-spaced
  budgets 8.5e16 to 2.2e19, 1.24x apart, losses interpolated per budget from loss curves
  (tests/data/isoflops_misfitting.csv, via Open-Athena/scaling-law-analysis). With every budget
  kept apart the fitted N_opt exponent is a = 0.497; merging the close budgets into 2 groups gave
  a = 1.02, a nonsense that the default grouping must never produce.
- Hoffmann et al. 2022 Table 2 (Approach 2): a = 0.49 on the Chinchilla IsoFLOP runs
  (tests/data/isoflops_epochai_chinchilla.csv, the Epoch AI digitisation of their Fig. 3).
"""

import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tsbudget.errors import FidelityWarning
from tsbudget.fitting.approach2 import isoflop_profiles

DATA = Path(__file__).parents[1] / "data"
COLUMNS = {"N": "params", "D": "tokens", "flops": "budget", "loss": "loss"}


def test_misfitting_sweep_keeps_its_26_budgets_and_gives_a_near_half():
    result = isoflop_profiles(pl.read_csv(DATA / "isoflops_misfitting.csv"), columns=COLUMNS)
    assert result.table.height == 26
    assert result.a == pytest.approx(0.497, abs=0.01)
    assert result.a + result.b == pytest.approx(1.0)


def test_chinchilla_isoflops_still_give_hoffmann_approach2_exponent():
    result = isoflop_profiles(pl.read_csv(DATA / "isoflops_epochai_chinchilla.csv"), columns=COLUMNS)
    assert result.a == pytest.approx(0.49, abs=0.01)


def test_merging_distinct_budgets_warns_and_says_so():
    # a tolerance wide enough to merge the sweep's 1.24x-apart budgets (each with >= 3 runs)
    with pytest.warns(FidelityWarning, match=r"26 distinct FLOPs values merged into 14 budgets .*24 of them have "
                                             r">= 3 runs, enough for a profile of their own: pass tolerance=0"):
        result = isoflop_profiles(pl.read_csv(DATA / "isoflops_misfitting.csv"), columns=COLUMNS, tolerance=0.5)
    assert any("merged" in line for line in result.diagnostic_lines())


def test_the_default_grouping_neither_merges_nor_warns():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FidelityWarning)
        for name in ("isoflops_misfitting.csv", "isoflops_epochai_chinchilla.csv"):
            assert isoflop_profiles(pl.read_csv(DATA / name), columns=COLUMNS).options["notes"] == []


def test_a_negative_exponent_warns():
    # minima that shrink with compute: N_opt ∝ C^a with a < 0
    rows = []
    for c, n_star in ((1e18, 4e8), (1e19, 2e8), (1e20, 1e8)):
        for n in n_star * np.geomspace(0.25, 4, 7):
            rows.append({"params": n, "tokens": c / (6 * n), "budget": c, "loss": 2 + 0.1 * np.log(n / n_star) ** 2})
    with pytest.warns(FidelityWarning, match=r"negative exponent: N_opt ∝ C\^a with a = -0.30"):
        result = isoflop_profiles(pl.DataFrame(rows), columns=COLUMNS)
    assert result.a == pytest.approx(-np.log10(2), abs=1e-6)
