"""Events unit: hand-counted streams, events per position, partial positions, settings."""

import numpy as np
import polars as pl
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tsbudget.registry
from tsbudget.errors import InputError, SchemaError
from units.events import Events


def test_counts_by_hand():
    table = pl.DataFrame({"n_events": [10, 20, 30], "unique": [True, True, False]})
    count = Events(events_per_position=4).count(table)
    assert (count.total, count.unique) == (60, 30)
    # ceil(10/4) + ceil(20/4) + ceil(30/4) = 3 + 5 + 8; the rate gives 60/4 = 15.
    assert count.details == {"streams": 3, "repeated_streams": 1, "positions": 16}
    assert Events(4).to_positions(count.total) == 15


def test_unique_event_column():
    count = Events().count({"n_events": [10, 20], "n_unique_events": [4, 20]})
    assert (count.total, count.unique) == (30, 24)


@pytest.mark.parametrize("epp, per_unit, exact", [(1, 1.0, 6), (2, 0.5, 3), (0.1, 10.0, 60), (1 / 3, 3.0, 18)])
def test_positions(epp, per_unit, exact):
    unit = Events(epp)
    assert unit.positions_per_unit() == pytest.approx(per_unit, rel=1e-15)
    assert unit.count({"n_events": [6]}).details["positions"] == exact  # 6/0.1 must not round up to 61


@pytest.mark.parametrize("bad", [0, -2, float("nan"), float("inf"), "many", True])
def test_bad_setting_names_the_field(bad):
    with pytest.raises(InputError, match="events_per_position"):
        Events(bad)


def test_setting_from_text():
    assert Events("2.5").events_per_position == 2.5


@pytest.mark.parametrize(
    "table, words",
    [
        ({"events": [1]}, ["'n_events'", "present: 'events'"]),
        ({"n_events": [1, 2, -3]}, ["'n_events'", "row 2", "-3"]),
        ({"n_events": [1.5]}, ["'n_events'", "row 0", "1.5"]),
        ({"n_events": [1.0, float("nan")]}, ["'n_events'", "row 1", "NaN"]),
    ],
)
def test_bad_tables(table, words):
    with pytest.raises(SchemaError) as info:
        Events().count(table)
    assert all(word in str(info.value) for word in words)


@given(st.integers(1, 64), st.lists(st.integers(0, 10**6), min_size=1, max_size=10))
@example(49, [49])  # 49 · (1/49) rounds to 0.9999999999999999; the conversion divides by 49
def test_exact_positions_bracket_the_rate(epp, streams):
    # Padding a partial last group adds less than one position per stream.
    unit = Events(epp)
    count = unit.count({"n_events": streams})
    rate = unit.to_positions(count.total)
    assert rate <= count.details["positions"] < rate + len(streams)
    if all(n % epp == 0 for n in streams):
        assert count.details["positions"] == rate


@given(st.floats(0.01, 100), st.one_of(st.just(0.0), st.floats(1e-6, 1e12)))  # no subnormals
def test_positions_roundtrip(epp, amount):
    unit = Events(epp)
    np.testing.assert_allclose(unit.from_positions(unit.to_positions(amount)), amount, rtol=1e-12)


def test_registry_and_conformance():
    assert tsbudget.registry.units.get("events") is Events
    assert tsbudget.registry.units.resolve("events", events_per_position=8).positions_per_unit() == 1 / 8
    from tsbudget.testing import check_unit

    check_unit(Events(8), pl.DataFrame({"n_events": [3, 40], "n_unique_events": [3, 20], "unique": [True, False]}))
    check_unit(Events(0.5), pl.DataFrame({"n_events": [3, 40], "n_unique_events": [3, 20], "unique": [True, True]}))


def test_empty_table_counts_zero():
    count = Events(3).count({"n_events": []})
    assert (count.total, count.unique, count.details["positions"]) == (0, 0, 0)
