"""Closed-form allocation (Hoffmann et al. 2022 App. D.2 eq. 4) and its dual for a target loss."""

import numpy as np
import pytest
import xarray as xr

from tsbudget.planning.closed_form import (
    closed_form_budget,
    closed_form_target,
    is_chinchilla_form,
    linear_cost_coefficient,
    parameter_arrays,
)
from tsbudget.errors import InputError
from tsbudget.laws.presets import get_preset
from tsbudget.registry import costmodels, laws, units

# Besiroglu et al. 2024 eq. 3 (the epoch2024 preset)
P = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}


def by_hand(C, E, A, B, alpha, beta, k=6.0):
    """Lagrange optimum written out independently: G = (αA/(βB))^(1/(α+β))."""
    G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    N = G * (C / k) ** (beta / (alpha + beta))
    return N, C / k / N


@pytest.mark.parametrize("C", [1e18, 5.88e23, 1e27])
def test_budget_closed_form_matches_formula_and_spends_budget(C):
    N, D = closed_form_budget(P, C)
    n, d = by_hand(C, **P)
    assert N == pytest.approx(n, rel=1e-12)
    assert D == pytest.approx(d, rel=1e-12)
    assert 6 * N * D == pytest.approx(C, rel=1e-12)


def test_budget_closed_form_is_the_isoflop_minimum():
    C = 1e22
    N, D = closed_form_budget(P, C)
    n = N * np.exp(np.linspace(-0.01, 0.01, 2001))
    loss = P["E"] + P["A"] / n ** P["alpha"] + P["B"] / (C / 6 / n) ** P["beta"]
    assert n[np.argmin(loss)] == pytest.approx(N, rel=2e-5)


def test_vectorized_over_draws_and_budgets():
    rng = np.random.default_rng(0)
    draws = {k: v * (1 + 0.01 * rng.standard_normal((7, 1))) for k, v in P.items()}
    budgets = np.geomspace(1e18, 1e24, 5)
    N, D = closed_form_budget(draws, budgets[None, :])
    assert N.shape == (7, 5)
    i, j = 3, 2
    n, _ = by_hand(budgets[j], **{k: float(v[i, 0]) for k, v in draws.items()})
    assert N[i, j] == pytest.approx(n, rel=1e-12)
    np.testing.assert_allclose(6 * N * D, np.broadcast_to(budgets, (7, 5)), rtol=1e-12)


def test_cost_coefficient_moves_the_optimum_as_flops_over_k():
    N4, _ = closed_form_budget(P, 1e21, k=4.0)
    N6, _ = closed_form_budget(P, 1.5e21, k=6.0)  # same C/k
    assert N4 == pytest.approx(N6, rel=1e-12)


def test_target_is_the_budget_optimum_read_backwards():
    C = 3e22
    N, D = closed_form_budget(P, C)
    loss = P["E"] + P["A"] / N ** P["alpha"] + P["B"] / D ** P["beta"]
    n, d = closed_form_target(P, loss)
    assert n == pytest.approx(N, rel=1e-10)
    assert d == pytest.approx(D, rel=1e-10)


def test_target_below_E_is_an_error():
    with pytest.raises(InputError, match="exceed E"):
        closed_form_target(P, 1.8)


def test_linear_cost_coefficient():
    tokens = units.resolve("tokens")
    assert linear_cost_coefficient(costmodels.resolve("dense"), tokens) == 6.0
    # the attention term (Kaplan Table 1) is N-independent: no closed form
    attn = costmodels.resolve("dense", n_layer=24, n_ctx=2048, d_model=2048)
    assert linear_cost_coefficient(attn, tokens) is None
    # cells patched by 16: 6 FLOPs per parameter per position, 1/16 position per cell
    cells = units.resolve("cells", patch_length=16)
    assert linear_cost_coefficient(costmodels.resolve("dense"), cells) == pytest.approx(6 / 16)
    # recurrent depth at r = 8, k = 8 with core share 0.5: 6 + (14 + 28)*0.5 = 27 per parameter
    rd = costmodels.resolve("recurrent_depth")
    assert linear_cost_coefficient(rd, tokens, {"recurrence": 8.0}) == pytest.approx(6 + (2 * 7 + 4 * 7) * 0.5)


def test_is_chinchilla_form():
    assert is_chinchilla_form(get_preset("epoch2024"))
    assert not is_chinchilla_form(get_preset("muennighoff2023"))
    assert not is_chinchilla_form(get_preset("kaplan2020"))


def test_parameter_arrays_from_xarray_draws_fill_fixed_parameters():
    law = laws.get("chinchilla")(**P)
    ds = xr.Dataset({"A": ("draw", [400.0, 500.0, 600.0]), "alpha": ("draw", [0.3, 0.35, 0.4])})
    out = parameter_arrays(law, ds)
    np.testing.assert_array_equal(out["A"], [400.0, 500.0, 600.0])
    np.testing.assert_array_equal(out["E"], [P["E"]] * 3)
    with pytest.raises(InputError, match="none of the law's parameters"):
        parameter_arrays(law, {"zeta": [1.0]})
    np.testing.assert_array_equal(parameter_arrays(law, {"A": [1.0, np.nan, 3.0]})["A"], [1.0, 3.0])
    with pytest.raises(InputError, match="non-finite"):
        parameter_arrays(law, {"A": [np.nan, np.nan]})


def test_closed_form_validity_is_one_test_for_point_and_draws():
    import numpy as np

    from tsbudget.planning.closed_form import closed_form_coefficient, closed_form_plan
    from tsbudget.planning.request import PlanRequest

    r = PlanRequest.build(1e21, unique=5e10)
    k = closed_form_coefficient(r.problem)
    assert k == 6.0
    N, D, valid = closed_form_plan(r.problem, k, flops=np.array([1e19, 1e21, 1e23]))
    # the optimum is valid while it needs no more data than is unique
    assert valid.tolist() == (D <= 5e10).tolist() == [True, False, False]
    A = r.problem.params["A"]
    draws = {name: np.full((3, 1), float(v)) for name, v in r.problem.params.items()}
    draws["A"] = np.array([[A], [A], [np.nan]])  # a failed draw: no optimum
    Nd, Dd, valid_d = closed_form_plan(r.problem, k, draws, flops=np.array([1e19, 1e21]))
    assert valid_d.shape == (3, 2) and valid_d[:2].tolist() == [[True, False]] * 2 and not valid_d[2].any()
    # target mode: the cap on spending is part of the test
    t = PlanRequest.build(1e20, target_loss=2.4)
    _, _, capped = closed_form_plan(t.problem, k, loss=2.4, cap=1e20)
    _, _, free = closed_form_plan(t.problem, k, loss=2.4)
    assert bool(free) and not bool(capped)
    # serving or a free variable: no closed form
    assert closed_form_coefficient(PlanRequest.build(1e21, serving={"positions": 1e9}).problem) is None
