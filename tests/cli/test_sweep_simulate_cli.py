"""tsbudget sweep --criterion and --simulate: options, output, files, and bad input (one line, exit 2)."""

import json

import polars as pl
import pytest

from tsbudget.cli.main import main


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


BASE = ["sweep", "--preset", "chinchilla2022", "--budgets", "1e17:1e21:5", "--per-budget", "9", "--spread", "8"]


def test_simulate_a_preset_sweep_with_its_own_law_as_the_truth(capsys, tmp_path):
    sims = tmp_path / "sims.csv"
    code, out, err = run([*BASE, "--simulate", "--target-budget", "1e24", "--simulations", "12", "--starts", "truth",
                          "--noise", "0.005", "--simulations-out", str(sims), "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    sim = d["simulation"]
    assert sim["synthetic"] is True and sim["options"]["n_sims"] == 12 and sim["options"]["noise"] == 0.005
    assert set(sim["summary"]) == {"huber", "approach2"}
    assert abs(sim["summary"]["huber"]["N_error"]["noise_free"]) < 1e-6  # the preset is the truth: recovered
    assert all(g["inside"] for g in sim["options"]["grid"])  # the sweep is centred on the truth's optimum
    assert "design" in d and d["design"] == {}  # a preset has no draws: no runs are chosen, all are simulated
    rows = pl.read_csv(sims)
    assert rows.height == 24 and set(rows["method"]) == {"huber", "approach2"}


def test_an_off_centre_grid_is_shown_and_approach2_failures_say_why(capsys):
    truth = ["--truth-set", "alpha=0.2", "--truth-set", "beta=0.4"]
    code, out, err = run([*BASE, "--simulate", "--target-budget", "1e24", "--simulations", "5", "--starts", "truth",
                          "--method", "approach2", *truth], capsys)
    assert code == 0, err
    assert "Simulated refits (synthetic): 5 simulations" in out
    assert "OUTSIDE" in out and "× the planned sizes' centre" in out
    assert "approach2: fewer than 3 refits succeeded (5 failed; most often:" in out


def test_criterion_is_passed_to_the_design(capsys, tmp_path):
    import numpy as np

    from tsbudget.fitting.fit import fit
    from tsbudget.laws.chinchilla import Chinchilla
    from tsbudget.uncertainty.bootstrap import bootstrap

    law = Chinchilla(E=1.8, A=400, B=1500, alpha=0.34, beta=0.36)
    rng = np.random.default_rng(0)
    rows = [(n, c / (6 * n), c, float(law.loss(N=n, D=c / (6 * n))) * float(np.exp(rng.normal(0, 0.005))))
            for c in (1e18, 1e19, 1e20) for n in np.geomspace(3e7, 3e9, 6)]
    runs = pl.DataFrame(rows, orient="row", schema=["N", "D", "flops", "loss"])
    grid = {"E": (0.0, 0.5), "A": (4.0, 6.0), "B": (6.0, 8.0), "alpha": (0.3, 0.5), "beta": (0.3, 0.5)}
    bootstrap(fit(runs, "chinchilla", grid=grid), 12, seed=0).save(tmp_path / "fit.json")
    common = ["sweep", "--fit", str(tmp_path / "fit.json"), "--budgets", "1e19:1e21:3", "--per-budget", "3",
              "--target-budget", "1e25", "--sweep-budget", "3e21", "--json"]
    designs = {}
    for criterion in ("dcl", "variance"):
        code, out, err = run([*common, "--criterion", criterion], capsys)
        assert code == 0, err
        designs[criterion] = json.loads(out)["design"]
    assert designs["dcl"]["criterion"] == "dcl" and designs["dcl"]["expected_dcl_before"] > 0
    assert designs["variance"]["criterion"] == "variance" and "expected_dcl_before" not in designs["variance"]
    # each bootstrap draw in turn as the truth
    code, out, err = run([*common, "--simulate", "--truth-draws", "--simulations", "4", "--starts", "truth",
                          "--method", "huber"], capsys)
    assert code == 0, err
    sim = json.loads(out)["simulation"]
    assert sim["options"]["per_draw"] is True and [r["truth_draw"] for r in sim["simulations"]] == [0, 1, 2, 3]
    # only the chosen runs, simulated together with the fit's own 18 runs (what the refit will see)
    code, out, err = run([*common, "--simulate", "--selected-only", "--simulations", "3", "--starts", "truth",
                          "--method", "huber"], capsys)
    assert code == 0, err
    d = json.loads(out)
    chosen = sum(r["selected"] for r in d["runs"])
    assert chosen > 0 and d["simulation"]["options"]["runs"] == 18 + chosen
    code, _, err = run([*common, "--simulate", "--truth-draws", "--truth-set", "alpha=0.3"], capsys)
    assert code == 2 and "not both" in err


@pytest.mark.parametrize("argv, message", [
    (["--truth", "epoch2024"], "--truth applies to --simulate"),
    (["--method", "huber"], "--method applies to --simulate"),
    (["--simulate"], "give --target-budget too"),
    (["--simulate", "--target-budget", "1e24", "--truth-draws"], "give --fit too"),
    (["--simulate", "--target-budget", "1e24", "--truth-set", "alpha"], "--truth-set takes NAME=VALUE"),
    (["--simulate", "--target-budget", "1e24", "--truth-set", "gamma=2"], "gamma"),
    (["--simulate", "--target-budget", "1e24", "--simulations-out", "x.txt"], "--simulations-out"),
    (["--simulate", "--target-budget", "1e24", "--simulations", "2"], "--simulations"),
    (["--simulate", "--target-budget", "1e24", "--truth", "muennighoff2023"], "closed-form optimum"),
    (["--criterion", "entropy"], "--criterion"),
])
def test_bad_simulate_options(capsys, argv, message):
    code, out, err = run([*BASE, *argv], capsys)
    assert code == 2 and message in err and not out
    assert len(err.strip().splitlines()) == 1


def test_simulate_refuses_a_non_dense_sweep(capsys):
    """Simulated refits score allocations at C = 6·N·D; a mixture-of-experts sweep is refused, not
    scored as if it were dense."""
    from tsbudget.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["sweep", "--preset", "chinchilla2022", "--budgets", "1e18:1e20:3", "--cost-model", "moe", "--simulate",
              "--truth", "epoch2024", "--target-budget", "1e22", "--simulations", "5"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "cost model is 'moe'" in err and len(err.strip().splitlines()) == 1
