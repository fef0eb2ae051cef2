"""Repetition overfitting penalty E + A/N^a + B/(U_D(1+R_D))^b + P R_D^d (N/U_D)^k (Lovelace et al. 2026)."""

import numpy as np
import pytest

from tests.laws.helpers import assert_broadcasts, assert_gradient_matches, assert_grid_finite
from tsbudget.errors import InputError
from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.laws.repetition_penalty import RepetitionPenalty
from tsbudget.registry import laws
from tsbudget.testing import check_law

INPUTS = {
    "N": np.array([1e8, 1e9, 1e10, 3e9]),
    "D": np.array([1e10, 1e10, 1e11, 2e9]),
    "U": np.array([1e9, 2e10, 1e10, 2e9]),
}
FITTED = RepetitionPenalty(P=0.3, delta=0.7, kappa=0.4)


def test_conforms_and_is_registered():
    check_law(RepetitionPenalty())
    check_law(FITTED)
    assert laws.get("repetition_penalty") is RepetitionPenalty


def test_p_zero_is_chinchilla_exactly():
    n, d = INPUTS["N"], INPUTS["D"]
    np.testing.assert_array_equal(RepetitionPenalty().loss(**INPUTS), Chinchilla().loss(N=n, D=d))
    np.testing.assert_allclose(
        RepetitionPenalty().log_evaluate(RepetitionPenalty().values, INPUTS),
        np.log(Chinchilla().loss(N=n, D=d)),
        rtol=1e-14,
    )


def test_against_written_out_formula():
    law = FITTED
    n, d, u = INPUTS["N"], INPUTS["D"], INPUTS["U"]
    u_d = np.minimum(u, d)
    r = np.maximum(d / u_d - 1, 0)
    expected = law.E + law.A / n**law.alpha + law.B / (u_d * (1 + r)) ** law.beta + 0.3 * r**0.7 * (n / u_d) ** 0.4
    np.testing.assert_allclose(law.loss(**INPUTS), expected, rtol=1e-13)
    np.testing.assert_allclose(law.log_evaluate(law.values, INPUTS), np.log(expected), rtol=1e-13)


def test_penalty_vanishes_without_repetition_and_can_make_epochs_hurt():
    law = FITTED
    # D <= U: no repetition, no penalty, whatever P.
    assert law.loss(N=1e9, D=1e10, U=2e10) == pytest.approx(Chinchilla().loss(N=1e9, D=1e10), rel=1e-14)
    # Many epochs of little data: the loss turns upward (unlike the data-constrained law).
    mild = RepetitionPenalty(P=0.01, delta=1.0, kappa=0.5)
    losses = mild.loss(N=1e9, D=1e9 * np.array([1, 4, 16, 64, 256]), U=1e9)
    assert np.argmin(losses) not in (0, 4) and losses[-1] > losses.min()


def test_gradient_matches_central_differences():
    assert_gradient_matches(FITTED, INPUTS)
    assert_gradient_matches(RepetitionPenalty(P=2.0, delta=1.3, kappa=-0.2), INPUTS)
    # At P = 0 the penalty exponents have zero gradient and P's is q/L.
    grad = RepetitionPenalty().log_gradient(RepetitionPenalty().values, INPUTS)
    assert np.all(grad["delta"] == 0) and np.all(grad["kappa"] == 0) and np.all(np.isfinite(grad["P"]))


def test_broadcasting():
    assert_broadcasts(FITTED, INPUTS)


def test_bad_inputs_name_the_input():
    with pytest.raises(InputError, match="'U'"):
        FITTED.loss(N=1e9, D=1e10)
    with pytest.raises(InputError, match="N"):
        FITTED.loss(N=-1.0, D=1e10, U=1e9)


def test_default_grid_is_finite():
    assert assert_grid_finite(RepetitionPenalty(), INPUTS) == 4500
