"""The joint MoE law of Ludziejewski et al. 2025 (eq. 6 with Clark et al.'s saturating Ê)."""

import numpy as np
import pytest

from tests.laws.helpers import assert_broadcasts, assert_gradient_matches, assert_grid_finite
from tsbudget.errors import InputError
from tsbudget.laws.chinchilla import Chinchilla, chinchilla_optimum
from tsbudget.laws.joint_moe import LUDZIEJEWSKI_TABLE3, JointMoE
from tsbudget.laws.routing import saturating_experts
from tsbudget.registry import laws
from tsbudget.testing import check_law

INPUTS = {
    "N": np.array([7.9e7, 3.2e8, 1.1e9, 2.7e9, 1e11]),
    "D": np.array([5e8, 8e9, 8e10, 9.2e9, 2e12]),
    "experts": np.array([1.0, 32.0, 4.0, 1.0, 1000.0]),
}


def test_conforms_and_is_registered():
    assert laws.get("joint_moe") is JointMoE
    law = JointMoE()
    check_law(law)
    assert law.values == LUDZIEJEWSKI_TABLE3


def test_equation_six_term_by_term():
    law = JointMoE()
    p = law.values
    h = np.log(saturating_experts(INPUTS["experts"], p["E_start"], p["E_max"]))
    n, d = INPUTS["N"], INPUTS["D"]
    want = (p["a"] * np.exp(p["delta"] * h) * n ** (p["alpha"] + p["gamma"] * h)
            + p["b"] * np.exp(p["omega"] * h) * d ** (p["beta"] + p["zeta"] * h) + p["c"])
    np.testing.assert_allclose(law.loss(**INPUTS), want, rtol=1e-13)
    # a dense model sees Ê = E_start
    np.testing.assert_allclose(law.e_hat(1.0), p["E_start"], rtol=1e-14)


def test_gradient_broadcast_and_start_grid():
    law = JointMoE()
    assert_gradient_matches(law, INPUTS)
    assert_gradient_matches(law, INPUTS, values={**law.values, "gamma": 0.03, "zeta": 0.01, "E_start": 3.0})
    assert_broadcasts(law, INPUTS)
    assert assert_grid_finite(law, INPUTS) == 2 ** 9


def test_fixed_experts_is_chinchilla_and_the_closed_form_applies():
    law = JointMoE()
    for e in (1.0, 8.0, 64.0):
        chin = law.at(experts=e)
        assert isinstance(chin, Chinchilla)
        n, d = np.geomspace(1e8, 1e10, 4), np.geomspace(1e9, 1e12, 4)
        np.testing.assert_allclose(chin.loss(N=n, D=d), law.loss(N=n, D=d, experts=np.full(4, e)), rtol=1e-12)
        q = law.params_at(law.values, experts=e)
        np.testing.assert_allclose(law.optimal_allocation(1e21, experts=e),
                                   chinchilla_optimum(**q, flops=1e21), rtol=1e-14)
    # more experts at a fixed budget: fewer active parameters, more tokens (Finding 1)
    n1, d1 = law.optimal_allocation(1e21, experts=1.0)
    n8, d8 = law.optimal_allocation(1e21, experts=8.0)
    assert n8 < n1 and d8 > d1


def test_dense_equivalent_size():
    law = JointMoE()
    n, d = np.array([3e8, 1e9]), np.array([1e10, 3e10])
    np.testing.assert_allclose(law.dense_equivalent_params(n, d, 1.0), n, rtol=1e-10)
    n_dense = law.dense_equivalent_params(n, d, 8.0)
    finite = np.isfinite(n_dense)
    assert finite.all()  # an 8-expert MoE at these sizes matches a larger dense model
    np.testing.assert_allclose(law.loss(N=n_dense[finite], D=d[finite], experts=np.ones(finite.sum())),
                               law.loss(N=n[finite], D=d[finite], experts=np.full(finite.sum(), 8.0)), rtol=1e-10)
    assert np.all(n_dense[finite] > n[finite])
    eff = law.effective(law.values, {"N": n, "D": d, "experts": np.array([1.0, 8.0])})
    assert set(eff) == {"N_eff", "D_eff", "E_hat", "N_dense"}


def test_bad_values_and_variables():
    with pytest.raises(InputError, match="E_start"):
        JointMoE(E_start=400.0)
    with pytest.raises(InputError, match="JointMoE.c"):
        JointMoE(c=-1.0)
    with pytest.raises(InputError, match="experts"):
        JointMoE().at(granularity=2.0)
    with pytest.raises(InputError, match="experts must be finite"):
        JointMoE().params_at(JointMoE().values, experts=0.5)
    with pytest.raises(InputError, match="needs a value for variable 'experts'"):
        JointMoE().optimal_allocation(1e21)


def test_fused_value_and_gradient_on_start_batches():
    # (starts, 1) parameter arrays against (runs,) inputs, as the fit calls it (cf. tests/laws/test_logsumexp.py)
    law = JointMoE()
    assert law.has_analytic_gradient
    params = {k: np.array([[v], [v * 1.01]]) for k, v in law.values.items()}
    value, grad = law.log_value_and_gradient(params, INPUTS)
    np.testing.assert_allclose(value, np.log(law.evaluate(params, INPUTS)), rtol=1e-12)
    numeric = law.finite_difference_log_gradient(params, INPUTS)
    assert set(grad) == set(law.values)
    for k in grad:
        np.testing.assert_allclose(np.broadcast_to(grad[k], value.shape), numeric[k], rtol=1e-5, atol=1e-9, err_msg=k)


def test_fit_recovers_the_table3_law_from_its_own_losses():
    # runs on the paper's grid of widths, expert counts and token counts (App. E); E_max is held
    # at Table 3's value: with E <= 32 the runs cannot separate it (the fit says so when it is free)
    from tsbudget.fitting.fit import fit
    from tsbudget.laws.joint_moe_optima import active_params

    law = JointMoE()
    grid = [(float(active_params(w)), d, e) for w in (512, 1024, 2048) for e in (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
            for d in (5e8, 4e9, 3.2e10)]
    runs = {"N": [g[0] for g in grid], "D": [g[1] for g in grid], "experts": [g[2] for g in grid]}
    runs["loss"] = [float(law.loss(N=n, D=d, experts=e)) for n, d, e in grid]
    res = fit(runs, "joint_moe", cost_model="moe", fixed={"E_max": law.E_max})
    assert res.success
    for k, v in law.values.items():
        assert res.parameters[k] == pytest.approx(v, rel=1e-5), k
