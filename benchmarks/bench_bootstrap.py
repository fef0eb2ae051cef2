"""Benchmark: the 1,000-draw bootstrap of the golden Chinchilla fit against a fair warm-start loop.

Fit: the Besiroglu et al. 2024 replication (Chinchilla Fig. 4 runs, 5 highest-loss runs dropped,
Hoffmann grid, summed Huber δ = 1e-3). Then, in the same run and under
``threadpoolctl.threadpool_limits(1)`` (one BLAS thread for both):

* ``bootstrap(result, 1000)`` in-process (batched damped Newton over the draws of each chunk, with
  the objective's analytic Hessian, warm start; best of 3);
* the reference (``fair_reference.py``): per draw, the runs resampled with replacement (the same
  indices: draw i from ``SeedSequence(seed).spawn(n)[i]``), one scipy L-BFGS-B call on the fused
  numpy objective warm-started at the point estimate, tight tolerances (ftol 1e-15, gtol 1e-10;
  scipy's ftol is absolute for objectives below 1, and this one is ~1e-3);
* two floors: the reference's mean evaluations per draw × draws × runs × the cost per element of a
  vectorised value-and-gradient (what a bootstrap batched across draws pays at least with the
  loop's algorithm), and tsbudget's own evaluations × draws × runs × the cost per element of a
  plain-numpy vectorised value-gradient-Hessian (``fair_reference.batched_value_grad_hess``,
  with per-draw run weights: what a batched Newton pays at least).

Both give tokens per parameter at 5.88e23 FLOPs (Chinchilla's budget, closed form of Hoffmann
et al. 2022 App. D.2 eq. 4) per draw: the median and 95% percentile interval are printed side by
side with their Monte Carlo error (order-statistic band of the reference's draws).

Run: ``python benchmarks/bench_bootstrap.py [--draws 1000] [--seed 0]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

from fair_reference import batched_value_grad_hess, element_cost, lbfgsb
from tsbudget.datasets.chinchilla import load_chinchilla_runs
from tsbudget.fitting.fit import fit
from tsbudget.uncertainty.bootstrap import bootstrap
from tsbudget.uncertainty.intervals import intervals

CHINCHILLA_C = 5.88e23  # Hoffmann et al. 2022 Table 3: Chinchilla's training compute
TIGHT = {"ftol": 1e-15, "gtol": 1e-10, "maxiter": 15000}


def tokens_per_param(x, C=CHINCHILLA_C):
    """D/N at the closed-form optimum (Hoffmann et al. 2022 App. D.2 eq. 4, C = 6ND) for rows
    x = (log E, log A, log B, α, β): N = G·(C/6)^(β/(α+β)), G = (αA/(βB))^(1/(α+β))."""
    A, B, al, be = np.exp(x[:, 1]), np.exp(x[:, 2]), x[:, 3], x[:, 4]
    N = (al * A / (be * B)) ** (1 / (al + be)) * (C / 6) ** (be / (al + be))
    return C / 6 / N**2


def reference_bootstrap(x0, lN, lD, lL, n_draws, seed):
    """The fair loop: resample, warm-start L-BFGS-B at the point estimate, keep the optimum."""
    n = lN.size
    xs, fs, nfev = [], [], []
    for child in np.random.SeedSequence(seed).spawn(n_draws):
        i = np.random.default_rng(child).integers(0, n, size=n)
        r = lbfgsb(x0, lN[i], lD[i], lL[i], **TIGHT)
        xs.append(r.x), fs.append(r.fun), nfev.append(r.nfev)
    return np.array(xs), np.array(fs), np.array(nfev)


def interval(v, level=0.95):
    a = (1 - level) / 2
    return np.quantile(v, [0.5, a, 1 - a])


def mc_band(v, p, z=1.96):
    """Monte Carlo band of the p-quantile of n draws: the order statistics at ranks n·p ± z·√(n·p(1−p))."""
    v, n = np.sort(v), v.size
    h = z * np.sqrt(n * p * (1 - p))
    return v[max(0, int(np.floor(n * p - h)))], v[min(n - 1, int(np.ceil(n * p + h)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores shared)")

    with threadpool_limits(1):
        result = fit(load_chinchilla_runs(), "chinchilla", drop_highest_loss=5)
        lN, lD, lL = (np.log(result.runs[k].to_numpy()) for k in ("N", "D", "loss"))
        x0 = np.array([np.log(result.parameters[k]) for k in ("E", "A", "B")]
                      + [result.parameters["alpha"], result.parameters["beta"]])
        bootstrap(result, 20, seed=args.seed, budgets=[CHINCHILLA_C])  # imports
        t_boot = np.inf
        for _ in range(3):
            t = time.perf_counter()
            boot = bootstrap(result, args.draws, seed=args.seed, budgets=[CHINCHILLA_C])
            t_boot = min(t_boot, time.perf_counter() - t)
        t = time.perf_counter()
        xs, fs, nfev = reference_bootstrap(x0, lN, lD, lL, args.draws, args.seed)
        t_ref = time.perf_counter() - t
        # element costs at points like the draws' (the point estimate moved by 1% noise), with
        # run weights like theirs (resampling multiplicities)
        near = x0 + 0.01 * np.random.default_rng(1).standard_normal((1024, x0.size))
        per_element = element_cost(near, lN, lD, lL, block=32)
        weights = np.random.default_rng(2).multinomial(lN.size, np.full(lN.size, 1 / lN.size), size=32).astype(float)
        per_hess = element_cost(near, lN, lD, lL, block=32,
                                kernel=lambda X, a, b, c: batched_value_grad_hess(X, a, b, c, weights[: len(X)]))
    floor = args.draws * float(np.mean(nfev)) * lN.size * per_element
    newton_evals = boot.draws.attrs.get("n_evaluations")

    ds = boot.draws
    ok = ~np.isnan(ds["objective"].values)
    obj_rel = ds["objective"].values[ok] / fs[ok] - 1  # > 0: tsbudget stopped above the loop
    tpp_ref = tokens_per_param(xs)
    tpp_ts = ds["tokens_per_param"].values.reshape(args.draws, -1)[:, 0]
    print(f"{args.draws} draws: tsbudget failed {ds.attrs['n_failed']}, not converged {ds.attrs['n_unconverged']}")
    print(f"tsbudget bootstrap (batched Newton, in-process): {t_boot:.3f} s (best of 3)"
          + (f", {newton_evals / args.draws:.1f} evaluations per draw" if newton_evals else ""))
    print(f"fair warm-start L-BFGS-B loop (fused numpy objective, ftol 1e-15, gtol 1e-10): {t_ref:.2f} s, "
          f"{np.mean(nfev):.1f} evaluations per draw")
    print(f"ratio: tsbudget is {t_ref / t_boot:.2f}x the loop's speed (target >= 10x)")
    print(f"floor of the loop's algorithm: {per_element * 1e9:.1f} ns per element x {np.mean(nfev):.1f} evaluations x "
          f"{args.draws} draws x {lN.size} runs = {floor:.3f} s (tsbudget {t_boot / floor:.2f}x it)")
    if newton_evals:
        own = newton_evals * lN.size * per_hess
        print(f"floor of tsbudget's algorithm: {per_hess * 1e9:.1f} ns per element (value, gradient and Hessian) x "
              f"{newton_evals} evaluations x {lN.size} runs = {own:.3f} s (tsbudget {t_boot / own:.2f}x it)")
    print(f"same draws: tsbudget's objective minus the loop's, relative: max {obj_rel.max():+.1e}, "
          f"min {obj_rel.min():+.1e}, median |.| {np.median(np.abs(obj_rel)):.1e}; "
          f"tokens/param max relative difference {np.max(np.abs(tpp_ts[ok] / tpp_ref[ok] - 1)):.1e}")

    table = intervals(boot)
    row = table.filter(table["name"] == "tokens_per_param").row(0, named=True)
    med, lo, hi = interval(tpp_ref)
    print(f"\ntokens per parameter at {CHINCHILLA_C:.3g} FLOPs (point estimate {row['estimate']:.2f}):")
    print(f"  tsbudget:  median {row['median']:.2f}, 95% interval [{row['lower']:.2f}, {row['upper']:.2f}]")
    print(f"  reference: median {med:.2f}, 95% interval [{lo:.2f}, {hi:.2f}]")
    bands = [mc_band(tpp_ref, p) for p in (0.5, 0.025, 0.975)]
    inside = all(b0 <= v <= b1 for (b0, b1), v in zip(bands, (row["median"], row["lower"], row["upper"])))
    print("  Monte Carlo band of the reference (95%): median [{:.2f}, {:.2f}], lower [{:.2f}, {:.2f}], "
          "upper [{:.2f}, {:.2f}]".format(*np.ravel(bands)))
    print(f"  tsbudget's median and interval within that band: {'yes' if inside else 'NO'}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
