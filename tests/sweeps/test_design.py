"""sweep(): budget-exact runs, extrapolation ratios, design, and recovery of a known optimum."""


import numpy as np
import polars as pl
import pytest

from tsbudget.uncertainty.bootstrap import bootstrap
from tsbudget.errors import InputError
from tsbudget.fitting.fit import fit, refit
from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.sweeps.design import _noise_from_fit, huber_noise, sweep

TRUE = Chinchilla(E=1.8, A=400, B=1500, alpha=0.34, beta=0.36)
GRID = {"E": (0.0, 0.5), "A": (4.0, 6.0), "B": (6.0, 8.0), "alpha": (0.3, 0.5), "beta": (0.3, 0.5)}


def test_runs_spend_their_budget_and_bracket_the_optimum():
    s = sweep("chinchilla2022", "1e18:1e20:3", per_budget=5, spread=4)
    t = s.table
    assert t.height == 15
    assert np.all(np.abs(t["flops"].to_numpy() / t["budget"].to_numpy() - 1) < 0.01)
    # dense cost model: D = C / (6 N) exactly (Hoffmann et al. 2022 §3)
    np.testing.assert_allclose(t["D"].to_numpy(), t["budget"].to_numpy() / (6 * t["N"].to_numpy()), rtol=1e-6)
    for b, grp in t.group_by("budget"):
        n = np.sort(grp["N"].to_numpy())
        n_opt = grp["N_opt"][0]
        assert n[0] == pytest.approx(n_opt / 4, rel=1e-6) and n[-1] == pytest.approx(n_opt * 4, rel=1e-6)
        assert n[2] == pytest.approx(n_opt, rel=1e-6)
    # the middle run of each budget is the lowest predicted loss of its IsoFLOP slice
    g = t.sort("N").group_by("budget", maintain_order=True).agg(pl.col("predicted_loss").arg_min())
    assert (g["predicted_loss"] == 2).all()
    assert s.totals["gpu_hours"] == pytest.approx(t["gpu_hours"].sum())
    assert t["gpu_hours"][0] == pytest.approx(t["flops"][0] / (989.4e12 * 0.40 * 3600))


def test_moe_variable_values_are_swept():
    s = sweep("chinchilla2022", [1e19], per_budget=3, cost_model="moe", variables={"experts": [8, 32]})
    assert s.table.height == 6 and sorted(set(s.table["experts"])) == [8.0, 32.0]
    assert np.all(np.abs(s.table["flops_error"].to_numpy()) < 0.01)


def test_every_cost_model_variable_gets_a_column(tmp_path):
    # experts is swept; top_k and granularity stay at their defaults but are written too,
    # so the run list can be executed as it stands
    s = sweep("chinchilla2022", [1e19], per_budget=2, cost_model="moe", variables={"experts": [8, 32]})
    back = pl.read_csv(s.write(tmp_path / "runs.csv"))
    assert {"experts", "top_k", "granularity"} <= set(back.columns)
    assert back["top_k"].to_list() == [1] * 4 and back["granularity"].to_list() == [1] * 4
    # nothing swept at all: the defaults are still columns (moe's default expansion is 8)
    s = sweep("chinchilla2022", [1e19], per_budget=2, cost_model="moe")
    assert s.table["experts"].to_list() == [8.0, 8.0] and "granularity" in s.table.columns
    assert "experts" in repr(s)


@pytest.fixture(scope="module")
def cells_fit():
    """A noiseless fit of TRUE on data counted in cells, 16 time steps per patch: one
    position is 16 cells, so a run of C FLOPs at size N reads D = 16·C/(6N) cells."""
    from tsbudget.registry import units

    unit = units.resolve("cells", patch_length=16)
    rows = [(n, 16 * c / (6 * n), c) for c in (1e18, 1e19, 1e20) for n in np.geomspace(3e7, 3e9, 6)]
    runs = pl.DataFrame(rows, orient="row", schema=["N", "D", "flops"])
    runs = runs.with_columns(pl.Series("loss", TRUE.loss(N=runs["N"].to_numpy(), D=runs["D"].to_numpy())))
    return fit(runs, "chinchilla", unit=unit, grid=GRID)


