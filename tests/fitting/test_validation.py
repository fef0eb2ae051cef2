"""Leave-future-out validation (tsbudget.fitting.validation) on synthetic IsoFLOP runs."""

import math

import numpy as np
import polars as pl
import pytest

from tsbudget.errors import InputError, SchemaError
from tsbudget.fitting.validation import validate, variants
from tsbudget.fitting.validation_result import BY_BUDGET, RANKING

TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
BUDGETS = (1e17, 1e18, 1e19, 1e20, 1e21, 1e22)
SMALL = {"E": [0.0, 0.5], "A": [5.0, 7.0], "B": [5.0, 7.0], "alpha": [0.3, 0.5], "beta": [0.3, 0.5]}


def _runs(noise=0.0, seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for c in BUDGETS:
        for n in np.logspace(np.log10(c / 6) / 2 - 0.8, np.log10(c / 6) / 2 + 0.8, 7):
            d = c / (6 * n)
            loss = TRUTH["E"] + TRUTH["A"] * n ** -TRUTH["alpha"] + TRUTH["B"] * d ** -TRUTH["beta"]
            rows.append({"params": n, "tokens": d, "loss": loss * math.exp(noise * rng.standard_normal()),
                         "budget": c, "flops": 6 * n * d})
    return pl.DataFrame(rows)


COLS = {"N": "params", "D": "tokens"}


def test_noiseless_runs_are_predicted_exactly():
    v = validate(_runs(), cuts=[1e21], budget_column="budget", columns=COLS, grid=SMALL)
    assert v.success and v.cuts == (1e21,)
    assert v.predictions.height == 14
    assert np.max(np.abs(v.predictions["pct_error"].to_numpy())) < 1e-5
    assert v.by_budget.columns == list(BY_BUDGET) and v.ranking.columns == list(RANKING)


def test_held_out_runs_are_every_run_at_or_above_each_cut():
    runs = _runs(noise=0.01)
    v = validate(runs, methods=["huber", "vpnls"], budget_column="budget", columns=COLS, grid=SMALL)
    b = runs["budget"].to_numpy()
    # default: the 3 largest budgets that leave at least 3 budgets to fit on
    assert v.cuts == (1e20, 1e21, 1e22)
    for variant in v.variants:
        for cut in v.cuts:
            got = v.predictions.filter((pl.col("variant") == variant) & (pl.col("cut") == cut))["run"].to_list()
            assert sorted(got) == np.flatnonzero(b >= cut).tolist()
    for f in v.fits:
        assert f["n_train"] == int(np.sum(b < f["cut"]))
    x = v.by_budget.filter((pl.col("cut") == 1e20) & (pl.col("variant") == "chinchilla/huber"))
    assert x["extrapolation"].to_list() == pytest.approx([10.0, 100.0, 1000.0])  # held-out / largest fitted budget
    assert v.ranking["rank"].to_list() == [1, 2] and set(v.ranking["variant"]) == {"chinchilla/huber",
                                                                                     "chinchilla/vpnls"}


def test_budgets_from_flops_when_no_budget_column():
    runs = _runs(noise=0.01)
    v = validate(runs, cuts=[1e21], columns=COLS, grid=SMALL)
    assert v.predictions.height == 14 and "grouped" in v.budget_source
    nominal = validate(runs, cuts=[1e21], columns=COLS, grid=SMALL, budgets=list(BUDGETS))
    assert "nominal" in nominal.budget_source and nominal.predictions.height == 14


def test_fixed_variants_and_notes():
    vs, notes = variants(["chinchilla", "kaplan"], ["huber", "vpnls"], {"E": 1.6})
    assert [v.label for v in vs] == ["chinchilla/huber", "chinchilla/huber E=1.6", "chinchilla/vpnls",
                                     "chinchilla/vpnls E=1.6", "kaplan/huber"]
    assert any("kaplan/vpnls: skipped" in n for n in notes) and any("fixed E skipped" in n for n in notes)
    only, _ = variants(["chinchilla"], ["huber"], {"E": 1.6}, include_free=False)
    assert [v.label for v in only] == ["chinchilla/huber E=1.6"]


def test_summary_for_the_fit_card():
    v = validate(_runs(noise=0.01), cuts=[1e21, 1e22], budget_column="budget", columns=COLS, grid=SMALL)
    s = v.summary()
    assert s["cuts"] == [1e21, 1e22] and s["n_predictions"] == 14 + 7
    assert len(s["per_budget"]) == 3 and all(math.isfinite(r["mean_abs_pct"]) for r in s["per_budget"])
    d = v.to_dict()
    assert d["ranking"][0]["variant"] == "chinchilla/huber" and len(d["predictions"]) == 21
    text = repr(v)
    assert "per held-out budget" in text and "chinchilla/huber" in text


def test_a_failed_fit_is_recorded():
    # one run per budget below the cut: 4 distinct points cannot determine 5 free parameters
    runs = _runs().filter((pl.col("budget") >= 1e21) | (pl.col("params") == pl.col("params").min().over("budget")))
    v = validate(runs, cuts=[1e21], budget_column="budget", columns=COLS, grid=SMALL, min_train_budgets=1)
    assert not v.success and v.fits[0]["objective"] is None and "fit failed" in v.fits[0]["message"]
    assert v.ranking["fits_failed"].to_list() == [1]
    assert "every fit failed" in v.message


def test_bad_inputs():
    runs = _runs()
    with pytest.raises(InputError, match="cut 1e\\+30"):
        validate(runs, cuts=[1e30], budget_column="budget", columns=COLS)
    with pytest.raises(InputError, match="cut 1e\\+10"):
        validate(runs, cuts=[1e10], budget_column="budget", columns=COLS)
    with pytest.raises(SchemaError, match="budget column 'nope'"):
        validate(runs, budget_column="nope", columns=COLS)
    with pytest.raises(InputError, match="method must be one of"):
        validate(runs, methods=["newton"], budget_column="budget", columns=COLS)
    with pytest.raises(InputError, match="no fit variant"):
        validate(runs, laws=["kaplan"], methods=["vpnls"], budget_column="budget", columns=COLS)
    with pytest.raises(InputError, match="min_train_budgets"):
        validate(runs.filter(pl.col("budget") < 1e19), budget_column="budget", columns=COLS)
