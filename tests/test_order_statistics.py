"""Exact order statistics through a band (tsbudget.order_statistics): equal to a full sort on every
input, smooth or not, and the rows returned hold the values returned."""

from __future__ import annotations

import numpy as np
import pytest

from tsbudget import order_statistics as module
from tsbudget.order_statistics import order_statistics
from tsbudget.percentiles import quantiles, quantiles_by_order


def smooth(n, m, seed=0):
    """Draws × budgets like a frontier's: each draw a smooth curve in the budget index."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, m)
    return rng.standard_normal((n, 1)) + rng.standard_normal((n, 1)) * x + 0.1 * rng.standard_normal((n, 1)) * x**2


def inputs():
    rng = np.random.default_rng(1)
    yield "smooth", smooth(1000, 700)
    yield "noise (no order along budgets)", rng.standard_normal((1000, 200))
    kinked = smooth(1000, 300)
    kinked[:, 150:] += 3 * rng.standard_normal((1000, 1))  # a jump between two anchors
    yield "kinked", kinked
    ties = np.round(smooth(1200, 256), 1)
    yield "ties", ties
    inf = smooth(1000, 300)
    inf[rng.random(inf.shape) < 0.02] = np.inf
    inf[rng.random(inf.shape) < 0.02] = -np.inf
    yield "infinities", inf
    yield "small", rng.standard_normal((20, 10))


@pytest.mark.parametrize("name, values", list(inputs()), ids=[n for n, _ in inputs()])
def test_order_statistics_equal_a_full_sort(name, values):
    n = values.shape[0]
    ranks = np.array(sorted({0, 1, n // 40, n // 2 - 1, n // 2, n - 1 - n // 40, n - 1}))
    want = np.sort(values, axis=0)[ranks]
    lanes = np.ascontiguousarray(values.T)  # contiguous lanes: the banded path
    for v, axis in ((values, 0), (lanes, 1)):
        got, rows = order_statistics(v, ranks, axis=axis, return_index=True)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.take_along_axis(values, rows, axis=0), got)
        np.testing.assert_array_equal(order_statistics(v, ranks[::-1], axis=axis), got[::-1])  # any order


def test_the_band_proves_smooth_columns_and_sorts_only_the_rest(monkeypatch):
    # on smooth lanes no lane falls back to the full sort; on noise every lane does, and the
    # answer is exact either way (checked above); lanes not contiguous are sorted as laid out
    sorted_columns, counted = [], []
    real_exact, real_count = module._exact, module._count

    def spy(v, ranks, cols, out, rows, return_index):
        sorted_columns.append(int(cols.sum()))
        return real_exact(v, ranks, cols, out, rows, return_index)

    monkeypatch.setattr(module, "_exact", spy)
    monkeypatch.setattr(module, "_count", lambda *a: counted.append(1) or real_count(*a))
    order_statistics(smooth(1000, 1000).T.copy(), [24, 25, 499, 500, 974, 975], axis=1)
    assert sorted_columns == [] and counted
    order_statistics(np.random.default_rng(2).standard_normal((200, 1000)), [499, 500], axis=1)
    assert sorted_columns == [200]  # the trial on a sample of lanes failed: every lane sorted
    counted.clear()
    order_statistics(smooth(1000, 1000), [499, 500], axis=0)  # strided lanes: no copy, no bands
    assert counted == [] and sorted_columns[-1] == 1000


def test_order_statistics_refuse_bad_ranks_shapes_and_nan():
    with pytest.raises(ValueError, match="ranks"):
        order_statistics(np.zeros((5, 5)), [5])
    with pytest.raises(ValueError, match="2-d"):
        order_statistics(np.zeros(5), [1])
    with pytest.raises(ValueError, match="whole numbers"):
        order_statistics(np.zeros((5, 5)), [1.7])
    with pytest.raises(ValueError, match="range"):  # as numpy: no silent extrapolation
        quantiles(smooth(1000, 100).T.copy(), [1.5], axis=1)
    x = smooth(200, 100)
    x[3, 50] = np.nan  # a NaN is never read as a number
    with pytest.raises(ValueError, match="NaN"):
        order_statistics(x, [100])


def test_rows_of_infinite_values_in_a_wide_band_hold_them():
    # the review: a band wider than ~256 values whose top values are +inf sorted a padding slot
    # (+inf, row 0) ahead of a real +inf, so the row returned did not hold the value
    rng = np.random.default_rng(0)
    n, m = 2000, 64
    v = rng.standard_normal((n, m))
    v[:, 8] += 0.8  # one column between anchors: a wide band
    v[np.argsort(v, axis=0)[-3:], np.arange(m)] = np.inf
    ranks = list(range(n - 400, n, 10)) + [n - 1]
    out, rows = order_statistics(v.T.copy(), ranks, axis=1, return_index=True)  # contiguous lanes: bands
    np.testing.assert_array_equal(out, np.sort(v, axis=0)[ranks])
    np.testing.assert_array_equal(v[rows, np.arange(m)], out)
    w = np.exp(-v)  # falls as v rises
    q = np.linspace(0, 0.2, 41)
    with np.errstate(invalid="ignore"):
        _, (got,) = quantiles_by_order(v.T.copy(), q, decreasing=(w.T,), axis=1)
    np.testing.assert_array_equal(got, np.quantile(w, q, axis=0))


def test_many_quantiles_go_to_one_partition_and_an_empty_list_is_empty(monkeypatch):
    # each group of ranks is a pass and a byte per value: 101 quantiles must not take 101 bands
    bands = []
    real = module._count
    monkeypatch.setattr(module, "_count", lambda *a: bands.append(1) or real(*a))
    x = smooth(2000, 100).T.copy()  # contiguous lanes, where three quantiles would take bands
    q = np.linspace(0, 1, 101)
    np.testing.assert_array_equal(quantiles(x, q, axis=1), np.quantile(x, q, axis=1))
    assert bands == []
    assert quantiles(x, [], axis=1).shape == (0, 100)
    quantiles(x, [0.5, 0.025, 0.975], axis=1)
    assert bands  # the same lanes with three quantiles do take them


def test_quantiles_along_either_axis_and_of_infinite_values_without_warnings():
    import warnings

    x = smooth(1000, 400)
    x[::37, ::11] = np.inf
    x[5::41, ::13] = -np.inf
    lanes = np.ascontiguousarray(x.T)  # the banded path
    q = [0.5, 0.025, 0.975]
    huge = lanes * 1e306  # finite values whose sum (the NaN test) overflows
    with np.errstate(invalid="ignore", over="ignore"):
        want = np.quantile(x, q, axis=0)  # numpy warns of inf − inf between infinite neighbours
        want_huge = np.quantile(huge, q, axis=1)
        np.testing.assert_array_equal(quantiles(x, q, axis=0), want)  # strided: numpy's own path
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same values, and no warning from the NaN test
        np.testing.assert_array_equal(quantiles(lanes, q, axis=1), want)
        np.testing.assert_array_equal(quantiles(huge, q, axis=1), want_huge)
        np.testing.assert_array_equal(order_statistics(lanes, [7, 150], axis=1), np.sort(x, axis=0)[[7, 150]])
