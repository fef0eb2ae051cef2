"""The one percentile-interval function."""

import numpy as np
import pytest

from tsbudget.errors import InputError
from tsbudget.uncertainty.intervals import percentile_interval


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
