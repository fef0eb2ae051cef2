"""check_unit (tsbudget.testing.unit_checks): every built-in data unit passes it, and deliberately
broken units fail it with an AssertionError that names what is broken."""

from typing import ClassVar

import attrs
import numpy as np
import polars as pl
import pytest

import tsbudget.registry
from tsbudget import tables
from tsbudget.data_unit import DataCount, DataUnit
from tsbudget.errors import SchemaError
from tsbudget.testing import check_unit

# -- every built-in passes ---------------------------------------------------------

# A valid table per built-in unit, holding every declared column (optional ones too).
UNIT_TABLES = {
    "tokens": ({}, {"n_tokens": [3, 4, 9], "n_unique_tokens": [3, 2, 9], "unique": [True, False, True]}),
    "events": ({"events_per_position": 8}, {"n_events": [3, 40], "n_unique_events": [3, 20], "unique": [True, False]}),
    "cells": ({"patch_length": 4}, {"n_channels": [3, 2, 3], "n_timesteps": [10, 8, 0], "unique": [True, False, True]}),
    "intervention_windows": (
        {"window_length": 4, "stride": 2},
        {
            "n_timesteps": [10, 3, 12, 10],
            "intervention_steps": [[5], [1], [11, 0], []],
            "unique": [True, True, False, True],
            "regime": ["fault", "normal", "fault", "normal"],
        },
    ),
}


def test_every_builtin_unit_passes():
    assert set(UNIT_TABLES) == set(tsbudget.registry.units.names())
    for name, (unit_settings, table) in UNIT_TABLES.items():
        check_unit(tsbudget.registry.units.resolve(name, **unit_settings), pl.DataFrame(table))
    mixed = tsbudget.registry.units.resolve("cells", patch_length=8, channel_grouping="mixed", channels=3)
    check_unit(mixed, pl.DataFrame(UNIT_TABLES["cells"][1]))


# -- broken data units ---------------------------------------------------------------


@attrs.frozen
class SumUnit(DataUnit):
    """The audit's scratch unit: sums column n with no checks ({"n": [1, -5, 2.5]} gave -1.5)."""

    name: ClassVar[str] = "scratch_sum"
    description: ClassVar[str] = "sums n"
    columns: ClassVar[dict] = {"n": "items (integer >= 0)"}

    def _df(self, table):
        df = tables.as_table(table)
        tables.require_columns(df, ["n"])
        return df

    def count(self, table) -> DataCount:
        total = float(self._df(table)["n"].sum())
        return DataCount(self.name, total, total)

    def positions_per_unit(self) -> float:
        return 1.0


class RowlessUnit(SumUnit):
    """Rejects bad values, but its message names no row."""

    def count(self, table):
        df = self._df(table)
        if df["n"].null_count() or not df["n"].dtype.is_integer() or (df["n"] < 0).any():
            raise SchemaError("column 'n' holds a bad value")
        return super().count(df)


class CastingUnit(SumUnit):
    """Checks sign, NaN, null and integrality itself, then casts to int64: a count beyond
    int64 escapes as a polars error."""

    def count(self, table):
        df = self._df(table)
        arr = df["n"].cast(pl.Float64).to_numpy()
        bad = df["n"].is_null().to_numpy() | ~np.isfinite(arr) | (arr < 0) | (arr != np.floor(arr))
        if bad.any():
            raise SchemaError(f"column 'n', row {int(np.flatnonzero(bad)[0])}: bad count")
        total = float(df["n"].cast(pl.Int64).sum())
        return DataCount(self.name, total, total)


class WrappingUnit(SumUnit):
    """Checks every cell but sums in int64, which wraps past 9.2e18."""

    def count(self, table):
        df = self._df(table)
        tables.check_counts(df, ["n"])
        total = float(tables.count_column(df, "n").sum())
        return DataCount(self.name, total, total)


class MaxUnit(SumUnit):
    """Checked, but its total is the largest row, not the sum: not additive over rows."""

    def count(self, table):
        df = self._df(table)
        tables.check_counts(df, ["n"])
        total = float(tables.count_column(df, "n").max())
        return DataCount(self.name, total, total)


class CheckedUnit(SumUnit):
    """The fixed version: passes."""

    def count(self, table):
        df = self._df(table)
        tables.check_counts(df, ["n"])
        total = float(tables.exact_sum(tables.count_column(df, "n")))
        return DataCount(self.name, total, total)


GOOD_TABLE = pl.DataFrame({"n": [1, 2, 3]})


def test_the_audits_scratch_unit_counted_bad_values():
    assert SumUnit().count({"n": [1, -5, 2.5]}).total == -1.5


@pytest.mark.parametrize(
    "unit, words",
    [
        (SumUnit(), ["column 'n'", "negative value (-5)", "row 2", "must raise SchemaError", "returned DataCount"]),
        (RowlessUnit(), ["must name the column 'n' and 'row 2'", "holds a bad value"]),
        (CastingUnit(), ["beyond int64", "must raise SchemaError", "InvalidOperationError"]),
        (WrappingUnit(), ["2**62 in every row", "0 <= unique <= total", "overflow"]),
        (MaxUnit(), ["add over rows", "3.0", "stacked twice"]),
    ],
)
def test_broken_units_fail_and_name_the_problem(unit, words):
    with pytest.raises(AssertionError) as info:
        check_unit(unit, GOOD_TABLE)
    for word in words:
        assert word in str(info.value)


def test_check_unit_needs_every_declared_column_and_two_rows():
    CheckedUnit().count(GOOD_TABLE)
    check_unit(CheckedUnit(), GOOD_TABLE)
    with pytest.raises(AssertionError, match=r"lacks declared column\(s\) \['n_unique_tokens'\]"):
        check_unit(tsbudget.registry.units.resolve("tokens"), pl.DataFrame({"n_tokens": [1, 2], "unique": [1, 1]}))
    with pytest.raises(AssertionError, match="at least two rows"):
        check_unit(CheckedUnit(), pl.DataFrame({"n": [1]}))


def test_check_unit_probes_flags_labels_and_lists():
    # a unit that ignores a declared flag column: a null flag is not rejected
    @attrs.frozen
    class IgnoresFlag(CheckedUnit):
        columns: ClassVar[dict] = {"n": "items", "unique": "optional flag"}

    with pytest.raises(AssertionError, match=r"column 'unique' holds a null value \(None\) in row 1"):
        check_unit(IgnoresFlag(), pl.DataFrame({"n": [1, 2], "unique": [True, False]}))

    # intervention windows whose step lists skip the element checks
    from units.intervention_windows import InterventionWindows

    class LaxSteps(InterventionWindows):
        def per_trajectory(self, table):
            df = tables.as_table(table)
            if "intervention_steps" in df.columns and isinstance(df["intervention_steps"].dtype, pl.List):
                lax = pl.col("intervention_steps").list.eval(pl.element().abs().floor().cast(pl.Int64))
                df = df.with_columns(lax)
            return super().per_trajectory(df)

    with pytest.raises(AssertionError, match=r"negative element value \(\[-1\]\) in row 3.*must raise SchemaError"):
        check_unit(LaxSteps(4), pl.DataFrame(UNIT_TABLES["intervention_windows"][1]))


