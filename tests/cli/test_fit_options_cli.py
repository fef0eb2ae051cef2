"""``tsbudget fit`` options of issue 14: --method, --fix, --overestimate-penalty, --lack-of-fit,
--validate (the fit card's out-of-sample error)."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tsbudget.cli.main import cli, main
from tsbudget.fitting.result import FitResult

EPOCH = Path(__file__).parents[1] / "data" / "isoflops_epochai_chinchilla.csv"
ISO = ["--n-col", "params", "--d-col", "tokens"]


def run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_vpnls_fixed_lack_of_fit_and_validation_in_the_card(tmp_path):
    out = tmp_path / "fit.json"
    r = run(["fit", str(EPOCH), *ISO, "--method", "vpnls", "--fix", "E=1.6", "--lack-of-fit", "--budgets", "1e21",
             "--validate", "1e21", "--budget-col", "budget", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    card = d["card"]
    assert card["method"] == "vpnls" and card["fixed"] == {"E": 1.6} and d["parameters"]["E"] == 1.6
    assert card["validation"]["cuts"] == [1e21] and card["validation"]["n_predictions"] == 22
    assert card["ranges"]["budget"] == [6e18, 3e21]
    lof = d["lack_of_fit"]
    assert lof["dof"] == 123 - 4 and lof["space"] == "linear"
    assert {row["name"] for row in lof["intervals"]} >= {"A", "B", "alpha", "beta", "N_opt", "loss_opt"}
    saved = FitResult.load(out)
    assert saved.validation == card["validation"] and saved.diagnostics["method"] == "vpnls"


def test_overestimate_penalty_and_printed_card():
    r = run(["fit", str(EPOCH), *ISO, "--overestimate-penalty", "10", "--lack-of-fit"])
    assert r.exit_code == 0, r.output
    assert "over-predicted runs ×10" in r.output and "fit card: law chinchilla, method batched" in r.output
    assert "lack of fit: 95% Student-t intervals, 118 dof" in r.output


def test_bad_options_exit_2(capsys):
    cases = [
        (["--budget-col", "budget"], "--budget-col applies to --validate"),
        (["--method", "vpnls", "--law", "kaplan"], "vpnls"),
        (["--method", "vpnls", "--overestimate-penalty", "2"], "overprediction_penalty"),
        (["--validate", "1e30", "--budget-col", "budget"], "no runs at or above"),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit) as exc:
            main(["fit", str(EPOCH), *ISO, *extra])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and message in err and len(err.strip().splitlines()) == 1, (extra, err)
