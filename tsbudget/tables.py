"""Checks for the polars tables that describe datasets and runs.

Every failure raises :class:`~tsbudget.errors.SchemaError` naming the column, the first
offending row (0-based position, also for pandas input) and its value, plus how many rows
fail. The checks are column-wise and vectorized: no Python loop runs over rows.

Counts are held as int64, so a count cell above :data:`INT64_MAX` (about 9.2e18) is a
SchemaError; sums of counts use :func:`exact_sum`, which cannot overflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from tsbudget.errors import SchemaError

if TYPE_CHECKING:  # polars is imported where a function needs it: plugins import this module at start-up
    import polars as pl

__all__ = [
    "as_table",
    "require_columns",
    "check_numbers",
    "check_counts",
    "check_positive",
    "checked",
    "check_flag",
    "check_not_null",
    "check_not_above",
    "check_integer_lists",
    "count_column",
    "exact_sum",
    "flag_column",
    "total_and_unique",
    "INT64_MAX",
]

INT64_MAX = 2**63 - 1
"""The largest count a table cell may hold (counts are held as int64)."""


def _wide_ints() -> tuple:
    """Integer types that can hold values above INT64_MAX (UInt128 is missing from older polars)."""
    import polars as pl

    return (pl.UInt64, *(getattr(pl, t) for t in ("Int128", "UInt128") if hasattr(pl, t)))


def as_table(table, *, name: str = "table") -> pl.DataFrame:
    """``table`` as a polars DataFrame; accepts polars (eager or lazy), pandas, or a dict of lists."""
    import polars as pl

    if isinstance(table, pl.DataFrame):
        return table
    if isinstance(table, pl.LazyFrame):
        return table.collect()
    module = type(table).__module__ or ""
    try:
        if module.startswith("pandas") and type(table).__name__ == "DataFrame":
            return pl.from_pandas(table)
        if isinstance(table, Mapping):
            return pl.DataFrame(dict(table), strict=False)
    except SchemaError:
        raise
    except Exception as exc:  # ragged lists, mixed types: say what failed, not where in polars
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SchemaError(f"{name}: could not convert to a polars DataFrame: {reason}") from exc
    raise SchemaError(
        f"{name} must be a polars DataFrame, a pandas DataFrame or a dict of lists, "
        f"got {type(table).__name__}"
    )


def require_columns(df: pl.DataFrame, columns: Iterable[str], *, name: str = "table") -> None:
    """Raise unless every one of ``columns`` is in ``df``; the message lists missing and present."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        present = ", ".join(repr(c) for c in df.columns) or "none"
        raise SchemaError(
            f"{name} lacks column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(c) for c in missing)}; columns present: {present}"
        )


def _fail(df: pl.DataFrame, column: str, mask, problem: str, name: str) -> None:
    """Raise naming the first row where ``mask`` is true, if any."""
    mask = np.asarray(mask, dtype=bool)
    bad = np.flatnonzero(mask)
    if bad.size:
        row = int(bad[0])
        more = f" ({bad.size} rows fail)" if bad.size > 1 else ""
        value = df[column][row]
        shown = "" if value is None else f"value {value!r} "
        raise SchemaError(f"{name} column {column!r}, row {row}: {shown}{problem}{more}")


def _numeric_array(s: pl.Series, *, integer: bool) -> np.ndarray:
    """A non-null numeric series as numpy; 128-bit integers and decimals (which numpy cannot
    hold) become int64 (counts, whose range is checked first) or float64."""
    import polars as pl

    if s.dtype in _wide_ints()[1:]:
        if integer:  # values above INT64_MAX were reported already; those below stay negative
            return s.clip(-(2**63), INT64_MAX).cast(pl.Int64).to_numpy()
        return s.cast(pl.Float64).to_numpy()
    if isinstance(s.dtype, pl.Decimal):
        return s.cast(pl.Float64).to_numpy()
    return s.to_numpy()