def test_sweep_of_a_fit_in_cells_uses_the_fits_unit(cells_fit):
    from tsbudget.planning.frontier import frontier

    s = sweep(cells_fit, "1e20:1e22:3", per_budget=5)
    t = s.table
    assert s.options["unit"] == "cells" and s.options["unit_settings"]["patch_length"] == 16
    N, D, budget = (t[c].to_numpy() for c in ("N", "D", "budget"))
    # each run spends its budget under the fit's unit: positions = cells / 16, 6·N FLOPs each
    np.testing.assert_allclose(6 * N * D / 16 / budget, 1.0, rtol=0.01)
    # the sweep is centred on the fit's own frontier (D in the fit's unit)
    ds = frontier(s.options["budgets"], law=cells_fit)
    np.testing.assert_allclose(np.unique(t["N_opt"].to_numpy()), ds["N"].values, rtol=1e-6)
    middle = t.sort("budget", "N")["predicted_loss"].to_numpy()[2::5]  # N = N_opt rounded to a whole number
    np.testing.assert_allclose(middle, ds["loss"].values, rtol=1e-9)
    # the law reads D in cells: predicted loss is the true law's
    np.testing.assert_allclose(t["predicted_loss"].to_numpy(), TRUE.loss(N=N, D=D), rtol=1e-6)


def test_sweep_in_another_unit_only_relabels_the_data(cells_fit):
    # the same fit, its runs counted in tokens (one position each) or in cells patched by 4:
    # the same model sizes and losses, D scaled by positions per unit
    base = sweep(cells_fit, [1e21], per_budget=3).table
    for unit, settings, per_position in (("tokens", None, 1.0), ("cells", {"patch_length": 4}, 4.0)):
        t = sweep(cells_fit, [1e21], per_budget=3, unit=unit, unit_settings=settings).table
        np.testing.assert_allclose(t["N"].to_numpy(), base["N"].to_numpy(), rtol=1e-9)
        np.testing.assert_allclose(t["predicted_loss"].to_numpy(), base["predicted_loss"].to_numpy(), rtol=1e-9)
        np.testing.assert_allclose(t["D"].to_numpy(), base["D"].to_numpy() / 16 * per_position, rtol=1e-9)


def test_sweep_uses_the_fits_cost_model_settings():
    from tsbudget.registry import costmodels

    # Kaplan et al. 2020 Table 1: training 6N + 6·n_layer·n_ctx·d_model FLOPs per position
    cm = costmodels.resolve("dense", n_layer=24, n_ctx=8192, d_model=1024)
    def per_pos(n):
        return 6 * n + 6 * 24 * 8192 * 1024
    rows = [(n, c / per_pos(n), c) for c in (1e18, 1e19, 1e20) for n in np.geomspace(3e7, 3e9, 6)]
    runs = pl.DataFrame(rows, orient="row", schema=["N", "D", "flops"])
    runs = runs.with_columns(pl.Series("loss", TRUE.loss(N=runs["N"].to_numpy(), D=runs["D"].to_numpy())))
    f = fit(runs, "chinchilla", cost_model=cm, grid=GRID)
    t = sweep(f, [1e21], per_budget=3).table
    np.testing.assert_allclose(t["D"].to_numpy() * per_pos(t["N"].to_numpy()), 1e21, rtol=1e-6)
    # the user's own cost model still wins
    t = sweep(f, [1e21], per_budget=3, cost_model="dense").table
    np.testing.assert_allclose(t["D"].to_numpy() * 6 * t["N"].to_numpy(), 1e21, rtol=1e-6)


@pytest.fixture(scope="module")
def fitted():
    design = sweep("chinchilla2022", "1e18:1e20:4", per_budget=6, spread=4).table
    rng = np.random.default_rng(3)
    loss = TRUE.loss(N=design["N"].to_numpy(), D=design["D"].to_numpy()) * np.exp(rng.normal(0, 0.005, design.height))
    runs = design.select("N", "D", "flops").with_columns(pl.Series("loss", loss))
    return bootstrap(fit(runs, "chinchilla", grid=GRID), 30, seed=0, budgets=[1e21])


