"""Benchmark: deadweight compute (DCL = C − C_eq) for a 100-budget frontier with 1,000 draws.

Issue 14 asks for the DCL of a 100-budget frontier with 1,000 bootstrap draws in under 1 s.
Measured in one run, one BLAS thread (``threadpoolctl``), best of ``--repeat``:

* ``deadweight_compute`` (closed form; :mod:`tsbudget.uncertainty.wasted`) over the
  ``(1000, 100)`` grid of draws × budgets, for the point plans of the frontier;
* the reference: the plain numpy closed form a user would write, one fused pass:
  ``L = E + A/N^α + B/D^β`` at the plan under each draw, ``C_eq = 6·(K/(L − E))^(1/γ)``
  with ``K = (A·G^(−α) + B·G^β)`` and ``γ = αβ/(α+β)`` (the optimal loss curve of Hoffmann et
  al. 2022 App. D.2 eq. 4 read backwards), ``DCL = C − C_eq``;
* the floor: one ``np.exp`` over the same number of elements (any method evaluates at least one
  transcendental per draw and budget);
* end to end: ``tb.frontier`` with the draws (point plans, draws' optima, intervals and DCL);
* the general path (``method="general"``: golden section and regula falsi, for laws and costs
  without a closed form) on 100 draws × 100 budgets, for scale.

Accuracy: both closed forms against each other, and the reference's digits where the plan is
near a draw's optimum (``C − C_eq`` cancels there; ours is computed as ``−C·expm1(log ratio)``).

Run: ``python benchmarks/bench_dcl.py [--draws 1000] [--budgets 100] [--repeat 5]``
"""

from __future__ import annotations

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

import tsbudget as tb
from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.uncertainty.wasted import deadweight_compute
from timing import best_time


def reference_dcl(p, N, D, C):
    """The plain numpy closed form (module docstring); ``p`` arrays of shape (draws, 1)."""
    E, A, B, a, b = p["E"], p["A"], p["B"], p["alpha"], p["beta"]
    loss = E + A * N ** -a + B * D ** -b
    s = a + b
    G = (a * A / (b * B)) ** (1 / s)
    K = A * G ** -a + B * G ** b
    c_eq = 6.0 * (K / (loss - E)) ** (s / (a * b))
    return C - c_eq


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--budgets", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    law = Chinchilla()
    rng = np.random.default_rng(args.seed)
    # draws: the published fit with 5% relative scatter per parameter (a bootstrap's order of spread)
    draws = {k: v * (1 + 0.05 * rng.standard_normal(args.draws)) for k, v in law.values.items()}
    budgets = np.geomspace(1e18, 1e26, args.budgets)
    N, D = law.optimal_allocation(budgets)  # the frontier's point plans

    with threadpool_limits(1):
        ours_t, ours = best_time(lambda: deadweight_compute(law, draws, N, D, budgets), args.repeat)
        col = {k: v[:, None] for k, v in draws.items()}
        ref_t, ref = best_time(lambda: reference_dcl(col, N, D, budgets), args.repeat)
        big = np.full((args.draws, args.budgets), 1.5)
        floor_t, _ = best_time(lambda: np.exp(big), args.repeat)
        tb.frontier(budgets[:2], law=law, draws=draws)  # warm the lazy imports (xarray)
        e2e_t, ds = best_time(lambda: tb.frontier(budgets, law=law, draws=draws), args.repeat)
        small = {k: v[:100] for k, v in draws.items()}
        gen_t, gen = best_time(lambda: deadweight_compute(law, small, N, D, budgets, method="general"), 1)

    elements = args.draws * args.budgets
    print(f"DCL of a {args.budgets}-budget frontier under {args.draws} draws ({elements:,} draw-budget pairs), "
          f"one BLAS thread, best of {args.repeat}:")
    print(f"  deadweight_compute (closed form)   {ours_t * 1e3:8.2f} ms   ({ours_t / ref_t:.2f}x the reference)")
    print(f"  reference (plain numpy closed form) {ref_t * 1e3:7.2f} ms")
    print(f"  floor (one np.exp per element)     {floor_t * 1e3:8.2f} ms")
    print(f"  tb.frontier end to end with draws  {e2e_t * 1e3:8.2f} ms   (target: under 1 s)")
    print(f"  general path, 100 draws x {args.budgets} budgets {gen_t:6.2f} s")
    scale = budgets[None, :]
    agree = np.abs(ours - ref) / scale
    print(f"  |ours - reference| / budget: max {agree.max():.2e}, median {np.median(agree):.2e}")
    gap = np.abs(gen - ours[:100]) / scale
    print(f"  |general - closed form| / budget: max {gap.max():.2e}")
    # where the reference cancels: the plan at the truth's own optimum (DCL exactly 0)
    one = {k: np.array([v]) for k, v in law.values.items()}
    near_ours = deadweight_compute(law, one, N, D, budgets)
    near_ref = reference_dcl({k: v[:, None] for k, v in one.items()}, N, D, budgets)
    print(f"  plan at the truth's optimum (DCL = 0): ours max |DCL|/C {np.max(np.abs(near_ours) / budgets):.1e}, "
          f"reference {np.max(np.abs(near_ref) / budgets):.1e}")
    print(f"  median DCL at {budgets[-1]:.0e} FLOPs: {float(ds['dcl_percent_median'][-1]):.3g}% of the budget "
          f"[{float(ds['dcl_percent_lower'][-1]):.3g}%, {float(ds['dcl_percent_upper'][-1]):.3g}%]")


if __name__ == "__main__":
    main()
