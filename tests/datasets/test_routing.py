import polars as pl
import pytest

from tsbudget.datasets.routing import load_routing_runs, routing_systems
from tsbudget.errors import InputError


def test_every_run_once_with_final_losses():
    df = load_routing_runs()
    # /work/shared/data/README.md: 223 runs; Dense 13, Hash 69, RL-R 54, S-Base 87
    assert df.height == 223 and df["run"].n_unique() == 223
    counts = dict(df.group_by("router").len().iter_rows())
    assert counts == {"Dense": 13, "Hash": 69, "RL-R": 54, "S-Base": 87}
    assert df.select(pl.col("^loss.*$").null_count()).sum_horizontal().item() == 0


def test_split_final_evaluation_takes_last_nonempty_value():
    # curves.csv.gz, hyper_id 82: pile loss only on the 248,000 row (2.02005), validation only on 249,000
    row = load_routing_runs().filter(pl.col("run") == 82).row(0, named=True)
    assert row["loss_pile"] == pytest.approx(2.02005, abs=1e-5)
    assert row["loss"] == pytest.approx(2.295804, abs=1e-6)
    assert row["step"] == 249000


def test_compute_axis_and_experts():
    df = load_routing_runs()
    # hyper_id 5: dense 1.3B, flops_per_step 1.7591e15 at step 249,000 -> 3 x forward
    row = df.filter(pl.col("run") == 5).row(0, named=True)
    assert row["flops"] == pytest.approx(3 * 1.7591e15 * 249000, rel=1e-4)
    k2 = df.filter((pl.col("router") == "S-Base") & (pl.col("top_k") == 2) & (pl.col("num_experts") == 64))
    assert (k2["experts"] == 32.0).all()


def test_main_sweep_selection():
    df = routing_systems(64)
    sizes = dict(df.group_by("system").len().iter_rows())
    assert sizes == {"Dense": 8, "Hash-64": 6, "RL-R-64": 6, "S-Base-64": 6}
    with pytest.raises(InputError, match="experts"):
        routing_systems(3)
