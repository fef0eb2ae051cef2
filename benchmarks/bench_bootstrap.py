"""Benchmark: 1,000-draw bootstrap of the golden Chinchilla fit.

Fit: the Besiroglu et al. 2024 replication (Chinchilla Fig. 4 runs, 5 highest-loss runs
dropped, Hoffmann grid, summed Huber δ 1e-3). Then time, in the same run:

* ``bootstrap(result, 1000)`` in-process (batched BFGS over the draws of each chunk);
* the same through a 2-process ``ProcessPoolExecutor`` (checked identical to in-process);
* the reference: one ``tsbudget.fitting.fit.refit`` (scipy L-BFGS-B polish) per draw, timed on
  ``--reference-draws`` draws and extrapolated to 1,000.

and report the median over draws of the optimal tokens per parameter at 5.88e23 FLOPs
(Chinchilla's budget) next to the point estimate.

Run: ``python benchmarks/bench_bootstrap.py [--draws 1000] [--reference-draws 50]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import xarray as xr

from tsbudget.uncertainty.bootstrap import bootstrap
from tsbudget.uncertainty.intervals import intervals
from tsbudget.datasets.chinchilla import load_chinchilla_runs
from tsbudget.fitting.fit import fit

CHINCHILLA_C = 5.88e23  # Hoffmann et al. 2022 Table 3: Chinchilla's training compute


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--reference-draws", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    t = time.perf_counter()
    result = fit(load_chinchilla_runs(), "chinchilla", drop_highest_loss=5)
    print(f"golden fit: {time.perf_counter() - t:.2f} s, objective {result.objective:.7g}, {result.parameters}")
    print(f"cores available: {os.cpu_count()}")

    t = time.perf_counter()
    serial = bootstrap(result, args.draws, seed=args.seed, budgets=[CHINCHILLA_C])
    t_serial = time.perf_counter() - t
    # spawn, not fork: forking a process that runs polars' thread pool can deadlock
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        ex.submit(int, 0).result()  # start the workers outside the timing
        t = time.perf_counter()
        pooled = bootstrap(result, args.draws, seed=args.seed, budgets=[CHINCHILLA_C], executor=ex)
        t_pool = time.perf_counter() - t
    xr.testing.assert_identical(serial.draws, pooled.draws)

    t = time.perf_counter()
    ref = bootstrap(result, args.reference_draws, seed=args.seed, budgets=[CHINCHILLA_C], method="refit")
    t_ref = (time.perf_counter() - t) * args.draws / args.reference_draws
    fast = serial.draws.isel(draw=slice(0, args.reference_draws))
    obj_rel = float(np.max(np.abs(fast["objective"].values / ref.draws["objective"].values - 1)))
    tpp_rel = float(np.max(np.abs(fast["tokens_per_param"].values / ref.draws["tokens_per_param"].values - 1)))

    ds = serial.draws
    print(f"\n{args.draws} draws: failed {ds.attrs['n_failed']}, not converged {ds.attrs['n_unconverged']}")
    print(f"in-process (batched):      {t_serial:7.2f} s")
    print(f"ProcessPool(2) (batched):  {t_pool:7.2f} s   identical to in-process: yes")
    print(f"reference, refit per draw: {t_ref:7.2f} s   (extrapolated from {args.reference_draws} draws)")
    print(f"speed-up vs reference: {t_ref / t_serial:.0f}x in-process, {t_ref / t_pool:.0f}x with 2 processes")
    print(f"batched vs refit on the first {args.reference_draws} draws: objective {obj_rel:.1e}, "
          f"tokens/param {tpp_rel:.1e} max relative difference")

    table = intervals(serial)
    row = table.filter((table["name"] == "tokens_per_param")).row(0, named=True)
    print(f"\ntokens per parameter at {CHINCHILLA_C:.3g} FLOPs: point estimate {row['estimate']:.2f}, "
          f"median over draws {row['median']:.2f}, 95% interval [{row['lower']:.2f}, {row['upper']:.2f}]")
    print(table.filter(table["budget"].is_null()))


if __name__ == "__main__":
    main()
