"""The roofline's batch search: exact against brute force, whatever the estimates it is given."""

import numpy as np
import pytest

from costmodels.moe import MixtureOfExperts
from tsbudget.batch_search import bracket, largest_true, line_cap


@pytest.mark.parametrize("estimates", ["none", "exact", "wrong", "inf"])
def test_largest_true_matches_brute_force(estimates):
    rng = np.random.default_rng(3)
    answer = rng.integers(0, 5000, 400).astype(float)
    hi = np.maximum(answer + rng.integers(-50, 3000, 400), 0.0)  # the range may cut the answer
    calls = []

    def pred(b):
        calls.append(1)
        return b <= answer

    guesses = {"none": (None, None), "exact": (answer, answer),
               "wrong": (answer + rng.integers(-900, 900, 400), answer - rng.integers(-900, 900, 400)),
               "inf": (np.full(400, -np.inf), np.full(400, np.inf))}[estimates]
    got = largest_true(pred, hi, *guesses)
    np.testing.assert_array_equal(got, np.minimum(answer, np.floor(hi)))
    if estimates == "exact":
        assert len(calls) <= 3  # the checks settle it: no bisection step


def test_bracket_bounds_a_rising_touched_curve():
    # the latency cap of a mixture of experts without a cache: T(B)·2 / 4.8e12 <= 20 ms
    cm = MixtureOfExperts()
    n, experts = np.geomspace(1e8, 3e10, 50), np.array([2.0, 8.0, 64.0, 512.0, 4096.0])[:, None]
    curve = cm.weight_params_touched_curve(n, **cm.resolve_variables(experts=experts))
    limit = 0.02 * 4.8e12 / 2.0
    hi = np.full(np.broadcast_shapes(n.shape, experts.shape), 2.0**20)
    with np.errstate(divide="ignore", invalid="ignore"):
        low, up = bracket(lambda t: line_cap(limit, [(t, 0.0 * t)]), lambda b: curve(b), hi, rising=False, rounds=2)
    truth = largest_true(lambda b: curve(b) <= limit, hi)
    assert np.all(np.floor(np.clip(low, 0, hi)) <= truth) and np.all(truth <= np.clip(up, 0, hi))
    np.testing.assert_array_equal(largest_true(lambda b: curve(b) <= limit, hi, np.floor(low), np.floor(up)), truth)


def test_line_cap():
    with np.errstate(divide="ignore", invalid="ignore"):
        assert line_cap(10.0, [(2.0, 4.0), (0.0, 1.0)]) == 2.0
        assert line_cap(10.0, [(2.0, 0.0)]) == np.inf and line_cap(10.0, [(12.0, 0.0)]) == -np.inf
        assert line_cap(10.0, [(10.0, 0.0)]) == np.inf
