"""A series given as a table: the Python function reads it as the CLI does (issue 11)."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from tsbudget.errors import InputError, SchemaError
from tsbudget.timeseries.measure import measure_redundancy
from tsbudget.timeseries.series_table import detect_time_column, is_table, series_from_table
from tsbudget.timeseries.telemetry import synthetic_telemetry


def table(n=200, seed=0):
    rng = np.random.default_rng(seed)
    start = dt.datetime(2024, 1, 1)
    return pl.DataFrame({
        "stamp": pl.datetime_range(start, start + dt.timedelta(minutes=n - 1), "1m", eager=True),
        "a": np.sin(np.arange(n) / 3.0) + 0.01 * rng.standard_normal(n),
        "b": np.cos(np.arange(n) / 5.0),
        "label": ["normal"] * (n - 20) + ["rare"] * 20,
    })


def test_a_datetime_column_is_the_time_axis_never_a_channel():
    df = table()
    assert detect_time_column(df) == "stamp"
    values, labels, channels, time_col = series_from_table(df.sample(fraction=1.0, shuffle=True, seed=1),
                                                           label_col="label")
    assert channels == ["a", "b"] and time_col == "stamp"
    np.testing.assert_array_equal(values, df.select("a", "b").to_numpy())  # sorted back into time order
    assert labels.tolist() == df["label"].to_list()


def test_measure_redundancy_takes_the_table_the_cli_takes(tmp_path):
    from click.testing import CliRunner

    from tsbudget.cli.main import cli

    df = synthetic_telemetry(steps=3200, channels=3, seed=4)  # a datetime "time" column and a label column
    shuffled = df.sample(fraction=1.0, shuffle=True, seed=0)
    report = measure_redundancy(shuffled, window=64, label_col="regime", unit="cells")
    assert report.channels == 3 and report.windows == 50
    path = tmp_path / "t.csv"
    shuffled.write_csv(path)
    r = CliRunner().invoke(cli, ["redundancy", str(path), "--window", "64", "--label-col", "regime", "--unit",
                                 "cells", "--json"])
    import json

    cli_report = json.loads(r.stdout)
    assert cli_report["unique"] == report.unique and cli_report["effective"] == pytest.approx(report.effective,
                                                                                             rel=1e-12)
    assert cli_report["regimes"] == report.regime_data.to_dict()["regimes"]
    # pandas too
    pandas_report = measure_redundancy(shuffled.to_pandas(), window=64, label_col="regime", unit="cells")
    assert pandas_report.unique == report.unique


def test_table_keywords_are_checked():
    assert is_table(table()) and not is_table(np.zeros((3, 2)))
    with pytest.raises(InputError, match="apply to a table"):
        measure_redundancy(np.zeros((100, 2)), window=10, time_col="t")
    with pytest.raises(InputError, match="labels or label_col, not both"):
        measure_redundancy(table(), window=10, label_col="label", labels=["x"] * 200)
    with pytest.raises(SchemaError, match="could each be the time column"):
        series_from_table(table().with_columns(pl.col("stamp").alias("ts")))
    with pytest.raises(InputError, match="also listed as a channel"):
        series_from_table(table(), time_col="a", channels=["a", "b"])
