"""Published run data shipped with tsbudget (see ``tsbudget/data/SOURCES.md``)."""

from __future__ import annotations

from importlib import resources

import polars as pl

__all__ = ["load_chinchilla_runs"]

CHINCHILLA_FILE = "chinchilla_fig4_besiroglu2024.csv"


def load_chinchilla_runs() -> pl.DataFrame:
    """The Chinchilla Figure 4 training runs (Hoffmann et al. 2022) as digitised by
    Besiroglu et al. 2024 ("Chinchilla Scaling: A replication attempt", data file
    ``svg_extracted_data.csv``).

    Returns one row per run with ``N`` (model parameters, "Model Size"), ``D`` (training
    tokens), ``flops`` ("Training FLOP") and ``loss``. The figure gives no token count;
    following Besiroglu et al. it is recovered from ``C = 6·N·D`` (Hoffmann et al. 2022
    §3), i.e. ``D = Training FLOP / (6 · Model Size)``.
    """
    path = resources.files("tsbudget").joinpath("data", CHINCHILLA_FILE)
    with resources.as_file(path) as p:
        raw = pl.read_csv(p)
    return raw.select(
        pl.col("Model Size").cast(pl.Float64).alias("N"),
        (pl.col("Training FLOP") / (6.0 * pl.col("Model Size"))).alias("D"),
        pl.col("Training FLOP").cast(pl.Float64).alias("flops"),
        pl.col("loss").cast(pl.Float64),
    )
