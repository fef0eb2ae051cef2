"""Bad arguments to the main API functions raise a TsbudgetError naming the argument, never a builtin."""

from __future__ import annotations

import numpy as np
import pytest

import tsbudget as tb
from tests.bad_inputs.conftest import assert_api_refused, tiny_runs

INIT = {"E": 1.7, "A": 400.0, "B": 400.0, "alpha": 0.3, "beta": 0.3}

PLAN = [
    ({"free": 0}, "free"),
    ({"free": [1]}, "free"),
    ({"level": "0.9"}, "level"),
    ({"level": float("nan")}, "level"),
    ({"level": 1.0}, "level"),
    ({"level": True}, "level"),
    ({"fixed": [1]}, "fixed"),
    ({"fixed": {"nosuch": 1.0}}, "nosuch"),
    ({"cost_settings": [1]}, "cost_settings"),
    ({"unit_settings": "x"}, "unit_settings"),
    ({"hardware": 3}, "hardware"),
    ({"hardware": "nosuch"}, "nosuch"),
    ({"method": 3}, "method"),
    ({"method": "nosuch"}, "method"),
    ({"mix": "nosuch"}, "mix"),
    ({"law": 3}, "law"),
    ({"law": "nosuch"}, "nosuch"),
    ({"cost_model": "nosuch"}, "nosuch"),
    ({"unit": "nosuch"}, "nosuch"),
    ({"n_bounds": (1, 2, 3)}, "n_bounds"),
    ({"n_bounds": (0, 1e9)}, "n_bounds"),
    ({"n_bounds": (1e9, 1e8)}, "n_bounds"),
    ({"d_bounds": (-1, None)}, "d_bounds"),
    ({"unique": "x"}, "unique"),
    ({"unique": -1.0}, "unique"),
    ({"repetition_decay": "x"}, "repetition_decay"),
    ({"free": "nosuch"}, "nosuch"),
]


@pytest.mark.parametrize("kwargs, fragment", PLAN, ids=[str(c[0]) for c in PLAN])
def test_plan_refuses(kwargs, fragment):
    assert_api_refused(tb.plan, fragment, 1e21, **kwargs)


@pytest.mark.parametrize("budget", ["abc", 0, -1e21, float("nan"), float("inf"), None])
def test_plan_refuses_budget(budget):
    assert_api_refused(tb.plan, "budget", budget)


@pytest.mark.parametrize("target", ["x", float("nan"), 1.0])
def test_plan_refuses_target(target):
    assert_api_refused(tb.plan, "target", target_loss=target)


FRONTIER = [
    ([], {}, "budgets"),
    ("abc", {}, "budgets"),
    ([float("nan")], {}, "budgets"),
    ([-1e20], {}, "budgets"),
    ([[1e20, 1e21]], {}, "budgets"),
    ([None], {}, "budgets"),
    ([1e20], {"max_draws": -1}, "max_draws"),
    ([1e20], {"max_draws": 1.5}, "max_draws"),
    ([1e20], {"level": "x"}, "level"),
    ([1e20], {"free": 0}, "free"),
]


@pytest.mark.parametrize("budgets, kwargs, fragment", FRONTIER, ids=[f"{c[0]}-{c[1]}" for c in FRONTIER])
def test_frontier_refuses(budgets, kwargs, fragment):
    assert_api_refused(tb.frontier, fragment, budgets, **kwargs)


@pytest.mark.parametrize("kwargs, fragment", [({"span": 0}, "span"), ({"level": 2.0}, "level"),
                                              ({"law": "nosuch"}, "nosuch"), ({"free": 0}, "free"),
                                              ({"points": 0}, "points"), ({"points": 2.5}, "points")])
def test_isoflop_refuses(kwargs, fragment):
    assert_api_refused(tb.isoflop, fragment, 1e21, **kwargs)


@pytest.mark.parametrize("budget", [0, -1.0, float("nan"), "x", [1e21, 1e22]])
def test_isoflop_refuses_budget(budget):
    assert_api_refused(tb.isoflop, "budget", budget)


