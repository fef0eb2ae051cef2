"""Benchmark: a plan with two free integers and one real, against scipy in the same run.

    python benchmarks/bench_plan.py [--repeat 5]

(The frontier benchmarks are in ``bench_frontier.py``.)

A mixture of experts (``experts`` 1..4096, ``top_k`` 1..8, both integer) over adaptively patched
input (a real ``compression`` 1..64), with an Extended law that values experts, top-k and
compression. Target: < 0.5 s. Reference: scipy's ``differential_evolution`` with ``integrality``
on the same reduced problem (budget eliminated, minimise loss over log N and the three variables).
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
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    out = {"integer_plan": bench_integer_plan(a.repeat)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
