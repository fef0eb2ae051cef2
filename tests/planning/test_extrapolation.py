"""Plans and frontiers say how far they lie outside the runs their law was fitted on."""

import json

import numpy as np
import pytest

import tsbudget as tb
from tsbudget.cli.main import main
from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.laws.presets import PRESETS
from tsbudget.laws.ranges import FitRanges
from tsbudget.planning.extrapolation import WARN_FACTOR, extrapolation

RANGES = FitRanges(budget=(1e18, 1e22), n=(1e8, 1e10), d=(1e9, 1e11))


def test_issue_example_is_no_longer_a_silent_success():
    # issue 14 point 5: `tsbudget plan --budget 1e21 --unique 1e3` gave an 8.7e14-parameter model, "success"
    pl = tb.plan(1e21, unique=1e3)
    assert pl.N > 1e14 and pl.success
    assert "warning: extrapolation" in pl.message and "N 8.7e+14" in pl.message
    ex = pl.to_dict()["extrapolation"]
    assert set(ex["beyond"]) == {"n", "d"} and ex["ratios"]["budget"] == 1.0
    assert ex["ratios"]["n"] == pytest.approx(pl.N / PRESETS["epoch2024"].ranges.n[1])
    # the data the law reads is the effective data (repetition discounted), far below the smallest run's
    assert ex["ratios"]["d"] == pytest.approx(PRESETS["epoch2024"].ranges.d[0] / pl.effective_data)


def test_inside_the_fitted_runs_no_warning():
    pl = tb.plan(1e21)
    assert "warning" not in pl.message
    assert pl.extrapolation["ratios"] == {"budget": 1.0, "n": 1.0, "d": 1.0} and pl.extrapolation["beyond"] == []


def test_a_law_without_runs_says_it_cannot_tell():
    pl = tb.plan(1e21, law=Chinchilla())
    assert pl.extrapolation["ranges"] is None and "unknown" in pl.extrapolation["note"]
    assert "warning" not in pl.message


def test_fit_ranges_come_from_the_fits_runs():
    from tsbudget.datasets.chinchilla import load_chinchilla_runs
    from tsbudget.fitting.fit import fit

    res = fit(load_chinchilla_runs(), "chinchilla", drop_highest_loss=5, method="vpnls")
    pl = tb.plan(3.8e25, law=res)
    assert pl.extrapolation["ranges"] == res.ranges.to_dict()
    assert pl.extrapolation["ratios"]["budget"] == pytest.approx(3.8e25 / res.ranges.budget[1])
    assert "training FLOPs 3.8e+25" in pl.message


def test_threshold_is_the_stated_factor():
    inside = extrapolation(RANGES, 1e22 * WARN_FACTOR, 1e9, 1e10)
    past = extrapolation(RANGES, 1e22 * WARN_FACTOR * 1.01, 1e9, 1e10)
    assert inside["warning"] is None and inside["ratios"]["budget"] == pytest.approx(WARN_FACTOR)
    assert past["beyond"] == ["budget"] and "above the fitted range" in past["warning"]
    below = extrapolation(RANGES, 1e20, 1e9, 1e7)
    assert below["beyond"] == ["d"] and "100x below" in below["warning"]


def test_frontier_flags_each_budget():
    ds = tb.frontier(np.geomspace(1e20, 1e25, 6))
    ratio = ds["extrapolation_budget"].values
    np.testing.assert_allclose(ratio, np.maximum(ds["train_flops"].values / 1.2956e22, 1.0), rtol=1e-12)
    assert list(ds["extrapolated"].values) == [False] * 4 + [True] * 2
    assert "2 of 6 budgets" in ds.attrs["extrapolation_warning"]


def test_cli_plan_prints_the_warning(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["plan", "--budget", "1e21", "--unique", "1e3", "--json"])
    assert exc.value.code == 0
    d = json.loads(capsys.readouterr().out)
    assert d["success"] and "warning: extrapolation" in d["message"] and d["extrapolation"]["beyond"] == ["n", "d"]