FIT = [
    ({"runs": None}, "runs"),
    ({"runs": [1, 2]}, "runs"),
    ({"law": "nosuch"}, "nosuch"),
    ({"cost_model": "nosuch", "columns": None}, "nosuch"),
    ({"delta": 0}, "delta"),
    ({"delta": float("nan")}, "delta"),
    ({"reduction": "max"}, "reduction"),
    ({"method": "nosuch"}, "method"),
    ({"fixed": {"nosuch": 1.0}}, "nosuch"),
    ({"fixed": {"alpha": float("nan")}}, "alpha"),
    ({"drop_highest_loss": -1}, "drop_highest_loss"),
    ({"drop_highest_loss": 18}, "drop_highest_loss"),
    ({"columns": {"nosuch": "N"}}, "nosuch"),
    ({"columns": {"N": "nosuch"}}, "nosuch"),
    ({"weights": "nosuch"}, "nosuch"),
    ({"weights": [1.0, 2.0]}, "weights"),
    ({"region": {"nosuch": (1, 2)}}, "nosuch"),
    ({"region": {"N": 5}}, "region"),
    ({"region": [1, 2]}, "region"),
    ({"overprediction_penalty": -1}, "overprediction_penalty"),
]


@pytest.mark.parametrize("kwargs, fragment", FIT, ids=[str(c[0]) for c in FIT])
def test_fit_refuses(kwargs, fragment):
    kwargs = {"runs": tiny_runs(), "init": INIT, **kwargs}
    assert_api_refused(tb.fit, fragment, **kwargs)


def test_fit_refuses_identical_runs():
    runs = {"N": [1e8] * 30, "D": [2e9] * 30, "loss": [3.1] * 30}
    assert_api_refused(tb.fit, "distinct", runs, init=INIT)


@pytest.fixture(scope="module")
def fitted():
    return tb.fit(tiny_runs(), "chinchilla", init=INIT)


@pytest.mark.parametrize("kwargs, fragment", [({"n_draws": 1}, "n_draws"), ({"n_draws": -2}, "n_draws"),
                                              ({"cluster": "nosuch"}, "nosuch"), ({"level": 1.5}, "level"),
                                              ({"method": "nosuch"}, "method"), ({"budgets": [-1.0]}, "budgets")])
def test_bootstrap_refuses(fitted, kwargs, fragment):
    kwargs = {"n_draws": 3, **kwargs}
    assert_api_refused(tb.bootstrap, fragment, fitted, **kwargs)


COMPARE = [
    ({"by": "nosuch"}, "nosuch"),
    ({"n_draws": 1}, "n_draws"),
    ({"level": 0.0}, "level"),
    ({"law": "nosuch"}, "nosuch"),
    ({"reference": "nosuch"}, "nosuch"),
    ({"frontier": "nosuch"}, "frontier"),
    ({"budgets": [-1.0]}, "budget"),
]


@pytest.mark.parametrize("kwargs, fragment", COMPARE, ids=[str(c[0]) for c in COMPARE])
def test_compare_refuses(kwargs, fragment):
    kwargs = {"by": "system", "n_draws": 2, **kwargs}
    assert_api_refused(tb.compare, fragment, tiny_runs(), **kwargs)


SWEEP = [
    ({"per_budget": 0}, "per_budget"),
    ({"spread": 0.5}, "spread"),
    ({"law": "nosuch"}, "nosuch"),
    ({"budgets": "abc"}, "budgets"),
    ({"target_budget": -1.0}, "target_budget"),
    ({"sweep_budget": 1e19}, "target_budget"),
    ({"noise": -0.1}, "noise"),
    ({"cost_model": "nosuch"}, "nosuch"),
    ({"hardware": "nosuch"}, "nosuch"),
]


@pytest.mark.parametrize("kwargs, fragment", SWEEP, ids=[str(c[0]) for c in SWEEP])
def test_sweep_refuses(kwargs, fragment):
    assert_api_refused(tb.sweep, fragment, **kwargs)


REDUNDANCY = [
    ({"data": None}, "NoneType"),
    ({"window": 0}, "window"),
    ({"threshold": -1.0}, "threshold"),
    ({"method": "nosuch"}, "method"),
    ({"unit": "nosuch"}, "unit"),
    ({"normal_min_size": 0}, "normal_min_size"),
]


@pytest.mark.parametrize("kwargs, fragment", REDUNDANCY, ids=[str(c[0]) for c in REDUNDANCY])
def test_measure_redundancy_refuses(kwargs, fragment):
    kwargs = {"data": np.random.default_rng(0).normal(size=(200, 2)), "window": 10, **kwargs}
    assert_api_refused(tb.measure_redundancy, fragment, **kwargs)


@pytest.mark.parametrize("result", [{}, None, "fit.json"])
def test_bootstrap_refuses_what_is_not_a_fit_result(result):
    assert_api_refused(tb.bootstrap, "FitResult", result, 3)


def test_frontier_refuses_more_budgets_than_the_limit():
    from tsbudget.planning.request import MAX_BUDGETS

    assert_api_refused(tb.frontier, "limit", np.geomspace(1e18, 1e25, MAX_BUDGETS + 1))
