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
