"""The one percentile-interval function (tsbudget.percentiles)."""

import subprocess
import sys

import numpy as np
import pytest

from tsbudget.errors import InputError
from tsbudget.percentiles import (MIN_VALID_DRAWS, count_valid, monte_carlo_errors, percentile_interval,
                                  percentile_summary, quantiles)


def test_matches_the_quantiles_of_the_level():
    v = np.random.default_rng(0).normal(size=1001)
    lo, hi = percentile_interval(v, 0.9)
    assert lo == pytest.approx(np.quantile(v, 0.05), rel=1e-12) and hi == pytest.approx(np.quantile(v, 0.95), rel=1e-12)


def test_nan_is_left_out_along_an_axis():
    v = np.arange(20.0).reshape(4, 5)
    v[0, 0] = np.nan
    lo, hi = percentile_interval(v, 0.5, axis=0)
    assert lo.shape == hi.shape == (5,)
    np.testing.assert_allclose(lo[0], np.quantile(v[1:, 0], 0.25))
    np.testing.assert_allclose(hi[1:], np.quantile(v[:, 1:], 0.75, axis=0))


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, -0.1])
def test_level_outside_0_1_is_refused(level):
    with pytest.raises(InputError, match="level"):
        percentile_interval([1.0, 2.0], level)


@pytest.mark.parametrize("level", [0.5, 0.68, 0.8, 0.9, 0.95, 0.99])
def test_bit_identical_to_both_forms_it_replaced(level):
    # the call sites it replaced wrote the upper quantile as 1 - (1 - level)/2 (and used
    # nanquantile) or as (1 + level)/2; at the levels in use the two are the same float
    v = np.random.default_rng(1).lognormal(size=(257, 3))
    lo, hi = percentile_interval(v, level, axis=0)
    a = (1 - level) / 2
    np.testing.assert_array_equal(lo, np.quantile(v, a, axis=0))
    np.testing.assert_array_equal(hi, np.quantile(v, (1 + level) / 2, axis=0))
    np.testing.assert_array_equal(np.stack([lo, hi]), np.nanquantile(v, [a, 1 - a], axis=0))


def test_all_values_when_no_axis_and_lower_below_upper():
    v = np.random.default_rng(2).normal(size=(40, 7))
    lo, hi = percentile_interval(v, 0.8)
    assert np.ndim(lo) == np.ndim(hi) == 0
    assert lo == np.quantile(v.ravel(), (1 - 0.8) / 2) and hi == np.quantile(v.ravel(), (1 + 0.8) / 2) and lo < hi
    # a wider level gives a wider interval
    lo95, hi95 = percentile_interval(v, 0.95)
    assert lo95 < lo and hi95 > hi


def test_a_column_of_only_nan_gives_nan():
    v = np.ones((5, 2))
    v[:, 1] = np.nan
    with pytest.warns(RuntimeWarning, match="All-NaN"):
        lo, hi = percentile_interval(v, 0.9, axis=0)
    assert lo[0] == hi[0] == 1.0 and np.isnan(lo[1]) and np.isnan(hi[1])


def test_accepts_lists_and_interpolates_linearly():
    assert percentile_interval([0.0, 1.0, 2.0, 3.0, 4.0], 0.5) == (1.0, 3.0)
    # (1 - 0.9)/2 of the way from 10 to 20: position 0.05 of 1
    lo, hi = percentile_interval([10.0, 20.0], 0.9)
    assert lo == pytest.approx(10.5, rel=1e-12) and hi == pytest.approx(19.5, rel=1e-12)


def test_imports_numpy_only():
    code = ("import sys, tsbudget.percentiles\n"
            "print(','.join(m for m in ('polars', 'xarray', 'pandas', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_count_valid_counts_the_nan_draws_and_refuses_too_few():
    v = np.array([1.0, np.nan, 2.0, 3.0, np.inf])
    np.testing.assert_array_equal(count_valid(v, "alpha"), [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match=r"draws of 'alpha': 2 of 4 draws are finite \(2 NaN or infinite\); "
                                         r"an interval needs at least 3"):
        count_valid([1.0, np.nan, 2.0, np.nan], "alpha")
    assert MIN_VALID_DRAWS == 3


def test_count_valid_rejects_draws_of_unexpected_shape():
    with pytest.raises(InputError, match=r"expected one value per draw \(1-d\), got shape \(4, 2\)"):
        count_valid(np.ones((4, 2)), "N_opt")


def test_monte_carlo_errors_match_the_spread_over_repeated_draw_sets():
    # 400 sets of 400 normal draws: the reported Monte Carlo errors agree with the observed
    # spread of the standard deviation (delta method) and of the 2.5%/97.5% quantiles
    # (order-statistic interval) to within 15%
    rng = np.random.default_rng(0)
    sets = rng.normal(size=(400, 400))
    sd = sets.std(axis=1, ddof=1)
    q = np.quantile(sets, [0.025, 0.975], axis=1)
    errors = np.array([monte_carlo_errors(x, 0.95) for x in sets])
    assert errors[:, 0].mean() == pytest.approx(sd.std(), rel=0.15)
    assert errors[:, 1].mean() == pytest.approx(q[0].std(), rel=0.15)
    assert errors[:, 2].mean() == pytest.approx(q[1].std(), rel=0.15)


def test_monte_carlo_errors_of_constant_or_single_draws():
    assert monte_carlo_errors([2.0, 2.0, 2.0], 0.9) == (0.0, 0.0, 0.0)
    assert all(np.isnan(monte_carlo_errors([1.0], 0.9)))
    with pytest.raises(InputError, match="level"):
        monte_carlo_errors([1.0, 2.0], 1.5)


@pytest.mark.parametrize("shape, axis", [((1000, 1000), 0), ((1000, 1000), 1), ((40, 30, 20), 1), ((4, 5000), -1),
                                         ((200, 100), 0), ((9,), None), ((30, 40), None)])
def test_quantiles_equal_numpy_bit_for_bit_on_the_sorted_and_numpy_paths(shape, axis):
    # the sort path (>= 10,000 values along a multi-dimensional axis) interpolates as numpy's
    # linear method does, from the lower end below t = 1/2 and from the upper end above
    x = np.exp(np.random.default_rng(3).standard_normal(shape))
    x.flat[::7] = x.flat[1::7][: x.flat[::7].size]  # ties
    q = [0.5, 0.025, 0.975, 0.0, 1.0, 0.3]
    np.testing.assert_array_equal(quantiles(x, q, axis=axis), np.quantile(x, q, axis=axis))


def test_quantiles_leave_out_nan_only_when_there_are_some():
    x = np.exp(np.random.default_rng(4).standard_normal((300, 200)))
    x[5, 7] = np.nan
    np.testing.assert_array_equal(quantiles(x, [0.1, 0.9], axis=0), np.nanquantile(x, [0.1, 0.9], axis=0))
    assert np.isfinite(quantiles(x, [0.1, 0.9], axis=0)).all()


def test_percentile_summary_is_the_median_and_the_interval_in_one_call():
    x = np.exp(np.random.default_rng(5).standard_normal((1000, 300)))
    median, lower, upper = percentile_summary(x, 0.9, axis=0)
    np.testing.assert_array_equal(median, np.median(x, axis=0))
    lo, hi = percentile_interval(x, 0.9, axis=0)
    np.testing.assert_array_equal(lower, lo)
    np.testing.assert_array_equal(upper, hi)
    with pytest.raises(InputError, match="level"):
        percentile_summary(x, 0.0)