def test_sweep_fit_recovers_the_true_optimum_within_its_interval(fitted):
    n_true = float(TRUE.optimal_allocation(1e21)[0])
    draws = fitted.draws["N_opt"].sel(budget=1e21).values
    lo, hi = np.quantile(draws[np.isfinite(draws)], [0.025, 0.975])
    assert lo <= n_true <= hi


def _simulate(df, rng, noise=0.005):
    """``df``'s runs with losses drawn from the true law, log-normal noise."""
    loss = TRUE.loss(N=df["N"].to_numpy(), D=df["D"].to_numpy()) * np.exp(rng.normal(0, noise, df.height))
    return df.select("N", "D", "flops").with_columns(pl.Series("loss", loss))


def test_selected_runs_beat_random_runs_of_equal_cost_after_refitting(fitted):
    """Simulate the sweep, refit, and score the optimum at the target against the truth.

    Common random numbers: each seed draws one noise realisation of the fitted runs and of
    every candidate, shared by the selected design and the random designs, so the
    comparison is paired. Refits are warm-started from the current fit (they reach the
    same optimum as a grid fit on these runs, to 4 digits of log N_opt).
    """
    s = sweep(fitted, "1e20:1e21:3", per_budget=5, target_budget=1e21, sweep_budget=3e21, criterion="variance")
    t = s.table
    cost = t["flops"].to_numpy()
    chosen = np.flatnonzero(t["selected"].to_numpy())
    spent = cost[chosen].sum()
    rng = np.random.default_rng(12)
    designs = [chosen]
    while len(designs) < 5:  # random designs: runs in random order while they fit, same FLOPs within 3%
        pick, left = [], spent
        for j in rng.permutation(t.height):
            if cost[j] <= left * (1 + 1e-9):
                pick.append(j)
                left -= cost[j]
        if cost[pick].sum() >= 0.97 * spent:
            designs.append(np.array(pick))
    old = fitted.runs.select("N", "D", "flops")
    q_true = np.log(TRUE.optimal_allocation(1e21)[0])
    err = np.empty((24, len(designs)))
    for k in range(err.shape[0]):
        g = np.random.default_rng(1100 + k)
        runs, cand = _simulate(old, g), _simulate(t, g)
        for i, idx in enumerate(designs):
            f = refit(fitted, pl.concat([runs, cand[idx]]), init=fitted.law)
            err[k, i] = np.log(f.law.optimal_allocation(1e21)[0]) - q_true
    rmse = np.sqrt(np.mean(err**2, axis=0))
    # The chosen runs pin the target optimum down better than random runs of the same cost:
    # here 0.066 against 0.076 (ratio 0.86; over 20 seed sets of this test the ratio ran
    # 0.72-0.98, and over 100 seeds the RMSEs were 0.062 and 0.071).
    assert rmse[0] < np.mean(rmse[1:])
    # The predicted sd after the sweep is on the scale of what refits achieve (here 0.088
    # against 0.066; 0.99-1.81x over the 20 seed sets). This data set's bootstrap sd before
    # (0.145) overstates its true sd (0.098 over 80 simulated data sets) and the prediction
    # inherits that. The MAD noise estimate used before predicted 0.040.
    assert 0.8 * rmse[0] < s.design["sd_log_n_after"] < 2.2 * rmse[0]


def test_noise_estimate_and_huber_efficiency(fitted):
    # the fixture's noise: sd 0.005 drawn, 0.0059 realised on its 24 runs (rng seed 3)
    realised = np.std(np.log(fitted.runs["loss"].to_numpy() / TRUE.loss(N=fitted.runs["N"].to_numpy(),
                                                                          D=fitted.runs["D"].to_numpy())), ddof=1)
    assert _noise_from_fit(fitted) == pytest.approx(realised, rel=0.15)
    # Huber 1973: kappa = E[psi^2] / E[psi']^2, checked here by direct integration
    from scipy import integrate
    from scipy.stats import norm

    for sigma, delta in ((0.005, 1e-3), (0.01, 1e-3), (1e-3, 1e-3)):
        def psi2(r, sigma=sigma, delta=delta):
            return np.clip(r, -delta, delta) ** 2 * norm.pdf(r, scale=sigma)

        e2 = integrate.quad(psi2, -20 * sigma, 20 * sigma, points=[-delta, delta])[0]
        d1 = norm.cdf(delta, scale=sigma) - norm.cdf(-delta, scale=sigma)
        assert huber_noise(sigma, delta) == pytest.approx(np.sqrt(e2) / d1, rel=1e-6)
    assert huber_noise(1.0, 1e-9) == pytest.approx(np.sqrt(np.pi / 2), rel=1e-6)  # L1 limit
    assert huber_noise(1e-9, 1.0) == pytest.approx(1e-9, rel=1e-9)  # least squares limit


