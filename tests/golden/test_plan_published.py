"""Planner numbers against published values."""

from importlib import resources

import numpy as np
import pytest
from scipy.optimize import brentq

from tsbudget.planning.plan import plan
from tsbudget.planning.serving import Serving



def test_gopher_budget_gives_chinchilla_size():
    # Hoffmann et al. 2022, Figure 4 caption (approach 3): at the Gopher budget 5.76e23
    # FLOPs the optimal model has about 40B parameters; with the unrounded eq. 10
    # constants the closed form gives 4.04e10.
    p = plan(5.76e23, law="chinchilla2022")
    assert p.N == pytest.approx(4.04e10, rel=0.005)
    q = plan(5.76e23, law="chinchilla2022", method="general")
    assert q.N == pytest.approx(p.N, rel=1e-6)


def test_epoch_refit_tokens_per_parameter():
    # Besiroglu et al. 2024 §4: with their refit (eq. 3) the optimal ratio at Chinchilla's
    # budget 5.88e23 FLOPs is about 18.4 tokens per parameter (point estimate).
    p = plan(5.88e23, law="epoch2024")
    assert p.data_per_param == pytest.approx(18.4, abs=0.05)


@pytest.mark.parametrize("mode", ["budget", "target"])
def test_serving_break_even_at_three_times_trained_positions(mode):
    # Dense model: training 6N per trained position, serving 2N per served position
    # (Kaplan et al. 2020 Table 1), so serving FLOPs equal training FLOPs exactly when
    # served positions = 3 × trained positions (the crossover Sardana & Frankle 2024 discuss).
    kwargs = {"budget": 1e22} if mode == "budget" else {"target_loss": 2.3}

    def gap(log_s):
        p = plan(serving=Serving(positions=np.exp(log_s)), **kwargs)
        return np.log(p.inference_flops / p.train_flops)

    s = np.exp(brentq(gap, np.log(1e9), np.log(1e14), xtol=1e-12))
    p = plan(serving=Serving(positions=s), **kwargs)
    assert p.inference_flops == pytest.approx(p.train_flops, rel=1e-9)
    assert s / p.positions == pytest.approx(3.0, rel=1e-9)


@pytest.fixture(scope="module")
def besiroglu_bootstrap():
    # Fit the Chinchilla Figure 4 points (digitised by Besiroglu et al. 2024) dropping the
    # 5 highest-loss runs (Hoffmann grid), then 1,000 bootstrap refits with seed 0: the
    # configuration benchmarks/README.md reports (~2 s on 2 cores).
    import polars as pl

    from tsbudget.uncertainty.bootstrap import bootstrap
    from tsbudget.fitting.fit import fit

    # the Besiroglu et al. 2024 digitisation of Chinchilla Fig. 4, shipped with tsbudget
    with resources.as_file(resources.files("tsbudget") / "data" / "chinchilla_fig4_besiroglu2024.csv") as path:
        df = pl.read_csv(path)
    df = df.with_columns((pl.col("Training FLOP") / (6 * pl.col("Model Size"))).alias("D"))
    result = fit(df, "chinchilla", columns={"N": "Model Size", "D": "D", "loss": "loss"}, drop_highest_loss=5)
    return bootstrap(result, 1000, seed=0, budgets=[5.88e23])


def test_besiroglu_refit_and_bootstrap_median(besiroglu_bootstrap):
    # Point ratio at 5.88e23 FLOPs: about 18 tokens per parameter (Besiroglu et al. 2024
    # §4: 18.4 with their rounded constants; our unrounded optimum gives 17.91). The median
    # over our 1,000 nonparametric refits (seed 0) is 17.32 (benchmarks/README.md,
    # Bootstrap): pinned, so a change to the resampling or the refits shows up here.
    p = plan(5.88e23, law=besiroglu_bootstrap)
    assert p.data_per_param == pytest.approx(17.91, rel=2e-3)
    med, lo, hi = p.intervals["data_per_param"]
    assert med == pytest.approx(17.32, rel=2e-3)
    assert lo == pytest.approx(7.71, rel=1e-2) and hi == pytest.approx(34.97, rel=1e-2)
    assert besiroglu_bootstrap.draws.attrs["n_failed"] == 0


def test_besiroglu_normal_draws_do_not_give_25_7(besiroglu_bootstrap):
    # Besiroglu et al. 2024's replication notebook (epoch-research/analyzing-chinchilla,
    # data_analysis.ipynb) takes its median tokens per parameter over 10,000 draws of
    # (log A, log B, log E, alpha, beta) from a multivariate normal centred on their
    # estimate with the covariance of their bootstrap estimates. Issue 5 quotes that median
    # as 25.7. Done here with our bootstrap covariance it gives ~18, at the point estimate
    # (the ratio is nearly log-linear in those coordinates), with our centre or theirs; a
    # normal in the natural coordinates gives ~14.5. Neither reproduces 25.7.
    from tsbudget.uncertainty.draws import normal_draws

    paper = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}  # their Table 1
    ours = plan(5.88e23, law=normal_draws(besiroglu_bootstrap, 10_000, seed=0)).intervals["data_per_param"][0]
    theirs = plan(5.88e23, law=normal_draws(besiroglu_bootstrap, 10_000, seed=0, mean=paper)).intervals[
        "data_per_param"][0]
    natural = normal_draws(besiroglu_bootstrap, 10_000, seed=0, space="natural")
    assert ours == pytest.approx(18.01, rel=0.02)
    assert theirs == pytest.approx(18.48, rel=0.02)
    assert float(natural.draws["tokens_per_param"].median()) == pytest.approx(14.5, rel=0.03)
    for med in (ours, theirs):
        assert abs(med / 25.7 - 1) > 0.2
