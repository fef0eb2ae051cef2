"""Intervention windows: hand-counted trajectories, a brute-force oracle, unique windows."""

import math

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tsbudget.registry
from tsbudget.errors import InputError, SchemaError
from units.intervention_windows import InterventionWindows


def brute_force(lengths, steps, w, s):
    """Enumerate every window; count those holding a step, and distinct steps covered."""
    out = {"windows": 0, "intervention_windows": 0, "unique_windows": 0.0, "unique_intervention_windows": 0.0}
    for t_len, marks in zip(lengths, steps):
        starts = list(range(0, t_len - w + 1, s)) if t_len >= w else []
        hit = [a for a in starts if any(a <= m < a + w for m in marks)]
        out["windows"] += len(starts)
        out["intervention_windows"] += len(hit)
        out["unique_windows"] += len({a + i for a in starts for i in range(w)}) / w
        out["unique_intervention_windows"] += len({a + i for a in hit for i in range(w)}) / w
    return out


TABLE = pl.DataFrame(
    {
        "n_timesteps": [10, 3, 12, 10],
        "intervention_steps": [[5], [1], [11, 0], []],
        "regime": ["fault", "normal", "fault", "normal"],
    }
)


def test_counts_by_hand():
    # W=4, stride 2. T=10: windows start 0,2,4,6 (4 windows, steps 0..9 covered: 10/4 unique);
    # step 5 lies in the windows starting at 2 and 4. T=3 < W: no window. T=12: starts 0..8
    # (5 windows), steps 0 and 11 hit the first and the last. T=10 without interventions: 4.
    unit = InterventionWindows(window_length=4, stride=2, patch_length=3)
    count = unit.count(TABLE)
    assert count.total == 4 + 0 + 5 + 4
    assert count.unique == pytest.approx(10 / 4 + 0 + 12 / 4 + 10 / 4)
    assert count.details["intervention_windows"] == 2 + 0 + 2 + 0
    assert count.details["normal_windows"] == 13 - 4
    # windows at 2 and 4 cover steps 2..7 (6 steps); windows at 0 and 8 cover 8 steps.
    assert count.details["unique_intervention_windows"] == pytest.approx(6 / 4 + 8 / 4)
    assert count.details["positions_per_window"] == 2  # ceil(4 / 3): the partial patch is padded
    assert count.details["positions"] == 26
    assert count.details["windows[fault]"] == 9 and count.details["intervention_windows[fault]"] == 4
    assert count.details["windows[normal]"] == 4 and count.details["intervention_windows[normal]"] == 0


def test_per_trajectory_table():
    per = InterventionWindows(4, 2).per_trajectory(TABLE)
    assert per["windows"].to_list() == [4, 0, 5, 4]
    assert per["intervention_windows"].to_list() == [2, 0, 2, 0]
    assert per["unique_windows"].to_list() == pytest.approx([2.5, 0, 3, 2.5])


def test_unique_for_overlap_and_gaps():
    table = {"n_timesteps": [100], "intervention_steps": [[50]]}
    # stride 1: 97 windows re-reading 100 steps: 25 windows' worth of distinct data, 3.88 epochs.
    dense = InterventionWindows(4, 1).count(table)
    assert (dense.total, dense.unique) == (97, 25)
    assert dense.epochs == pytest.approx(97 / 25)
    assert dense.details["intervention_windows"] == 4  # starts 47..50
    assert dense.details["unique_intervention_windows"] == pytest.approx(7 / 4)  # steps 47..53
    # stride >= W: windows do not overlap, every window is unique; stride 6 leaves gaps.
    for stride in (4, 6):
        count = InterventionWindows(4, stride).count(table)
        assert count.unique == count.total == math.floor((100 - 4) / stride) + 1
    # stride 6: windows start 0, 6, ..., 48, 54; step 50 lies in 48..51 only.
    assert InterventionWindows(4, 6).count(table).details["intervention_windows"] == 1
    assert InterventionWindows(4, 6).count({"n_timesteps": [100], "intervention_steps": [[53]]}).details[
        "intervention_windows"
    ] == 0  # 53 lies between the windows 48..51 and 54..57


def test_repeated_trajectories_add_no_unique_windows():
    table = {"n_timesteps": [20, 20], "intervention_steps": [[3], [3]], "unique": [True, False]}
    count = InterventionWindows(5).count(table)
    assert (count.total, count.unique) == (8, 4)
    assert count.details["intervention_windows"] == 2
    assert count.details["unique_intervention_windows"] == 1