def test_design_shrinks_the_interval_under_the_sweep_budget(fitted):
    s = sweep(fitted, "1e20:1e21:3", per_budget=5, target_budget=1e21, sweep_budget=3e21, criterion="variance")
    t, d = s.table, s.design
    assert t.filter(pl.col("selected"))["flops"].sum() <= 3e21 * (1 + 1e-9)
    assert 0 < d["sd_log_n_after"] < d["sd_log_n_before"]
    assert d["N_opt_lower"] <= d["N_opt"] <= d["N_opt_upper"]
    # extrapolation ratios relative to the fitted runs (largest fitted budget 1e20)
    assert t.filter(pl.col("budget") == 1e21)["flops_ratio"].to_list() == pytest.approx([10.0] * 5)
    assert t.filter(pl.col("budget") == 1e21)["extrapolates"].all()
    assert d["variables"] == {}  # dense: no variables, so the target is the plain N_opt


def test_default_budgets_above_the_sweep_budget_are_shifted_below_it(fitted):
    # the README's example: default budgets start at the largest fitted budget (1e20 here), above
    # what the sweep budget can buy; they are moved below it and runs are selected
    s = sweep(fitted, per_budget=5, target_budget=1e21, sweep_budget=1e20, criterion="variance")
    assert max(s.options["budgets"]) == pytest.approx(5e19)
    assert "shifted to 5e+17..5e+19 so runs fit in it" in s.options["budget_note"]
    assert 0 < s.totals["selected_runs"] and s.totals["selected_flops"] <= 1e20 * (1 + 1e-9)
    assert s.design["note"] == "" and s.options["budget_note"] in repr(s)


def test_a_design_that_selects_nothing_says_why(fitted):
    s = sweep(fitted, "1e21:2e21:2", per_budget=3, target_budget=1e21, sweep_budget=5e20)
    assert s.totals["selected_runs"] == 0
    assert s.design["note"] == ("no run selected: the cheapest candidate costs 1e+21 FLOPs, above the sweep budget "
                                "5e+20; give budgets below it or raise it")
    assert s.design["note"] in repr(s)


def test_write_csv_and_parquet(tmp_path):
    s = sweep("chinchilla2022", [1e19], per_budget=3)
    back = pl.read_csv(s.write(tmp_path / "runs.csv"))
    assert back.height == 3 and {"N", "D", "budget", "gpu_hours"} <= set(back.columns)
    assert pl.read_parquet(s.write(tmp_path / "runs.parquet")).height == 3
    with pytest.raises(InputError, match="csv or .parquet"):
        s.write(tmp_path / "runs.txt")
    assert "Sweep: 3 runs" in repr(s)


def test_bad_input():
    with pytest.raises(InputError, match="per_budget"):
        sweep("chinchilla2022", [1e19], per_budget=0)
    with pytest.raises(InputError, match="spread"):
        sweep("chinchilla2022", [1e19], spread=0.5)
    with pytest.raises(InputError, match="draws"):
        sweep("chinchilla2022", [1e19], target_budget=1e21)
    with pytest.raises(InputError, match="experts"):
        sweep("chinchilla2022", [1e19], variables={"experts": [2]})
    # a sweep budget is checked even when it could not be used, and needs a target
    for bad in (-5, 0, float("nan"), "lots"):
        with pytest.raises(InputError, match="sweep_budget"):
            sweep("chinchilla2022", [1e19], sweep_budget=bad)
    with pytest.raises(InputError, match="sweep_budget=1e\\+21 needs target_budget"):
        sweep("chinchilla2022", [1e19], sweep_budget=1e21)
    with pytest.raises(InputError, match="noise"):
        sweep("chinchilla2022", [1e19], noise=0.01)


