"""`tsbudget redundancy` on CSV, Parquet and .npy inputs."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from tsbudget.cli.main import cli
from tsbudget.timeseries.telemetry import synthetic_telemetry


@pytest.fixture(scope="module")
def telemetry_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("series") / "telemetry.csv"
    # shuffled rows: the command must sort by the time column
    synthetic_telemetry(steps=6400, channels=3, seed=2).sample(fraction=1.0, shuffle=True, seed=0).write_csv(path)
    return path


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_json_report_on_csv(telemetry_csv):
    result = run("redundancy", telemetry_csv, "--window", 64, "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    assert d["windows"] == 100 and d["unit"] == "windows"
    assert d["normal_share"] > 0.8
    assert sum(int(k) * v for k, v in d["group_size_histogram"].items()) == 100
    # one epoch: Σ_r U_r (1 + R*_r (1 - exp(-(A_r/U_r - 1)/R*_r))) from the printed regimes
    expect = sum(
        r["unique"] * (1 + r["r_star"] * (1 - math.exp(-(r["available"] / r["unique"] - 1) / r["r_star"])))
        for r in d["regimes"].values()
    )
    assert d["effective"] == pytest.approx(expect, rel=1e-12)


def test_labels_parquet_cells_and_plot(telemetry_csv, tmp_path):
    import polars as pl

    pq = tmp_path / "t.parquet"
    pl.read_csv(telemetry_csv).write_parquet(pq)
    png = tmp_path / "r.png"
    result = run("redundancy", pq, "--window", 64, "--stride", 32, "--label-col", "regime", "--unit", "cells",
                 "--r-star", "normal=3", "--plot", png)
    assert result.exit_code == 0, result.output
    assert "RedundancyReport: 199 windows (64 steps x 3 channels)" in result.output
    assert "regime normal" in result.output and "R* = 3" in result.output and "cells" in result.output
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


def test_npy_window_array(tmp_path):
    rng = np.random.default_rng(0)
    w = np.concatenate([np.repeat(rng.standard_normal((1, 32, 2)), 40, axis=0), rng.standard_normal((6, 32, 2))])
    np.save(tmp_path / "w.npy", w)
    result = run("redundancy", tmp_path / "w.npy", "--json", "--r-star", "normal=inf", "--r-star", "rare=inf")
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    assert d["groups"] == 7 and d["effective"] == pytest.approx(46.0)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--window", "64", "--label-col", "nope"], "lacks column 'nope'"),
        ([], "--window is required"),
        (["--window", "64", "--r-star", "normal"], "REGIME=VALUE"),
        (["--window", "64", "--threshold", "0"], "threshold"),
    ],
)
def test_errors_are_one_line_messages(telemetry_csv, args, message, capsys):
    from tsbudget.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["redundancy", str(telemetry_csv), *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_bad_cell_names_column_and_row(tmp_path, capsys):
    from tsbudget.cli.main import main

    p = tmp_path / "bad.csv"
    p.write_text("time,a,b\n0,1.0,2.0\n1,x,3.0\n2,1.5,2.5\n")
    with pytest.raises(SystemExit):
        main(["redundancy", str(p), "--window", "2", "--channels", "a,b"])
    err = capsys.readouterr().err
    assert "column 'a', row 1" in err and "'x'" in err


def _pattern_table(time_name="ts", seed=3):
    """A 16-step pattern of 2 channels repeated 20 times (320 steps), rows shuffled, with a
    numeric time column called ``time_name``: only rows sorted by it give one group of 20."""
    import polars as pl

    rng = np.random.default_rng(seed)
    pattern = rng.standard_normal((16, 2)).cumsum(axis=0)
    series = np.tile(pattern, (20, 1)) + 0.01 * rng.standard_normal((320, 2))
    df = pl.DataFrame({time_name: np.arange(320) * 0.5, "a": series[:, 0], "b": series[:, 1]})
    return df.sample(fraction=1.0, shuffle=True, seed=1)


@pytest.mark.parametrize("time_name", ["ts", "timestamp", "Time", "t"])
def test_common_time_column_names_are_detected_and_the_channels_listed(tmp_path, time_name):
    p = tmp_path / "s.csv"
    _pattern_table(time_name).write_csv(p)
    result = run("redundancy", p, "--window", 16)
    assert result.exit_code == 0, result.output
    # a numeric ts column used to be taken as a third channel, and the rows left unsorted
    assert "RedundancyReport: 20 windows (16 steps x 2 channels) in 1 groups" in result.output
    assert f"channels        a, b (time column {time_name!r})" in result.output
    d = json.loads(run("redundancy", p, "--window", 16, "--json").output)
    assert d["columns"] == {"time": time_name, "channels": ["a", "b"], "label": None}
    assert d["groups"] == 1 and d["channels"] == 2


def test_time_col_option_and_channels_override(tmp_path):
    p = tmp_path / "s.csv"
    _pattern_table("clock").write_csv(p)
    # an unrecognised name is a channel unless named with --time-col; the output says so
    plain = json.loads(run("redundancy", p, "--window", 16, "--json").output)
    assert plain["columns"] == {"time": None, "channels": ["clock", "a", "b"], "label": None}
    assert plain["groups"] > 1  # unsorted rows
    named = run("redundancy", p, "--window", 16, "--time-col", "clock")
    assert named.exit_code == 0, named.output
    assert "in 1 groups" in named.output and "channels        a, b (time column 'clock')" in named.output
    # listing a detectable name among --channels makes it a channel, not the time axis
    q = tmp_path / "ts.csv"
    _pattern_table("ts").sort("ts").write_csv(q)
    as_channel = json.loads(run("redundancy", q, "--window", 16, "--channels", "ts,a", "--json").output)
    assert as_channel["columns"] == {"time": None, "channels": ["ts", "a"], "label": None}


def test_ambiguous_time_columns_and_conflicts_are_one_line_errors(tmp_path, capsys):
    from tsbudget.cli.main import main

    p = tmp_path / "two.csv"
    _pattern_table("ts").with_columns(timestamp=np.arange(320)).write_csv(p)
    for args, message in (
        ([], "columns ['ts', 'timestamp'] could each be the time column; name it (time_col=..., --time-col)"),
        (["--time-col", "ts", "--channels", "ts,a"], "time column 'ts' is also listed as a channel"),
        (["--time-col", "nope"], "lacks column 'nope'"),
        (["--groups-out", tmp_path / "g.txt"], "--groups-out"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(["redundancy", str(p), "--window", "16", *map(str, args)])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "g.txt").exists()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_groups_out_writes_each_group_size_and_regime(telemetry_csv, tmp_path, suffix):
    import polars as pl

    out = tmp_path / f"groups{suffix}"
    result = run("redundancy", telemetry_csv, "--window", 64, "--stride", 32, "--label-col", "regime",
                 "--groups-out", out, "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    groups = pl.read_csv(out) if suffix == ".csv" else pl.read_parquet(out)
    assert groups.columns == ["group", "size", "first_window", "regime", "regime_share"]
    assert groups.height == d["groups"] and groups["size"].sum() == d["windows"] == 199
    assert groups["group"].to_list() == list(range(d["groups"]))
    hist = groups.group_by("size").len()
    assert {int(s): int(n) for s, n in hist.iter_rows()} == {int(k): v for k, v in d["group_size_histogram"].items()}
    assert set(groups["regime"]) <= set(d["regimes"])
    assert ((groups["regime_share"] > 0) & (groups["regime_share"] <= 1)).all()
    assert groups.sort("size")["regime"][-1] == "normal"  # the largest group is normal state
    assert d["groups_out"] == str(out)
    # the same sizes as the library's report, group by group
    from tsbudget.cli.redundancy import read_series
    from tsbudget.timeseries.measure import measure_redundancy

    values, labels, _, _ = read_series(telemetry_csv, label_col="regime")
    report = measure_redundancy(values, window=64, stride=32, labels=labels)
    assert groups["size"].to_list() == report.to_dict(group_sizes=True)["group_sizes"]
    text = run("redundancy", telemetry_csv, "--window", 64, "--groups-out", tmp_path / "g.csv")
    assert f"groups written to {tmp_path / 'g.csv'}" in text.output
