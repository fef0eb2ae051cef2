import json

import polars as pl
import pytest

from tsbudget.cli.main import main


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_preset_sweep_to_csv(capsys, tmp_path):
    out_path = tmp_path / "runs.csv"
    code, out, _ = run(["sweep", "--preset", "chinchilla2022", "--budgets", "1e18:1e20:3", "--per-budget", "4",
                        "--spread", "3", "--out", str(out_path)], capsys)
    assert code == 0 and "Sweep: 12 runs" in out
    df = pl.read_csv(out_path)
    assert df.height == 12
    assert ((df["flops"] / df["budget"] - 1).abs() < 0.01).all()


def test_fit_json_sweep_with_design(capsys, tmp_path):
    import numpy as np

    from tsbudget.uncertainty.bootstrap import bootstrap
    from tsbudget.fitting.fit import fit
    from tsbudget.laws.chinchilla import Chinchilla

    law = Chinchilla(E=1.8, A=400, B=1500, alpha=0.34, beta=0.36)
    rows = [(n, c / (6 * n), c, float(law.loss(N=n, D=c / (6 * n)))) for c in (1e18, 1e19, 1e20)
            for n in np.geomspace(3e7, 3e9, 6)]
    runs = pl.DataFrame(rows, orient="row", schema=["N", "D", "flops", "loss"])
    grid = {"E": (0.0, 0.5), "A": (4.0, 6.0), "B": (6.0, 8.0), "alpha": (0.3, 0.5), "beta": (0.3, 0.5)}
    bootstrap(fit(runs, "chinchilla", grid=grid), 10, seed=0).save(tmp_path / "fit.json")
    code, out, _ = run(["sweep", "--fit", str(tmp_path / "fit.json"), "--per-budget", "3", "--target-budget", "1e21",
                        "--sweep-budget", "1e21", "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    assert d["design"]["target_budget"] == 1e21 and len(d["runs"]) == 15
    assert sum(r["flops"] for r in d["runs"] if r["selected"]) <= 1e21 * (1 + 1e-9)
    assert d["runs"][0]["flops_ratio"] == pytest.approx(1.0)


def test_bad_options(capsys):
    code, _, err = run(["sweep", "--preset", "nope"], capsys)
    assert code == 2 and "nope" in err


def test_bad_variable_value_names_the_variable_option(capsys):
    code, _, err = run(["sweep", "--budgets", "1e19", "--per-budget", "3", "--cost-model", "moe",
                        "--variable", "experts=8,x"], capsys)
    assert code == 2 and "--variable experts" in err and "--fix" not in err


def test_sweep_budget_is_checked_and_needs_a_target(capsys):
    code, out, err = run(["sweep", "--budgets", "1e18:1e20:2", "--per-budget", "3", "--sweep-budget", "-5"], capsys)
    assert code == 2 and "--sweep-budget" in err and "-5" in err and not out
    code, _, err = run(["sweep", "--budgets", "1e18:1e20:2", "--per-budget", "3", "--sweep-budget", "1e21"], capsys)
    assert code == 2 and "give --target-budget" in err


def test_run_list_has_every_cost_model_variable(capsys, tmp_path):
    out_path = tmp_path / "runs.csv"
    code, _, _ = run(["sweep", "--cost-model", "moe", "--budgets", "1e19", "--per-budget", "2",
                        "--variable", "experts=8,32", "--out", str(out_path)], capsys)
    assert code == 0
    df = pl.read_csv(out_path)
    assert {"experts", "top_k", "granularity"} <= set(df.columns) and df["top_k"].to_list() == [1] * 4


def test_fit_in_cells_is_swept_in_its_own_unit(capsys, tmp_path):
    import numpy as np

    from tsbudget.fitting.fit import fit
    from tsbudget.laws.chinchilla import Chinchilla
    from tsbudget.registry import units

    law = Chinchilla(E=1.8, A=400, B=1500, alpha=0.34, beta=0.36)
    rows = [(n, 16 * c / (6 * n), c, float(law.loss(N=n, D=16 * c / (6 * n)))) for c in (1e18, 1e19, 1e20)
            for n in np.geomspace(3e7, 3e9, 6)]
    runs = pl.DataFrame(rows, orient="row", schema=["N", "D", "flops", "loss"])
    grid = {"E": (0.0, 0.5), "A": (4.0, 6.0), "B": (6.0, 8.0), "alpha": (0.3, 0.5), "beta": (0.3, 0.5)}
    fit(runs, "chinchilla", unit=units.resolve("cells", patch_length=16), grid=grid).save(tmp_path / "fit.json")
    code, out, _ = run(["sweep", "--fit", str(tmp_path / "fit.json"), "--budgets", "1e21", "--per-budget", "3",
                        "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    assert d["options"]["unit"] == "cells" and d["options"]["unit_settings"]["patch_length"] == 16
    for r in d["runs"]:  # 16 cells per position, 6·N FLOPs per position
        assert 6 * r["N"] * r["D"] / 16 == pytest.approx(1e21, rel=1e-6)
