"""The batched multi-start quasi-Newton minimiser."""

import itertools

import numpy as np
import pytest

from tsbudget.optim.bfgs import Batch
from tsbudget.optim.multistart import minimize_batched
from tsbudget.optim.stopping import Racing


def rosenbrock(x):
    """Rosenbrock's function and gradient, rows are points; minimum 0 at (1, 1)."""
    a, b = x[:, 0], x[:, 1]
    f = (1 - a) ** 2 + 100 * (b - a * a) ** 2
    g = np.stack([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)], axis=1)
    return f, g


def test_every_start_reaches_rosenbrock_minimum():
    starts = np.array(list(itertools.product(np.linspace(-2, 2, 9), np.linspace(-1, 3, 9))))
    res = minimize_batched(rosenbrock, starts, merge_tol=0)
    assert res.n_starts == 81 and res.count.sum() == 81
    b = res.best()
    np.testing.assert_allclose(res.x[b], [1.0, 1.0], atol=1e-6)
    assert res.fun[b] < 1e-12
    assert res.count[res.fun < 1e-10].sum() >= 75  # nearly every start converges
    assert res.n_within(res.fun[b]) >= 1


def test_bounds_are_respected():
    # minimum of (x-3)^2 + (y+2)^2 in the box [0,1]x[0,1] is the corner (1, 0)
    def quad(x):
        return (x[:, 0] - 3) ** 2 + (x[:, 1] + 2) ** 2, np.stack([2 * (x[:, 0] - 3), 2 * (x[:, 1] + 2)], axis=1)

    res = minimize_batched(quad, np.random.default_rng(1).uniform(0, 1, (20, 2)), [0, 0], [1, 1])
    assert np.all(res.x >= 0) and np.all(res.x <= 1)
    np.testing.assert_allclose(res.x[res.best()], [1.0, 0.0], atol=1e-12)
    assert res.fun[res.best()] == pytest.approx(8.0)


def test_duplicate_starts_are_merged_and_counted():
    start = np.array([[-1.2, 1.0]])
    res = minimize_batched(rosenbrock, np.repeat(start, 50, axis=0))
    assert res.count.sum() == 50
    assert len(res.fun) == 1 and res.count[0] == 50


def test_infeasible_starts_are_dropped():
    def f(x):
        v, g = rosenbrock(x)
        bad = x[:, 0] > 5
        return np.where(bad, np.inf, v), np.where(bad[:, None], np.nan, g)

    res = minimize_batched(f, np.array([[10.0, 0.0], [0.0, 0.0]]), merge_tol=0)
    assert res.count.sum() == 2
    assert np.isinf(res.fun).sum() == 1
    assert res.fun[res.best()] < 1e-12


def test_race_prunes_on_schedule_and_keeps_the_best():
    # a double well f = (x² − 1)² + 0.2x + y²: global minimum near x = −1, local near x = +1
    def wells(x):
        a, b = x[:, 0], x[:, 1]
        f = (a * a - 1) ** 2 + 0.2 * a + b * b
        return f, np.stack([4 * a * (a * a - 1) + 0.2, 2 * b], axis=1)

    starts = np.array(list(itertools.product(np.linspace(-2, 2, 40), np.linspace(-1, 1, 10))))
    full = minimize_batched(wells, starts, merge_tol=0)
    raced = minimize_batched(wells, starts, merge_tol=0, keep_fraction=0.1, min_keep=8, first_round=1)
    assert raced.count.sum() == 400
    # 1 iteration: 400 -> 40 (10%); 3 iterations: 40 -> 8 (min_keep)
    assert raced.active[:4] == (400, 40, 40, 8)
    assert raced.n_pruned == 392
    assert not np.any(raced.converged[raced.pruned])
    assert raced.fun[raced.best()] == pytest.approx(full.fun[full.best()], rel=1e-12)
    assert raced.n_within(raced.fun[raced.best()]) == 8  # every finalist reached the global well
    assert full.n_within(full.fun[full.best()]) > 100


