"""Sensitivity report: variants of the fitting choices and how the optimum moves."""

import numpy as np
import polars as pl
import pytest

from tsbudget.errors import InputError, SchemaError
from tsbudget.comparisons.sensitivity import (
    Variant,
    default_variants,
    residual_outliers,
    sensitivity,
)

TRUE = {"E": 1.8, "A": 480.0, "B": 2100.0, "alpha": 0.35, "beta": 0.37}
TARGET = 5.88e23


@pytest.fixture(scope="module")
def runs():
    """Noiseless Chinchilla-law runs on 4 IsoFLOP budgets x 6 sizes, with an embedding count."""
    rows = []
    for c in (1e18, 1e19, 1e20, 1e21):
        for n in np.geomspace(3e7, 3e9, 6) * (c / 1e19) ** 0.5:
            d = c / (6 * n)
            loss = TRUE["E"] + TRUE["A"] / n ** TRUE["alpha"] + TRUE["B"] / d ** TRUE["beta"]
            rows.append({"params": n, "tokens": d, "flops": c, "loss": loss, "params_noemb": 0.8 * n})
    return pl.DataFrame(rows)


COLS = {"N": "params", "D": "tokens", "flops": "flops", "loss": "loss"}
GRID = {"E": [0.0, 1.0], "A": [5.0, 7.0], "B": [7.0, 9.0], "alpha": [0.3, 0.5], "beta": [0.3, 0.5]}


@pytest.fixture(scope="module")
def table(runs):
    # a small grid keeps the baseline fast; the grid search itself is tested in test_fit.py
    return sensitivity(runs, "chinchilla", target_budget=TARGET, columns=COLS, embedding_col="params_noemb",
                       grid=GRID)


def test_default_variants_cover_the_literature_choices(table):
    names = table["variant"].to_list()
    assert names[0] == "baseline"
    assert {"delta=0.0001", "delta=0.01", "reduction=mean", "loss_2dp", "loss_3dp", "drop_smallest_budget",
            "drop_largest_budget", "drop_highest_loss=5", "drop_residual_outliers", "N=params_noemb"} <= set(names)
    assert "delta=0.001" not in names  # that is the baseline
    assert table.height == len(default_variants({}, "params_noemb"))
    assert table["success"].all()


def test_baseline_recovers_truth_and_closed_form(table):
    base = table.row(0, named=True)
    for k, v in TRUE.items():
        assert base[k] == pytest.approx(v, rel=1e-4)
    # Hoffmann et al. 2022 App. D.2 eq. 4, by hand
    a, b = TRUE["alpha"], TRUE["beta"]
    g = (a * TRUE["A"] / (b * TRUE["B"])) ** (1 / (a + b))
    n_opt = g * (TARGET / 6) ** (b / (a + b))
    assert base["N_opt"] == pytest.approx(n_opt, rel=1e-3)
    assert base["tokens_per_param"] == pytest.approx(TARGET / 6 / n_opt**2, rel=2e-3)
    assert base["a"] == pytest.approx(b / (a + b), rel=1e-4)
    assert all(base[c] == 0.0 for c in table.columns if c.endswith("_change"))


def by_variant(table, name):
    return table.filter(pl.col("variant") == name).row(0, named=True)


def test_noiseless_data_does_not_care_about_delta_or_reduction(table):
    for name in ("delta=0.0001", "delta=0.01", "reduction=mean", "drop_smallest_budget", "drop_highest_loss=5"):
        row = by_variant(table, name)
        assert abs(row["N_opt_change"]) < 1e-3, name
        assert abs(row["alpha_change"]) < 1e-4, name


def test_rounding_and_dropping_change_the_inputs(table, runs):
    assert by_variant(table, "drop_smallest_budget")["n_runs"] == runs.height - 6
    assert by_variant(table, "drop_largest_budget")["n_runs"] == runs.height - 6
    assert by_variant(table, "drop_highest_loss=5")["n_runs"] == runs.height - 5
    # 2-decimal losses move the fit (the errors are up to 0.005 on losses of ~2-4)
    assert by_variant(table, "loss_2dp")["objective"] > 10 * by_variant(table, "baseline")["objective"]


def test_embedding_variant_rescales_n_opt(table):
    # with N' = 0.8·N and D unchanged: A' = A·0.8^α, same exponents. The optimum is then
    # taken under C = 6·N'·D, so G' = G·0.8^(α/(α+β)) and N_opt' / N_opt = 0.8^(α/(α+β))
    # (Hoffmann et al. 2022 App. D.2 eq. 4): -10.3%, not -20%
    row = by_variant(table, "N=params_noemb")
    a, b = TRUE["alpha"], TRUE["beta"]
    assert row["alpha"] == pytest.approx(a, rel=1e-4)
    assert row["N_opt_change"] == pytest.approx(0.8 ** (a / (a + b)) - 1, rel=1e-3)
    assert row["A"] == pytest.approx(TRUE["A"] * 0.8 ** TRUE["alpha"], rel=1e-3)


def test_selected_variants_and_errors(runs):
    t = sensitivity(runs, variants=["loss_3dp", Variant("tight", "delta 1e-5", {"delta": 1e-5})],
                    target_budget="1e22", columns=COLS, grid=GRID)
    assert t["variant"].to_list() == ["baseline", "loss_3dp", "tight"]
    assert t["target_budget"].unique().to_list() == [1e22]
    with pytest.raises(InputError, match="unknown sensitivity variant 'nope'"):
        sensitivity(runs, variants=["nope"], columns=COLS)
    with pytest.raises(InputError, match="target_budget"):
        sensitivity(runs, target_budget="lots", columns=COLS)
    with pytest.raises(SchemaError, match="missing_col"):
        sensitivity(runs, variants=[Variant("x", "x", n_col="missing_col")], columns=COLS)


