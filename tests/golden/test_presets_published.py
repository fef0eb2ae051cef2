"""Published numbers reproduced from the preset laws."""

import numpy as np
import pytest

from tsbudget.timeseries.effective_data import effective_data
from tsbudget.laws.presets import get_preset


def test_chinchilla_closed_form_at_the_gopher_budget():
    # Hoffmann et al. 2022, Figure 4 caption (approach 3): at the Gopher budget of 5.76e23 FLOPs
    # the optimal model has about 40B parameters; the unrounded fit gives 4.04e10.
    n_opt, d_opt = get_preset("chinchilla2022").optimal_allocation(5.76e23)
    assert n_opt == pytest.approx(4.04e10, rel=2e-3)
    assert 6 * n_opt * d_opt == pytest.approx(5.76e23, rel=1e-12)


def test_epoch_refit_tokens_per_parameter():
    # Besiroglu et al. 2024, sec. 3: the refit implies about 18.4 tokens per parameter at the
    # budget of Chinchilla's training run (5.88e23 FLOPs), not the ~70 of the rounded original.
    n_opt, d_opt = get_preset("epoch2024").optimal_allocation(5.88e23)
    assert d_opt / n_opt == pytest.approx(18.4, abs=0.05)


def test_effective_data_of_the_c4_fit():
    # Muennighoff et al. 2023 (R_D* = 15.387756): 4 epochs are worth 3.7257 fresh epochs;
    # unlimited repetition plateaus at 16.39 epochs' worth.
    law = get_preset("muennighoff2023")
    eff = law.effective(law.values, {"N": 1e7, "D": np.array([4e9, 1e18]), "U": 1e9})
    assert eff["D_eff"][0] / 1e9 == pytest.approx(3.7257, abs=5e-5)
    assert eff["D_eff"][1] / 1e9 == pytest.approx(16.39, abs=5e-3)
    assert effective_data(4.0, 1.0, law.R_D_star) == pytest.approx(3.7257, abs=5e-5)


def test_data_constrained_figure_1_models():
    # huggingface/datablations README ("Parametric Fit"), the two models of Muennighoff et al.
    # 2023 Figure 1 (right): 6.34B params on 242B tokens of 25B unique beats 8.67B on 178B.
    law = get_preset("muennighoff2023")
    small = law.loss(N=6.34e9, D=242e9, U=25e9)
    big = law.loss(N=8.67e9, D=178e9, U=25e9)
    assert small == pytest.approx(2.2256440889984477, rel=1e-12)
    assert big == pytest.approx(2.2269634075087867, rel=1e-12)
    assert small < big


def test_kaplan_joint_law_limits():
    # Kaplan et al. 2020 eq. 1.5 with Table 2 (alpha_N 0.076, alpha_D 0.103, N_c 6.4e13,
    # D_c 1.8e13): D -> infinity leaves L = (N_c/N)^alpha_N, N -> infinity (D_c/D)^alpha_D.
    law = get_preset("kaplan2020")
    assert law.loss(N=1.5e9, D=1e30) == pytest.approx((6.4e13 / 1.5e9) ** 0.076, rel=1e-9)
    assert law.loss(N=1e30, D=2.3e10) == pytest.approx((1.8e13 / 2.3e10) ** 0.103, rel=1e-9)
