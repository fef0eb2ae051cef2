"""Seeded synthetic telemetry generator."""

import numpy as np
import polars as pl
import pytest

from tsbudget.errors import InputError
from tsbudget.timeseries.measure import measure_redundancy
from tsbudget.timeseries.telemetry import REGIMES, synthetic_telemetry, telemetry_windows


def test_table_schema_and_seeded_reproducibility():
    a = synthetic_telemetry(steps=5000, channels=3, seed=7)
    b = synthetic_telemetry(steps=5000, channels=3, seed=7)
    c = synthetic_telemetry(steps=5000, channels=3, seed=8)
    assert a.columns == ["time", "c0", "c1", "c2", "regime"]
    assert a.height == 5000 and a["time"].dtype == pl.Datetime("us")
    assert a["time"].diff().drop_nulls().unique().to_list() == [np.timedelta64(60, "s").item()]
    assert a.equals(b) and not a.equals(c)
    assert set(a["regime"].unique()) <= set(REGIMES)


def test_regime_rates_are_as_asked():
    df = synthetic_telemetry(steps=200_000, channels=2, period=50, rare_rate=0.05, intervention_rate=0.0, seed=1)
    share = df["regime"].value_counts().to_dict(as_series=False)
    counts = dict(zip(share["regime"], share["count"]))
    assert "intervention" not in counts
    # 0.05 episodes per period of mean length 2 periods -> about 10% of steps (minus overlaps)
    assert 0.06 < counts["rare"] / 200_000 < 0.11
    quiet = synthetic_telemetry(steps=3000, rare_rate=0.0, intervention_rate=0.0)
    assert quiet["regime"].unique().to_list() == ["normal"]


def test_xarray_output_has_named_dims_and_labels():
    da = synthetic_telemetry(steps=1000, channels=4, seed=3, as_xarray=True)
    df = synthetic_telemetry(steps=1000, channels=4, seed=3)
    assert da.dims == ("time", "channel") and da.shape == (1000, 4)
    assert da["channel"].values.tolist() == ["c0", "c1", "c2", "c3"]
    np.testing.assert_array_equal(da.values, df.select("c0", "c1", "c2", "c3").to_numpy())
    assert (da["regime"].values == df["regime"].to_numpy()).all()


def test_normal_state_is_redundant_and_rare_windows_are_not():
    # One period per window: quiet normal windows are near-duplicates of each other.
    df = synthetic_telemetry(steps=64 * 400, channels=4, seed=0)
    x = df.select("c0", "c1", "c2", "c3").to_numpy()
    report = measure_redundancy(x, window=64, labels=df["regime"].to_numpy())
    rd = report.regime_data
    normal = rd.regimes.index("normal")
    rare = rd.regimes.index("rare")
    assert rd.unique[normal] == 1 and rd.available[normal] > 300
    assert rd.unique[rare] / rd.available[rare] > 0.7  # most rare windows are unlike any other
    quiet = synthetic_telemetry(steps=64 * 200, channels=4, rare_rate=0.0, intervention_rate=0.0, seed=5)
    assert measure_redundancy(quiet.select("c0", "c1", "c2", "c3").to_numpy(), window=64).groups == 1


def test_stream_of_windows():
    chunks = list(telemetry_windows(10_000, 32, 4, chunk=3000, seed=2))
    assert [len(x) for x, _ in chunks] == [3000, 3000, 3000, 1000]
    x = np.concatenate([c for c, _ in chunks])
    labels = np.concatenate([lab for _, lab in chunks])
    assert x.dtype == np.float32 and x.shape == (10_000, 32, 4)
    assert 0.015 < np.mean(labels == "rare") < 0.025 and 0.005 < np.mean(labels == "intervention") < 0.015
    again = np.concatenate([c for c, _ in telemetry_windows(10_000, 32, 4, chunk=3000, seed=2)])
    np.testing.assert_array_equal(x, again)
    report = measure_redundancy(x, labels=labels)
    normal = report.regime_data.regimes.index("normal")
    assert report.regime_data.unique[normal] == 4  # the four operating modes


def test_bad_settings_are_named():
    with pytest.raises(InputError, match="steps"):
        synthetic_telemetry(steps=1)
    with pytest.raises(InputError, match="rare_rate"):
        synthetic_telemetry(rare_rate=-1.0)
    with pytest.raises(InputError, match="channels"):
        next(telemetry_windows(10, channels=0))
