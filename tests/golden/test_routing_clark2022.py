"""Golden: Clark et al. 2022, "Unified Scaling Laws for Routed Language Models".

Figure 1 (a) and §4: at every dense size they trained (15M to 1.3B, all on the same
data), routing with 64 experts lowers the validation loss, and the improvement shrinks
as the model grows (the positive ``c log N log E`` interaction of their eq. 1). Our
comparison of the shipped final evaluations along the fixed-data frontier must say
the same: S-Base with 64 experts beats Dense at 1e19..1e21 FLOPs with probability
> 0.9, and the gap narrows with the budget.

§5: the gain vanishes at the dense size ``N_cut = 10^(−b/c)`` (937B for S-Base in the
paper; 7.8e11 in our least-squares refit, tests/golden/test_routing_law_clark2022.py).
``routing_compare`` fits their law per router on the dense and that router's runs and
takes Dense from the same fit at ``experts = 1``, so the comparison's S-Base-vs-Dense
crossover is the law's: in size exactly ``N_cut``; in budget where the two frontiers,
each on its own cost curve, meet.
"""

import numpy as np
import pytest

from tsbudget.comparisons.compare import compare
from tsbudget.comparisons.frontiers import cost_curve, frontier_runs
from tsbudget.datasets.routing import ROUTING_COMPARE, ROUTING_FIT_OPTIONS, routing_compare, routing_law_runs, routing_systems
from tsbudget.fitting.fit import fit
from tsbudget.laws.routing import Routing, saturating_experts

PAPER_CUTOFF_SBASE = 937e9  # Clark et al. 2022 §5


@pytest.fixture(scope="module")
def runs():
    return routing_systems(64, routers=("Dense", "S-Base"))


@pytest.fixture(scope="module")
def result(runs):
    return compare(runs, by="system", reference="dense", budgets=np.geomspace(1e19, 1e21, 5), n_draws=40,
                   **routing_compare(runs))


@pytest.fixture(scope="module")
def wide(runs):
    # budgets out to 1e25 so that the change of winner itself is in range
    return compare(runs, by="system", reference="dense", budgets=np.geomspace(1e19, 1e25, 13), n_draws=40,
                   **routing_compare(runs))


def test_sbase64_beats_dense_across_budgets(result):
    p = result.dataset["p_beats_reference"].sel(system="S-Base-64").values
    assert np.all(p > 0.9), p
    assert result.winners == ["S-Base-64"] * 5
    assert result.crossovers.height == 0


def test_routing_gain_shrinks_with_size(result):
    loss = result.dataset["loss"]
    gap = loss.sel(system="Dense").values - loss.sel(system="S-Base-64").values
    assert np.all(np.diff(gap) < 0), gap
    # the observed gap at the smallest and largest sizes (15M: 3.162 vs 2.756 at 3.3e19 FLOPs; 1.3B: 2.242 vs
    # 2.054 at 1.3e21): compared at 3.16e19 (index 1) and 1e21. 1e19 lies below every run (the law: 0.56 there)
    assert 0.3 < gap[1] < 0.5 and 0.1 < gap[-1] < 0.25


def test_fitted_range_flags(result):
    # the runs span 3.3e19..1.3e21 FLOPs: 1e19 is an extrapolation, 1e20 is not
    ext = result.dataset["extrapolated"].sel(system="S-Base-64").values
    assert ext[0] and not ext[2]


def test_dense_shares_the_sbase_fit(result):
    # one fit (dense + every S-Base expert count, k = 1, seed 42) and one set of draws for both rows
    f, g = result.fits["Dense"], result.fits["S-Base-64"]
    assert f is g and f.law.name == "routing" and f.n_runs == routing_law_runs("S-Base").height
    np.testing.assert_array_equal(result.dataset["reference_loss"].sel(system="S-Base-64").values,
                                  result.dataset["loss"].sel(system="Dense").values)


def test_crossover_in_size_is_the_law_cutoff(result):
    row = result.limits.row(0, named=True)
    law = result.fits["S-Base-64"].law
    # the equal-size crossing of eq. 1 is 10^(-b/c) exactly; the grid root is exact (linear in log N)
    assert row["N"] == pytest.approx(float(law.cutoff()), rel=1e-9)
    # and the same as the standalone refit of the law golden test, up to the optimiser's tolerance (the
    # cut-off is a ratio of two small slopes, b/c ≈ 12, so it amplifies the fit's last digits)
    alone = fit(routing_law_runs("S-Base"), Routing(), **ROUTING_FIT_OPTIONS)
    assert row["N"] == pytest.approx(float(alone.law.cutoff()), rel=0.01)
    assert 7e11 < row["N"] < 9e11 and PAPER_CUTOFF_SBASE / 1.25 < row["N"] < PAPER_CUTOFF_SBASE * 1.25
    assert row["N_lower"] < row["N"] < row["N_upper"] and row["extrapolated"]


def test_crossover_in_budget_agrees_with_the_law(result, wide):
    row = result.limits.row(0, named=True)
    # the comparison's own change of winner (budgets out to 1e25) is the limit's equal-budget crossing; the
    # tolerance is the linear interpolation of the loss difference on the 321-point fine grid
    (change,) = wide.crossovers.rows(named=True)
    assert (change["from_system"], change["to_system"]) == ("S-Base-64", "Dense")
    assert change["budget"] == pytest.approx(row["budget"], rel=1e-3)
    assert wide.limits.row(0, named=True)["budget"] == pytest.approx(row["budget"], rel=1e-9)
    # In size: at the crossing budget C*, each system trains the size its cost curve gives; the routed runs
    # cost slightly different FLOPs per dense parameter, so N_S(C*) != N_D(C*). Eq. 1 then puts the dense
    # size at C* exactly at log10 N_D = log10 N_cut - (a + c h64)/(c (h64 - h1)) * log10(N_S/N_D), h = log10 Ê:
    law = result.fits["S-Base-64"].law
    v = law.values
    h64, h1 = np.log10(saturating_experts([64.0, 1.0], v["E_start"], v["E_max"]))
    n_s, n_d = row["N_system_at_budget"], row["N_reference_at_budget"]
    shift = -(v["a"] + v["c"] * h64) / (v["c"] * (h64 - h1)) * np.log10(n_s / n_d)
    assert np.log10(n_d) == pytest.approx(np.log10(row["N"]) + shift, abs=1e-6)
    # a 1% gap between the two cost curves moves the crossing ~5x as much (the factor (a + c h64)/(c Δh));
    # here the dense size at the crossing budget is within 10% of N_cut
    assert abs(n_d / row["N"] - 1) < 0.10 and abs(n_s / n_d - 1) < 0.02
    # the crossing budget on the FLOPs axis: the cost of runs of size ~N_cut on the runs' own cost curves
    runs = frontier_runs(result.fits["Dense"], {"experts": 1.0})
    a, b = cost_curve(runs)
    assert row["flops_reference_at_N"] == pytest.approx(np.exp((np.log(row["N"]) - a) / b), rel=1e-9)
    assert row["flops_reference_at_N"] < row["budget"] < 1.15 * row["flops_reference_at_N"]


def test_separate_power_laws_remain_available(runs):
    # each system its own E + A/N^alpha at fixed data (the settings before the routing law; no joint fit)
    res = compare(runs, by="system", reference="dense", budgets=[1e20], n_draws=4, **ROUTING_COMPARE)
    assert res.options["laws"] == {"Dense": "chinchilla", "S-Base-64": "chinchilla"} and res.limits.height == 0
