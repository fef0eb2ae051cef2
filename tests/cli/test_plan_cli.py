"""``tsbudget plan`` and ``tsbudget frontier`` end to end."""

import json

import numpy as np
import polars as pl
import pytest
import xarray as xr
from click.testing import CliRunner

from tsbudget.planning.closed_form import closed_form_budget
from tsbudget.cli.main import cli, main
from tsbudget.laws.presets import get_preset

EPOCH = get_preset("epoch2024").values
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def exit_code(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code, capsys.readouterr()


def test_plan_default_json():
    r = run(["plan", "--budget", "1e21", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    N, D = closed_form_budget(EPOCH, 1e21)
    assert out["N"] == pytest.approx(float(N), rel=1e-12)
    assert out["D"] == pytest.approx(float(D), rel=1e-12)
    for key in ("loss", "train_flops", "inference_flops", "epochs", "variables"):
        assert key in out
    assert out["train_flops"] == pytest.approx(1e21) and out["inference_flops"] == 0


def test_plan_report():
    r = run(["plan", "--budget", "1e21"])
    assert r.exit_code == 0 and r.output.startswith("Plan: success")
    assert "closed form" in r.output


def test_plan_with_every_option(tmp_path):
    out_file = tmp_path / "plan.json"
    r = run([
        "plan", "--budget", "1e22", "--preset", "chinchilla2022", "--cost-model", "moe",
        "--cost-setting", "d_model=2048", "--cost-setting", "n_layer=24", "--unit", "tokens",
        "--unique", "1e11", "--serve", "1e11", "--serve-utilization", "0.5", "--fix", "top_k=2",
        "--fix", "experts=4", "--hardware", "a100", "--json", "--out", str(out_file),
    ])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["variables"]["top_k"] == 2 and out["hardware"] == "a100"
    assert out["train_flops"] + out["inference_flops"] == pytest.approx(1e22, rel=1e-9)
    assert out["epochs"] == pytest.approx(out["D"] / 1e11)
    assert out["serve_gpu_hours"] == pytest.approx(out["inference_flops"] / (312e12 * 0.5 * 3600))
    assert json.loads(out_file.read_text())["N"] == out["N"]


def test_plan_target_loss_and_unit_settings():
    r = run(["plan", "--target-loss", "2.4", "--unit", "cells", "--unit-setting", "patch_length=4", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["loss"] == pytest.approx(2.4) and out["unit"] == "cells"
    assert out["positions"] == pytest.approx(out["D"] / 4)


def test_plan_from_a_fit_file_with_draws(tmp_path):
    from tsbudget.fitting.result import FitResult

    rng = np.random.default_rng(0)
    draws = xr.Dataset({k: ("draw", v * np.exp(0.02 * rng.standard_normal(50))) for k, v in EPOCH.items()})
    result = FitResult(
        law=get_preset("epoch2024"), success=True, message="test", objective=0.0, n_runs=1, n_starts=1,
        n_at_best=1, free=tuple(EPOCH), fixed={}, options={"unit": "tokens"},
        runs=pl.DataFrame({"N": [1e8], "D": [1e9], "loss": [3.0]}), draws=draws,
    )
    path = result.save(tmp_path / "fit.json")
    r = run(["plan", "--budget", "1e21", "--fit", str(path), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    lo, hi = out["loss_interval"]
    assert lo < out["loss"] < hi
    assert "N_opt" in out["intervals"]
    csv = tmp_path / "f.csv"
    png = tmp_path / "f.png"
    r = run(["frontier", "--budgets", "1e19:1e23:5", "--fit", str(path), "--out", str(csv), "--plot", str(png)])
    assert r.exit_code == 0, r.output
    table = pl.read_csv(csv)
    assert table.height == 5 and {"N_lower", "N_upper", "loss_median"} <= set(table.columns)
    assert "dcl_percent_median" in table.columns
    assert png.read_bytes()[:8] == PNG_MAGIC
    # --no-deadweight: the same intervals without the wasted-compute columns, and a note saying so
    r = run(["frontier", "--budgets", "1e19:1e23:5", "--fit", str(path), "--no-deadweight", "--out", str(csv)])
    assert r.exit_code == 0, r.output
    lean = pl.read_csv(csv)
    assert not [c for c in lean.columns if c.startswith("dcl")] and "deadweight=False" in r.output
    assert lean["N_upper"].to_list() == table["N_upper"].to_list()


@pytest.mark.parametrize(
    "args, match",
    [
        (["plan"], "give --budget"),
        (["plan", "--target-loss", "1.5"], "irreducible loss"),
        (["plan", "--budget", "1e21", "--fix", "experts=3"], "no variable 'experts'"),
        (["plan", "--budget", "1e21", "--law", "nope"], "no law named 'nope'"),
        (["plan", "--budget", "1e21", "--fit", "f.json", "--law", "epoch2024"], "not both"),
        (["plan", "--budget", "1e21", "--cost-setting", "bad"], "KEY=VALUE"),
        (["plan", "--budget", "1e21", "--serve-set", "recurrence=2"], "need --serve"),
        (["frontier", "--budgets", "1e18:1e20"], "LOW:HIGH:COUNT"),
        (["frontier", "--budgets", "1e18:1e20:3", "--out", "x.txt"], "csv or .parquet"),
    ],
)
def test_errors_are_one_line_and_exit_2(args, match, capsys):
    code, captured = exit_code(args, capsys)
    assert code == 2
    assert captured.err.startswith("tsbudget: error:") and match in captured.err
    assert captured.err.count("\n") == 1


def extended_fit_file(tmp_path, law, cost_model):
    """A saved fit of ``law`` (an Extended law) for ``cost_model``: the CLI's way to a law with variables."""
    from tsbudget.fitting.result import FitResult

    result = FitResult(
        law=law, success=True, message="test", objective=0.0, n_runs=1, n_starts=1, n_at_best=1,
        free=tuple(EPOCH), fixed={}, options={"unit": "tokens", "cost_model": cost_model},
        runs=pl.DataFrame({"N": [1e8], "D": [1e9], "loss": [3.0], **{v: [1.0] for v in law.variables}}),
    )
    return result.save(tmp_path / "fit.json")


def test_frontier_table_and_free_variable(tmp_path):
    from tsbudget.laws.extended import Extended

    out = tmp_path / "f.parquet"
    law = Extended(**EPOCH, variables=("ratio_inner",), references=(1.0,), gamma=(-0.3,), eta=(0.0,))
    fit = extended_fit_file(tmp_path, law, "hierarchical")
    r = run([
        "frontier", "--budgets", "1e19,1e21", "--fit", str(fit), "--free", "ratio_inner",
        "--out", str(out), "--json",
    ])
    assert r.exit_code == 0, r.output
    payload = json.loads(r.output)
    assert payload["attrs"]["free"] == "ratio_inner" and len(payload["rows"]) == 2
    table = pl.read_parquet(out)
    assert "ratio_inner" in table.columns
    np.testing.assert_allclose(table["train_flops"].to_numpy(), [1e19, 1e21], rtol=1e-9)


def test_frontier_default_prints_a_table():
    r = run(["frontier", "--budgets", "1e18:1e25:29"])
    assert r.exit_code == 0, r.output
    assert "closed form" in r.output and "1e+25" in r.output


def test_plan_data_bounds_and_the_one_position_floor(capsys):
    # --d-min/--d-max reach plan's d_bounds; a bound-active optimum is exact and reported
    r = run(["plan", "--budget", "1e21", "--d-min", "1e13", "--d-max", "1.05e13", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["D"] == pytest.approx(1e13, rel=1e-14) and "D lower bound" in out["binding"]
    r = run(["frontier", "--budgets", "1e20,1e21", "--d-max", "1e9", "--json"])
    rows = json.loads(r.output)["rows"]
    assert [row["D"] for row in rows] == pytest.approx([1e9, 1e9], rel=1e-14)
    # the audit: `tsbudget plan --budget 1e-3` planned N=100 on 1.7e-6 tokens
    code, captured = exit_code(["plan", "--budget", "1e-3"], capsys)
    assert code == 2 and "below the smallest allowed model" in captured.err and "one position" in captured.err


def test_plan_target_loss_with_a_budget_floor(capsys):
    r = run(["plan", "--target-loss", "2.4", "--budget-min", "1e22", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["total_flops"] == pytest.approx(1e22, rel=1e-12) and out["loss"] < 2.4
    assert out["binding"][0] == "budget lower limit" and out["mode"] == "target"
    r = run(["plan", "--target-loss", "2.4", "--budget-min", "1e22", "--budget-max", "1e23", "--json"])
    assert json.loads(r.output)["total_flops"] == pytest.approx(1e22, rel=1e-12)
    code, captured = exit_code(["plan", "--budget-min", "1e22"], capsys)
    assert code == 2 and "--budget-min needs --budget-max" in captured.err


def test_frontier_rejects_bad_file_names_before_computing(tmp_path, capsys, monkeypatch):
    # The audit: `--plot bad.txt` computed the frontier and wrote --out before refusing.
    import importlib

    module = importlib.import_module("tsbudget.planning.frontier")  # the package re-exports the function

    def never(*args, **kwargs):
        raise AssertionError("the frontier was computed")

    monkeypatch.setattr(module, "frontier", never)
    out = tmp_path / "f.csv"
    code, captured = exit_code(["frontier", "--budgets", "1e18:1e20:3", "--out", str(out), "--plot",
                                str(tmp_path / "bad.txt")], capsys)
    assert code == 2 and "bad.txt" in captured.err and ".png" in captured.err
    assert not out.exists()
    code, captured = exit_code(["frontier", "--budgets", "1e18:1e20:3", "--out", str(tmp_path / "x.txt")], capsys)
    assert code == 2 and "csv or .parquet" in captured.err


def test_a_free_variable_the_law_ignores_exits_2_naming_it(capsys):
    # issue 11: the law (epoch2024, Chinchilla) has no term in compression
    code, captured = exit_code(["plan", "--budget", "1e21", "--cost-model", "adaptive_patching",
                                "--free", "compression"], capsys)
    assert code == 2 and captured.err.count("\n") == 1
    for part in ("free variable 'compression'", "law 'chinchilla'", "--fix compression=VALUE",
                 "fit a law that includes it"):
        assert part in captured.err


def test_an_optimum_on_a_bound_warns_and_json_carries_at_bound(tmp_path):
    from tsbudget.laws.extended import Extended

    law = Extended(**EPOCH, variables=("compression",), references=(4.0,), gamma=(0.2,), eta=(0.0,))
    fit = extended_fit_file(tmp_path, law, "adaptive_patching")
    args = ["plan", "--budget", "1e21", "--fit", str(fit), "--free", "compression"]
    text = run(args)
    assert text.exit_code == 0, text.output
    assert "warning: free variable(s) compression settled on a bound" in text.stderr
    assert "compression=64 (its upper bound)" in text.stdout
    out = json.loads(run(args + ["--json"]).stdout)
    assert out["at_bound"] == ["compression"] and "compression upper bound" in out["binding"]
