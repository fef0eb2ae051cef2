"""Effective data under repetition (Muennighoff et al. 2023, eq. 5)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsbudget.timeseries.effective_data import MUENNIGHOFF_R_D, effective_data, repetitions
from tsbudget.errors import InputError


def test_published_values():
    # Muennighoff et al. 2023 (R_D* = 15.387756, their C4 fit): 4 epochs are worth 3.7257 fresh
    # epochs; the value of unlimited repetition plateaus at U·(1 + R_D*) = 16.39 U.
    assert effective_data(4.0, 1.0, MUENNIGHOFF_R_D) == pytest.approx(3.7257, abs=5e-5)
    assert effective_data(1e9, 1.0, MUENNIGHOFF_R_D) == pytest.approx(16.387756, rel=1e-9)


def test_formula_against_direct_evaluation():
    d, u, r = np.array([2e9, 8e9, 5e10]), 1e9, 7.0
    rep = d / u - 1
    expected = u + u * r * (1 - np.exp(-rep / r))
    np.testing.assert_allclose(effective_data(d, u, r), expected, rtol=1e-14)
    np.testing.assert_array_equal(repetitions(d, u), rep)


def test_no_repetition_and_infinite_decay_are_identity():
    np.testing.assert_array_equal(effective_data([0.5, 1.0], 1.0), [0.5, 1.0])
    np.testing.assert_allclose(effective_data([3.0, 40.0], 1.0, np.inf), [3.0, 40.0], rtol=1e-15)


@given(st.floats(1.0, 1e3), st.floats(0.1, 100.0))
def test_monotone_and_bounded(epochs, r_star):
    eff = effective_data(np.array([epochs, epochs * 1.5]), 1.0, r_star)
    assert eff[0] <= eff[1] <= 1.0 + r_star + 1e-9
    assert eff[0] <= epochs + 1e-12


def test_bad_inputs_are_named():
    with pytest.raises(InputError, match="unique"):
        effective_data(1.0, 0.0)
    with pytest.raises(InputError, match="total"):
        effective_data(np.nan, 1.0)
