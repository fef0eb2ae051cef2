"""Data-constrained law of Muennighoff et al. 2023 (eq. 5-7, C4 fit of App. A)."""

import numpy as np
import pytest

from tests.laws.helpers import assert_broadcasts, assert_gradient_matches, assert_grid_finite
from tsbudget.timeseries.effective_data import effective_data
from tsbudget.errors import InputError
from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.laws.data_constrained import DataConstrained
from tsbudget.registry import laws
from tsbudget.testing import check_law

# Rows with excess parameters (N above the optimum for U), repetition, both and neither.
INPUTS = {
    "N": np.array([6.34e9, 8.67e9, 1e7, 5e10, 2e8]),
    "D": np.array([242e9, 178e9, 1e9, 1e11, 4e9]),
    "U": np.array([25e9, 25e9, 5e8, 1e11, 1e10]),
}


def _reference(law, n, d, u):
    """The paper's formula written out directly (eq. 5-7, U_N = min(N_opt(U_D), N))."""
    g = (law.alpha * law.A / (law.beta * law.B)) ** (1 / (law.alpha + law.beta))
    u_d = min(u, d)
    n_opt = g * (g * u_d) ** (law.beta / law.alpha)
    u_n = min(n, n_opt)
    r_n, r_d = max(n / u_n - 1, 0), max(d / u_d - 1, 0)
    n_eff = u_n + u_n * law.R_N_star * (1 - np.exp(-r_n / law.R_N_star))
    d_eff = u_d + u_d * law.R_D_star * (1 - np.exp(-r_d / law.R_D_star))
    return law.E + law.A / n_eff**law.alpha + law.B / d_eff**law.beta


def test_conforms_and_is_registered():
    check_law(DataConstrained())
    assert laws.get("data_constrained") is DataConstrained
    assert DataConstrained.inputs == ("N", "D", "U")


def test_against_written_out_formula():
    law = DataConstrained(R_D_star=7.0, R_N_star=3.0, alpha=0.3, beta=0.4)
    expected = [_reference(law, *row) for row in zip(*INPUTS.values())]
    np.testing.assert_allclose(law.loss(**INPUTS), expected, rtol=1e-13)


def test_effective_quantities():
    law = DataConstrained()
    eff = law.effective(law.values, INPUTS)
    u_d = np.minimum(INPUTS["U"], INPUTS["D"])
    np.testing.assert_allclose(eff["D_eff"], effective_data(INPUTS["D"], u_d, law.R_D_star))
    # App. A: U_N = 0.051 U_D for the C4 fit (alpha = beta gives N_opt = G^2 U_D).
    np.testing.assert_allclose(eff["N_opt"] / eff["U_D"], 0.051, rtol=0.01)
    assert np.all(eff["N_eff"] <= INPUTS["N"] * (1 + 1e-15))


def test_no_repetition_and_small_model_is_chinchilla():
    law = DataConstrained()
    base = Chinchilla(**{k: getattr(law, k) for k in ("E", "A", "B", "alpha", "beta")})
    n, d = np.array([1e7, 1e8]), np.array([1e10, 1e11])
    np.testing.assert_allclose(law.loss(N=n, D=d, U=d), base.loss(N=n, D=d), rtol=1e-14)


def test_infinite_decay_constants_give_chinchilla():
    # R_D* -> inf: repeated data counts fully (D' = D); with N below N_opt(U) it is Chinchilla.
    law = DataConstrained()
    n, d, u = np.array([1e7, 5e7]), np.array([4e10, 1e11]), np.array([1e9, 2e9])
    params = {**law.values, "R_D_star": np.inf, "R_N_star": np.inf}
    base = Chinchilla(**{k: getattr(law, k) for k in ("E", "A", "B", "alpha", "beta")})
    np.testing.assert_allclose(law.evaluate(params, {"N": n, "D": d, "U": u}), base.loss(N=n, D=d), rtol=1e-14)
    # Large but finite R* approaches it.
    far = law.replace(R_D_star=1e9, R_N_star=1e9)
    np.testing.assert_allclose(far.loss(N=n, D=d, U=u), base.loss(N=n, D=d), rtol=1e-7)


def test_repetition_never_helps_beyond_the_plateau():
    # D' saturates at U (1 + R_D*): more epochs of the same data cannot beat that (sec. 3.1).
    law = DataConstrained()
    losses = law.loss(N=1e9, D=np.array([1e10, 4e10, 1e11, 1e12, 1e14]), U=1e10)
    assert np.all(np.diff(losses) < 0)
    plateau = law.loss(N=1e9, D=1e10 * (1 + law.R_D_star), U=1e10 * (1 + law.R_D_star))
    assert losses[-1] > plateau


def test_gradient_matches_central_differences_in_every_regime():
    assert_gradient_matches(DataConstrained(), INPUTS)
    assert_gradient_matches(DataConstrained(alpha=0.3, beta=0.45, R_D_star=4.0, R_N_star=2.0), INPUTS)


def test_broadcasting():
    assert_broadcasts(DataConstrained(), INPUTS)


def test_bad_inputs_name_the_input():
    law = DataConstrained()
    with pytest.raises(InputError, match="'U'"):
        law.loss(N=1e9, D=1e10)
    with pytest.raises(InputError, match="N"):
        law.loss(N=0.0, D=1e10, U=1e9)
    with pytest.raises(InputError, match="U"):
        law.loss(N=1e9, D=1e10, U=-1.0)


def test_default_grid_is_finite_even_where_alpha_or_beta_is_zero():
    # The Hoffmann grid has alpha = 0 and beta = 0 starts, where N_opt(U_D) is undefined.
    assert assert_grid_finite(DataConstrained(), INPUTS) == 4500


def test_nan_parameter_gives_nan_not_an_error():
    law = DataConstrained()
    out = law.evaluate({**law.values, "R_D_star": np.nan}, INPUTS)
    assert np.all(np.isnan(out))
