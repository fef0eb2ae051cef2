"""Progress callbacks of the long-running core functions: each advances to its total, so the
CLI's bar moves (issue 12: the sensitivity bar did not; redundancy showed none)."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
import pytest

from tests.timeseries.corpora import repeated_corpus
from tsbudget.comparisons.sensitivity import choose_variants, sensitivity
from tsbudget.timeseries import measure_redundancy


def _runs():
    n = np.repeat([1e7, 3e7, 1e8, 3e8], 4)
    d = np.tile([1e9, 3e9, 1e10, 3e10], 4)
    return pl.DataFrame({"N": n, "D": d, "loss": 1.8 + 480 / n**0.35 + 2000 / d**0.37})


@pytest.mark.parametrize("executor", [None, "threads"])
def test_sensitivity_advances_once_per_fit(executor):
    variants = ["delta=0.0001", "loss_3dp"]
    total = len(choose_variants(variants))
    assert total == 3  # the baseline is added
    calls = []
    pool = ThreadPoolExecutor(2) if executor else None
    try:
        table = sensitivity(_runs(), variants=variants, target_budget=1e21, progress=calls.append, executor=pool)
    finally:
        if pool is not None:
            pool.shutdown()
    assert calls == [1] * total and table.height == total


@pytest.mark.parametrize("method", ["lsh", "exact"])
def test_redundancy_advances_by_the_windows_grouped(method):
    windows = repeated_corpus(40, 25)
    seen = []
    report = measure_redundancy(windows, method=method, chunk=64, progress=seen.append)
    assert sum(seen) == report.windows == len(windows)
    if method == "lsh":
        assert len(seen) == -(-len(windows) // 64)  # one call per chunk
