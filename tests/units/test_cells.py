"""Channel-time cells: hand-counted tables, independent vs mixed grouping, partial patches."""

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tsbudget.registry
from tsbudget.errors import InputError, SchemaError
from units.cells import ChannelTimeCells

TABLE = pl.DataFrame({"n_channels": [3, 2, 3], "n_timesteps": [10, 8, 0], "unique": [True, False, True]})


def test_counts_by_hand():
    count = ChannelTimeCells(patch_length=4).count(TABLE)
    assert (count.total, count.unique) == (3 * 10 + 2 * 8, 30)
    # independent: 3 channels x ceil(10/4) = 9 positions, 2 x ceil(8/4) = 4; empty series 0.
    assert count.details == {
        "series": 3,
        "repeated_series": 1,
        "time_patches": 3 + 2,
        "positions": 13,
        "unique_positions": 9,
        "padding_cells": 3 * (12 - 10),
    }


def test_mixed_counts_by_hand():
    count = ChannelTimeCells(patch_length=4, channel_grouping="mixed", channels=3).count(TABLE)
    assert (count.total, count.unique) == (46, 30)
    # one position per time patch: ceil(10/4) + ceil(8/4); the 2-channel series is padded to 3.
    assert count.details["positions"] == 5
    assert count.details["unique_positions"] == 3
    assert count.details["padding_cells"] == (3 * 12 - 30) + (3 * 8 - 16)


@pytest.mark.parametrize(
    "settings, per_unit",
    [
        ({}, 1.0),
        ({"patch_length": 16}, 1 / 16),
        ({"patch_length": 16, "channel_grouping": "mixed", "channels": 7}, 1 / (16 * 7)),
        ({"channel_grouping": "mixed", "channels": 5}, 1 / 5),
    ],
)
def test_positions_per_unit(settings, per_unit):
    assert ChannelTimeCells(**settings).positions_per_unit() == pytest.approx(per_unit, rel=1e-15)


def test_rate_is_exact_on_aligned_full_width_tables():
    table = {"n_channels": [7, 7], "n_timesteps": [64, 128]}
    for unit in (ChannelTimeCells(16), ChannelTimeCells(16, "mixed", 7)):
        count = unit.count(table)
        assert count.details["padding_cells"] == 0
        assert unit.to_positions(count.total) == count.details["positions"]


def test_mixed_rejects_series_wider_than_the_model():
    with pytest.raises(SchemaError, match=r"(?s)'n_channels'.*row 1.*9.*channels=8"):
        ChannelTimeCells(channel_grouping="mixed", channels=8).count({"n_channels": [8, 9], "n_timesteps": [5, 5]})


@pytest.mark.parametrize(
    "settings, field",
    [
        ({"patch_length": 0}, "patch_length"),
        ({"patch_length": 2.5}, "patch_length"),
        ({"patch_length": "x"}, "patch_length"),
        ({"channel_grouping": "per-channel"}, "channel_grouping"),
        ({"channel_grouping": "mixed"}, "channels"),
        ({"channel_grouping": "mixed", "channels": 0}, "channels"),
        ({"channels": 4}, "channels"),
    ],
)
def test_bad_settings_name_the_field(settings, field):
    with pytest.raises(InputError, match=field):
        ChannelTimeCells(**settings)


def test_settings_from_text():
    assert ChannelTimeCells(patch_length="16", channel_grouping="mixed", channels="4").positions_per_unit() == 1 / 64


@pytest.mark.parametrize(
    "table, words",
    [
        ({"n_channels": [1]}, ["'n_timesteps'", "present: 'n_channels'"]),
        ({"n_channels": [1, -1], "n_timesteps": [3, 3]}, ["'n_channels'", "row 1", "-1"]),
        ({"n_channels": [1, 1], "n_timesteps": [3, 3.5]}, ["'n_timesteps'", "row 1", "3.5"]),
        ({"n_channels": [1, 1], "n_timesteps": [3.0, float("nan")]}, ["'n_timesteps'", "row 1", "NaN"]),
        ({"n_channels": [None, 1], "n_timesteps": [3, 3]}, ["'n_channels'", "row 0", "missing"]),
    ],
)
def test_bad_tables(table, words):
    with pytest.raises(SchemaError) as info:
        ChannelTimeCells().count(table)
    assert all(word in str(info.value) for word in words)


series = st.lists(st.tuples(st.integers(0, 12), st.integers(0, 500)), min_size=1, max_size=8)


@given(series, st.integers(1, 32), st.integers(0, 7), st.integers(0, 20), st.booleans())
def test_splitting_a_series_at_a_patch_boundary_keeps_positions(rows, patch, which, cut, mixed):
    # Cutting one series into two pieces, the first a whole number of patches, changes neither
    # cells nor exact positions (both groupings).
    which %= len(rows)
    c, t = rows[which]
    head = min(cut * patch, t)
    if head % patch:  # only a cut at a patch boundary keeps the alignment
        head -= head % patch
    split = rows[:which] + [(c, head), (c, t - head)] + rows[which + 1 :]
    unit = ChannelTimeCells(patch, "mixed", 12) if mixed else ChannelTimeCells(patch)

    def as_table(r):
        return {"n_channels": [x for x, _ in r], "n_timesteps": [y for _, y in r]}

    before, after = unit.count(as_table(rows)), unit.count(as_table(split))
    assert before.total == after.total
    assert before.details["positions"] == after.details["positions"]


@given(series, st.integers(1, 32))
def test_positions_scale_as_one_over_patch_length(rows, patch):
    table = {"n_channels": [c for c, _ in rows], "n_timesteps": [t * patch for _, t in rows]}
    one, patched = ChannelTimeCells(1).count(table), ChannelTimeCells(patch).count(table)
    assert patched.details["positions"] * patch == one.details["positions"] == one.total
    np.testing.assert_allclose(ChannelTimeCells(patch).to_positions(one.total) * patch, one.total)


def test_registry_and_conformance():
    assert tsbudget.registry.units.get("cells") is ChannelTimeCells
    unit = tsbudget.registry.units.resolve("cells", patch_length=8, channel_grouping="mixed", channels=3)
    assert unit.positions_per_unit() == 1 / 24
    from tsbudget.testing import check_unit

    check_unit(ChannelTimeCells(4), TABLE)
    check_unit(unit, TABLE)


def test_empty_table_counts_zero():
    count = ChannelTimeCells(4).count({"n_channels": [], "n_timesteps": []})
    assert (count.total, count.unique, count.details["positions"]) == (0, 0, 0)


@pytest.mark.parametrize("channels, patch, mixed", [(1, 49, False), (1, 98, False), (7, 7, True), (11, 17, True)])
def test_aligned_positions_convert_exactly(channels, patch, mixed):
    # The rate conversion divides by the cells per position (an integer), so an aligned
    # table's exact count equals it to the last bit (1/49 rounds; x·(1/49) can miss x/49).
    unit = ChannelTimeCells(patch, channel_grouping="mixed", channels=channels) if mixed else ChannelTimeCells(patch)
    count = unit.count({"n_channels": [channels], "n_timesteps": [patch * 3]})
    assert unit.to_positions(count.total) == count.details["positions"]
    assert unit.from_positions(count.details["positions"]) == count.total
