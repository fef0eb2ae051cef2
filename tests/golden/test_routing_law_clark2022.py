"""Golden: the routing law of Clark et al. 2022 ("Unified Scaling Laws for Routed Language
Models", eq. 1, Table 3) refitted on the shipped runs, next to the paper's printed values.

Paper (Table 3, logs base 10; transcribed in CLARK_TABLE3) and our refit with the paper's
objective (least squares on log loss: Huber with a δ far above every residual), the runs of
their example notebook (dense + one router, k = 1, routing frequency 0.5, seed 42):

    router  a (paper/ours)     b                 c                 d               E_start       E_max
    S-Base  -0.082 / -0.0830   -0.108 / -0.1180  0.009 / 0.0099    1.104 / 1.1136  1.847 / 2.07  314.5 / 238.7
    RL-R    -0.083 / -0.0827   -0.126 / -0.1234  0.012 / 0.0112    1.111 / 1.1070  1.880 / 1.72  470.0 / 470.1
    Hash    -0.087 / -0.0874   -0.136 / -0.1384  0.012 / 0.0126    1.157 / 1.1595  4.175 / 4.27  477.7 / 427.3

Differences: a and d within 0.01; b within 0.01 (S-Base 0.010 steeper); c within 0.001; the
saturation points within ~25% (E_max is weakly identified: the largest expert count is 512).
Where routing stops helping (N_cut = 10^(-b/c)), paper §5 prints 937B (S-Base), 85B (RL-R),
83B (Hash); the refit gives 7.8e11, 9.7e10, 8.9e10. With tsbudget's default Huber δ = 1e-3
(closer to least absolute deviations) the S-Base cut-off falls to 4.2e11: the cut-off is a
ratio of two small slopes and moves with the loss function.
"""

import numpy as np
import pytest

from tsbudget.datasets.routing import routing_law_runs
from tsbudget.fitting.fit import fit
from tsbudget.laws.routing import CLARK_TABLE3, Routing

# Clark et al. 2022 §5: N_cutoff, the dense size beyond which routing stops helping
PAPER_CUTOFF = {"S-Base": 937e9, "RL-R": 85e9, "Hash": 83e9}
LEAST_SQUARES = 1.0  # Huber δ above every log residual (< 0.05): the paper's squared error


@pytest.fixture(scope="module", params=sorted(CLARK_TABLE3))
def refit(request):
    router = request.param
    runs = routing_law_runs(router)
    return router, runs, fit(runs, Routing(), delta=LEAST_SQUARES)


def test_refit_is_near_table3(refit):
    router, _, result = refit
    got, paper = result.law.values, CLARK_TABLE3[router]
    assert got["a"] == pytest.approx(paper["a"], abs=0.003)
    assert got["b"] == pytest.approx(paper["b"], abs=0.012)
    assert got["c"] == pytest.approx(paper["c"], abs=0.0012)
    assert got["d"] == pytest.approx(paper["d"], abs=0.012)
    assert got["E_start"] == pytest.approx(paper["E_start"], rel=0.15)
    assert got["E_max"] == pytest.approx(paper["E_max"], rel=0.25)


def test_cutoff_where_routing_stops_helping(refit):
    router, _, result = refit
    cut = float(result.law.cutoff())
    # within a factor 1.25 of the paper's printed cut-off
    assert PAPER_CUTOFF[router] / 1.25 < cut < PAPER_CUTOFF[router] * 1.25, cut
    if router == "S-Base":
        assert 7e11 < cut < 9e11  # "near 8e11" (issue 11)
    # at the cut-off the slope in log E^ is zero; below it experts help, above it they hurt
    n = np.array([cut / 10, cut, cut * 10])
    law = result.law
    slope = law.values["b"] + law.values["c"] * np.log10(n)
    assert slope[0] < 0 and abs(slope[1]) < 1e-12 and slope[2] > 0


def test_table3_predicts_the_shipped_runs(refit):
    # A check of the transcription: the printed coefficients reproduce the runs to ~1-2%.
    router, runs, result = refit
    law = Routing(**CLARK_TABLE3[router])
    pred = law.loss(N=runs["N"].to_numpy(), experts=runs["experts"].to_numpy())
    residual = np.log(runs["loss"].to_numpy() / pred)
    assert np.sqrt(np.mean(residual**2)) < 0.02
    ours = np.log(runs["loss"].to_numpy() / result.law.loss(N=runs["N"].to_numpy(), experts=runs["experts"].to_numpy()))
    assert np.sqrt(np.mean(ours**2)) < np.sqrt(np.mean(residual**2))  # the refit fits its own runs better


def test_effective_parameter_count_example():
    # Clark et al. §5: a 5M-parameter model with 128 experts (S-Base) performs like a dense
    # model of about 55M parameters (as quoted in the transcription of CLARK_TABLE3); the rounded
    # Table 3 coefficients give 52M.
    n_bar = float(Routing(**CLARK_TABLE3["S-Base"]).effective_params(5e6, 128))
    assert 45e6 < n_bar < 60e6
