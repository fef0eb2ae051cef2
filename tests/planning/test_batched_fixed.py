"""A batch of budget-mode problems without free variables (a data-limited frontier), evaluated
and optimised with the shortcuts of issue 15 (N intervals kept per problem, one spend per problem
when the limits are equal, the one-coordinate Newton steps): each candidate's value and each
problem's optimum are exactly those of the problem alone."""

import numpy as np
import pytest

from tsbudget.errors import InputError
from tsbudget.planning.objective import Objective
from tsbudget.planning.optimizer import optimize
from tsbudget.planning.optimizer_batch import optimize_batch
from tsbudget.planning.problem import evaluate_safely
from tsbudget.planning.request import PlanRequest
from tsbudget.planning.serving import Serving

BUDGETS = np.geomspace(1e19, 1e25, 7)
CASES = [dict(unique=1e11), dict(law="muennighoff2023", unique=1e11), dict(serving=Serving(positions=1e11)),
         dict(unique=1e11, n_bounds=(1e9, 1e10))]


def _limits(spread):
    return BUDGETS / spread, BUDGETS  # spread 1: lb == ub; above 1: an interval (searched by s)


@pytest.mark.parametrize("kw", CASES)
@pytest.mark.parametrize("spread", [1.0, 3.0])
def test_a_fixed_batch_values_each_candidate_as_its_own_problem_does(kw, spread):
    p = PlanRequest.build(1e21, **kw).problem
    lb, ub = _limits(spread)
    batch = Objective(p, "budget", lb, ub, None)
    rng = np.random.default_rng(2)
    m = 200
    cols = [rng.uniform(-1.0, batch.hi[0] + 1.0, m)]  # past both ends of the N interval too
    if batch.has_s:
        cols.append(rng.uniform(-0.1, 1.1, m))
    Z = np.column_stack(cols)
    rows = rng.integers(0, BUDGETS.size, m)
    got = batch(Z, np.zeros((m, 0)), rows)
    for r in range(BUDGETS.size):
        own = Objective(p, "budget", lb[r], ub[r], None)
        np.testing.assert_array_equal(got[rows == r], own(Z[rows == r], np.zeros((1, 0))))
        N, variables = batch.decode(Z[rows == r], None, np.full((rows == r).sum(), r))
        np.testing.assert_array_equal(N, own.decode(Z[rows == r], np.zeros((1, 0)))[0])
    assert np.isfinite(got).sum() > m // 3


@pytest.mark.parametrize("kw", CASES)
@pytest.mark.parametrize("spread", [1.0, 3.0])
def test_a_fixed_batch_finds_each_problems_own_optimum_exactly(kw, spread):
    p = PlanRequest.build(1e21, **kw).problem
    lb, ub = _limits(spread)
    Z, K, F, settings = optimize_batch(Objective(p, "budget", lb, ub, None))
    for r in range(BUDGETS.size):
        z, _, f, _ = optimize(Objective(p, "budget", lb[r], ub[r], None))
        np.testing.assert_array_equal(Z[r], z)
        assert F[r] == f


def test_evaluate_safely_isolates_the_candidates_a_cost_model_rejects():
    seen = []

    def fn(idx):
        values = np.arange(6.0)[idx]
        seen.append(values.size)
        if np.any(values == 2.0):
            raise InputError("experts=2 is not allowed")
        return values * 10

    got = evaluate_safely(fn, 6)
    np.testing.assert_array_equal(got, [0, 10, np.inf, 30, 40, 50])
    assert seen[0] == 6  # all at once first
    np.testing.assert_array_equal(evaluate_safely(lambda idx: np.arange(4.0)[idx], 4), np.arange(4.0))
