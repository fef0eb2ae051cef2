"""The default run noise of sweep design and simulation is measured, not chosen: the residual noise
of the Besiroglu et al. 2024 refit of the Chinchilla Figure 4 runs (5 highest-loss runs dropped)."""

import pytest

import tsbudget as tb
from tsbudget.datasets.chinchilla import load_chinchilla_runs
from tsbudget.sweeps.noise import NOISE_WITHOUT_FIT, noise_from_fit


def test_the_default_noise_is_the_chinchilla_refit_residual_noise():
    fit = tb.fit(load_chinchilla_runs(), "chinchilla", drop_highest_loss=5)
    assert noise_from_fit(fit) == pytest.approx(NOISE_WITHOUT_FIT, abs=5e-5)
