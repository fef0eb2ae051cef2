"""The shared log-sum-exp numerics, and the fused value-and-gradient pass of every built-in law."""

import numpy as np
import pytest

from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.laws.data_constrained import DataConstrained
from tsbudget.laws.extended import Extended
from tsbudget.laws.kaplan import Kaplan
from tsbudget.laws.logsumexp import (
    fallback_index,
    fallback_rows,
    fallback_terms,
    float_params,
    input_logs,
    logsumexp,
    logsumexp_and_softmax,
    softmax,
)
from tsbudget.laws.repetition_penalty import RepetitionPenalty
from tsbudget.laws.routing import Routing
from tsbudget.laws.fine_grained_moe import FineGrainedMoE

N = np.array([1e7, 3e8, 2e9, 5e10])
D = np.array([2e9, 1e10, 4e10, 3e11])
U = np.array([1e9, 1e10, 1e10, 1e10])  # three of four runs repeat data
BUILT_IN = {
    "chinchilla": (Chinchilla(), {"N": N, "D": D}),
    "kaplan": (Kaplan(), {"N": N, "D": D}),
    # R_N* small and N far beyond N_opt(U) in the last runs: the excess-parameter chain is active
    "data_constrained": (DataConstrained(R_D_star=4.0, R_N_star=2.0), {"N": N, "D": D, "U": U}),
    "repetition_penalty": (RepetitionPenalty(P=0.05, delta=0.7, kappa=0.4), {"N": N, "D": D, "U": U}),
    "extended": (
        Extended(variables=("experts", "rate"), references=(8.0, 2.0), gamma=(0.2, -0.05), eta=(0.1, 0.3)),
        {"N": N, "D": D, "experts": np.array([1.0, 8.0, 32.0, 64.0]), "rate": np.array([1.0, 2.0, 4.0, 2.0])},
    ),
    "extended_quadratic": (
        Extended(variables=("compression",), references=(4.0,), kinds=("quadratic",), gamma=(0.05,), eta=(0.1,),
                 gamma2=(-0.1,), eta2=(-0.25,)),
        {"N": N, "D": D, "compression": np.array([1.0, 4.0, 16.0, 64.0])},
    ),
    "routing": (Routing(), {"N": N, "experts": np.array([1.0, 8.0, 64.0, 512.0])}),
    "fine_grained_moe": (FineGrainedMoE(), {"N": N, "D": D, "granularity": np.array([1.0, 4.0, 16.0, 64.0])}),
}


def test_fused_pass_equals_the_separate_functions():
    rng = np.random.default_rng(1)
    terms = [rng.normal(0, 30, (5, 7)), rng.normal(0, 30, 7), np.full((5, 1), -np.inf)]
    lse, shares = logsumexp_and_softmax(*terms)
    np.testing.assert_allclose(lse, logsumexp(*terms), rtol=1e-15, atol=0)
    for got, want in zip(shares, softmax(*terms)):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(sum(shares), 1.0, rtol=1e-14)
    assert np.all(shares[2] == 0.0)


def test_logsumexp_is_stable_at_extreme_terms():
    # log(e^1000 + e^999) = 1000 + log(1 + 1/e); a plain sum overflows
    assert logsumexp(1000.0, 999.0) == pytest.approx(1000.0 + np.log1p(np.exp(-1.0)), rel=1e-15)
    assert logsumexp(-1000.0, -np.inf) == -1000.0
    lse, (w_a, w_b) = logsumexp_and_softmax(-np.inf, -np.inf)
    assert lse == -np.inf and np.isnan(w_a) and np.isnan(w_b)


def test_float_params_and_input_logs():
    p = float_params({"a": 1, "b": [2, 3], "unused": "x"}, ("a", "b"))
    assert set(p) == {"a", "b"} and p["b"].dtype == float
    log_n, log_d = input_logs({"N": [1.0, np.e], "D": 1.0}, "N", "D")
    np.testing.assert_allclose(log_n, [0.0, 1.0])

    class Cached(dict):
        logs = {"N": np.array([42.0])}

    assert input_logs(Cached(N=[1.0]), "N")[0][0] == 42.0  # a fit's precomputed logs win


def test_fallback_helpers_pick_whole_rows_of_a_batch():
    lse = np.array([[0.0, 1.0], [0.0, 800.0], [-400.0, 0.0]])
    fix = fallback_index(lse)
    np.testing.assert_array_equal(fix[0], [1, 2])
    rows = fallback_rows({"a": np.arange(3.0)[:, None], "b": np.array(5.0)}, fix, lse.shape)
    np.testing.assert_array_equal(rows["a"][:, 0], [1.0, 2.0])
    assert rows["b"] == 5.0
    (t,) = fallback_terms([rows["a"]], fix, lse.shape)
    assert t.shape == (2, 2)
    mask = fallback_index(np.array([0.0, 710.0]))
    np.testing.assert_array_equal(mask, [False, True])


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_every_built_in_law_fuses_value_and_gradient(name):
    law, inputs = BUILT_IN[name]
    assert law.has_analytic_gradient
    # (starts, 1) parameter arrays against (runs,) inputs, as the fit calls it
    params = {k: np.array([[v], [v * 1.01]]) for k, v in law.values.items()}
    value, grad = law.log_value_and_gradient(params, inputs)
    np.testing.assert_allclose(value, law.log_evaluate(params, inputs), rtol=1e-12, atol=0)
    np.testing.assert_allclose(value, np.log(law.evaluate(params, inputs)), rtol=1e-12)
    separate = law.log_gradient(params, inputs)
    numeric = law.finite_difference_log_gradient(params, inputs)
    assert set(grad) == set(separate) == set(law.values)
    for k in grad:
        np.testing.assert_allclose(grad[k], separate[k], rtol=1e-12, atol=0, err_msg=k)
        np.testing.assert_allclose(np.broadcast_to(grad[k], value.shape), numeric[k], rtol=1e-5, atol=1e-9,
                                   err_msg=k)
