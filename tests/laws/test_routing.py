"""The routing law of Clark et al. 2022 (eq. 1 with the saturating expert transformation)."""

import numpy as np
import pytest

from tests.laws.helpers import assert_broadcasts, assert_gradient_matches
from tsbudget.errors import InputError
from tsbudget.laws.routing import CLARK_TABLE3, Routing, routing_cutoff, saturating_experts
from tsbudget.registry import laws
from tsbudget.testing import check_law

INPUTS = {"N": np.array([1.5e7, 1.3e8, 1.3e9, 2e10]), "experts": np.array([1.0, 8.0, 64.0, 512.0])}


def test_conforms_and_is_registered():
    assert laws.get("routing") is Routing
    for row in CLARK_TABLE3.values():
        check_law(Routing(**row))
    assert Routing().values == CLARK_TABLE3["S-Base"]


def test_saturating_transformation():
    # Ê(1) = E_start; Ê -> E_max for many experts; Ê ≈ E in between
    e_hat = saturating_experts([1.0, 64.0, 1e12], 2.0, 300.0)
    assert e_hat[0] == pytest.approx(2.0, rel=1e-14)
    assert e_hat[2] == pytest.approx(300.0, rel=1e-9)
    s = 1.0 / (1.0 / 2.0 - 1.0 / 300.0)
    assert e_hat[1] == pytest.approx(1.0 / (1.0 / (63.0 + s) + 1.0 / 300.0), rel=1e-14)
    assert np.isnan(saturating_experts(8.0, 300.0, 2.0))  # E_start >= E_max: no curve


def test_equation_one():
    law = Routing()
    p = law.values
    e_hat = saturating_experts(INPUTS["experts"], p["E_start"], p["E_max"])
    n, h = np.log10(INPUTS["N"]), np.log10(e_hat)
    want = 10 ** (p["a"] * n + p["b"] * h + p["c"] * n * h + p["d"])
    np.testing.assert_allclose(law.loss(**INPUTS), want, rtol=1e-13)
    assert_gradient_matches(law, INPUTS)
    assert_broadcasts(law, INPUTS)


def test_effective_parameter_count_and_cutoff():
    law = Routing()
    # a dense model (E = 1) is its own effective size; the effective size has the same loss as a dense model
    np.testing.assert_allclose(law.effective_params(INPUTS["N"], 1.0), INPUTS["N"], rtol=1e-12)
    n_bar = law.effective_params(INPUTS["N"], INPUTS["experts"])
    np.testing.assert_allclose(law.loss(N=n_bar, experts=np.ones(4)), law.loss(**INPUTS), rtol=1e-12)
    assert law.cutoff() == pytest.approx(10 ** (0.108 / 0.009), rel=1e-12)
    assert routing_cutoff(-0.1, 0.0) == np.inf
    eff = law.effective(law.values, {**INPUTS, "D": np.full(4, 1.3e11)})
    assert set(eff) == {"N_eff", "E_hat", "D_eff"}


def test_bad_values_and_fixed_variables():
    with pytest.raises(InputError, match="E_start"):
        Routing(E_start=400.0, E_max=300.0)
    with pytest.raises(InputError, match="fixed training data"):
        Routing().at(experts=8.0)