def test_race_rejects_bad_options():
    from tsbudget.errors import InputError

    with pytest.raises(InputError, match="keep_fraction"):
        minimize_batched(rosenbrock, np.zeros((2, 2)), keep_fraction=0.0)
    with pytest.raises(InputError, match="first_round"):
        minimize_batched(rosenbrock, np.zeros((2, 2)), keep_fraction=0.5, first_round=0)
    with pytest.raises(InputError, match="min_keep"):
        minimize_batched(rosenbrock, np.zeros((2, 2)), keep_fraction=0.5, min_keep=0)


def shifted_rosenbrock(x):
    """Rosenbrock's function plus one (minimum 1 at (1, 1): relative tolerances apply)."""
    f, g = rosenbrock(x)
    return f + 1.0, g


def test_race_settles_starts_at_the_best_and_prunes_the_rest_once_confirmed():
    starts = np.array(list(itertools.product(np.linspace(-2, 2, 8), np.linspace(-1, 3, 8))))  # (1, 1) is no start
    race = {"merge_tol": 0, "keep_fraction": 0.5, "min_keep": 16, "first_round": 1}
    plain = minimize_batched(shifted_rosenbrock, starts, **race)
    settled = minimize_batched(shifted_rosenbrock, starts, settle_tol=1e-7, settle_margin=1e-3, **race)
    assert settled.count.sum() == 64
    best = settled.fun[settled.best()]
    assert best == pytest.approx(plain.fun[plain.best()], rel=1e-9)
    assert settled.n_iterations < plain.n_iterations
    is_settled = settled.reason == "settled"
    assert is_settled.any() and np.all(settled.converged[is_settled])
    # settled: within settle_tol of the lowest converged objective (never below it by more than ftol)
    assert np.all(np.abs(settled.fun[is_settled] / best - 1) <= 1e-7)
    # pruned after the race was won: still more than settle_margin above the best
    won = settled.iterations[settled.converged & ~is_settled].min()  # a start first converged
    late = settled.pruned & (settled.iterations >= won)
    assert late.any()
    assert np.all(settled.fun[late] > best * (1 + 1e-3))
    assert settled.n_within(best) >= 2  # the winner was confirmed before the rest were pruned


def test_settling_needs_a_race_and_valid_tolerances():
    from tsbudget.errors import InputError

    starts = np.array(list(itertools.product(np.linspace(-2, 2, 5), np.linspace(-1, 3, 5))))
    full = minimize_batched(shifted_rosenbrock, starts)
    unraced = minimize_batched(shifted_rosenbrock, starts, settle_tol=1e-3, settle_margin=1e-3)
    np.testing.assert_array_equal(full.fun, unraced.fun)  # keep_fraction=1: every start converges as before
    assert "settled" not in set(unraced.reason)
    with pytest.raises(InputError, match="settle_tol"):
        minimize_batched(rosenbrock, np.zeros((2, 2)), keep_fraction=0.5, settle_tol=-1.0)
    with pytest.raises(InputError, match="settle_margin"):
        minimize_batched(rosenbrock, np.zeros((2, 2)), keep_fraction=0.5, settle_tol=1e-7, settle_margin=float("nan"))


def test_merge_cells_agree_on_the_short_and_the_clipped_way():
    tol = 1e-7
    # rows 0 and 1 round to one cell (the short way: every coordinate well inside the clip range);
    # rows 2 and 3 lie beyond 2^62 cells in the same directions, so they clip to one cell
    x = np.array([[0.1, 2.0], [0.1 + 0.2 * tol, 2.0], [1e13, -1e14], [2e13, -3e14], [0.5, 0.5]])
    for rows in ([0, 1, 4], [0, 1, 2, 3, 4]):
        batch = Batch(x[rows], np.arange(len(rows), dtype=float), np.zeros((len(rows), 2)))
        Racing(merge_tol=tol, n_params=2)._merge(batch)
        kept = np.asarray(rows)[batch.ids]  # the lowest objective of each cell, in the order of the cells' hashes
        order = np.argsort(kept)
        np.testing.assert_array_equal(kept[order], [0, 4] if len(rows) == 3 else [0, 2, 4])
        np.testing.assert_array_equal(batch.count[order], [2, 1] if len(rows) == 3 else [2, 2, 1])
