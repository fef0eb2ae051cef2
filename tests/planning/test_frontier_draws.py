"""The closed-form frontier's draws in a few passes (tsbudget.planning.frontier_draws) give the
numbers of the general pieces: closed_form_plan, the problem's own loss and vectorised_deadweight."""

import copy

import numpy as np
import pytest

import tsbudget as tb
from tsbudget.laws.presets import get_preset
from tsbudget.planning.closed_form import closed_form_coefficient, closed_form_plan, parameter_arrays
from tsbudget.planning.draws import vectorised_deadweight
from tsbudget.planning.frontier_draws import applies, chinchilla_draws
from tsbudget.planning.request import PlanRequest

LAW = get_preset("epoch2024")
BUDGETS = np.geomspace(1e18, 1e25, 300)


def _draws(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return {k: v * np.exp(0.03 * rng.standard_normal(n)) for k, v in LAW.values.items()}


@pytest.mark.parametrize("law_scale", [1.0, 2.5])
def test_one_pass_draws_equal_the_general_pieces(law_scale):
    request = PlanRequest.build(float(BUDGETS[0]), law=LAW, draws=_draws())
    p = copy.copy(request.problem)
    p.law_scale = law_scale  # the law read in another unit than the plan's: D scales, N and loss do not
    request = copy.copy(request)
    object.__setattr__(request, "problem", p)
    k = closed_form_coefficient(p)
    params = parameter_arrays(p.law, request.draws)
    N, D, _ = closed_form_plan(p, k, flops=BUDGETS)
    got = chinchilla_draws(p, k, params, BUDGETS, N, D)

    col = {n: v[:, None] for n, v in params.items()}
    Nd, Dd, valid = closed_form_plan(p, k, col, flops=BUDGETS[None, :])
    assert valid.all()
    np.testing.assert_allclose(got["N"], Nd, rtol=1e-13)
    np.testing.assert_allclose(got["D"], Dd, rtol=1e-13)
    np.testing.assert_allclose(got["data_per_param"], Dd / Nd, rtol=1e-13)
    np.testing.assert_allclose(got["loss"], p.loss(Nd, Dd, {}, params=col), rtol=1e-14)
    want = vectorised_deadweight(request, params, N, D, BUDGETS)
    # deadweight is a small difference of budgets: compared in units of the budget
    assert np.max(np.abs(got["dcl"] - want) / BUDGETS) < 1e-13
    assert np.all(got["dcl"] >= 0) and np.max(got["dcl"] / BUDGETS) > 1e-4  # not trivially zero


def test_a_draw_outside_the_bounds_sends_the_frontier_to_the_general_optimizer():
    draws, budgets = _draws(50), np.geomspace(1e21, 1e23, 20)
    n_top = float(tb.frontier(budgets, law=LAW)["N"].values[-1])
    bounds = (1e6, 1.01 * n_top)  # the point plans fit; the draws that want a larger model do not
    request = PlanRequest.build(1e21, law=LAW, draws=draws, n_bounds=bounds)
    p = request.problem
    k = closed_form_coefficient(p)
    N, D, valid = closed_form_plan(p, k, flops=budgets)
    assert valid.all()
    params = parameter_arrays(p.law, request.draws)
    assert chinchilla_draws(p, k, params, budgets, N, D) is None
    assert chinchilla_draws(PlanRequest.build(1e21, law=LAW).problem, k, params, budgets, N, D) is not None
    ds = tb.frontier(budgets, law=LAW, draws=draws, n_bounds=bounds, max_draws=10)
    assert ds.attrs["draws_method"] == "general"


def test_the_frontier_reports_exact_quantiles_of_its_draws():
    ds = tb.frontier(BUDGETS, law=LAW, draws=_draws())
    assert ds.attrs["method"] == "closed form" and ds.attrs["draws_method"] == "closed form"
    q = [0.5, (1 - 0.95) / 2, (1 + 0.95) / 2]  # the default level's, as the frontier computes them
    for name in ("N", "loss", "dcl"):  # selected: bit-identical to numpy
        want = np.quantile(ds[f"{name}_draw"].values, q, axis=0)
        for part, w in zip(("median", "lower", "upper"), want):
            np.testing.assert_array_equal(ds[f"{name}_{part}"].values, w)
    for name in ("D", "data_per_param"):  # read off N's order (D = C/(kN) falls exactly as N rises)
        want = np.quantile(ds[f"{name}_draw"].values, q, axis=0)
        for part, w in zip(("median", "lower", "upper"), want):
            np.testing.assert_array_equal(ds[f"{name}_{part}"].values, w)
    np.testing.assert_allclose(ds["dcl_percent_median"].values, 100 * ds["dcl_median"].values / BUDGETS, rtol=1e-15)


def test_applies_only_without_unique_data():
    assert applies(PlanRequest.build(1e21, law=LAW).problem)
    assert not applies(PlanRequest.build(1e21, law=LAW, unique=1e11).problem)


def test_deadweight_must_be_a_bool():
    from tsbudget.errors import InputError

    with pytest.raises(InputError, match="deadweight"):
        tb.frontier(BUDGETS[:3], law=LAW, deadweight=None)
