"""Budget groups of IsoFLOP runs: tolerance, nominal budgets, exact values."""

import numpy as np
import pytest

from tsbudget.errors import SchemaError
from tsbudget.fitting.budgets import group_budgets


def test_group_budgets_tolerance_and_nominal():
    flops = np.array([0.95e19, 1.0e19, 1.04e19, 2.9e20, 3.1e20])
    g = group_budgets(flops, tolerance=0.1)
    assert len(np.unique(g)) == 2
    assert g[0] == pytest.approx((0.95e19 * 1e19 * 1.04e19) ** (1 / 3))
    snapped = group_budgets(flops, tolerance=0.1, budgets=[1e19, 3e20])
    np.testing.assert_array_equal(snapped, [1e19, 1e19, 1e19, 3e20, 3e20])
    with pytest.raises(SchemaError, match=r"9.5e\+18 in row 0"):
        group_budgets(flops, tolerance=0.01, budgets=[1e19, 3e20])
    np.testing.assert_array_equal(group_budgets(flops), flops)  # tolerance 0: exact values


def test_nominal_budgets_without_tolerance_snap_to_nearest():
    flops = np.array([0.8e19, 1.3e19, 2.5e20, 3.4e20])
    np.testing.assert_array_equal(group_budgets(flops, tolerance=None, budgets=[1e19, 3e20]),
                                  [1e19, 1e19, 3e20, 3e20])
    # beyond the largest budget by more than half the step to its neighbour
    with pytest.raises(SchemaError, match=r"row 1 is not within half a budget step"):
        group_budgets(np.array([1e19, 1e22]), tolerance=None, budgets=[1e19, 3e20])


def test_close_budgets_that_each_have_enough_runs_are_never_merged():
    import numpy as np

    from tsbudget.fitting.budgets import auto_budget_grouping

    budgets = 1e17 * 1.24 ** np.arange(20)  # more values than max_groups, 1.24x apart
    flops = np.repeat(budgets, 3)
    groups, how = auto_budget_grouping(flops)
    assert np.unique(groups).size == 20
    np.testing.assert_array_equal(groups, flops)
    assert "exact FLOPs values (20 budgets, each with >= 3 runs)" in how
    # one run short of a profile somewhere: the modes take over, as for digitised data
    groups, how = auto_budget_grouping(np.concatenate([flops, [3.3e17]]))
    assert how.startswith("automatic")


def test_rounding_in_the_last_digits_is_one_budget():
    """A sweep's run list recomputes 6·N·D from rounded N and D, so the FLOPs of one budget differ in
    the last digits; they are one budget each (seven here), not one group per run, and exact budgets
    stay exact."""
    from tsbudget.fitting.budgets import auto_budget_grouping

    rng = np.random.default_rng(0)
    nominal = np.repeat([1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21], 15)
    jittered = nominal * (1 + rng.uniform(-3e-8, 3e-8, nominal.size))
    groups, how = auto_budget_grouping(jittered)
    assert np.unique(groups).size == 7 and how.startswith("exact")
    np.testing.assert_allclose(groups, nominal, rtol=1e-7)
    groups, _ = auto_budget_grouping(nominal)
    assert np.array_equal(groups, nominal)
