"""Tokens unit: hand-counted tables, unique flag/column, positions, registry, conformance."""


import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tsbudget.registry
from tsbudget.data_unit import DataCount
from tsbudget.errors import SchemaError
from units.tokens import Tokens


def test_counts_by_hand():
    count = Tokens().count(pl.DataFrame({"n_tokens": [100, 250, 0, 650]}))
    assert count == DataCount("tokens", 1000.0, 1000.0, {"rows": 4, "repeated_rows": 0, "positions": 1000})
    assert count.epochs == 1.0


def test_unique_flag_marks_repeats():
    # shard 1 is a copy of shard 0: 300 read, 200 unique, 1.5 epochs.
    table = {"n_tokens": [100, 100, 100], "unique": [True, False, True]}
    count = Tokens().count(table)
    assert (count.total, count.unique, count.details["repeated_rows"]) == (300, 200, 1)
    assert count.epochs == pytest.approx(1.5)


def test_unique_column_and_flag_combine():
    table = pd.DataFrame({"n_tokens": [100, 50, 80], "n_unique_tokens": [60, 50, 80], "unique": [1, 1, 0]})
    count = Tokens().count(table)
    assert (count.total, count.unique) == (230, 110)  # 60 + 50; row 2 repeats others


def test_positions_are_tokens():
    unit = Tokens()
    assert unit.positions_per_unit() == 1.0
    np.testing.assert_array_equal(unit.to_positions([1.0, 2e12]), [1.0, 2e12])


@pytest.mark.parametrize(
    "table, words",
    [
        ({"tokens": [1]}, ["'n_tokens'", "present: 'tokens'"]),
        ({"n_tokens": [5, -1]}, ["'n_tokens'", "row 1", "-1"]),
        ({"n_tokens": [5, 2.5]}, ["'n_tokens'", "row 1", "2.5"]),
        ({"n_tokens": [5.0, float("nan")]}, ["'n_tokens'", "row 1", "NaN"]),
        ({"n_tokens": [None, 5]}, ["'n_tokens'", "row 0", "missing"]),
        ({"n_tokens": [5, 5], "n_unique_tokens": [5, 7]}, ["'n_unique_tokens'", "row 1", "7"]),
        ({"n_tokens": [5, 5], "unique": [True, None]}, ["'unique'", "row 1"]),
    ],
)
def test_bad_tables(table, words):
    with pytest.raises(SchemaError) as info:
        Tokens().count(pl.DataFrame(table, strict=False))
    for word in words:
        assert word in str(info.value)
    assert "tokens table" in str(info.value)


@given(st.lists(st.integers(0, 10**12), min_size=1, max_size=20), st.integers(0, 19))
def test_splitting_a_shard_keeps_the_count(sizes, where):
    # Total tokens do not depend on how documents are sharded.
    where %= len(sizes)
    split = sizes[:where] + [sizes[where] // 3, sizes[where] - sizes[where] // 3] + sizes[where + 1 :]
    assert Tokens().count({"n_tokens": split}).total == Tokens().count({"n_tokens": sizes}).total == sum(sizes)


def test_registry_and_conformance():
    assert tsbudget.registry.units.get("tokens") is Tokens
    assert isinstance(tsbudget.registry.units.resolve("tokens"), Tokens)
    from tsbudget.testing import check_unit

    # every declared column, optional ones too, so that check_unit probes each with bad values
    check_unit(Tokens(), pl.DataFrame({"n_tokens": [3, 4, 9], "n_unique_tokens": [3, 2, 9], "unique": [True, False, True]}))
    check_unit(Tokens(), pl.DataFrame({"n_tokens": [3, 4], "n_unique_tokens": [3, 4], "unique": [1, 0]}))


def test_empty_table_counts_zero():
    count = Tokens().count({"n_tokens": []})
    assert (count.total, count.unique) == (0, 0)
