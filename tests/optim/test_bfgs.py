"""The batched projected BFGS with per-row stopping (the bootstrap's draws)."""

import numpy as np
import pytest

from tsbudget.optim.bfgs import minimize_rows
from tsbudget.optim.stopping import RowConvergence

# one shifted Rosenbrock function per row: row i has its minimum 0 at (1 + c_i, 1 + c_i)
SHIFT = np.linspace(-0.5, 0.5, 7)


def shifted(x, rows):
    c = SHIFT[rows]
    a, b = x[:, 0] - c, x[:, 1] - c
    f = (1 - a) ** 2 + 100 * (b - a * a) ** 2
    g = np.stack([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)], axis=1)
    return f, g


def solve(rows):
    x0 = np.tile([-1.2, 1.0], (len(rows), 1))
    return minimize_rows(lambda x, r: shifted(x, np.asarray(rows)[r]), x0, None, None,
                         RowConvergence(len(rows)), max_iter=500, max_backtracks=50).by_start()


def test_every_row_reaches_its_own_minimum():
    res = solve(np.arange(SHIFT.size))
    np.testing.assert_allclose(res.x, np.stack([1 + SHIFT, 1 + SHIFT], axis=1), atol=1e-6)
    assert np.all(res.converged) and set(res.reason) <= {"ftol", "gtol"}
    np.testing.assert_array_equal(res.start, np.arange(SHIFT.size))
    assert res.grad.shape == res.x.shape and res.count.sum() == SHIFT.size


def test_a_row_does_not_depend_on_the_rest_of_its_batch():
    together = solve(np.arange(SHIFT.size))
    for i in (0, 3, 6):
        alone = solve(np.array([i]))
        np.testing.assert_array_equal(alone.x[0], together.x[i])
        assert alone.fun[0] == together.fun[i] and alone.reason[0] == together.reason[i]


def test_bounds_hold_and_infeasible_rows_stall():
    def fg(x, rows):
        f, g = shifted(x, rows)
        bad = rows == 0
        return np.where(bad, np.nan, f), g

    x0 = np.tile([0.0, 0.0], (3, 1))
    res = minimize_rows(fg, x0, [-1.0, -1.0], [0.8, 0.8], RowConvergence(3)).by_start()
    assert res.reason[0] == "stall" and not res.converged[0]
    assert np.all(res.x[1:] <= 0.8) and np.all(res.x[1:] >= -1.0)
    assert res.fun[1] == pytest.approx(shifted(res.x[1:2], np.array([1]))[0][0])


def test_line_search_trials_stay_in_the_box_and_rows_stay_independent():
    seen = []

    def fg(x, rows):
        seen.append(x.copy())
        return shifted(x, rows)

    def boxed(rows):
        x0 = np.tile([-1.2, 1.0], (len(rows), 1))
        return minimize_rows(lambda x, r: fg(x, np.asarray(rows)[r]), x0, [-2.0, -2.0], [0.9, 0.9],
                             RowConvergence(len(rows)), max_iter=500, max_backtracks=50).by_start()

    together = boxed(np.arange(SHIFT.size))
    trials = np.concatenate(seen)
    assert trials.shape[0] > together.n_iterations * 2  # the line search backtracked
    assert np.all(trials >= -2.0) and np.all(trials <= 0.9)
    # rows whose minimum (1 + c, 1 + c) lies outside the box end on the bound x0 = 0.9, near the
    # constrained minimum x1 = c + (0.9 - c)^2 (projected BFGS stops short on a bound); the others inside
    outside = 1 + SHIFT > 0.9
    c = SHIFT[outside]
    np.testing.assert_array_equal(together.x[outside, 0], 0.9)
    np.testing.assert_allclose(together.x[outside, 1], c + (0.9 - c) ** 2, atol=0.03)
    np.testing.assert_allclose(together.x[~outside], np.stack([1 + SHIFT, 1 + SHIFT], axis=1)[~outside], atol=1e-6)
    for i in (0, 3, 6):
        alone = boxed(np.array([i]))
        np.testing.assert_array_equal(alone.x[0], together.x[i])
        assert alone.fun[0] == together.fun[i]
