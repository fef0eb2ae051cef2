"""Measured regimes into the plan from the shell: ``redundancy --out`` then ``plan --regimes`` (issue 11)."""

import json

import pytest
from click.testing import CliRunner

from tsbudget.cli.main import cli, main
from tsbudget.planning.plan import plan
from tsbudget.timeseries.regimes import RegimeData
from tsbudget.timeseries.telemetry import synthetic_telemetry

CELLS = ["--unit", "cells", "--unit-setting", "patch_length=16"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def regimes_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("regimes")
    series = folder / "telemetry.csv"
    synthetic_telemetry(steps=6400, channels=3, seed=2).write_csv(series)
    out = folder / "regimes.json"
    r = run("redundancy", series, "--window", 64, "--label-col", "regime", "--unit", "cells", "--out", out)
    assert r.exit_code == 0, r.output
    assert f"regimes written to {out}" in r.output
    return out


def test_the_regimes_file_holds_per_regime_counts_r_star_and_mix(regimes_file):
    d = json.loads(regimes_file.read_text())
    assert d["format"] == "tsbudget.regimes/1" and d["unit"] == "cells"
    assert d["measured"]["window_length"] == 64 and d["measured"]["channels"] == 3
    assert "normal" in d["regimes"] and len(d["regimes"]) >= 2
    total = sum(r["available"] for r in d["regimes"].values())
    assert total == 100 * 64 * 3  # 100 windows of 64 steps x 3 channels, in cells
    for r in d["regimes"].values():
        assert 0 < r["unique"] <= r["available"] and r["r_star"] > 0
        assert r["share"] == pytest.approx(r["available"] / total, rel=1e-15)


@pytest.mark.parametrize("mix", ["optimal", "natural"])
def test_plan_with_regimes_equals_the_python_path(regimes_file, mix):
    data = RegimeData.load(regimes_file)
    for budget, extra in ((1e21, []), (1e17, ["--scale-to", "2e12"])):
        r = run("plan", "--budget", budget, "--regimes", regimes_file, "--mix", mix, "--unit-setting",
                "patch_length=16", *extra, "--json")
        assert r.exit_code == 0, r.output
        cli_plan = json.loads(r.stdout)
        unique = data.scaled(2e12 / data.total_available, "cells") if extra else data
        py = plan(budget, unit="cells", unit_settings={"patch_length": 16}, unique=unique, mix=mix)
        assert cli_plan["unit"] == "cells"  # the file's unit is the plan's
        for key in ("N", "D", "loss", "effective_data", "epochs", "train_flops"):
            assert cli_plan[key] == pytest.approx(getattr(py, key), rel=1e-9), key
        assert cli_plan["unique"] == pytest.approx(unique.total_unique, rel=1e-12)
    # the small budget on the scaled corpus still reads the regimes: fewer epochs than the sample
    assert cli_plan["unique"] == pytest.approx(2e12 * data.total_unique / data.total_available, rel=1e-12)


def test_scale_to_needs_regimes_and_regimes_exclude_unique(regimes_file, capsys):
    for args, match in (
        (["--scale-to", "1e12"], "--scale-to scales measured regimes: it needs --regimes FILE"),
        (["--regimes", str(regimes_file), "--unique", "1e9"], "give --unique or --regimes"),
        (["--regimes", str(regimes_file), "--unit", "tokens"], "RegimeData.unit is 'cells' but the plan counts data"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(["plan", "--budget", "1e21", *args])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and match in err and err.count("\n") == 1


def test_a_malformed_regimes_file_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"unit": "cells", "regimes": {"normal": {"unique": 5, "available": "lots"}}}))
    with pytest.raises(SystemExit) as exc:
        main(["plan", "--budget", "1e21", "--regimes", str(bad)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "regime 'normal' field 'available' must be a number, got 'lots'" in err


def test_serve_counts_the_plan_unit_and_serve_positions_counts_positions():
    # issue 11: --serve 1.6e13 in cells with patch length 16 is 1e12 served positions
    r = run("plan", "--budget", "1e22", *CELLS, "--serve", "1.6e13", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["served_units"] == 1.6e13 and out["served_positions"] == pytest.approx(1e12, rel=1e-15)
    same = json.loads(run("plan", "--budget", "1e22", *CELLS, "--serve-positions", "1e12", "--json").stdout)
    assert same["N"] == pytest.approx(out["N"], rel=1e-12) and same["served_units"] == pytest.approx(1.6e13)
    text = run("plan", "--budget", "1e22", *CELLS, "--serve", "1.6e13").stdout
    assert "served 1.6e+13 cells = 1e+12 positions" in text
    both = run("plan", "--budget", "1e22", "--serve", "1", "--serve-positions", "1")
    assert both.exit_code != 0


def test_cost_serve_is_in_the_unit_too():
    base = ["cost", "--n", "1e9", "--data", "1e10", *CELLS, "--json"]
    a = json.loads(run(*base, "--serve", "1.6e13").stdout)
    b = json.loads(run(*base, "--serve-positions", "1e12").stdout)
    assert a["serve_positions"] == pytest.approx(1e12) and a["serve"] == 1.6e13
    assert b["serve"] == pytest.approx(1.6e13) and b["inference_flops"] == pytest.approx(a["inference_flops"])