def test_executor_gives_same_table(runs):
    from concurrent.futures import ThreadPoolExecutor

    serial = sensitivity(runs, variants=["loss_2dp", "delta=0.01"], columns=COLS, grid=GRID)
    with ThreadPoolExecutor(2) as ex:
        spread = sensitivity(runs, variants=["loss_2dp", "delta=0.01"], columns=COLS, executor=ex, grid=GRID)
    assert serial.equals(spread)


@pytest.fixture(scope="module")
def noisy(runs):
    """The noiseless runs with 0.3% log-normal noise and three planted outliers (+10% loss)
    on low-loss runs, where dropping the highest-loss runs cannot find them."""
    rng = np.random.default_rng(7)
    loss = runs["loss"].to_numpy() * np.exp(rng.normal(0.0, 0.003, runs.height))
    planted = np.argsort(loss)[[0, 3, 6]]
    loss[planted] *= 1.10
    return runs.with_columns(pl.Series("loss", loss)), np.sort(planted)


def test_residual_outliers_flag_the_planted_runs(noisy):
    from tsbudget.fitting.fit import fit

    df, planted = noisy
    base = fit(df, "chinchilla", columns=COLS, grid=GRID)
    flagged = residual_outliers(base, df)
    assert np.flatnonzero(flagged).tolist() == planted.tolist()
    # the fitted runs by default; a stricter threshold flags fewer
    assert np.array_equal(residual_outliers(base), flagged)
    assert residual_outliers(base, df, threshold=50.0).sum() == 0
    with pytest.raises(InputError, match="threshold"):
        residual_outliers(base, df, threshold=0)
    # Hampel identifier by hand: |r - median| > 3 * 1.4826 * MAD
    r = np.log(base.predict(df)) - np.log(df["loss"].to_numpy())
    dev = np.abs(r - np.median(r))
    assert np.array_equal(flagged, dev > 3 * 1.4826 * np.median(dev))


def test_residual_outlier_variant_drops_what_highest_loss_misses(noisy):
    df, _ = noisy
    t = sensitivity(df, variants=["drop_residual_outliers", "drop_highest_loss=5"], columns=COLS, grid=GRID)
    out = by_variant(t, "drop_residual_outliers")
    assert out["n_runs"] == df.height - 3
    assert "Hampel" in out["description"]
    # the planted runs carried most of the Huber objective (linear zone, |r| ~ 0.1 >> delta)
    assert out["objective"] < 0.2 * by_variant(t, "baseline")["objective"]
    assert by_variant(t, "drop_highest_loss=5")["n_runs"] == df.height - 5


def test_residual_outlier_variant_on_chinchilla():
    # Besiroglu et al. 2024 baseline (5 highest-loss runs dropped). From its residuals the
    # Hampel rule flags 14 of the 245 runs, among them all 5 highest-loss ones; the
    # variant refits the other 231 (drop_highest_loss=0: the rule replaces it).
    from tsbudget.datasets.chinchilla import load_chinchilla_runs
    from tsbudget.fitting.fit import fit

    df = load_chinchilla_runs()
    paper = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
    base = fit(df, "chinchilla", drop_highest_loss=5, init=paper)
    flagged = residual_outliers(base, df)
    assert flagged.sum() == 14
    assert flagged[np.argsort(-df["loss"].to_numpy())[:5]].all()
    t = sensitivity(df, variants=["drop_residual_outliers"], drop_highest_loss=5, baseline_init=paper)
    row = by_variant(t, "drop_residual_outliers")
    assert row["success"] and row["n_runs"] == 231
    assert "instead of the 5 highest-loss runs" in row["description"]


def test_mean_reduction_is_the_same_optimum_by_construction(noisy):
    # The polish minimises objective / objective(start), and mean = sum / n: from the same
    # start the two are one function to the optimizer (see default_variants)
    df, _ = noisy
    t = sensitivity(df, variants=["reduction=mean"], columns=COLS, grid=GRID)
    row = by_variant(t, "reduction=mean")
    assert "same optimum" in row["description"]
    for name in ("E", "A", "B", "alpha", "beta", "N_opt"):
        assert abs(row[f"{name}_change"]) < 1e-12, name


def test_embedding_variant_needs_both_counts(runs):
    with pytest.raises(SchemaError, match="both counts.*'missing_col'"):
        sensitivity(runs, columns=COLS, embedding_col="missing_col", grid=GRID)
    with pytest.raises(SchemaError, match="both counts.*'params'"):
        sensitivity(runs.drop("params"), columns={"D": "tokens", "loss": "loss"} | {"N": "params"},
                    embedding_col="params_noemb", grid=GRID)
    with pytest.raises(InputError, match="the N column itself"):
        sensitivity(runs, columns=COLS, embedding_col="params", grid=GRID)
    with pytest.raises(InputError, match="needs embedding_col='params_noemb'"):
        sensitivity(runs, variants=["N=params_noemb"], columns=COLS, grid=GRID)
    assert "N=params_noemb" not in {v.name for v in default_variants({})}
