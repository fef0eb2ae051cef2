"""`tsbudget simulate`: a sweep's run list to synthetic runs from a preset, a fit or a law with --set."""

import json
import re

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from tsbudget.cli.main import cli, main
from tsbudget.laws.extended import Extended
from tsbudget.laws.presets import get_preset

VALLEY = ["--law", "extended", "--law-variable", "compression=4.5:quadratic", "--set", "eta_compression=-0.6",
          "--set", "eta2_compression=-0.15"]


def _run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def plan_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("simulate") / "plan.csv"
    _run("sweep", "--preset", "chinchilla2022", "--budgets", "1e18:1e19:2", "--per-budget", "3",
         "--cost-model", "adaptive_patching", "--variable", "compression=2,8", "--out", path)
    return path


def test_law_with_set_values_and_variables(plan_csv, tmp_path):
    out = tmp_path / "runs.parquet"
    result = _run("simulate", plan_csv, *VALLEY, "--noise", "0.01", "--seed", "4", "--out", out)
    assert "synthetic" in result.output and "seed 4" in result.output and f"to {out}" in result.output
    runs = pl.read_parquet(out)
    plan = pl.read_csv(plan_csv)
    law = Extended(variables=("compression",), references=(4.5,), kinds=("quadratic",), eta=(-0.6,), eta2=(-0.15,))
    clean = law.loss(N=plan["N"].to_numpy(), D=plan["D"].to_numpy(), compression=plan["compression"].to_numpy())
    np.testing.assert_allclose(runs["loss_noiseless"].to_numpy(), clean, rtol=1e-12)
    z = np.random.default_rng(4).standard_normal(plan.height)
    np.testing.assert_allclose(runs["loss"].to_numpy(), clean * np.exp(0.01 * z), rtol=1e-12)
    assert runs["synthetic"].all() and set(runs["seed"]) == {4}
    assert json.loads(runs["law_spec"][0])["kinds"] == ["quadratic"]


def test_preset_with_set_is_labelled_and_json(plan_csv):
    result = _run("simulate", plan_csv, "--preset", "epoch2024", "--set", "E=2.0", "--json")
    data = json.loads(result.output)
    assert data["synthetic"] is True
    assert data["options"]["law"] == "epoch2024 with E=2"
    expected = get_preset("epoch2024").replace(E=2.0)
    runs = data["runs"]
    assert runs[0]["loss"] == pytest.approx(float(expected.loss(N=runs[0]["N"], D=runs[0]["D"])), rel=1e-12)


def test_output_fits_directly_with_tsbudget_fit(plan_csv, tmp_path):
    runs = tmp_path / "runs.csv"
    _run("simulate", plan_csv, *VALLEY, "--out", runs)
    fit_json = tmp_path / "fit.json"
    _run("fit", runs, "--law", "extended", "--law-variable", "compression=4.5:quadratic",
         "--cost-model", "adaptive_patching", "--out", fit_json)
    again = tmp_path / "again.csv"
    _run("simulate", plan_csv, "--fit", fit_json, "--out", again)
    np.testing.assert_allclose(pl.read_csv(again)["loss"].to_numpy(), pl.read_csv(runs)["loss"].to_numpy(),
                               rtol=1e-4)


@pytest.mark.parametrize(
    "args, match",
    [
        ((), "give one law"),
        (("--preset", "epoch2024", "--law", "chinchilla"), "--preset, --law"),
        (("--preset", "epoch2024", "--law-variable", "compression"), "use it with --law"),
        (("--preset", "epoch2024", "--set", "gamma=1"), "no parameter 'gamma'"),
        (("--preset", "epoch2024", "--out", "runs.txt"), r"\.csv or \.parquet"),
        (("--preset", "epoch2024", "--noise", "-1"), "noise"),
        (("--law", "extended", "--law-variable", "experts"), "'experts'"),
    ],
)
def test_bad_input_is_one_line_exit_2(plan_csv, args, match, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", str(plan_csv), *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("tsbudget: error:") and re.search(match, err), err
