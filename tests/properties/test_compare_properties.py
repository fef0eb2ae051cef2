"""Invariants of compare() (hypothesis): issue 7, "the same runs relabelled or reordered give the
same comparison"."""

from functools import cache

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.comparisons.test_compare import GRID, runs
from tsbudget.comparisons.compare import compare

BUDGETS = np.geomspace(1e16, 1e21, 6)
OPTIONS = {"budgets": BUDGETS, "n_draws": 6, "fit_options": {"grid": GRID}}


@cache
def base():
    return compare(runs(), by="system", reference="small", **OPTIONS)


labels = st.lists(st.text(alphabet="abcdeXYZ_-0", min_size=1, max_size=6), min_size=2, max_size=2, unique=True)


@settings(max_examples=4, deadline=None)
@given(labels, st.integers(0, 2**32 - 1), st.booleans())
def test_relabelled_and_reordered_runs_give_the_same_comparison(names, order_seed, as_mapping):
    new = dict(zip(("small", "large"), names))
    df = runs().with_columns(pl.col("system").replace(new))
    df = df.sample(fraction=1.0, shuffle=True, seed=order_seed)  # rows and columns in another order
    df = df.select(df.columns[::-1])
    if as_mapping:  # one table per system instead of one table with a system column
        df = {lab: df.filter(pl.col("system") == lab).drop("system") for lab in names[::-1]}
    other = compare(df, by="system", reference=new["small"], **OPTIONS)
    ref = base()
    for old, lab in new.items():
        for var in ("loss", "loss_draw", "loss_lower", "loss_upper", "N", "p_beats_reference", "p_best"):
            np.testing.assert_allclose(other.dataset[var].sel(system=lab).values,
                                       ref.dataset[var].sel(system=old).values, rtol=1e-9, err_msg=var)
    assert [new[w] for w in ref.winners] == other.winners
    assert ref.crossovers.height == other.crossovers.height == 1
    a, b = ref.crossovers.row(0, named=True), other.crossovers.row(0, named=True)
    assert (new[a["from_system"]], new[a["to_system"]]) == (b["from_system"], b["to_system"])
    for key in ("budget", "lower", "upper", "p_crossing"):
        assert b[key] == pytest.approx(a[key], rel=1e-9)
