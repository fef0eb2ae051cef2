"""Approach 2 (IsoFLOP profiles) on published sweeps, with the default budget grouping.

- Li, Kudugunta & Zettlemoyer 2025, "(Mis)Fitting: A Survey of Scaling Laws": 26 log-spaced
  budgets 8.5e16 to 2.2e19, 1.24x apart, losses interpolated per budget from loss curves
  (tests/data/isoflops_misfitting.csv, via Open-Athena/scaling-law-analysis). With every budget
  kept apart the fitted N_opt exponent is a = 0.497; merging the close budgets into 2 groups gave
  a = 1.02, a nonsense that the default grouping must never produce.
- Hoffmann et al. 2022 Table 2 (Approach 2): a = 0.49 on the Chinchilla IsoFLOP runs
  (tests/data/isoflops_epochai_chinchilla.csv, the Epoch AI digitisation of their Fig. 3).
"""

from pathlib import Path

import polars as pl
import pytest

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
