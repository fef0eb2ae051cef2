"""Statistics over frontier draws: the tie rule and the crossover flag."""

import numpy as np
import pytest

from tsbudget.comparisons.statistics import p_less as _p_less


def test_tie_rule_counts_half():
    a = np.array([1.0, 2.0, 3.0])
    assert _p_less(a, a, paired=True) == 0.5
    assert _p_less(a, a, paired=False) == 0.5  # 3 of 9 pairs tie, 3 below, 3 above
    assert _p_less(np.array([1.0]), np.array([2.0, 0.5]), paired=False) == 0.5


def test_crossover_flag_checks_both_systems():
    from tsbudget.comparisons.statistics import crossovers as _crossovers

    fine = np.geomspace(1e16, 1e20, 41)
    x = np.log(fine / 1e18)
    Lp = np.stack([0.1 * x, -0.1 * x])  # system 0 wins below 1e18, system 1 above
    Ld = np.repeat(Lp[:, None, :], 3, axis=1)
    for fmin, fmax, flag in (([1e16, 1e16], [1e20, 1e20], False), ([1e16, 1e19], [1e20, 1e20], True),
                             ([1e16, 1e16], [1e17, 1e20], True), ([1e18, 1e18], [1e18, 1e18], False)):
        out = _crossovers(["p", "q"], fine, Lp, Ld, 0.95, np.array(fmin), np.array(fmax))
        assert out["budget"][0] == pytest.approx(1e18, rel=1e-9)
        assert out["extrapolated"][0] is flag, (fmin, fmax)
