"""Pair precision and recall of a grouping against a reference."""

import pytest

from tsbudget.timeseries import pair_scores


def test_pair_scores_by_hand():
    # predicted {0,1,2},{3}; reference {0,1},{2,3}: predicted pairs 3, reference 2, shared 1
    assert pair_scores([0, 0, 0, 1], [5, 5, 6, 6]) == pytest.approx((1 / 3, 1 / 2))
