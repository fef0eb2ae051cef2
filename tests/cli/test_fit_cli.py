"""``tsbudget fit``, ``tsbudget isoflop`` and ``tsbudget sensitivity`` end to end."""

import json
from importlib import resources
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from tsbudget.cli.common import parse_fix, parse_number
from tsbudget.cli.main import cli, main
from tsbudget.errors import InputError

ISOFLOPS = Path(__file__).parents[1] / "data" / "isoflops_epochai_chinchilla.csv"
COLS = ["--n-col", "Model Size", "--flops-col", "Training FLOP", "--loss-col", "loss"]
# Besiroglu et al. 2024 Table 1: polishing from it skips the 4,500-start grid (tested once, below)
INIT = ["--init", "E=1.8172", "--init", "A=482.01", "--init", "B=2085.43", "--init", "alpha=0.3478",
        "--init", "beta=0.3658"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def chinchilla_csv():
    # the Besiroglu et al. 2024 digitisation of Chinchilla Fig. 4, shipped with tsbudget
    with resources.as_file(resources.files("tsbudget") / "data" / "chinchilla_fig4_besiroglu2024.csv") as p:
        yield str(p)


def run(args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result


def test_fit_json_golden(chinchilla_csv):
    r = run(["fit", chinchilla_csv, *COLS, "--drop-highest-loss", "5", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)  # one JSON object and nothing else on stdout
    assert out["law"] == "chinchilla" and out["success"] is True and out["n_runs"] == 240
    # Besiroglu et al. 2024 Table 1 / the golden numbers
    assert out["objective"] == pytest.approx(0.0010183, rel=5e-3)
    p = out["parameters"]
    assert p["E"] == pytest.approx(1.8172, abs=5e-3)
    assert p["alpha"] == pytest.approx(0.3473, abs=5e-3)
    assert p["beta"] == pytest.approx(0.3672, abs=5e-3)
    assert "intervals" not in out


def test_fit_bootstrap_json_out_and_plot(chinchilla_csv, tmp_path):
    out_json, png = tmp_path / "fit.json", tmp_path / "fit.png"
    r = run(["fit", chinchilla_csv, *COLS, *INIT, "--drop-highest-loss", "5", "--bootstrap", "12", "--seed", "3",
             "--budgets", "5.88e23", "--cluster", "Training FLOP", "--json", "--out", str(out_json),
             "--plot", str(png)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    iv = out["intervals"]
    assert iv["n_draws"] == 12 and iv["seed"] == 3 and iv["cluster"] == "flops"
    assert iv["parameters"]["alpha"]["lower"] < iv["parameters"]["alpha"]["upper"]
    assert iv["derived"]["tokens_per_param"][0]["budget"] == 5.88e23
    assert png.read_bytes()[:8] == PNG_MAGIC
    from tsbudget.fitting.result import FitResult

    loaded = FitResult.load(out_json)
    assert loaded.parameters == pytest.approx(out["parameters"], rel=1e-12)


def test_fit_fix_mean_delta_and_parquet(chinchilla_csv, tmp_path):
    pq = tmp_path / "runs.parquet"
    pl.read_csv(chinchilla_csv).write_parquet(pq)
    r = run(["fit", str(pq), *COLS, "--fix", "alpha=0.34", "--fix", "beta=0.28", "--mean", "--delta", "1e-2",
             "--init", "E=1.8", "--init", "A=400", "--init", "B=400", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["parameters"]["alpha"] == 0.34 and out["parameters"]["beta"] == 0.28


def test_fit_human_output(chinchilla_csv):
    r = run(["fit", chinchilla_csv, *COLS, *INIT, "--drop-highest-loss", "5", "--bootstrap", "4"])
    assert r.exit_code == 0, r.output
    assert "alpha" in r.output and "bootstrap: 4 draws" in r.output
    assert "\x1b[" not in r.output.split("bootstrap")[0]  # no progress-bar escapes when piped


def test_errors_are_one_line_exit_2(chinchilla_csv, tmp_path, capsys):
    cases = [
        ["fit", chinchilla_csv, "--n-col", "Params"],
        ["fit", str(tmp_path / "missing.csv")],
        ["fit", chinchilla_csv, *COLS, "--fix", "alpha"],
        ["fit", chinchilla_csv, *COLS, *INIT, "--bootstrap", "3", "--cluster", "nope"],
        ["fit", chinchilla_csv, *COLS, "--init", "alpha=x"],
        ["isoflop", str(ISOFLOPS), "--n-col", "params", "--flops-col", "budget", "--budgets", "1e19,x"],
    ]
    for args in cases:
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2, args
        err = capsys.readouterr().err
        assert err.startswith("tsbudget: error:") and err.count("\n") == 1, err


def test_isoflop_cli(tmp_path):
    png, csv = tmp_path / "iso.png", tmp_path / "iso.csv"
    r = run(["isoflop", str(ISOFLOPS), "--n-col", "params", "--d-col", "tokens", "--flops-col", "budget",
             "--bootstrap", "50", "--json", "--plot", str(png), "--out", str(csv)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["a"] == pytest.approx(0.49, abs=0.03)  # Hoffmann et al. 2022 Table 2, Approach 2
    assert out["intervals"]["a"]["lower"] < out["a"] < out["intervals"]["a"]["upper"]
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert pl.read_csv(csv).height == 9


def test_sensitivity_cli(tmp_path):
    csv = tmp_path / "sens.csv"
    r = run(["sensitivity", str(ISOFLOPS), "--n-col", "params", "--d-col", "tokens", "--flops-col", "budget",
             "--target-budget", "5.88e23", "--variant", "loss_2dp", "--variant", "drop_largest_budget", *INIT,
             "--json", "--out", str(csv)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert [v["variant"] for v in out["variants"]] == ["baseline", "loss_2dp", "drop_largest_budget"]
    assert out["target_budget"] == 5.88e23
    table = pl.read_csv(csv)
    assert table.height == 3 and "tokens_per_param_change" in table.columns


def test_number_and_fix_parsing():
    assert parse_number("5.88e23") == 5.88e23
    assert parse_number(" 3_000 ") == 3000.0
    with pytest.raises(InputError, match="'1e'"):
        parse_number("1e")
    with pytest.raises(InputError, match="finite"):
        parse_number("inf")
    assert parse_fix(["alpha=0.34", " E = 1.69"]) == {"alpha": 0.34, "E": 1.69}
    with pytest.raises(InputError, match="NAME=VALUE"):
        parse_fix(["=3"])


@pytest.mark.slow  # over 3 s; CI runs it in the slow pass
def test_fit_no_race_runs_every_start_to_the_same_optimum():
    args = ["fit", str(ISOFLOPS), "--n-col", "params", "--flops-col", "budget", "--loss-col", "loss", "--json"]
    raced, full = run(args), run([*args, "--no-race"])
    assert raced.exit_code == 0 and full.exit_code == 0, raced.output + full.output
    raced, full = json.loads(raced.output), json.loads(full.output)
    assert raced["success"] and full["success"]
    assert "pruned by successive halving" in raced["message"]
    assert "pruned" not in full["message"] and "of 4500 starts reached" in full["message"]
    assert raced["objective"] == pytest.approx(full["objective"], rel=1e-9)
