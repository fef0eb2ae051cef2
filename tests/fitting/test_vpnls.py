"""Variable projection (fit(..., method="vpnls")): recovery, fixed parameters, refusals, diagnostics."""

import numpy as np
import polars as pl
import pytest

from tsbudget.errors import InputError
from tsbudget.fitting.fit import fit, refit
from tsbudget.fitting.result import FitResult
from tsbudget.fitting.vpnls import vpnls_solve

TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def _isoflop_runs(truth=TRUTH, noise=0.0, seed=0):
    """Noiseless (or log-normal noisy) IsoFLOP runs of E + A/N^α + B/D^β at five budgets."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in (1e18, 1e19, 1e20, 1e21, 1e22):
        for n in np.logspace(np.log10(c / 6) / 2 - 1, np.log10(c / 6) / 2 + 1, 9):
            d = c / (6 * n)
            loss = truth["E"] + truth["A"] * n ** -truth["alpha"] + truth["B"] * d ** -truth["beta"]
            rows.append({"N": n, "D": d, "loss": loss * float(np.exp(noise * rng.standard_normal())), "budget": c})
    return pl.DataFrame(rows)


def test_noiseless_runs_are_recovered():
    r = fit(_isoflop_runs(), "chinchilla", method="vpnls")
    assert r.success and r.diagnostics["method"] == "vpnls"
    for k, v in TRUTH.items():
        assert r.parameters[k] == pytest.approx(v, rel=1e-5), k
    assert r.objective < 1e-15  # the sum of squared loss residuals
    assert r.n_starts == 32 * 32 and r.free == ("E", "A", "B", "alpha", "beta")


def test_projection_is_better_conditioned_than_the_full_problem():
    # Open-Athena's experiment 8: the projected 2-parameter Hessian is far better conditioned
    d = fit(_isoflop_runs(noise=0.01), "chinchilla", method="vpnls").diagnostics
    assert 1 <= d["condition_number"] < 1e3
    assert d["condition_number_full"] > 1e6 * d["condition_number"]


def test_fixed_parameters_are_held():
    runs = _isoflop_runs(noise=0.005)
    r = fit(runs, "chinchilla", method="vpnls", fixed={"E": 1.6})
    assert r.parameters["E"] == 1.6 and r.fixed == {"E": 1.6} and "E" not in r.free
    one = fit(runs, "chinchilla", method="vpnls", fixed={"alpha": 0.34, "beta": 0.28})
    assert one.parameters["alpha"] == 0.34 and one.n_starts == 1  # no exponent to search: one NNLS solve
    free = fit(runs, "chinchilla", method="vpnls")
    assert free.objective <= r.objective and free.objective <= one.objective


def test_one_exponent_fixed_searches_the_other():
    r = fit(_isoflop_runs(), "chinchilla", method="vpnls", fixed={"beta": 0.28})
    assert r.n_starts == 32 and r.parameters["alpha"] == pytest.approx(0.34, rel=1e-5)


def test_weights_enter_as_weighted_least_squares():
    runs = _isoflop_runs(noise=0.01)
    w = np.where(runs["budget"].to_numpy() > 1e20, 2.0, 1.0)
    a = fit(runs, "chinchilla", method="vpnls", weights=w)
    sol = vpnls_solve(runs["N"].to_numpy(), runs["D"].to_numpy(), runs["loss"].to_numpy(), w)
    assert a.objective == pytest.approx(sol.rss, rel=1e-12)
    pred = a.predict(runs)
    assert a.objective == pytest.approx(float(np.sum(w * (pred - runs["loss"].to_numpy()) ** 2)), rel=1e-9)


def test_refusals():
    runs = _isoflop_runs()
    with pytest.raises(InputError, match="vpnls"):
        fit(runs, "kaplan", method="vpnls")
    with pytest.raises(InputError, match="overprediction_penalty"):
        fit(runs, "chinchilla", method="vpnls", overprediction_penalty=10.0)
    with pytest.raises(InputError, match="method must be one of"):
        fit(runs, "chinchilla", method="newton")


def test_edge_of_the_exponent_span_is_not_success():
    # a true alpha outside 0.05..0.95 leaves the optimum on the span's edge
    r = fit(_isoflop_runs({**TRUTH, "alpha": 1.2}), "chinchilla", method="vpnls")
    assert not r.success and "edge" in r.message and "alpha" in r.message


def test_refit_repeats_the_method_and_the_result_round_trips(tmp_path):
    runs = _isoflop_runs(noise=0.01)
    r = fit(runs, "chinchilla", method="vpnls")
    again = refit(r, r.runs[np.arange(0, r.n_runs, 2)], init=r.law)  # init is ignored: no starts to warm
    assert again.diagnostics["method"] == "vpnls" and again.n_runs == (r.n_runs + 1) // 2
    path = r.save(tmp_path / "v.json")
    back = FitResult.load(path)
    assert back.diagnostics["condition_number"] == r.diagnostics["condition_number"]
    assert back.card["method"] == "vpnls" and "linear space" in back.card["loss"]


def test_huber_is_the_multistart_by_another_name():
    runs = _isoflop_runs(noise=0.01)
    grid = {"E": [0.5], "A": [6.0], "B": [6.0], "alpha": [0.3], "beta": [0.3]}
    a, b = fit(runs, "chinchilla", method="huber", grid=grid), fit(runs, "chinchilla", grid=grid)
    assert a.options["method"] == "batched" and a.objective == b.objective


def test_bootstrap_of_a_vpnls_fit_refits_with_vpnls():
    """bootstrap()'s default batched solve minimises the Huber objective; a vpnls fit's draws must
    come from vpnls refits, so they centre on the vpnls estimate (β 0.428 on the Besiroglu runs),
    not on the Huber one (β 0.367)."""
    import tsbudget as tb
    from tsbudget.datasets.chinchilla import load_chinchilla_runs

    result = tb.fit(load_chinchilla_runs(), "chinchilla", drop_highest_loss=5, method="vpnls")
    draws = tb.bootstrap(result, n_draws=12, seed=0).draws
    beta = result.parameters["beta"]
    assert abs(float(np.median(draws["beta"])) - beta) < 0.02
    assert abs(float(np.median(draws["beta"])) - 0.367) > 0.04
