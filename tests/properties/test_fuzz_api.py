"""Fuzzing ``plan``, ``frontier`` and ``fit`` arguments: each call returns a finite result or
raises a TsbudgetError; never a builtin exception, never a silent NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tsbudget as tb
from tests.bad_inputs.conftest import tiny_runs
from tsbudget.errors import TsbudgetError

ANY_NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-10**30, max_value=10**30),
    st.sampled_from([0, 1, -1, 1e21, 1e-300, "1e21", "abc", None, True, [1e21], (), {}]),
)
BOUNDS = st.one_of(st.none(), st.tuples(ANY_NUMBER, ANY_NUMBER), st.sampled_from([(1, 2, 3), "x", 5]))


def _finite_plan(result) -> None:
    for key in ("N", "D", "loss"):
        value = float(getattr(result, key))
        assert math.isfinite(value), f"{key} = {value}"


@settings(max_examples=60, deadline=None)
@given(budget=ANY_NUMBER, level=ANY_NUMBER, n_bounds=BOUNDS, d_bounds=BOUNDS,
       free=st.one_of(st.sampled_from([(), "all", 0, [1], ["nosuch"], "nosuch"])),
       law=st.sampled_from(["epoch2024", "chinchilla2022", "kaplan2020", "nosuch", 3]))
def test_plan_fuzz(budget, level, n_bounds, d_bounds, free, law):
    try:
        result = tb.plan(budget, level=level, n_bounds=n_bounds, d_bounds=d_bounds, free=free, law=law)
    except TsbudgetError:
        return
    _finite_plan(result)


@settings(max_examples=40, deadline=None)
@given(target=ANY_NUMBER, budget=st.one_of(st.none(), ANY_NUMBER))
def test_plan_target_fuzz(target, budget):
    try:
        result = tb.plan(budget, target_loss=target, law="chinchilla2022")
    except TsbudgetError:
        return
    _finite_plan(result)


@settings(max_examples=40, deadline=None)
@given(budgets=st.one_of(st.lists(ANY_NUMBER, max_size=4), ANY_NUMBER),
       max_draws=st.one_of(st.none(), st.integers(-3, 3), st.just(1.5)))
def test_frontier_fuzz(budgets, max_draws):
    try:
        ds = tb.frontier(budgets, law="chinchilla2022", max_draws=max_draws)
    except TsbudgetError:
        return
    for key in ("N", "D", "loss"):
        assert np.all(np.isfinite(ds[key].values)), key


@pytest.fixture(scope="module")
def runs():
    return tiny_runs()


@settings(max_examples=40, deadline=None)
@given(delta=ANY_NUMBER, drop=st.integers(-2, 20), init_value=ANY_NUMBER,
       fixed=st.one_of(st.none(), st.dictionaries(st.sampled_from(["E", "alpha", "nosuch"]), ANY_NUMBER, max_size=2)))
def test_fit_fuzz(runs, delta, drop, init_value, fixed):
    init = {"E": 1.7, "A": 400.0, "B": 400.0, "alpha": 0.3, "beta": 0.3}
    if isinstance(init_value, (int, float)) and not isinstance(init_value, bool):
        init["E"] = init_value
    try:
        result = tb.fit(runs, "chinchilla", delta=delta, drop_highest_loss=drop, init=init, fixed=fixed)
    except TsbudgetError:
        return
    assert all(math.isfinite(v) for v in result.parameters.values()), result.parameters
    assert math.isfinite(result.objective)
