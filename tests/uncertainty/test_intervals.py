"""The bootstrap summary tables of a fit: intervals() and intervals_dict()."""

import json

import pytest

from tsbudget.errors import InputError
from tsbudget.uncertainty.intervals import intervals, intervals_dict


def test_golden_intervals(golden, golden_draws):
    r = golden_draws
    table = intervals(r)
    assert set(table.columns) >= {"name", "estimate", "se", "lower", "upper"}
    rows = {(row["name"], row["budget"]): row for row in table.to_dicts()}
    for p in ("E", "A", "B", "alpha", "beta"):
        row = rows[(p, None)]
        assert row["se"] > 0 and row["lower"] < row["upper"]
        assert row["estimate"] == pytest.approx(golden.parameters[p])
    # the spread is of the size Besiroglu et al. 2024 Table 1 report (se of alpha ~0.02)
    assert 0.003 < rows[("alpha", None)]["se"] < 0.1
    tpp = rows[("tokens_per_param", 5.88e23)]
    assert 5 < tpp["median"] < 80
    d = intervals_dict(r)
    json.dumps(d)
    assert d["derived"]["N_opt"][0]["budget"] == 5.88e23 and d["n_draws"] == 24


def test_a_fit_without_draws_has_no_intervals(golden):
    with pytest.raises(InputError, match="no bootstrap draws"):
        intervals(golden)
