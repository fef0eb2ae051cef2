"""Golden: variable projection (method="vpnls") against the Chinchilla Approach 3 refit of
Besiroglu et al. 2024 ("Chinchilla Scaling: A replication attempt", Table 1; data: Hoffmann
et al. 2022 Figure 4 as digitised in their repository epoch-research/analyzing-chinchilla,
shipped as tsbudget/data/chinchilla_fig4_besiroglu2024.csv, the 5 highest-loss runs dropped).

Issue 14 asks that vpnls reach the golden Huber objective of that refit to 1e-9 relative,
or that the difference be explained. It is explained: VPNLS (Open-Athena's scaling-law
analysis, ``fit_surface``) minimises the sum of squared residuals of the loss itself
(NNLS on E, A, B for each exponent pair), not the summed Huber loss (δ = 1e-3) of the log
residuals, so on these noisy runs the two methods reach different optima. Each is the
better one on its own objective, which this test checks, and both objectives are pinned.
"""

import numpy as np
import pytest

from tsbudget.datasets.chinchilla import load_chinchilla_runs
from tsbudget.fitting.fit import fit

# tsbudget's Huber multistart on these runs (benchmarks/README.md: the plain scipy reference
# reaches 0.0010182740178331, 3.2e-11 relative away); Besiroglu et al. print E 1.82, α 0.35, β 0.37
HUBER_OBJECTIVE = 0.0010182740178005985


@pytest.fixture(scope="module")
def fits():
    runs = load_chinchilla_runs()
    return fit(runs, "chinchilla", drop_highest_loss=5), fit(runs, "chinchilla", drop_highest_loss=5, method="vpnls")


def _rss(result):
    return float(np.sum((result.predict() - result.runs["loss"].to_numpy()) ** 2))


def test_the_huber_multistart_reaches_the_golden_objective(fits):
    huber, _ = fits
    assert huber.objective == pytest.approx(HUBER_OBJECTIVE, rel=1e-9)


def test_vpnls_minimises_another_objective(fits):
    huber, vp = fits
    assert vp.success and vp.n_runs == 240
    # its own objective: Σ (L̂ − L)² at its optimum, pinned
    assert vp.objective == pytest.approx(0.08320380769330052, rel=1e-6)
    assert vp.objective == pytest.approx(_rss(vp), rel=1e-12)
    # the Huber objective at the vpnls parameters, pinned: 8.9% above the golden one
    assert vp.diagnostics["huber_objective"] == pytest.approx(0.001108545635197722, rel=1e-6)
    assert vp.diagnostics["huber_objective"] > HUBER_OBJECTIVE * (1 + 1e-3)
    # and the Huber fit's sum of squares is above vpnls's: each method wins on its own objective
    assert _rss(huber) == pytest.approx(0.11421527746565349, rel=1e-6)
    assert _rss(huber) > vp.objective


def test_vpnls_parameters_and_conditioning(fits):
    _, vp = fits
    p = vp.parameters
    expected = {"E": 1.8828136180954878, "A": 567.8054702149407, "B": 7581.852315844837,
                "alpha": 0.35761509284914245, "beta": 0.42762062094348763}
    for k, v in expected.items():
        assert p[k] == pytest.approx(v, rel=1e-5), k
    # the projected problem over (α, β) is well conditioned; the full 5-parameter one is not
    # (the two ratios Open-Athena's experiment 8, exp8_conditioning.py, measures on noise-free synthetic runs)
    assert vp.diagnostics["condition_number"] < 10
    assert vp.diagnostics["condition_number_full"] > 1e12
