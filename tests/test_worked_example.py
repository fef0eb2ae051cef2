"""The worked example of the README (issue 11, part 7), run from the shell as a user would.

The telemetry question: with 1e21 FLOPs, a corpus of mostly repeated normal-state telemetry
(measured on a sample, scaled to 1e12 cells) and 1e13 cells to serve, what model and what
compression should we train? The steps: measure redundancy, design a sweep over compression,
simulate it from a known law with a valley in compression (so that no GPUs are needed; the
runs say ``synthetic``), fit the extended law with a log-quadratic compression term, plan with
the composed cost model (adaptive patching under a hierarchy), the measured regimes and serving
counted in cells. The budget is 10x the largest simulated run.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tsbudget.laws.extended import Extended
from tsbudget.planning.plan import plan
from tsbudget.planning.serving import Serving
from tsbudget.timeseries.regimes import RegimeData

# The commands of the README section, one shell line each (the known law's values are made up
# for the example: Chinchilla's with a valley in compression around 4.5).
COMMANDS = [
    "python -c \"from tsbudget.timeseries.telemetry import synthetic_telemetry; "
    "synthetic_telemetry(steps=20_000, channels=4, seed=0).write_parquet('telemetry.parquet')\"",
    "tsbudget redundancy telemetry.parquet --window 64 --label-col regime --unit cells --out regimes.json",
    "tsbudget sweep --preset chinchilla2022 --budgets 1e17:1e20:7 --per-budget 7 --spread 8 "
    "--cost-model patched --variable compression=1.5,3,6,12,24,48 --out sweep.csv",
    "tsbudget simulate sweep.csv --law extended --law-variable compression=4.5:quadratic "
    "--set gamma_compression=-0.1 --set eta_compression=-0.6 --set gamma2_compression=-0.05 "
    "--set eta2_compression=-0.15 --noise 0.005 --seed 0 --out runs.csv",
    "tsbudget fit runs.csv --law extended --law-variable compression=4.5:quadratic "
    "--cost-model patched --unit cells --out fit.json",
    "tsbudget plan --fit fit.json --budget 1e21 --cost-model patched --free compression "
    "--regimes regimes.json --scale-to 1e12 --serve 1e13 --json --out plan.json",
]
KNOWN = Extended(variables=("compression",), references=(4.5,), kinds=("quadratic",),
                 gamma=(-0.1,), eta=(-0.6,), gamma2=(-0.05,), eta2=(-0.15,))


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """Run every command in a fresh folder, with this interpreter's python and tsbudget first on PATH."""
    folder = tmp_path_factory.mktemp("worked_example")
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    outputs = []
    for line in COMMANDS:
        done = subprocess.run(["bash", "-c", line], cwd=folder, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    return folder, outputs


@pytest.mark.slow
def test_redundancy_measures_mostly_repeated_normal_state(example):
    folder, _ = example
    regimes = RegimeData.load(folder / "regimes.json")
    assert regimes.unit == "cells"
    data = json.loads((folder / "regimes.json").read_text())
    assert set(data["regimes"]) == {"normal", "rare", "intervention"}
    normal = data["regimes"]["normal"]
    assert normal["share"] > 0.5 and normal["unique"] < 0.1 * normal["available"]
    assert data["effective_one_epoch"] < data["available"]


@pytest.mark.slow
def test_sweep_over_compression_simulated_and_labelled(example):
    folder, outputs = example
    sweep = pl.read_csv(folder / "sweep.csv")
    assert sorted(set(sweep["compression"])) == [1.5, 3.0, 6.0, 12.0, 24.0, 48.0]
    runs = pl.read_csv(folder / "runs.csv")
    assert runs.height == sweep.height and runs["synthetic"].all() and set(runs["seed"]) == {0}
    assert "synthetic" in outputs[3]
    assert float(runs["flops"].max()) == pytest.approx(1e20, rel=1e-9)


@pytest.mark.slow
def test_fit_finds_the_valley(example):
    folder, _ = example
    from tsbudget.fitting.result import FitResult

    fitted = json.loads((folder / "fit.json").read_text())
    assert fitted["law"] == "extended" and fitted["success"] and fitted["n_runs"] == 294

    law = FitResult.load(folder / "fit.json").law
    assert law.kinds == ("quadratic",)
    for name in ("eta_compression", "eta2_compression", "gamma_compression"):
        assert law.values[name] == pytest.approx(KNOWN.values[name], rel=0.1), name


@pytest.mark.slow
def test_plan_with_composed_model_regimes_and_serving_recovers_the_known_plan(example):
    folder, _ = example
    got = json.loads((folder / "plan.json").read_text())
    assert got["success"] and got["unit"] == "cells" and got["cost_model"] == "patched"
    assert got["at_bound"] == [] and got["served_units"] == 1e13
    assert set(got["variables"]) == {"compression", "ratio_outer", "ratio_inner"}
    truth = plan(1e21, law=KNOWN, cost_model="patched", unit="cells",
                 unique=RegimeData.load(folder / "regimes.json").scaled_to(1e12), serving=Serving(units=1e13),
                 free=("compression",))
    # measured (seed 0): compression +3.4%, N +3.2% from the plan under the known law
    assert got["variables"]["compression"] == pytest.approx(truth.variables["compression"], rel=0.05)
    assert got["N"] == pytest.approx(truth.N, rel=0.05)
    assert 1.5 < got["variables"]["compression"] < 48
