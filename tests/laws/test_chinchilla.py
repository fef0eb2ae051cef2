"""Chinchilla law (Hoffmann et al. 2022 eq. 2 / App. D.2) and its closed-form optimum."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.laws.helpers import assert_broadcasts, assert_gradient_matches
from tsbudget.errors import InputError
from tsbudget.laws.chinchilla import HOFFMANN_GRID, Chinchilla, chinchilla_optimum
from tsbudget.laws.logsumexp import logsumexp
from tsbudget.registry import laws
from tsbudget.testing import check_law

INPUTS = {"N": np.geomspace(1e6, 1e12, 7), "D": np.geomspace(1e8, 1e14, 7)}


def test_conforms_and_is_registered():
    check_law(Chinchilla())
    check_law(Chinchilla(E=0.5, A=2e3, B=1e4, alpha=0.6, beta=0.2))
    assert laws.get("chinchilla") is Chinchilla


def test_defaults_are_the_published_fit():
    # Hoffmann et al. 2022 eq. 10 prints E 1.69, A 406.4, B 410.7, alpha 0.34, beta 0.28.
    law = Chinchilla()
    assert law.E == pytest.approx(1.69, abs=5e-3)
    assert law.A == pytest.approx(406.4, abs=0.05)
    assert law.B == pytest.approx(410.7, abs=0.05)
    assert law.alpha == pytest.approx(0.34, abs=5e-3) and law.beta == pytest.approx(0.28, abs=5e-3)


def test_evaluate_against_direct_formula():
    law = Chinchilla(E=1.5, A=300.0, B=900.0, alpha=0.3, beta=0.4)
    n, d = INPUTS["N"], INPUTS["D"]
    np.testing.assert_allclose(law.loss(N=n, D=d), 1.5 + 300 * n**-0.3 + 900 * d**-0.4, rtol=1e-14)
    np.testing.assert_allclose(law.log_evaluate(law.values, INPUTS), np.log(law.loss(**INPUTS)), rtol=1e-14)


def test_log_form_is_stable_where_the_plain_form_overflows():
    # A·N^-alpha = 1e300 · 1e10 overflows a float; the log-sum-exp form keeps log L exact.
    law = Chinchilla()
    params = {"E": 1.0, "A": 1e300, "B": 1.0, "alpha": -1.0, "beta": 0.5}
    with np.errstate(over="ignore"):
        assert np.isinf(law.evaluate(params, {"N": 1e10, "D": 1e9}))
    assert law.log_evaluate(params, {"N": 1e10, "D": 1e9}) == pytest.approx(310 * math.log(10), rel=1e-14)
    assert logsumexp(800.0, 0.0) == pytest.approx(800.0)
    assert logsumexp(-np.inf, 0.0) == 0.0


def test_hoffmann_grid_has_4500_starts():
    # Hoffmann et al. 2022 App. D.2 (and Besiroglu et al. 2024): alpha, beta in {0,...,2},
    # e in {-1,...,1}, a, b in {0,...,25}.
    grid = {p.name: p.grid for p in Chinchilla().parameters}
    assert grid == HOFFMANN_GRID
    assert math.prod(len(g) for g in grid.values()) == 4500
    assert grid["A"] == (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)
    assert grid["alpha"] == (0.0, 0.5, 1.0, 1.5, 2.0) and grid["E"] == (-1.0, -0.5, 0.0, 0.5, 1.0)
    assert [p.log for p in Chinchilla().parameters] == [True, True, True, False, False]


def test_gradient_matches_central_differences():
    assert_gradient_matches(Chinchilla(), INPUTS)
    assert_gradient_matches(Chinchilla(E=0.2, A=5e4, B=30.0, alpha=0.9, beta=0.1), INPUTS)


def test_broadcasting_over_starts():
    assert_broadcasts(Chinchilla(), INPUTS)
    # Every start of the Hoffmann grid at once: (4500, 1) against (7,).
    starts = np.array(list(itertools.product(*HOFFMANN_GRID.values())))
    params = {p.name: p.from_fit(starts[:, [i]]) for i, p in enumerate(Chinchilla().parameters)}
    out = Chinchilla().log_evaluate(params, INPUTS)
    assert out.shape == (4500, 7) and np.all(np.isfinite(out))


def test_closed_form_matches_a_numerical_minimum():
    law = Chinchilla()
    c = 1e22
    n_opt, d_opt = law.optimal_allocation(c)
    assert 6 * n_opt * d_opt == pytest.approx(c, rel=1e-12)
    n = np.geomspace(n_opt / 3, n_opt * 3, 20001)
    losses = law.loss(N=n, D=c / (6 * n))
    assert n[np.argmin(losses)] == pytest.approx(n_opt, rel=1e-3)
    # alpha A N^-alpha = beta B D^-beta at the optimum (Hoffmann et al. App. D.2).
    assert law.alpha * law.A * n_opt**-law.alpha == pytest.approx(law.beta * law.B * d_opt**-law.beta, rel=1e-10)


def test_closed_form_broadcasts_over_parameters_and_budgets():
    alphas = np.array([[0.3], [0.35], [0.4]])
    flops = np.array([1e20, 1e22, 1e24])
    n, d = chinchilla_optimum(1.7, 400.0, 410.0, alphas, 0.3, flops)
    assert n.shape == (3, 3)
    for i, a in enumerate(alphas[:, 0]):
        n_i, d_i = Chinchilla(A=400.0, B=410.0, alpha=a, beta=0.3).optimal_allocation(flops)
        np.testing.assert_allclose(n[i], n_i, rtol=1e-13)
    n_k, d_k = Chinchilla.chinchilla_optimum(1.7, 400.0, 410.0, 0.3, 0.3, 1e21, k=8.0)
    assert 8 * n_k * d_k == pytest.approx(1e21, rel=1e-12)


@given(st.floats(1e15, 1e28), st.floats(0.1, 1.0), st.floats(0.1, 1.0))
def test_optimum_exponents(c, a, b):
    # N_opt scales as C^(beta/(alpha+beta)) (Hoffmann et al. App. D.2).
    n1, _ = chinchilla_optimum(1.0, 400.0, 400.0, a, b, c)
    n2, _ = chinchilla_optimum(1.0, 400.0, 400.0, a, b, 10 * c)
    assert math.log10(n2 / n1) == pytest.approx(b / (a + b), rel=1e-9)


def test_bad_inputs_name_the_input():
    law = Chinchilla()
    with pytest.raises(InputError, match="N"):
        law.loss(N=0.0, D=1e9)
    with pytest.raises(InputError, match="D"):
        law.loss(N=[1e8, 1e9], D=[1e9, -1.0])
    with pytest.raises(InputError, match="'D'"):
        law.loss(N=1e8)
    with pytest.raises(InputError, match="flops"):
        law.optimal_allocation(-1.0)
    with pytest.raises(InputError, match="alpha"):
        Chinchilla(alpha=float("nan"))
    with pytest.raises(InputError, match="alpha"):
        chinchilla_optimum(1.0, 1.0, 1.0, -0.1, 0.3, 1e20)


def test_replace_and_values():
    law = Chinchilla().replace(E=2.0)
    assert law.E == 2.0 and list(law.values) == ["E", "A", "B", "alpha", "beta"]
    with pytest.raises(InputError, match="gamma"):
        law.replace(gamma=1.0)
