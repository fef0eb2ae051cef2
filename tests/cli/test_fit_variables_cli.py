"""``tsbudget fit``/``sensitivity`` with a cost model, a data unit and the extended law's variables."""

import json

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from tsbudget.cli.main import cli, main
from tsbudget.fitting.result import FitResult
from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.laws.extended import Extended
from tsbudget.registry import costmodels, units

# the law behind the synthetic MoE sweep: experts act like more parameters (gamma) and a little more data (eta)
TRUE = Extended(variables=("experts",), E=1.9, A=350.0, B=900.0, alpha=0.33, beta=0.29, gamma=(0.2,), eta=(0.04,))
MOE = ["--cost-model", "moe", "--cost-setting", "d_model=512", "--cost-setting", "n_layer=8"]
CELLS = ["--unit", "cells", "--unit-setting", "patch_length=4"]
COLS = ["--n-col", "params", "--flops-col", "compute", "--loss-col", "loss"]
# a polish from ~10-40% off the truth (skips the 4,500-start grid)
INIT = ["--init", "E=2", "--init", "A=300", "--init", "B=1000", "--init", "alpha=0.3", "--init", "beta=0.3"]


def run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.fixture(scope="module")
def moe_csv(tmp_path_factory):
    """45 noiseless runs: 3 budgets x 5 active sizes x 3 expansion rates. D (in channel-time
    cells, 4 per position) is derived from the FLOPs through the moe cost model with a router
    term (d_model 512, 8 layers), so FLOPs per position are not 6N and depend on the experts."""
    cm = costmodels.resolve("moe", d_model=512, n_layer=8)
    un = units.resolve("cells", patch_length=4)
    rows = []
    for c in (1e17, 1e18, 1e19):
        for n in np.geomspace(2e6, 2e8, 5):
            for e in (1, 4, 16):
                d = float(un.from_positions(c / cm.train_flops_per_position(n, experts=e)))
                loss = float(TRUE.evaluate(TRUE.values, {"N": n, "D": d, "experts": e}))
                rows.append({"params": n, "compute": c, "x": e, "loss": loss})
    path = tmp_path_factory.mktemp("moe") / "moe_sweep.csv"
    pl.DataFrame(rows).write_csv(path)
    return str(path)