def test_stride_defaults_to_window_length():
    assert InterventionWindows(window_length=32).stride == 32
    assert InterventionWindows().positions_per_unit() == 64


@given(
    st.integers(1, 12),
    st.integers(1, 15),
    st.lists(st.tuples(st.integers(0, 60), st.lists(st.integers(0, 59), max_size=6)), min_size=1, max_size=6),
)
def test_matches_brute_force(w, s, rows):
    lengths = [t for t, _ in rows]
    steps = [[m for m in marks if m < t] for t, marks in rows]
    table = pl.DataFrame(
        {"n_timesteps": lengths, "intervention_steps": steps},
        schema={"n_timesteps": pl.Int64, "intervention_steps": pl.List(pl.Int64)},
    )
    count = InterventionWindows(w, s).count(table)
    expected = brute_force(lengths, steps, w, s)
    assert count.total == expected["windows"]
    assert count.unique == pytest.approx(expected["unique_windows"])
    assert count.details["intervention_windows"] == expected["intervention_windows"]
    assert count.details["unique_intervention_windows"] == pytest.approx(expected["unique_intervention_windows"])
    assert 0 <= count.unique <= count.total


@given(st.integers(1, 64), st.integers(1, 8))
def test_positions_per_window(w, p):
    if p > w:
        with pytest.raises(InputError, match="patch_length"):
            InterventionWindows(w, patch_length=p)
        return
    unit = InterventionWindows(w, patch_length=p)
    assert unit.positions_per_unit() == math.ceil(w / p)
    if w % p == 0:
        assert unit.positions_per_unit() * p == w  # positions scale as 1 / patch_length


@pytest.mark.parametrize(
    "settings, field",
    [
        ({"window_length": 0}, "window_length"),
        ({"window_length": 8, "stride": -1}, "stride"),
        ({"window_length": 8, "stride": 1.5}, "stride"),
        ({"window_length": 8, "patch_length": 9}, "patch_length"),
        ({"window_length": 8, "patch_length": None}, "patch_length"),
    ],
)
def test_bad_settings_name_the_field(settings, field):
    with pytest.raises(InputError, match=field):
        InterventionWindows(**settings)


@pytest.mark.parametrize(
    "table, words",
    [
        ({"n_timesteps": [5]}, ["'intervention_steps'", "present: 'n_timesteps'"]),
        ({"n_timesteps": [5, -5], "intervention_steps": [[], []]}, ["'n_timesteps'", "row 1", "-5"]),
        ({"n_timesteps": [5.0, float("nan")], "intervention_steps": [[], []]}, ["'n_timesteps'", "row 1", "NaN"]),
        ({"n_timesteps": [5, 5], "intervention_steps": [[1], [2, 5]]}, ["'intervention_steps'", "row 1", "5"]),
        ({"n_timesteps": [5, 5], "intervention_steps": [[-1], []]}, ["'intervention_steps'", "row 0", "-1"]),
        ({"n_timesteps": [5, 5], "intervention_steps": [[1], None]}, ["'intervention_steps'", "row 1", "missing"]),
        ({"n_timesteps": [5], "intervention_steps": [3]}, ["'intervention_steps'", "expected lists"]),
        ({"n_timesteps": [5, 5], "intervention_steps": [[], []], "regime": ["a", None]}, ["'regime'", "row 1"]),
    ],
)
def test_bad_tables(table, words):
    with pytest.raises(SchemaError) as info:
        InterventionWindows(4).count(pl.DataFrame(table, strict=False))
    assert all(word in str(info.value) for word in words)


def test_registry_and_conformance():
    assert tsbudget.registry.units.get("intervention_windows") is InterventionWindows
    unit = tsbudget.registry.units.resolve("intervention_windows", window_length=16, stride=4, patch_length=4)
    assert unit.positions_per_unit() == 4
    from tsbudget.testing import check_unit

    check_unit(unit, TABLE.with_columns(unique=pl.Series([True, True, False, True])))


def test_empty_tables_and_float_steps():
    unit = InterventionWindows(4)
    assert unit.count({"n_timesteps": [], "intervention_steps": []}).total == 0
    count = unit.count({"n_timesteps": [3, 8], "intervention_steps": [[], [4.0]], "regime": [1, 2]})
    assert (count.total, count.details["intervention_windows"]) == (2, 1)  # windows 0..3 and 4..7
    assert count.details["intervention_windows[2]"] == 1 and count.details["windows[1]"] == 0
