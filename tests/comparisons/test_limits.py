"""Where a jointly fitted system stops beating its reference (tsbudget.comparisons.limits)."""

import math

import numpy as np
import polars as pl
import pytest

from tsbudget.comparisons.compare import compare
from tsbudget.comparisons.limits import first_stop
from tsbudget.errors import InputError, SchemaError
from tsbudget.laws.routing import Routing


def test_first_stop_rows():
    x = np.linspace(0.0, 4.0, 5)
    d = np.array([
        [-2.0, -1.0, 1.0, 2.0, 3.0],  # stops between 1 and 2, at 1.5
        [-3.0, -2.0, -1.0, -0.5, -0.1],  # still better at the end: beyond
        [1.0, 2.0, 3.0, 4.0, 5.0],  # never better
        [1.0, -1.0, -1.0, 1.0, 1.0],  # worse, better, worse: the first stop, at 2.5
        [-1.0, np.nan, -1.0, -1.0, -1.0],  # a failed draw at one budget: no crossing claimed
    ])
    got = first_stop(x, d)
    assert got[0] == pytest.approx(1.5) and got[1] == math.inf and math.isnan(got[2])
    assert got[3] == pytest.approx(2.5) and math.isnan(got[4])
    assert first_stop(x, d[0]) == pytest.approx(1.5)  # one row -> a float


def _routing_runs(seed=0):
    """Runs from a known routing law at fixed data: dense and routed at four sizes, E in 1..64."""
    law = Routing()  # Clark et al. Table 3, S-Base: cut-off 10^(0.108/0.009) = 1e12
    rng = np.random.default_rng(seed)
    rows = []
    for n in np.geomspace(2e7, 2e9, 4):
        for e in (1, 4, 16, 64):
            loss = float(law.loss(N=n, experts=e)) * math.exp(rng.normal(0, 0.002))
            # the routed model costs 1% more FLOPs than the dense one of the same size
            rows.append(("Dense" if e == 1 else f"R-{e}", n, float(e), 6 * n * 1e11 * (1.01 if e > 1 else 1.0), loss))
    return pl.DataFrame(rows, orient="row", schema=["system", "N", "experts", "flops", "loss"])


def test_joint_fit_limits_recover_the_cutoff():
    runs = _routing_runs()
    joint = runs  # every setting in one fit
    spec = {"law": "routing", "fit_runs": joint, "fit_options": {"delta": 1.0}}
    systems = {"R-64": {**spec, "variables": {"experts": 64}, "reference_variables": {"experts": 1}},
               "Dense": {**spec, "variables": {"experts": 1}}}
    show = runs.filter(pl.col("system").is_in(["Dense", "R-64"]))
    res = compare(show, by="system", reference="Dense", budgets=[1e19, 1e20], n_draws=8, frontier="fixed_data",
                  pair_on="N", systems=systems)
    # Dense and R-64 are fitted on the same runs with the same settings: one fit, one set of draws
    assert res.fits["Dense"] is res.fits["R-64"] and res.options["shared_fits"] == {"R-64": "Dense"}
    row = res.limits.row(0, named=True)
    assert row["system"] == "R-64" and row["reference"] == "Dense"
    assert row["N"] == pytest.approx(float(res.fits["R-64"].law.cutoff()), rel=1e-9)
    assert 10 ** 11.5 < row["N"] < 10 ** 12.5  # the generating law's 1e12, from 16 runs two decades below
    # the cost curves are exact power laws here (C = 6e11 N, x1.01 routed): the sizes at the crossing budget
    assert row["N_system_at_budget"] / row["N_reference_at_budget"] == pytest.approx(1 / 1.01, rel=1e-6)
    assert row["flops_system_at_N"] / row["flops_reference_at_N"] == pytest.approx(1.01, rel=1e-6)
    # the frontier at experts=64 uses the cost curve and FLOPs range of the runs at 64 experts only
    assert float(res.dataset["fitted_flops_max"].sel(system="R-64")) == pytest.approx(6 * 2e9 * 1e11 * 1.01)
    assert "R-64 stops beating Dense" in repr(res) and "equal budget" in repr(res)
    assert res.to_dict()["limits"][0]["system"] == "R-64"


def test_without_joint_fit_no_limits_and_old_behaviour():
    runs = _routing_runs().filter(pl.col("system").is_in(["Dense", "R-64"])).with_columns(D=pl.lit(1e11))
    from tsbudget.datasets.routing import ROUTING_COMPARE

    res = compare(runs, by="system", reference="Dense", budgets=[1e19], n_draws=3, frontier="fixed_data",
                  fit_options=ROUTING_COMPARE["fit_options"])
    assert res.limits.height == 0 and np.isnan(res.dataset["reference_loss"].values).all()
    assert res.options["shared_fits"] == {}


@pytest.mark.parametrize("setting, error, text", [
    ({"fit_runs": pl.DataFrame({"N": []})}, SchemaError, "fit_runs"),
    ({"reference_variables": {}}, InputError, "reference_variables"),
    ({"reference_variables": {"experts": "one"}}, InputError, "reference_variables"),
])
def test_bad_joint_settings_name_the_field(setting, error, text):
    runs = _routing_runs().filter(pl.col("system").is_in(["Dense", "R-64"]))
    with pytest.raises(error, match=text):
        compare(runs, by="system", budgets=[1e19], n_draws=2, systems={"R-64": setting})
