"""Benchmark: frontiers planned by the general optimiser against a plain scipy loop, in one run.

    python benchmarks/bench_frontier_general.py [--budgets 100] [--draws 20] [--repeat 5]

Frontiers over log-spaced budgets 1e18..1e25 FLOPs where the closed form does not hold, so that
tsbudget's general optimiser plans them (batched across budgets and draws, issue 15):

1. ``epoch2024``, ``unique=1e11`` tokens: the optimum repeats data past ~2e21 FLOPs; effective
   data by Muennighoff et al. 2023 eq. 5 (R* = 15.4). Timed twice: ``method="auto"`` (the closed
   form where it is valid) and ``method="general"`` (every budget by the optimiser).
2. ``muennighoff2023`` (the data-constrained law, Muennighoff et al. 2023 eq. 5-7, C4 fit),
   ``unique=1e11``: effective data and effective parameters.
3. ``epoch2024`` with FLOPs-only serving of 1e11 tokens (Sardana & Frankle 2024: budget =
   6·N·D + 2·N·served).

Reference, per case: what a competent user writes without tsbudget: per budget, one
``scipy.optimize.minimize_scalar`` (bounded Brent, ``xatol=1e-12``) over log N of the loss in
plain ``math`` with D eliminated by the budget; one BLAS thread (threadpoolctl), as tsbudget.
Checked: the same loss to 1e-12 relative (the loss is flat at its minimum, so a value-based
minimiser fixes N only to ~1e-8; the N and D differences are printed too).
Also timed, in the same run: tsbudget's per-budget path (``solve`` once per budget, the
frontier's path before batching), with the batched plans checked against it.
Floor: the reference's mean evaluations per budget done as vectorised numpy steps over all
budgets at once (one vectorised loss evaluation per step).
With ``--draws``: a frontier of case 1 with that many bootstrap draws (each re-planned by the
general optimiser at every budget, one batched solve), against the per-(draw, budget) loop.
4. Serving-aware MoE frontiers (Ludziejewski et al. 2025 joint MoE law, the expert count a free
   integer variable, top-1): FLOPs-only serving of 1e11 tokens over ``--budgets`` budgets, and a
   roofline workload (1e8 requests of 900 + 100 tokens at 20 ms per generated token on an H100)
   over ``--moe-budgets`` budgets. No plain scipy reference (a mixed-integer search with a
   roofline inside): tsbudget batched against its own per-budget path, same plans checked.
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np
from scipy.optimize import minimize_scalar
from threadpoolctl import threadpool_limits

import tsbudget as tb
from tsbudget.laws.data_constrained import MUENNIGHOFF_C4
from tsbudget.laws.presets import get_preset
from tsbudget.planning.draws import solve_draw
from tsbudget.planning.request import PlanRequest
from tsbudget.planning.solve import solve, solve_allocations
from tsbudget.timeseries.effective_data import MUENNIGHOFF_R_D
from timing import best_time

UNIQUE = 1e11
SERVED = 1e11
LOG_N = (math.log(1e6), math.log(1e15))


def interleaved(fn_a, fn_b, repeat):
    """Best times of two functions run alternately (a, b, a, b, ...), so that both see the same
    load on a shared machine; with their last results."""
    best_a = best_b = math.inf
    for _ in range(repeat):
        t, out_a = best_time(fn_a, 1)
        best_a = min(best_a, t)
        t, out_b = best_time(fn_b, 1)
        best_b = min(best_b, t)
    return best_a, out_a, best_b, out_b


def epoch_loss(serving=False):
    """E + A/N^α + B/D'^β with D = (C − 2·N·served)/(6N) (served = 0 without serving) and
    D' = U + U·R*·(1 − exp(−(D/U − 1)/R*)) when D > U (Muennighoff et al. 2023 eq. 5)."""
    p = get_preset("epoch2024").values
    E, A, B, al, be = (p[k] for k in ("E", "A", "B", "alpha", "beta"))
    U, R, S = UNIQUE, MUENNIGHOFF_R_D, SERVED if serving else 0.0

    def loss(x, C):
        N = math.exp(x)
        D = (C - 2 * N * S) / (6 * N)
        if D <= 0:
            return math.inf
        if not serving and D > U:
            D = U + U * R * -math.expm1(-(D / U - 1) / R)
        return E + A * N**-al + B * D**-be

    def vectorised(x, C):
        N = np.exp(x)
        D = (C - 2 * N * S) / (6 * N)
        if not serving:
            D = np.where(D > U, U + U * R * -np.expm1(-(D / U - 1) / R), D)
        return E + A * N**-al + B * D**-be

    return loss, vectorised


