"""Frontiers of one system: the extended law reduced to Chinchilla form, the spline onto the fine grid."""

import numpy as np
import pytest

from tsbudget.errors import InputError


def test_extended_law_at_fixed_variables_reduces_to_chinchilla_exactly():
    from tsbudget.comparisons.frontiers import chinchilla_params as _chinchilla_params
    from tsbudget.laws.extended import Extended

    law = Extended(variables=("experts",), references=(8.0,), gamma=(0.2,), eta=(0.1,))
    p = _chinchilla_params(law, law.values, {"experts": 64.0})
    n, d = np.array([1e8, 1e9]), np.array([1e10, 1e11])
    reduced = p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]
    np.testing.assert_allclose(reduced, law.loss(N=n, D=d, experts=64.0), rtol=1e-12)
    with pytest.raises(InputError, match="experts"):
        _chinchilla_params(law, law.values, {})


def test_spline_onto_fine_grid_keeps_failed_draws_nan():
    """Review issue 1: a failed draw (a NaN row) must not reach scipy's CubicSpline, which
    rejects non-finite values; finite rows are splined as before, a NaN row stays NaN, and a
    row missing one node is NaN only between that node's neighbours."""
    from tsbudget.comparisons.frontiers import _onto

    x = np.linspace(0.0, 4.0, 9)
    xf = np.linspace(0.0, 4.0, 41)
    good = np.sin(x)
    gap = good.copy()
    gap[4] = np.nan  # x = 2
    v = np.stack([np.r_[1.0, good], np.full(10, np.nan), np.r_[2.0, gap]])
    out = _onto(x, xf, v, 1)
    assert out.shape == (3, 42)
    np.testing.assert_allclose(out[0, 1:], np.sin(xf), atol=2e-3)
    assert out[0, 0] == 1.0 and np.all(np.isnan(out[1]))
    hole = (xf > 1.5) & (xf < 2.5)
    assert np.all(np.isnan(out[2, 1:][hole])) and out[2, 0] == 2.0
    np.testing.assert_allclose(out[2, 1:][~hole], np.sin(xf[~hole]), atol=2e-2)
