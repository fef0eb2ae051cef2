"""Conformance check of a data-unit plugin (:class:`tsbudget.data_unit.DataUnit`).

Usage in a plugin's own test suite::

    from tsbudget.testing import check_unit
    def test_conforms():
        check_unit(MyUnit(), pl.DataFrame({...}))  # valid, every declared column, >= 2 rows

It raises ``AssertionError`` naming the plugin and the broken promise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np

from tsbudget.data_unit import DataCount, DataUnit
from tsbudget.errors import InputError, SchemaError, TsbudgetError
from tsbudget.testing.checks import check_metadata, fail, qualified

__all__ = ["check_unit"]

_ROW = re.compile(r"\brow (\d+)\b")


def _unit_probes(series) -> list[tuple[str, object]]:
    """Bad values for one cell of ``series``, by the column's type in the valid table:
    integer columns are counts (negative, NaN, infinite, non-integer, null, beyond int64);
    float columns are amounts (negative, NaN, infinite, null); lists of numbers get bad
    elements; every other column (flags, labels) gets a null."""
    import polars as pl

    dtype = series.dtype
    if dtype.is_integer():
        return [("negative", -5), ("NaN", math.nan), ("infinite", math.inf), ("non-integer", 2.5),
                ("null", None), ("beyond int64", 2**63)]
    if dtype.is_numeric():
        return [("negative", -5.0), ("NaN", math.nan), ("infinite", math.inf), ("null", None)]
    if isinstance(dtype, pl.List) and (dtype.inner.is_numeric() or dtype.inner == pl.Null):
        probes = [("null list", None), ("negative element", [-1]), ("NaN element", [math.nan]),
                  ("null element", [None])]
        if dtype.inner.is_integer() or dtype.inner == pl.Null:
            probes.append(("non-integer element", [2.5]))
        return probes
    return [("null", None)]


def _with_cell(df, column: str, row: int, value):
    import polars as pl

    values = df[column].to_list()
    values[row] = value
    return df.with_columns(pl.Series(column, values, strict=False))


def _count_or_fail(unit, table, what: str):
    try:
        return unit.count(table)
    except TsbudgetError:
        raise
    except Exception as exc:
        fail(unit, f"counting {what} must give a count or raise a TsbudgetError; it raised {qualified(exc)}")


def _check_count(unit, count, what: str) -> None:
    if not isinstance(count, DataCount):
        fail(unit, f"count() of {what} must return a DataCount, got {type(count).__name__}")
    if not (math.isfinite(count.total) and math.isfinite(count.unique) and 0 <= count.unique <= count.total):
        fail(unit, f"count() of {what} must give 0 <= unique <= total, finite; got {count}")


def check_unit(unit: DataUnit, table) -> None:
    """Check a data unit: metadata, positions conversion and table checking.

    ``table`` is a small valid table (two rows or more) holding every column the unit
    declares in ``columns``, optional ones too; write count columns as integers (an
    integer column is probed as a count, a float column as a real amount). The check:

    - counts ``table``: a finite ``0 <= unique <= total``; counting it twice over
      (``vstack``) doubles the total;
    - drops each column in turn: the count either still works (an optional column) or
      raises :class:`~tsbudget.errors.SchemaError` naming the column;
    - writes one bad value at a time into the last row of each declared column
      (negative, NaN, infinite, null, non-integer and beyond-int64 counts, bad list
      elements, null flags and labels): each must raise ``SchemaError`` whose message names
      the column and the row (``row <i>``), not another error and not a count;
    - writes 2**62 into every row of each integer column: the count must not overflow
      (a ``SchemaError`` or a finite ``0 <= unique <= total``).
    """
    import polars as pl

    check_metadata(unit, DataUnit)
    columns = getattr(type(unit), "columns", None)
    if not (isinstance(columns, Mapping) and columns and all(isinstance(k, str) and isinstance(v, str)
                                                             for k, v in columns.items())):
        fail(unit, "class attribute 'columns' must map each table column (str) to what it means (str)")
    ppu = unit.positions_per_unit()
    if not (isinstance(ppu, (float, int, np.floating)) and math.isfinite(ppu) and ppu > 0):
        fail(unit, f"positions_per_unit() must be a finite float > 0, got {ppu!r}")
    amounts = np.array([[1.0], [1e6], [3.5e12]])
    pos = unit.to_positions(amounts)
    if pos.shape != amounts.shape or not np.allclose(unit.from_positions(pos), amounts, rtol=1e-12):
        fail(unit, "from_positions(to_positions(x)) must return x with x's shape")
    try:
        unit.to_positions(-1.0)
    except InputError:
        pass  # refused, as required
    else:
        fail(unit, "to_positions(-1) must raise InputError")

    try:
        unit.count(pl.DataFrame({"__no_such_column__": [1]}))
    except SchemaError as exc:
        if not any(col in str(exc) for col in unit.columns):
            fail(unit, f"a missing-column error must name the column; got {exc}")
    except TsbudgetError:
        fail(unit, "a table missing its columns must raise SchemaError")
    except Exception as exc:
        fail(unit, f"a table missing its columns must raise SchemaError; it raised {qualified(exc)}")
    else:
        fail(unit, "counting a table without its columns must raise SchemaError")

    if not isinstance(table, pl.DataFrame):
        fail(unit, f"check_unit needs a valid polars DataFrame to probe, got {type(table).__name__}")
    absent = [c for c in unit.columns if c not in table.columns]
    if absent:
        fail(unit, f"the table given to check_unit lacks declared column(s) {absent}: give every column "
                    "in columns (optional ones too) so that each can be probed with bad values")
    if table.height < 2:
        fail(unit, "the table given to check_unit needs at least two rows")
    count = _count_or_fail(unit, table, "the valid table")
    _check_count(unit, count, "the valid table")
    twice = _count_or_fail(unit, pl.concat([table, table]), "the valid table stacked twice")
    _check_count(unit, twice, "the valid table stacked twice")
    if not math.isclose(twice.total, 2 * count.total, rel_tol=1e-12, abs_tol=1e-9):
        fail(unit, f"total must add over rows: the valid table counts {count.total}, stacked twice "
                    f"{twice.total}")

    for column in unit.columns:
        what = f"the valid table without column {column!r}"
        try:
            _check_count(unit, _count_or_fail(unit, table.drop(column), what), what)
        except SchemaError as exc:
            if column not in str(exc):
                fail(unit, f"counting {what} raised a SchemaError that does not name it: {exc}")

    row = table.height - 1
    for column in unit.columns:
        for label, value in _unit_probes(table[column]):
            bad = _with_cell(table, column, row, value)
            what = f"a table whose column {column!r} holds a {label} value ({value!r}) in row {row}"
            try:
                result = unit.count(bad)
            except SchemaError as exc:
                named = [int(m) for m in _ROW.findall(str(exc))]
                if column not in str(exc) or row not in named:
                    fail(unit, f"counting {what} raised SchemaError, but its message must name the column "
                                f"{column!r} and 'row {row}'; got: {exc}")
            except Exception as exc:
                fail(unit, f"counting {what} must raise SchemaError; it raised {qualified(exc)}")
            else:
                fail(unit, f"counting {what} must raise SchemaError naming the column and row; "
                            f"it returned {result}")
        if table[column].dtype.is_integer():
            big = table.with_columns(pl.Series(column, [2**62] * table.height, dtype=pl.Int64))
            what = f"a table whose column {column!r} holds 2**62 in every row"
            try:
                _check_count(unit, _count_or_fail(unit, big, what), what + " (an int64 overflow?)")
            except SchemaError:
                pass  # refusing counts that large is as good as summing them exactly

