"""A series given as a table (polars or pandas): its time order, channel columns and step labels.

``tsbudget redundancy`` and :func:`~tsbudget.timeseries.measure.measure_redundancy` read tables
the same way, through :func:`series_from_table`: rows sorted by the time column, which is never a
channel; channels default to every numeric column besides the time and label columns.
"""

from __future__ import annotations

from tsbudget.errors import InputError, SchemaError

__all__ = ["TIME_NAMES", "detect_time_column", "is_table", "series_from_table"]

# Column names taken as the time axis when no time column is named and none is called
# "time" (case-insensitive); a column of temporal dtype (date, datetime, duration) also is.
TIME_NAMES = ("time", "timestamp", "ts", "t", "datetime", "date")


def is_table(data) -> bool:
    """True for a polars or pandas DataFrame (checked without importing either)."""
    module = type(data).__module__ or ""
    return type(data).__name__ == "DataFrame" and module.split(".")[0] in ("polars", "pandas")


def detect_time_column(df, label_col=None, channels=None) -> str | None:
    """The time column of a polars table when none was named: ``time`` if present, else the one
    column of temporal dtype or with a name in :data:`TIME_NAMES` (case-insensitive). A column
    listed as a channel or as the label column is never taken; two candidates are an error."""
    taken = set(channels or ()) | {label_col}
    if "time" in df.columns and "time" not in taken:
        return "time"
    found = [c for c in df.columns if c not in taken and (df[c].dtype.is_temporal() or c.lower() in TIME_NAMES)]
    if len(found) > 1:
        raise SchemaError(
            f"columns {found} could each be the time column; name it (time_col=..., --time-col) "
            f"or list the channels (channels=..., --channels)"
        )
    return found[0] if found else None


def series_from_table(df, *, time_col=None, label_col=None, channels=None, name: str = "series"):
    """``(values (time, channels) float64, step labels or None, channel names, time column or
    None)`` from a polars or pandas DataFrame.

    Rows are sorted by ``time_col``; without it, by the column :func:`detect_time_column` finds,
    or kept in order when there is none. Channel columns default to every numeric column other
    than the time and label columns; each must hold finite numbers (a SchemaError names the
    column and row). Labels (``label_col``) are read as strings; a missing label is an error.
    """
    import polars as pl

    from tsbudget import tables

    if not isinstance(df, pl.DataFrame):
        try:
            df = pl.from_pandas(df)
        except Exception as exc:  # pandas/pyarrow raise many kinds; name the cause
            raise InputError(f"{name}: cannot read the pandas table: {type(exc).__name__}: {exc}") from None
    if df.height == 0:
        raise SchemaError(f"{name} has no rows")
    channels = None if channels is None else [str(c) for c in channels]
    needed = [c for c in (time_col, label_col) if c] + list(channels or [])
    tables.require_columns(df, needed, name=name)
    if time_col is None:
        time_col = detect_time_column(df, label_col, channels)
    elif channels and time_col in channels:
        raise InputError(f"time column {time_col!r} is also listed as a channel; a column is one or the other")
    if time_col:
        df = df.sort(time_col)
    if channels is None:
        channels = [c for c in df.columns if c not in (time_col, label_col) and df[c].dtype.is_numeric()]
        if not channels:
            raise SchemaError(f"{name} has no numeric channel columns besides {time_col!r}; columns are {df.columns}")
    for c in channels:
        tables.check_numbers(df, c, minimum=None, name=name)
    labels = None
    if label_col:
        if df[label_col].null_count():
            row = int(df[label_col].is_null().arg_max())
            raise SchemaError(f"{name} column {label_col!r}, row {row}: label is missing (null)")
        labels = df[label_col].cast(pl.String).to_numpy()
    return df.select(channels).to_numpy().astype(float), labels, list(channels), time_col
