"""fit_capability: Gadre et al. 2024's link metric = ε − k·exp(−γ·L), recovered from synthetic pairs,
inverted for a metric target with its interval, and refused on bad input."""

import numpy as np
import polars as pl
import pytest

from tsbudget.errors import InputError, SchemaError
from tsbudget.fitting.capability import fit_capability, gadre_loss, gadre_metric

# a synthetic error-rate link in the range of Gadre et al.'s Figure (chance-level error ε < 1)
TRUE = {"epsilon": 0.78, "k": 3.0, "gamma": 1.1}
LOSS = np.linspace(2.3, 3.9, 24)


def pairs(noise=0.0, seed=0, **true):
    p = {**TRUE, **true}
    m = gadre_metric(LOSS, p["epsilon"], p["k"], p["gamma"])
    m = m + np.random.default_rng(seed).normal(0.0, noise, LOSS.size)
    return pl.DataFrame({"val_loss": LOSS, "err": m})


def test_formula_and_its_inverse():
    m = gadre_metric(LOSS, 0.78, 3.0, 1.1)
    np.testing.assert_allclose(m, 0.78 - 3.0 * np.exp(-1.1 * LOSS), rtol=1e-15)
    np.testing.assert_allclose(gadre_loss(m, 0.78, 3.0, 1.1), LOSS, rtol=1e-12)
    assert np.isnan(gadre_loss(0.8, 0.78, 3.0, 1.1))  # an error above chance level is never reached


def test_noiseless_pairs_recover_the_link():
    f = fit_capability(pairs(), loss="val_loss", metric="err", n_bootstrap=0)
    assert f.epsilon == pytest.approx(0.78, rel=1e-6)
    assert f.k == pytest.approx(3.0, rel=1e-5) and f.gamma == pytest.approx(1.1, rel=1e-6)
    assert f.rss < 1e-20 and f.draws is None and f.direction == "falls"


def test_an_accuracy_link_rises_as_the_loss_falls():
    df = pairs(epsilon=0.22, k=-3.0)
    f = fit_capability(df, loss="val_loss", metric="err", n_bootstrap=0)
    assert f.k == pytest.approx(-3.0, rel=1e-5) and f.direction == "rises"
    target = f.loss_for(0.4)
    assert target["loss"] == pytest.approx(float(gadre_loss(0.4, 0.22, -3.0, 1.1)), rel=1e-6)


def test_noisy_pairs_cover_the_truth_and_the_target_interval():
    f = fit_capability(pairs(noise=0.004, seed=3), loss="val_loss", metric="err", n_bootstrap=300, seed=1)
    for name, d in f.parameter_intervals().items():
        assert d["lower"] < TRUE[name] < d["upper"], name
    target = 0.6  # an error the pairs span (loss ≈ 2.6)
    true_loss = float(gadre_loss(target, **TRUE))
    out = f.loss_for(target)
    assert out["lower"] < true_loss < out["upper"] and out["lower"] < out["loss"] < out["upper"]
    assert out["reachable"] == 1.0 and not out["extrapolates"] and out["note"] == ""
    # inverting back through the point fit gives the target
    assert float(f.predict(out["loss"])) == pytest.approx(target, abs=1e-12)
    # a plan's loss interval carried to the metric is at least as wide as the link's own interval
    alone = f.metric_at(3.0)
    both = f.metric_for_interval(3.0, 2.95, 3.05)
    assert both["lower"] < alone["lower"] < alone["metric"] < alone["upper"] < both["upper"]
    assert both["metric"] == pytest.approx(float(gadre_metric(3.0, f.epsilon, f.k, f.gamma)))
    assert "gamma" in repr(f) and "300 bootstrap draws" in repr(f)
    d = f.to_dict()
    assert d["parameters"]["k"]["value"] == pytest.approx(f.k) and d["n_pairs"] == 24


def test_a_target_beyond_the_pairs_is_flagged_as_an_extrapolation():
    f = fit_capability(pairs(noise=0.004, seed=3), loss="val_loss", metric="err", n_bootstrap=50)
    out = f.loss_for(0.3)
    assert out["extrapolates"] and "outside the losses of the pairs" in out["note"]


def test_bad_input():
    good = pairs()
    with pytest.raises(SchemaError, match="'metric'"):
        fit_capability(good, loss="val_loss")
    with pytest.raises(InputError, match="3 pairs"):
        fit_capability(good.head(3), loss="val_loss", metric="err")
    flat = good.with_columns(pl.lit(3.0).alias("val_loss"))
    with pytest.raises(InputError, match="1 distinct"):
        fit_capability(flat, loss="val_loss", metric="err")
    nan = good.with_columns(pl.Series("err", [np.nan] + good["err"].to_list()[1:]))
    with pytest.raises(SchemaError, match="NaN"):
        fit_capability(nan, loss="val_loss", metric="err")
    for bad in (1, -2, 2.5, True):
        with pytest.raises(InputError, match="n_bootstrap"):
            fit_capability(good, loss="val_loss", metric="err", n_bootstrap=bad)
    with pytest.raises(InputError, match="level"):
        fit_capability(good, loss="val_loss", metric="err", level=95)
    f = fit_capability(good, loss="val_loss", metric="err", n_bootstrap=0)
    with pytest.raises(InputError, match="out of the link's reach.*below 0.78"):
        f.loss_for(0.9)
    with pytest.raises(InputError, match="target metric"):
        f.loss_for(float("nan"))
    with pytest.raises(InputError, match="lower end 3.1 is above"):
        f.metric_for_interval(3.0, 3.1, 2.9)


def test_pairs_that_do_not_curve_are_flagged():
    # a straight line is the γ → 0 limit of the link: ε and k run off together, and the fit says so
    f = fit_capability({"loss": LOSS, "metric": 0.1 + 0.2 * LOSS}, n_bootstrap=0)
    assert f.notes and "edge of its search range" in f.notes[0] and "edge of its search range" in repr(f)
    # still close to the pairs (within 1e-3 of a metric spanning 0.32): the curvature left at the edge
    np.testing.assert_allclose(f.predict(LOSS), 0.1 + 0.2 * LOSS, atol=1e-3)


@pytest.mark.parametrize("eps, k, target", [(0.78, 3.0, 0.55), (0.25, -3.0, 0.48)])
def test_the_safe_loss_reaches_the_target_under_the_stated_share_of_draws(eps, k, target):
    """Error (k > 0) and accuracy (k < 0) alike: a loss reaches the target under a draw when it is at
    most the loss that draw needs, so the safe loss is the low end; its coverage over the draws is at
    least (1 + level)/2 (it was the high end for accuracies, reaching the target under ~2.5%)."""


    rng = np.random.default_rng(7)
    loss = np.linspace(2.0, 3.2, 16)
    metric = eps - k * np.exp(-1.1 * loss) + rng.normal(0, 0.004, loss.size)
    fit = fit_capability(pl.DataFrame({"loss": loss, "metric": metric}), n_bootstrap=400, seed=1)
    t = fit.loss_for(target)
    d = {name: np.asarray(v, float) for name, v in fit.draws.items()}
    reached = gadre_metric(t["safe"], d["epsilon"], d["k"], d["gamma"])
    reached = reached <= target if k > 0 else reached >= target
    assert np.mean(reached) >= (1 + 0.95) / 2 - 1e-9
    assert t["safe"] <= t["loss"]