def data_constrained_loss():
    """Muennighoff et al. 2023 eq. 5-7 (the C4 fit): U_D = min(U, D), D' = U_D + U_D·R_D*·(1 −
    exp(−(D/U_D − 1)/R_D*)); N_opt(U_D) = exp((log(αA/(βB)) + β log U_D)/α), U_N = min(N, N_opt),
    N' = U_N + U_N·R_N*·(1 − exp(−(N/U_N − 1)/R_N*)); L = E + A/N'^α + B/D'^β."""
    p = MUENNIGHOFF_C4
    E, A, B, al, be, RD, RN = (p[k] for k in ("E", "A", "B", "alpha", "beta", "R_D_star", "R_N_star"))
    K = math.log(al * A / (be * B))

    def eff(x, u, r):
        return u + u * r * -math.expm1(-(x / u - 1) / r) if x > u else x

    def loss(x, C):
        N = math.exp(x)
        D = C / (6 * N)
        ud = min(UNIQUE, D)
        un = min(N, math.exp((K + be * math.log(ud)) / al))
        return E + A * eff(N, un, RN) ** -al + B * eff(D, ud, RD) ** -be

    def vectorised(x, C):
        N = np.exp(x)
        D = C / (6 * N)
        ud = np.minimum(UNIQUE, D)
        un = np.minimum(N, np.exp((K + be * np.log(ud)) / al))
        Ne = np.where(N > un, un + un * RN * -np.expm1(-(N / un - 1) / RN), N)
        De = np.where(D > ud, ud + ud * RD * -np.expm1(-(D / ud - 1) / RD), D)
        return E + A * Ne**-al + B * De**-be

    return loss, vectorised


def scalar_loop(loss, budgets, upper=None):
    """The reference: one bounded Brent minimisation over log N per budget."""
    out = []
    for C in budgets:
        hi = LOG_N[1] if upper is None else min(LOG_N[1], upper(C))
        r = minimize_scalar(loss, args=(C,), bounds=(LOG_N[0], hi), method="bounded", options={"xatol": 1e-12})
        out.append((math.exp(r.x), r.fun, r.nfev))
    return np.array(out).T


