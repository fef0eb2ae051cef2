"""prepare_runs: canonical columns, D from FLOPs and FLOPs from D."""

import numpy as np
import polars as pl

from tsbudget.datasets.chinchilla import load_chinchilla_runs
from tsbudget.fitting.runs import prepare_runs


def test_tokens_from_flops_and_column_mapping():
    raw = pl.read_csv("tsbudget/data/chinchilla_fig4_besiroglu2024.csv")
    prepared = prepare_runs(raw, "chinchilla", columns={"N": "Model Size", "flops": "Training FLOP"})
    assert prepared.columns[:5] == ["run", "N", "D", "loss", "flops"]
    # D = C / (6 N) (dense tokens; Hoffmann et al. 2022 section 3)
    np.testing.assert_allclose(prepared["D"], raw["Training FLOP"] / (6 * raw["Model Size"]), rtol=1e-12)
    both = prepare_runs(load_chinchilla_runs().drop("flops"), "chinchilla")
    np.testing.assert_allclose(both["flops"], 6 * both["N"] * both["D"], rtol=1e-12)


def test_distinct_points_counts_repeated_design_points_once():
    from tsbudget.fitting.runs import distinct_points
    from tsbudget.laws.chinchilla import Chinchilla

    law = Chinchilla()
    df = pl.DataFrame({"N": [1e8, 1e8, 2e8, 2e8, 2e8], "D": [1e9, 1e9, 1e9, 3e9, 1e9], "loss": [3.0] * 5})
    assert distinct_points(df, law) == 3  # (1e8, 1e9), (2e8, 1e9), (2e8, 3e9)
    assert distinct_points(df.with_columns(pl.col("N").cast(pl.Int64)), law) == 3  # not floats: by polars
    assert distinct_points(df.with_columns(pl.lit(float("nan")).alias("N")), law) == 2  # NaN rows: by polars
    runs = prepare_runs(load_chinchilla_runs(), "chinchilla")
    assert distinct_points(runs, law) == runs.select(["N", "D"]).unique().height
