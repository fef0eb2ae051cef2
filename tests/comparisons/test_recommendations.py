"""Comparing fit methods by the compute their recommendations waste under a truth."""

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tsbudget.cli.main import main
from tsbudget.comparisons.recommendations import compare_methods, compare_recommendations, recommend
from tsbudget.errors import InputError
from tsbudget.fitting.approach2 import isoflop_profiles
from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.uncertainty.wasted import deadweight_compute

LAW = Chinchilla()
DATA = Path(__file__).parents[1] / "data" / "isoflops_llama_3_raw_loss.csv"


def _isoflop_runs(law, budgets=(1e18, 1e19, 1e20), width=np.log(8.0), points=9):
    """Noise-free IsoFLOP runs of ``law``: ``points`` sizes over ±``width`` in log N around each optimum."""
    rows = []
    for c in budgets:
        n0, _ = law.optimal_allocation(c)
        for n in float(n0) * np.exp(np.linspace(-width, width, points)):
            d = c / (6 * n)
            rows.append({"N": n, "D": d, "flops": c, "loss": float(law.loss(N=n, D=d))})
    return pl.DataFrame(rows)


def test_the_truths_own_plan_wastes_nothing_and_a_pair_matches_deadweight_compute():
    n, d = (float(x) for x in LAW.optimal_allocation(1e24))
    res = compare_recommendations({"truth": LAW, "big": (4 * n, d / 4)}, LAW, 1e24)
    own, big = res.rows
    assert abs(own["dcl_percent"]) < 1e-9 and own["N_error"] == pytest.approx(0, abs=1e-9)
    assert big["dcl_flops"] == pytest.approx(float(deadweight_compute(LAW, None, 4 * n, d / 4, 1e24)), rel=1e-12)
    assert big["N_error"] == pytest.approx(3.0) and big["D_error"] == pytest.approx(-0.75)
    assert "big wastes the most" in res.message
    assert json.loads(res.to_json())["rows"][1]["dcl_percent"] == pytest.approx(big["dcl_percent"])


def test_approach2_is_biased_on_an_asymmetric_law_and_the_truth_is_not():
    # α ≠ β: the parabola's vertex is shifted (Open-Athena, "Asymmetric Surfaces"), so Approach 2
    # misallocates even without noise; its recommendation wastes compute under the truth
    law = Chinchilla(E=1.69, A=406.4, B=410.7, alpha=0.465, beta=0.155)
    a2 = isoflop_profiles(_isoflop_runs(law))
    rec = recommend(a2, 1e22, "approach2")
    assert rec.N * rec.D * 6 == pytest.approx(1e22, rel=1e-12)  # N forced by the budget
    res = compare_recommendations({"approach2": a2, "truth": law}, law, 1e22)
    assert res.rows[0]["dcl_percent"] > 0.1 and abs(res.rows[1]["dcl_percent"]) < 1e-9


def test_truth_draws_give_an_interval():
    rng = np.random.default_rng(2)

    class Fit:  # duck-typed fit: a law and its draws
        law = LAW
        draws = {k: v * (1 + 0.03 * rng.standard_normal(50)) for k, v in LAW.values.items()}

    n, d = (float(x) for x in LAW.optimal_allocation(1e23))
    row = compare_recommendations({"x": (2 * n, d / 2)}, Fit(), 1e23).rows[0]
    med, lo, hi = row["dcl_draws"]
    assert lo <= med <= hi and row["draws"] == 50


@pytest.mark.parametrize("kwargs, match", [
    ({"methods": ("approach4",)}, "not known"),
    ({"truth": "approach2"}, "parametric"),
    ({"n_draws": 2}, "n_draws"),
])
def test_compare_methods_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        compare_methods(_isoflop_runs(LAW), 1e22, **kwargs)


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_cli_compare_methods_table(capsys, tmp_path):
    law = Chinchilla(E=1.69, A=406.4, B=410.7, alpha=0.465, beta=0.155)
    path = tmp_path / "runs.csv"
    _isoflop_runs(law).write_csv(path)
    code, out, _ = run(["compare", str(path), "--methods", "approach2,vpnls", "--truth", "vpnls", "--at", "1e22",
                        "--draws", "3"], capsys)
    assert code == 0 and "approach2" in out and "wastes the most" in out


@pytest.mark.slow
def test_cli_compare_methods_on_llama3(capsys):
    code, out, _ = run(["compare", str(DATA), "--n-col", "params", "--d-col", "tokens", "--flops-col", "budget",
                        "--methods", "approach2,vpnls", "--truth", "vpnls", "--at", "3.8e25", "--draws", "20",
                        "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    a2 = d["rows"][0]
    assert a2["name"] == "approach2" and a2["dcl_percent"] == pytest.approx(6.30, abs=0.01)
    assert len(a2["dcl_draws"]) == 3


@pytest.mark.parametrize("argv, match", [
    (["--methods", "approach2"], "--methods and --at go together"),
    (["--methods", "approach2", "--at", "big"], "--at must be a number"),
    (["--methods", "approach2,approach5", "--at", "1e24"], "not known"),
])
def test_cli_compare_methods_bad_input(capsys, argv, match):
    code, _, err = run(["compare", str(DATA), "--n-col", "params", "--d-col", "tokens"] + argv, capsys)
    assert code == 2 and match in err and err.count("\n") == 1
