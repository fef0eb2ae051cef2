"""Benchmark: the 4,500-start Chinchilla fit, batched vs the one-scipy-call-per-start loop.

Data and setting of the golden test (Besiroglu et al. 2024: Chinchilla Figure 4 runs,
tokens = FLOP/(6N), 5 highest-loss runs dropped, Hoffmann grid, summed Huber δ = 1e-3).
Measured in one run, on this machine:

1. ``fit(...)`` batched (all starts as one array, raced by successive halving, then one
   L-BFGS-B polish), and ``fit(..., race=False)`` (every start run to convergence);
2. the plain loop: scipy L-BFGS-B per start with scipy's default tolerances (as the
   published replications run it), same objective and analytic gradient;
3. ``fit(..., method="reference")``: the loop with the batched path's tolerances, timed
   on every 45th start (100 starts) and scaled to 4,500 (it is ~50x slower per start);
4. warm-started refits (the bootstrap's inner step) on resamples of the runs;
5. the PyPI ``chinchilla`` package (Takano) on the same data and grid, if importable.

Run: ``python benchmarks/bench_fit.py`` (add ``--skip-peers`` to leave out 5).
"""

from __future__ import annotations

import functools
import math
import sys
import tempfile
import time

import numpy as np
from scipy.optimize import minimize

from tsbudget.datasets.chinchilla import load_chinchilla_runs
from tsbudget.fitting.fit import fit, refit
from tsbudget.optim.multistart import start_grid as _starts
from tsbudget.optim.polish import POLISH_OPTIONS as _POLISH
from tsbudget.fitting.objective import Objective


def timed(fn, repeat=1):
    best, out = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(skip_peers=False):
    runs = load_chinchilla_runs()
    t_batch, res = timed(lambda: fit(runs, "chinchilla", drop_highest_loss=5), repeat=3)
    print(f"batched fit: {t_batch:.3f} s, objective {res.objective!r}, {res.n_at_best}/{res.n_starts} at best")
    print(f"  parameters {res.parameters}")
    print(f"  diagnostics {res.diagnostics}")
    t_full, full = timed(lambda: fit(runs, "chinchilla", drop_highest_loss=5, race=False))
    print(f"batched fit, race=False: {t_full:.3f} s, objective {full.objective!r}, {full.n_at_best}/{full.n_starts} "
          f"at best, {full.diagnostics['n_evaluations']} evaluations (raced: {res.diagnostics['n_evaluations']})")

    law = res.law
    df = res.runs
    ob = Objective(law, law.parameters, {}, {k: df[k].to_numpy() for k in ("N", "D")},
                   np.log(df["loss"].to_numpy()), np.ones(df.height))
    starts = _starts(law.parameters, None)

    def plain_loop():
        out = []
        for x0 in starts:
            r = minimize(ob.value_and_grad, x0, jac=True, method="L-BFGS-B")
            out.append(r.fun)
        return np.array(out)

    t_loop, funs = timed(plain_loop)
    best_loop = float(np.nanmin(funs))
    n_loop = int(np.sum(funs <= best_loop * (1 + 1e-6)))
    print(f"plain scipy loop (default tolerances): {t_loop:.2f} s, best {best_loop!r}, {n_loop} starts at best; "
          f"ratio {t_loop / t_batch:.1f}x (race=False: {t_loop / t_full:.1f}x); "
          f"best objectives agree to {abs(best_loop / res.objective - 1):.1e}")

    idx = np.arange(0, len(starts), 45)
    t0 = time.perf_counter()
    bounds = [(None, None)] * 5
    for x0 in starts[idx]:
        minimize(ob.value_and_grad, x0, jac=True, method="L-BFGS-B", bounds=bounds, options=_POLISH)
    per_start = (time.perf_counter() - t0) / len(idx)
    t_ref = per_start * len(starts)
    print(f"reference path (batched tolerances): {per_start * 1e3:.1f} ms/start on {len(idx)} starts -> "
          f"{t_ref:.1f} s for 4500; ratio {t_ref / t_batch:.0f}x")

    rng = np.random.default_rng(0)
    samples = [df[rng.integers(0, df.height, df.height)] for _ in range(100)]
    t_refit, _ = timed(lambda: [refit(res, s, init=res.law) for s in samples])
    print(f"warm-started refit: {t_refit / len(samples) * 1e3:.1f} ms each -> 1000 draws ~{t_refit * 10:.1f} s on one core")

    if skip_peers:
        return
    try:
        import pandas as pd
        from chinchilla import Chinchilla as PeerChinchilla
        from chinchilla._metrics import log_huber
    except Exception as exc:  # noqa: BLE001 (report any import failure)
        print(f"chinchilla package not importable: {exc}")
        return
    grid = {
        "e": np.array([-1.0, -0.5, 0.0, 0.5, 1.0]),
        "a": np.arange(0.0, 25.1, 5.0),
        "b": np.arange(0.0, 25.1, 5.0),
        "alpha": np.arange(0.0, 2.01, 0.5),
        "beta": np.arange(0.0, 2.01, 0.5),
    }
    with tempfile.TemporaryDirectory() as tmp:
        cc = PeerChinchilla(project_dir=tmp + "/cc", param_grid=grid,
                            loss_fn=functools.partial(log_huber, delta=1e-3), log_level=40)
        cc.database.df = pd.DataFrame({"C": df["flops"].to_numpy(), "N": df["N"].to_numpy(),
                                       "D": df["D"].to_numpy(), "loss": df["loss"].to_numpy()})
        t_peer, _ = timed(lambda: cc.fit(parallel=True))
        peer = {"E": float(cc.E), "A": float(cc.A), "B": float(cc.B), "alpha": float(cc.alpha), "beta": float(cc.beta)}
    f_peer = ob(ob.to_theta(peer))
    print(f"chinchilla package (BFGS, float128, mean log-Huber, {__import__('os').cpu_count()} processes): "
          f"{t_peer:.2f} s; ratio {t_peer / t_batch:.1f}x; parameters {peer}; our objective at its optimum {f_peer!r} "
          f"({f_peer / res.objective - 1:+.2e} relative)")


if __name__ == "__main__":
    main(skip_peers="--skip-peers" in sys.argv)
