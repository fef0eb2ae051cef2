"""The fit card: in to_dict, the saved JSON and the report; old files without a card still load."""

import json

import numpy as np
import pytest

from tsbudget.datasets.chinchilla import load_chinchilla_runs
from tsbudget.fitting.fit import fit
from tsbudget.fitting.result import FitResult
from tsbudget.laws.ranges import FitRanges

SMALL = {"E": [0.0, 0.5], "A": [5.0, 7.0], "B": [5.0, 7.0], "alpha": [0.3, 0.5], "beta": [0.3, 0.5]}
SMALL_E_FIXED = {k: v for k, v in SMALL.items() if k != "E"}


@pytest.fixture(scope="module")
def result():
    return fit(load_chinchilla_runs(), "chinchilla", drop_highest_loss=5, grid=SMALL_E_FIXED, fixed={"E": 1.8})


def test_card_records_every_choice(result):
    card = result.to_dict()["card"]
    assert card["law"] == "chinchilla" and card["method"] == "batched"
    assert card["loss"].startswith("Huber δ=0.001 on log residuals, sum") and card["delta"] == 1e-3
    assert card["fixed"] == {"E": 1.8} and card["free"] == ["A", "B", "alpha", "beta"]
    assert card["starts"] == result.n_starts == 16 and card["starts_at_best"] >= 1 and card["grid"] == "custom"
    assert (card["points_used"], card["points_given"], card["points_dropped"]) == (240, 245, 5)
    assert "dense" in card["counting"] and "tokens" in card["counting"]
    assert card["validation"] is None


def test_card_ranges_are_the_fitted_runs_span(result):
    r = result.ranges
    assert isinstance(r, FitRanges)
    runs = result.runs
    assert r.budget == (runs["flops"].min(), runs["flops"].max())
    assert r.n == (runs["N"].min(), runs["N"].max()) and r.d == (runs["D"].min(), runs["D"].max())
    assert result.card["ranges"] == r.to_dict()
    assert r.ratios(budget=10 * runs["flops"].max())["budget"] == pytest.approx(10.0)


def test_card_in_the_report(result):
    text = repr(result)
    assert "fit card: law chinchilla, method batched" in text
    assert "points used 240 of 245 (5 dropped)" in text and "fixed: E=1.8" in text
    assert "out-of-sample: not measured" in text


def test_validation_summary_round_trips(result, tmp_path):
    summary = {"variant": "chinchilla/huber", "cuts": [1e21], "n_predictions": 22, "rmse_log": 0.015,
               "bias_log": 0.007, "mean_abs_pct": 1.3, "max_abs_pct": 3.1, "per_budget": []}
    v = result.with_validation(summary)
    assert v.card["validation"] == summary and "RMSE of log loss 0.015" in repr(v)
    back = FitResult.load(v.save(tmp_path / "fit.json"))
    assert back.validation == summary and back.card == v.card


def test_old_file_without_a_card_still_loads(result, tmp_path):
    path = result.save(tmp_path / "fit.json")
    data = json.loads(path.read_text())
    data.pop("card")
    for k in ("n_runs_given",):
        data["diagnostics"].pop(k)
    path.write_text(json.dumps(data))
    old = FitResult.load(path)
    assert old.validation is None
    assert old.card["points_given"] == old.card["points_used"] == 240  # unknown before: no drop recorded
    assert np.allclose(old.predict(), result.predict())