def check_numbers(
    df: pl.DataFrame,
    column: str,
    *,
    integer: bool = False,
    minimum: float | None = 0,
    name: str = "table",
) -> None:
    """Check that ``column`` holds numbers: non-null, non-NaN, finite, ``>= minimum``, integral if asked.

    Integer counts must also fit in int64 (at most :data:`INT64_MAX`), the type they are summed in.
    """
    import polars as pl

    s = df[column]
    if s.dtype == pl.Null:  # an empty or all-missing column has no type of its own
        _fail(df, column, np.ones(len(s), dtype=bool), "is missing (null)", name)
        return
    if not s.dtype.is_numeric():
        nonnull = s.drop_nulls()
        first = f"; row 0 holds {s[0]!r}" if len(s) else ""
        if len(nonnull) and s.dtype == pl.String:
            # Point at the first cell that is not a number, when there is one.
            parsed = s.cast(pl.Float64, strict=False)
            _fail(df, column, parsed.is_null() & s.is_not_null(), "is not a number", name)
            # every cell is a number written as text (a CSV reader keeps 'nan' as text):
            # name a NaN or infinite cell before the type
            values = parsed.to_numpy()
            _fail(df, column, np.isnan(values) & s.is_not_null().to_numpy(), "is NaN", name)
            _fail(df, column, np.isinf(values), "is not finite", name)
            raise SchemaError(f"{name} column {column!r} holds numbers stored as text ({s.dtype}); "
                              "convert it to a numeric type")
        raise SchemaError(f"{name} column {column!r} holds {s.dtype} values, expected numbers{first}")
    _fail(df, column, s.is_null().to_numpy(), "is missing (null)", name)
    too_big = f"exceeds {INT64_MAX}, the largest count (int64)"
    if integer and s.dtype in _wide_ints():
        _fail(df, column, (s > INT64_MAX).to_numpy(), too_big, name)  # UInt64, Int128, UInt128
    arr = _numeric_array(s, integer=integer)
    if arr.dtype.kind == "f":
        _fail(df, column, np.isnan(arr), "is NaN", name)
        _fail(df, column, np.isinf(arr), "is not finite", name)
    if minimum is not None:
        _fail(df, column, arr < minimum, f"is below {minimum:g}" if minimum else "is negative", name)
    if integer and arr.dtype.kind == "f":
        _fail(df, column, arr != np.floor(arr), "is not an integer", name)
        _fail(df, column, arr >= 2.0**63, too_big, name)


def check_positive(df: pl.DataFrame, column: str, *, name: str = "table") -> None:
    """Check that ``column`` holds finite numbers ``> 0`` (parameters, tokens, losses fed to logs)."""
    check_numbers(df, column, minimum=None, name=name)
    _fail(df, column, _numeric_array(df[column], integer=False) <= 0, "is not positive", name)


def check_counts(df: pl.DataFrame, columns: Iterable[str], *, integer: bool = True, name: str = "table") -> None:
    """Check that each of ``columns`` holds non-negative (integer) counts."""
    for column in columns:
        check_numbers(df, column, integer=integer, minimum=0, name=name)


def check_not_null(df: pl.DataFrame, column: str, *, name: str = "table") -> None:
    """Check that ``column`` (of any type, e.g. a label) has no missing cell."""
    _fail(df, column, df[column].is_null().to_numpy(), "is missing (null)", name)


def check_flag(df: pl.DataFrame, column: str, *, name: str = "table") -> None:
    """Check that ``column`` is a non-null boolean flag (Boolean, or numbers 0/1)."""
    import polars as pl

    s = df[column]
    if s.dtype != pl.Boolean and not s.dtype.is_numeric():
        first = f"; row 0 holds {s[0]!r}" if len(s) else ""
        raise SchemaError(f"{name} column {column!r} holds {s.dtype} values, expected true/false{first}")
    _fail(df, column, s.is_null().to_numpy(), "is missing (null)", name)
    if s.dtype != pl.Boolean:
        arr = _numeric_array(s, integer=False)
        _fail(df, column, (arr != 0) & (arr != 1), "is not a flag (0 or 1)", name)  # NaN included


def check_not_above(df: pl.DataFrame, small: str, big: str, *, name: str = "table") -> None:
    """Check row-wise ``small <= big`` (e.g. unique tokens never exceed tokens)."""
    _fail(df, small, (df[small] > df[big]).to_numpy(), f"exceeds {big!r} in the same row", name)


def check_integer_lists(
    df: pl.DataFrame,
    column: str,
    *,
    below: str | None = None,
    name: str = "table",
) -> None:
    """Check that ``column`` holds lists of non-negative integers, each ``< df[below]`` if given.

    A null list is an error (write an empty list for "none"); so is a null or NaN element.
    The message names the row of the list and the element's value.
    """
    import polars as pl

    s = df[column]
    if s.dtype == pl.Null:  # an empty or all-missing column has no type of its own
        _fail(df, column, np.ones(len(s), dtype=bool), "is missing (null); write [] for an empty list", name)
        return
    if not isinstance(s.dtype, pl.List):
        first = f"; row 0 holds {s[0]!r}" if len(s) else ""
        raise SchemaError(f"{name} column {column!r} holds {s.dtype} values, expected lists of integers{first}")
    _fail(df, column, s.is_null().to_numpy(), "is missing (null); write [] for an empty list", name)
    inner = s.dtype.inner
    lengths = s.list.len().to_numpy()
    rows = np.repeat(np.arange(len(s)), lengths)
    flat = s.explode(empty_as_null=False)

    def fail_elements(mask, problem):
        bad = np.flatnonzero(np.asarray(mask, dtype=bool))
        if bad.size:
            row, value = int(rows[bad[0]]), flat[int(bad[0])]
            more = f" ({bad.size} elements fail)" if bad.size > 1 else ""
            raise SchemaError(f"{name} column {column!r}, row {row}: element {value!r} {problem}{more}")

    if not (inner.is_numeric() or inner == pl.Null):
        raise SchemaError(f"{name} column {column!r} holds lists of {inner}, expected lists of integers")
    fail_elements(flat.is_null().to_numpy(), "is missing (null)")
    if inner == pl.Null:
        return
    if inner.is_integer():
        fail_elements((flat > INT64_MAX).to_numpy(), f"exceeds {INT64_MAX}, the largest time step (int64)")
    arr = _numeric_array(flat, integer=True)
    if arr.dtype.kind == "f":
        fail_elements(~np.isfinite(arr), "is not finite")
        fail_elements(arr != np.floor(arr), "is not an integer")
        fail_elements(arr >= 2.0**63, f"exceeds {INT64_MAX}, the largest time step (int64)")
    fail_elements(arr < 0, "is negative")
    if below is not None:
        limit = np.repeat(df[below].to_numpy(), lengths)
        fail_elements(arr >= limit, f"is not below the row's {below!r}")