def bench_case(title, budgets, kwargs, loss, vectorised, repeat, data, upper=None):
    tb.frontier(budgets[:3], **kwargs)  # imports, registry
    t_ts, ds, t_ref, (N, L, nfev) = interleaved(lambda: tb.frontier(budgets, **kwargs),
                                                lambda: scalar_loop(loss, budgets, upper), repeat)
    request = PlanRequest.build(float(budgets[0]), **kwargs)
    t_old, old = best_time(lambda: [solve(request.at_budget(b))[0] for b in budgets], max(1, repeat // 2))
    x = np.log(N)
    t_eval, _ = best_time(lambda: vectorised(x, budgets), 20 * repeat)
    floor = t_eval * float(np.mean(nfev))
    rel_loss = float(np.max(np.abs(ds["loss"].values / L - 1)))
    rel_n = float(np.max(np.abs(ds["N"].values / N - 1)))
    rel_d = float(np.max(np.abs(ds["D"].values / data(N, budgets) - 1)))
    same_old = max(float(np.max(np.abs(ds[k].values / np.array([getattr(p, k) for p in old]) - 1)))
                   for k in ("N", "D", "loss"))
    n = budgets.size
    print(f"{title}: {n} budgets, method {ds.attrs['method']!r} (best of {repeat}, run alternately with the loop):")
    print(f"  tsbudget frontier {t_ts * 1e3:.1f} ms; scalar minimize_scalar loop {t_ref * 1e3:.1f} ms -> "
          f"tsbudget takes {t_ts / t_ref:.2f}x the loop's time (target <= 1x)")
    print(f"  before batching (solve per budget): {t_old * 1e3:.0f} ms ({t_old / t_ts:.0f}x the batched frontier); "
          f"batched plans equal to it within {same_old:.1e} relative (N, D, loss)")
    print(f"  same plans as the loop: loss to {rel_loss:.1e} ({'<=' if rel_loss <= 1e-12 else 'NOT <='} 1e-12), "
          f"N to {rel_n:.1e}, D to {rel_d:.1e} (Brent's value-based stop)")
    print(f"  floor: the loop's {np.mean(nfev):.1f} evaluations per budget as vectorised steps over {n} budgets "
          f"({t_eval * 1e6:.1f} us each): {floor * 1e3:.2f} ms (tsbudget {t_ts / floor:.0f}x it)")


def bench_draws(budgets, n_draws, repeat):
    """The draws of a frontier: every draw re-planned at every budget by the general optimiser
    (one batched solve, :func:`~tsbudget.planning.solve.solve_allocations`, the frontier's draw
    step) against what the frontier did before: one ``solve`` per (draw, budget)."""
    p = get_preset("epoch2024").values
    rng = np.random.default_rng(0)
    params = {k: v * np.exp(0.03 * rng.standard_normal(n_draws)) for k, v in p.items()}
    request = PlanRequest.build(float(budgets[0]), unique=UNIQUE, method="general")
    t_ts, got = best_time(lambda: solve_allocations(request, budgets, params), repeat)

    def loop():
        return np.array([[solve_draw(request.at_budget(b), params, i).N for b in budgets] for i in range(n_draws)])

    t_old, old = best_time(loop, 1)
    t_front, _ = best_time(lambda: tb.frontier(budgets, draws=params, max_draws=n_draws, unique=UNIQUE,
                                               method="general"), 1)
    rel = float(np.max(np.abs(got["N"] / old - 1)))
    print(f"draws: {budgets.size} budgets x {n_draws} draws, each re-planned by the general optimiser: batched "
          f"{t_ts * 1e3:.0f} ms; one solve per (draw, budget) {t_old * 1e3:.0f} ms ({t_old / t_ts:.0f}x); optima "
          f"equal within {rel:.1e}. The whole frontier with these draws: {t_front * 1e3:.0f} ms (the rest is "
          f"the deadweight compute of each draw)")


def bench_moe(budgets, serving, title, repeat):
    from tsbudget.laws.joint_moe import JointMoE

    kwargs = dict(law=JointMoE(), cost_model="moe", free=("experts",), fixed={"top_k": 1, "granularity": 1},
                  hardware="h100-sxm", serving=serving)
    tb.frontier(budgets[:2], **kwargs)
    t_ts, ds = best_time(lambda: tb.frontier(budgets, **kwargs), repeat)
    request = PlanRequest.build(float(budgets[0]), **kwargs)
    t_old, old = best_time(lambda: [solve(request.at_budget(b))[0] for b in budgets], 1)
    rel = max(float(np.max(np.abs(ds[k].values / np.array([getattr(p, k) for p in old]) - 1))) for k in ("N", "D", "loss"))
    same = bool(np.all(ds["experts"].values == [p.variables["experts"] for p in old]))
    print(f"4. {title}: {budgets.size} budgets: tsbudget frontier {t_ts:.3f} s; per-budget solve (before) {t_old:.3f} s "
          f"({t_old / t_ts:.1f}x); plans equal within {rel:.1e}, expert counts {'identical' if same else 'DIFFER'} "
          f"({int(ds['experts'].min())}..{int(ds['experts'].max())})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budgets", type=int, default=100)
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--moe-budgets", type=int, default=12)
    a = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores shared)")
    budgets = np.geomspace(1e18, 1e25, a.budgets)
    plain = lambda N, C: C / (6 * N)  # noqa: E731
    with threadpool_limits(limits=1):
        loss, vec = epoch_loss()
        bench_case("1. epoch2024, unique=1e11 (auto)", budgets, dict(unique=UNIQUE), loss, vec, a.repeat, plain)
        bench_case("1. epoch2024, unique=1e11 (general)", budgets, dict(unique=UNIQUE, method="general"), loss, vec,
                   a.repeat, plain)
        loss, vec = data_constrained_loss()
        bench_case("2. data-constrained law (muennighoff2023), unique=1e11", budgets,
                   dict(law="muennighoff2023", unique=UNIQUE), loss, vec, a.repeat, plain)
        loss, vec = epoch_loss(serving=True)
        served = tb.Serving(positions=SERVED)
        # the largest N that leaves data to train on: 2·N·served < C
        bench_case("3. epoch2024, FLOPs-only serving of 1e11 tokens", budgets, dict(serving=served), loss, vec,
                   a.repeat, lambda N, C: (C - 2 * N * SERVED) / (6 * N), upper=lambda C: math.log(C / (2 * SERVED)))
        if a.draws:
            bench_draws(budgets[:: max(1, a.budgets // 20)], a.draws, max(1, a.repeat // 2))
        moe = np.geomspace(1e20, 1e24, a.budgets)
        bench_moe(moe, tb.Serving(positions=SERVED), "MoE, FLOPs-only serving of 1e11 tokens", max(1, a.repeat // 2))
        bench_moe(np.geomspace(1e20, 1e24, a.moe_budgets),
                  tb.Serving(requests=1e8, context=900, generate=100, latency_ms=20),
                  "MoE, roofline workload (1e8 requests, 20 ms per token)", 1)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