def test_fit_extended_moe_recovers_parameters(moe_csv, tmp_path):
    out = tmp_path / "fit.json"
    r = run(["fit", moe_csv, *COLS, "--col", "experts=x", "--law", "extended", "--law-variable", "experts",
             *MOE, *CELLS, *INIT, "--json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["law"] == "extended" and d["success"] is True and d["n_runs"] == 45
    for name, value in TRUE.values.items():
        assert d["parameters"][name] == pytest.approx(value, rel=1e-6), name
    o = d["options"]
    assert o["cost_model"] == "moe" and o["cost_settings"]["d_model"] == 512 and o["cost_settings"]["n_layer"] == 8
    assert o["unit"] == "cells" and o["unit_settings"]["patch_length"] == 4
    assert o["columns"]["experts"] == "x"
    # the saved fit rebuilds the law, cost model and unit: it predicts the raw CSV exactly
    loaded = FitResult.load(out)
    assert loaded.law.variables == ("experts",)
    np.testing.assert_allclose(loaded.predict(pl.read_csv(moe_csv)), pl.read_csv(moe_csv)["loss"].to_numpy(),
                               rtol=1e-9)


def test_fit_matches_the_library_path(moe_csv):
    from tsbudget.fitting.fit import fit

    lib = fit(pl.read_csv(moe_csv), Extended(variables=("experts",)),
              columns={"N": "params", "flops": "compute", "experts": "x"},
              cost_model=costmodels.resolve("moe", d_model=512, n_layer=8),
              unit=units.resolve("cells", patch_length=4),
              init={"E": 2, "A": 300, "B": 1000, "alpha": 0.3, "beta": 0.3})
    r = run(["fit", moe_csv, *COLS, "--col", "experts=x", "--law", "extended", *MOE, *CELLS, *INIT, "--json"])
    assert r.exit_code == 0, r.output
    # a mapped variable column makes it a law variable without --law-variable
    assert json.loads(r.output)["parameters"] == pytest.approx(lib.parameters, rel=1e-12)


def test_cost_model_and_unit_change_the_fit(moe_csv):
    # without the moe cost model and the cells unit, D is C/(6N) tokens: 4x fewer units, no
    # router term, so the fit cannot recover B (this is what the options are for)
    r = run(["fit", moe_csv, *COLS, "--col", "experts=x", "--law", "extended", *INIT, "--json"])
    assert r.exit_code == 0, r.output
    p = json.loads(r.output)["parameters"]
    assert abs(p["B"] / TRUE.B - 1) > 0.1


def test_law_variable_reference(moe_csv):
    # experts measured from a reference of 4: same fit, the efficiency terms shift into A and B
    r = run(["fit", moe_csv, *COLS, "--col", "experts=x", "--law", "extended", "--law-variable", "experts=4",
             *MOE, *CELLS, *INIT, "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["law_spec"]["fields"]["references"] == [4.0]
    p = d["parameters"]
    # A/N_eff^α with N_eff = N·(e/4)^γ equals A·4^(αγ)·... of the reference-1 law
    assert p["A"] == pytest.approx(TRUE.A * 4 ** (-TRUE.alpha * TRUE.gamma[0]), rel=1e-6)
    assert p["gamma_experts"] == pytest.approx(TRUE.gamma[0], rel=1e-6)


def test_sensitivity_takes_unit_and_cost_model(tmp_path):
    # Chinchilla runs with D counted in cells (4 per position) and a moe router term:
    # the baseline of `sensitivity` recovers B only if it uses both options
    law = Chinchilla(E=1.8, A=400.0, B=1200.0, alpha=0.34, beta=0.3)
    cm, un = costmodels.resolve("moe", d_model=256, n_layer=4), units.resolve("cells", patch_length=4)
    rows = []
    for c in (1e17, 1e18, 1e19, 1e20):
        for n in np.geomspace(3e6, 3e8, 5):
            d = float(un.from_positions(c / cm.train_flops_per_position(n)))  # experts at the default, 8
            rows.append({"params": n, "compute": c, "loss": float(law.loss(N=n, D=d))})
    path = tmp_path / "runs.csv"
    pl.DataFrame(rows).write_csv(path)
    r = run(["sensitivity", str(path), *COLS, "--cost-model", "moe", "--cost-setting", "d_model=256",
             "--cost-setting", "n_layer=4", *CELLS, "--init", "E=2", "--init", "A=300", "--init", "B=1000",
             "--init", "alpha=0.3", "--init", "beta=0.3", "--variant", "delta=0.01", "--json"])
    assert r.exit_code == 0, r.output
    base = json.loads(r.output)["variants"][0]
    assert base["variant"] == "baseline"
    for name, value in law.values.items():
        assert base[name] == pytest.approx(value, rel=1e-6), name


def test_option_errors_are_one_line(moe_csv, capsys):
    cases = {
        # the extended law with no variable would silently be Chinchilla
        ("fit", moe_csv, *COLS, "--law", "extended"): "needs its variables",
        # a variable column for a law without variables names the variable and the fix
        ("fit", moe_csv, *COLS, "--col", "experts=x"): "experts",
        ("fit", moe_csv, *COLS, "--law", "chinchilla", "--law-variable", "experts"): "--law extended",
        ("fit", moe_csv, *COLS, "--law", "extended", "--law-variable", "experts=0"): "--law-variable experts",
        ("fit", moe_csv, *COLS, "--cost-model", "moe", "--cost-setting", "d_model=1", "--cost-setting",
         "d_model=2"): "--cost-setting d_model given twice",
        ("fit", moe_csv, *COLS, "--unit", "cells", "--unit-setting", "bogus=1"): "bogus",
        ("fit", moe_csv, *COLS, "--cost-model", "nope"): "nope",
        ("fit", moe_csv, *COLS, "--bootstrap", "1"): "--bootstrap",
    }
    for args, needle in cases.items():
        with pytest.raises(SystemExit) as exc:
            main(list(args))
        err = capsys.readouterr().err
        assert exc.value.code == 2, (args, err)
        assert err.startswith("tsbudget: error:") and err.count("\n") == 1, err
        assert needle in err, (needle, err)
    assert "n_draws" not in err


def test_sensitivity_of_the_extended_law_plans_with_the_fit_cost_model(moe_csv):
    # the optimum per variant comes from the planner with the fit's own cost model and unit
    # (variables at their defaults), not the dense 6N closed form
    from tsbudget.planning.plan import plan

    args = ["sensitivity", moe_csv, *COLS, "--col", "experts=x", "--law", "extended", "--law-variable", "experts",
            *MOE, *CELLS, *INIT, "--target-budget", "1e21", "--variant", "baseline", "--json"]
    r = run(args)
    assert r.exit_code == 0, r.output
    row = json.loads(r.output)["variants"][0]
    expected = plan(1e21, law=TRUE, cost_model=costmodels.resolve("moe", d_model=512, n_layer=8), unit="cells",
                    unit_settings={"patch_length": 4})
    assert row["N_opt"] == pytest.approx(expected.N, rel=1e-4)
    assert row["D_opt"] == pytest.approx(expected.D, rel=1e-4)


def test_law_variable_names_its_column_as_the_issue_spells_it(moe_csv):
    """``--law-variable experts=x`` (a column, not a number) maps the column, like
    ``--col experts=x --law-variable experts``; ``NAME=COLUMN:KIND`` keeps the kind."""
    extra = ["--init", "gamma_experts=0.1", "--init", "eta_experts=0.0", "--json"]
    base = ["fit", moe_csv, *COLS, *MOE, *CELLS, "--law", "extended", *INIT, *extra]
    by_col = run([*base, "--col", "experts=x", "--law-variable", "experts"])
    named = run([*base, "--law-variable", "experts=x"])
    assert by_col.exit_code == 0 and named.exit_code == 0, named.output
    assert json.loads(named.output)["parameters"] == json.loads(by_col.output)["parameters"]
    quad = run([*base, "--law-variable", "experts=x:quadratic", "--init", "gamma2_experts=0", "--init", "eta2_experts=0"])
    assert quad.exit_code == 0, quad.output
    assert "gamma2_experts" in json.loads(quad.output)["parameters"]
    from tsbudget.errors import InputError

    with pytest.raises(InputError, match="neither a reference number nor a column"):
        run([*base, "--law-variable", "experts=nosuch"])