def test_dcl_criterion_takes_a_prefix_of_the_variance_order_and_prices_it(fitted):
    """criterion="dcl" (the default) orders runs as "variance" does (its saving is κ times the
    variance reduction) and stops when the next run would cost more than it saves at the target."""
    from tsbudget.planning.closed_form import parameter_arrays
    from tsbudget.uncertainty.wasted import deadweight_compute

    for target in (1e23, 1e25):
        d = sweep(fitted, "1e19:1e21:3", per_budget=5, target_budget=target, sweep_budget=3e21)
        v = sweep(fitted, "1e19:1e21:3", per_budget=5, target_budget=target, sweep_budget=3e21,
                  criterion="variance")
        order_d = d.table.filter(pl.col("selected")).sort("order")["run"].to_list()
        order_v = v.table.filter(pl.col("selected")).sort("order")["run"].to_list()
        assert 0 < len(order_d) <= len(order_v) and order_v[: len(order_d)] == order_d
        assert d.design["criterion"] == "dcl" and "expected_dcl_before" not in v.design
        # the expected waste now: the point plan's DCL under each bootstrap draw as the truth, averaged
        params = parameter_arrays(fitted.law, fitted.draws)
        n, dd = (float(x) for x in fitted.law.optimal_allocation(target))
        dcl = deadweight_compute(fitted.law, params, n, dd, target)
        assert d.design["expected_dcl_before"] == pytest.approx(float(np.mean(dcl)), rel=1e-6)
        # after = before × (predicted variance after / variance now)
        ratio = (d.design["sd_log_n_after"] / d.design["sd_log_n_before"]) ** 2
        assert d.design["expected_dcl_after"] == pytest.approx(d.design["expected_dcl_before"] * ratio, rel=1e-9)
    assert len(order_d) > 8  # at 1e25 FLOPs most runs are worth their cost
    assert "expected wasted compute (DCL)" in repr(d)


def test_dcl_criterion_selects_nothing_when_no_run_is_worth_its_cost(fitted):
    # the target is the sweep's own scale: a 1e19 run costs more than the whole expected waste at 1e21
    s = sweep(fitted, "1e19:1e21:3", per_budget=5, target_budget=1e21, sweep_budget=3e21)
    assert s.totals["selected_runs"] == 0
    assert s.design["note"].startswith("no run selected: every candidate costs more compute than the waste at the "
                                       "target it is expected to save")
    assert s.design["expected_dcl_after"] == pytest.approx(s.design["expected_dcl_before"], rel=1e-9)
    with pytest.raises(InputError, match="criterion must be one of dcl, variance"):
        sweep(fitted, [1e19], target_budget=1e21, criterion="entropy")


def test_dcl_criterion_spends_less_for_the_same_total_after_refitting(fitted):
    """Simulated refits at a 1e23 target: the compute a sweep costs plus the compute the refit's
    plan wastes (DCL under the truth) is lower for the DCL criterion's runs than for the variance
    criterion's. Measured here (24 paired simulations): the variance criterion's 12 runs cost
    2.55e21 FLOPs and cut the mean waste from about 1.0e21 to 0.6e21; the DCL criterion stops
    after 7 cheap runs (3.4e20 FLOPs), which barely change it. The linearised prediction
    overstates the cheap runs' benefit (a 33% cut predicted): the stop rule is what saves."""
    from tsbudget.uncertainty.wasted import deadweight_compute

    target = 1e23
    old = fitted.runs.select("N", "D", "flops")
    designs = {c: sweep(fitted, "1e19:1e21:3", per_budget=5, target_budget=target, sweep_budget=3e21,
                        criterion=c).table for c in ("dcl", "variance")}
    total = {}
    for c, t in designs.items():
        chosen = np.flatnonzero(t["selected"].to_numpy())
        waste = []
        for k in range(24):
            g = np.random.default_rng(500 + k)
            runs, cand = _simulate(old, g), _simulate(t, g)
            f = refit(fitted, pl.concat([runs, cand[chosen]]), init=fitted.law)
            n, d = f.law.optimal_allocation(target)
            waste.append(float(deadweight_compute(TRUE, None, n, d, target)))
        total[c] = float(t["flops"].to_numpy()[chosen].sum()) + float(np.mean(waste))
    assert total["dcl"] < total["variance"]