def count_column(df: pl.DataFrame, column: str) -> np.ndarray:
    """A checked count column (see :func:`check_counts`) as an int64 array; sum it with
    :func:`exact_sum`, since a plain int64 sum wraps past 9.2e18."""
    import polars as pl

    return df[column].cast(pl.Int64).to_numpy()


def exact_sum(values) -> int | float:
    """The sum of ``values`` without overflow: exact as a Python int for integer arrays
    (int64, uint64, or object arrays of Python ints), float64 ``sum`` for float arrays.

    int64 is split into high and low 32-bit halves that are summed separately: each half
    sum stays inside int64 for fewer than 2**31 elements, and the halves are joined as
    Python ints, so no sum of counts can wrap around.
    """
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        return float(arr.sum())
    if arr.dtype.kind == "O":
        return sum(int(v) for v in arr.ravel())
    if arr.dtype.kind == "b":
        return int(np.count_nonzero(arr))
    if arr.dtype.kind not in "iu":
        raise TypeError(f"exact_sum needs numbers, got dtype {arr.dtype}")
    if arr.size >= 2**31:
        return sum(exact_sum(part) for part in np.array_split(arr.ravel(), -(-arr.size // 2**30)))
    if arr.dtype.kind == "u":
        arr = arr.astype(np.uint64)
        hi, lo = (arr >> np.uint64(32)).astype(np.int64), (arr & np.uint64(0xFFFFFFFF)).astype(np.int64)
    else:
        arr = arr.astype(np.int64)
        hi, lo = arr >> 32, arr & 0xFFFFFFFF  # arithmetic shift: hi in [-2**31, 2**31)
    return (int(hi.sum()) << 32) + int(lo.sum())


def flag_column(df: pl.DataFrame, column: str = "unique", *, name: str = "table") -> np.ndarray:
    """A checked flag column as a bool array; all True when the column is absent."""
    import polars as pl

    if column not in df.columns:
        return np.ones(df.height, dtype=bool)
    check_flag(df, column, name=name)
    return df[column].cast(pl.Boolean).to_numpy()


def total_and_unique(
    df: pl.DataFrame,
    column: str,
    *,
    unique_column: str | None = None,
    flag: str = "unique",
    name: str = "table",
) -> tuple[int, int, int]:
    """``(total, unique, repeated_rows)`` of the count ``column``, checked.

    A row's unique part is ``unique_column`` when that column is present (at most the row's
    count), else the whole row; a row whose ``flag`` is false repeats other rows and adds
    nothing unique. Without either column every unit is unique.
    """
    require_columns(df, [column], name=name)
    check_counts(df, [column], name=name)
    counts = count_column(df, column)
    unique = counts
    if unique_column is not None and unique_column in df.columns:
        check_counts(df, [unique_column], name=name)
        check_not_above(df, unique_column, column, name=name)
        unique = count_column(df, unique_column)
    keep = flag_column(df, flag, name=name)
    return exact_sum(counts), exact_sum(unique[keep]), int((~keep).sum())


def checked(
    table,
    *,
    required: Iterable[str] = (),
    counts: Iterable[str] = (),
    numbers: Iterable[str] = (),
    positive: Iterable[str] = (),
    name: str = "table",
) -> pl.DataFrame:
    """``table`` as a polars DataFrame after every check at once.

    ``required`` columns must exist (as must every column named in the other groups);
    ``counts`` hold integers >= 0, ``numbers`` finite reals >= 0, ``positive`` finite reals > 0.
    """
    counts, numbers, positive = list(counts), list(numbers), list(positive)
    df = as_table(table, name=name)
    require_columns(df, dict.fromkeys([*required, *counts, *numbers, *positive]), name=name)
    check_counts(df, counts, name=name)
    for column in numbers:
        check_numbers(df, column, name=name)
    for column in positive:
        check_positive(df, column, name=name)
    return df
