"""Benchmark: the planner's two speed targets, each against a reference measured in the same run.

    python benchmarks/bench_plan.py [--budgets 1000] [--draws 1000] [--repeat 5]

1. Frontier: ``tsbudget.planning.frontier.frontier`` over 1,000 log-spaced budgets with 1,000 bootstrap
   draws through the closed form (Hoffmann et al. 2022 App. D.2 eq. 4), i.e. 10^6 allocations
   with their losses, medians and percentile intervals. Target: < 2 s. Reference: the same
   closed form in a plain Python loop (math module, one allocation at a time) on a subset,
   extrapolated linearly to 10^6 allocations.
2. A plan with two free integer variables and one real variable: a mixture of experts
   (``experts`` 1..4096, ``top_k`` 1..8, both integer) over adaptively patched input (a real
   ``compression`` 1..64), with an Extended law that values experts, top-k and compression.
   Target: < 0.5 s. Reference: scipy's ``differential_evolution`` with ``integrality`` on the
   same reduced problem (budget eliminated, minimise loss over log N and the three variables).
   Both answers are checked against each other (the planner's loss must be <= the reference's).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import ClassVar

import attrs
import numpy as np
import xarray as xr


def bench_frontier(n_budgets: int, n_draws: int, repeat: int) -> dict:
    from tsbudget.planning.frontier import frontier
    from tsbudget.laws.presets import get_preset

    values = get_preset("epoch2024").values
    rng = np.random.default_rng(0)
    draws = xr.Dataset({k: ("draw", v * np.exp(0.03 * rng.standard_normal(n_draws))) for k, v in values.items()})
    budgets = np.geomspace(1e18, 1e25, n_budgets)
    frontier(budgets[:3], draws=draws)  # imports, registry
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        ds = frontier(budgets, draws=draws)
        times.append(time.perf_counter() - t)
    assert ds.attrs["method"] == "closed form" and ds.N_draw.shape == (n_draws, n_budgets)
    # reference: scalar closed form per (draw, budget), plus its loss
    d = {k: draws[k].values for k in values}
    sub = 20_000
    t = time.perf_counter()
    count = 0
    for i in range(n_draws):
        E, A, B, a, b = (float(d[k][i]) for k in ("E", "A", "B", "alpha", "beta"))
        G = (a * A / (b * B)) ** (1 / (a + b))
        for C in budgets:
            N = G * (C / 6) ** (b / (a + b))
            D = C / 6 / N
            _ = E + A / N**a + B / D**b
            count += 1
            if count >= sub:
                break
        if count >= sub:
            break
    ref = (time.perf_counter() - t) * (n_budgets * n_draws) / count
    best = min(times)
    return {"budgets": n_budgets, "draws": n_draws, "seconds_best": best, "seconds_median": float(np.median(times)),
            "reference_loop_seconds_extrapolated": ref, "speedup": ref / best, "target_seconds": 2.0}


def patched_moe_class():
    from costmodels.moe import MixtureOfExperts
    from tsbudget.variables import Variable

    @attrs.frozen
    class PatchedMoE(MixtureOfExperts):
        """MoE latent model over patches, as in adaptive patching (Pagnoni et al. 2024):
        the MoE runs once per patch (FLOPs / compression) while a local encoder/decoder of
        ``local_params`` runs on every position (6 FLOPs per parameter per position)."""

        name: ClassVar[str] = "patched_moe"
        description: ClassVar[str] = "benchmark: MoE over adaptively patched input"
        declared_variables: ClassVar[tuple] = MixtureOfExperts.declared_variables[:2] + (
            Variable("compression", 1.0, 64.0, 4.0, log=True),
        )
        local_params: float = 2e8

        def _resolve(self, variables):
            v = self.resolve_variables(**variables)
            return v["experts"], v["top_k"], np.ones_like(v["compression"])

        def train_flops_per_position(self, n, **variables):
            c = self.resolve_variables(**variables)["compression"]
            return super().train_flops_per_position(n, **variables) / c + 6.0 * self.local_params

        def inference_flops_per_position(self, n, **variables):
            c = self.resolve_variables(**variables)["compression"]
            return super().inference_flops_per_position(n, **variables) / c + 2.0 * self.local_params

    return PatchedMoE


def bench_integer_plan(repeat: int) -> dict:
    from scipy.optimize import differential_evolution

    from tsbudget.laws.extended import Extended
    from tsbudget.planning.plan import plan
    from tsbudget.laws.presets import get_preset

    cm = patched_moe_class()(d_model=4096, n_layer=48)
    base = get_preset("epoch2024").values
    # experts and top-k act like more parameters; compression makes each position carry
    # less information (eta < 0), so its optimum is interior.
    law = Extended(**base, variables=("experts", "top_k", "compression"), references=(8.0, 1.0, 4.0),
                   gamma=(0.06, 0.12, 0.0), eta=(0.0, 0.0, -0.8))
    C = 1e21
    kw = dict(law=law, cost_model=cm, free=("experts", "top_k", "compression"))
    plan(C, **kw)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        p = plan(C, **kw)
        times.append(time.perf_counter() - t)

    def f(x):
        logn, e, k, c = x
        n = math.exp(logn)
        v = {"experts": round(e), "top_k": round(k), "compression": c}
        d = C / float(cm.train_flops_per_position(n, **v))
        return float(law.loss(N=n, D=d, **v))

    bounds = [(math.log(1e2), math.log(1e16)), (1, 4096), (1, 8), (1.0, 64.0)]
    t = time.perf_counter()
    ref = differential_evolution(f, bounds, integrality=[False, True, True, False], seed=0, tol=1e-12,
                                 maxiter=3000, polish=True)
    ref_seconds = time.perf_counter() - t
    best = min(times)
    return {
        "seconds_best": best, "seconds_median": float(np.median(times)), "target_seconds": 0.5,
        "plan": {"N": p.N, "loss": p.loss, **p.variables},
        "reference_differential_evolution": {"seconds": ref_seconds, "loss": float(ref.fun), "nfev": int(ref.nfev),
                                             "experts": round(ref.x[1]), "top_k": round(ref.x[2]),
                                             "compression": float(ref.x[3])},
        "plan_loss_minus_reference": p.loss - float(ref.fun),
        "speedup": ref_seconds / best,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budgets", type=int, default=1000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    out = {"frontier": bench_frontier(a.budgets, a.draws, a.repeat), "integer_plan": bench_integer_plan(a.repeat)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
