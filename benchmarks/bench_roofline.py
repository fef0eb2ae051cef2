"""Benchmark: the serving roofline on 1 and on 1,000 sizes, dense and mixture of experts,
against the plain-numpy closed form a competent user would write for the dense case.

    python benchmarks/bench_roofline.py [--repeat 7] [--json]

Workload (the planner's example of issue 13): H100 SXM, bf16, 900 prompt and 100 generated
positions per request, 20 ms per generated position, the batch free. Dense: a 70B-like shape
(80 layers, d_model 8192, grouped-query cache of d_kv 1024) at every size, so the cache counts;
mixture of experts: no shape (no cache), ``experts`` 8 for one size and spread over 1..4096 for
1,000 (what the planner asks for); ``*_search`` rows search the replica size
(``Workload.devices="search"``, up to 8 devices). Times are the median over ``--repeat`` runs of a loop long
enough to take ~0.2 s, one BLAS thread.

The reference (:func:`dense_reference`) uses none of tsbudget: the roofline of the module
docstring of :mod:`tsbudget.roofline` for a dense model, whose touched weights do not depend on
the batch, in closed form (memory cap, crossover, latency cap, then the costs); its batches and
GPU-seconds are compared with the roofline's (they must agree to 1e-12).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

CONTEXT, GENERATE, LATENCY_MS = 900.0, 100.0, 20.0
LAYERS, D_MODEL, N_CTX, D_KV = 80, 8192, 4096, 1024


def _time(fn, repeat: int) -> float:
    """Median seconds per call of ``fn`` over ``repeat`` timed loops of ~0.2 s each."""
    fn()
    loops, t = 1, 0.0
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        t = time.perf_counter() - start
        if t > 0.2:
            break
        loops *= 4
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        runs.append((time.perf_counter() - start) / loops)
    return float(np.median(runs))


def dense_reference(n, peak, utilization, bandwidth, capacity, prefill_batched=True):
    """The dense roofline in closed form (no tsbudget): per request, for ``n`` parameters at
    bf16 (2 bytes) with the attention term and cache of the benchmark's shape."""
    b, C, G = 2.0, CONTEXT, GENERATE
    flops = 2.0 * n + 2.0 * LAYERS * N_CTX * D_MODEL                 # Kaplan et al. 2020 Table 1
    kappa = 2.0 * LAYERS * D_KV * b                                  # keys and values per position
    rate, weights, per_seq = peak * utilization, n * b, (C + G) * kappa
    mean_cache = C + (G - 1.0) / 2.0
    k = np.maximum(np.ceil((weights + per_seq) / capacity), 1.0)     # devices: weights + one sequence
    max_batch = np.floor(np.maximum(k * capacity - weights, 0.0) / per_seq)
    slope = flops / rate - mean_cache * kappa / bandwidth            # decode compute-bound from B*
    saturated = np.where(slope > 0, np.ceil(weights / bandwidth / np.where(slope > 0, slope, 1.0)), np.inf)
    limit = LATENCY_MS * (1 + 1e-12) / 1e3                           # step <= limit: both lines
    by_latency = np.floor(np.minimum(limit * k * rate / flops, (limit * k * bandwidth - weights) / (mean_cache * kappa)))
    batch = np.maximum(np.minimum(np.minimum(max_batch, saturated), by_latency), 1.0)
    step = np.maximum(batch * flops / (k * rate), (weights + batch * mean_cache * kappa) / (k * bandwidth))
    share = batch if prefill_batched else 1.0                        # prompts prefilled together
    prefill = np.maximum(C * flops / (k * rate), (weights / share + C * kappa) / (k * bandwidth))
    return batch, k * (prefill + G * step / batch)


def bench(repeat: int) -> dict:
    import attrs

    from costmodels.dense import Dense
    from costmodels.moe import MixtureOfExperts
    from tsbudget.hardware import get_hardware
    from tsbudget.roofline import Workload, serving_roofline

    hw = get_hardware("h100-sxm")
    w = Workload(context=CONTEXT, generate=GENERATE, latency_ms=LATENCY_MS)
    dense, moe = Dense(n_layer=LAYERS, n_ctx=N_CTX, d_model=D_MODEL, d_kv=D_KV), MixtureOfExperts()
    rng = np.random.default_rng(0)
    out = {}
    for size in (1, 1000):
        n = np.geomspace(1e9, 1e11, size) if size > 1 else np.array(7e10)
        experts = np.round(np.exp(rng.uniform(0.0, np.log(4096.0), size))) if size > 1 else np.array(8.0)
        r = serving_roofline(dense, n, hw, w)
        batch, gpu_s = dense_reference(n, hw.peak("bf16"), hw.serve_utilization, hw.memory_bandwidth,
                                       hw.memory_capacity)
        out[f"dense_{size}"] = {
            "roofline_ms": _time(lambda: serving_roofline(dense, n, hw, w), repeat) * 1e3,
            "reference_ms": _time(lambda: dense_reference(n, hw.peak("bf16"), hw.serve_utilization,
                                                          hw.memory_bandwidth, hw.memory_capacity), repeat) * 1e3,
            "batches_equal": bool(np.array_equal(np.asarray(r.batch), batch)),
            "gpu_seconds_max_rel_diff": float(np.max(np.abs(np.asarray(r.gpu_seconds_per_request) / gpu_s - 1.0))),
        }
        out[f"moe_{size}"] = {
            "roofline_ms": _time(lambda: serving_roofline(moe, n, hw, w, experts=experts), repeat) * 1e3,
        }
        # the replica size searched (Workload.devices="search", up to 8 devices: all solved at once)
        searched = attrs.evolve(w, devices="search")
        out[f"dense_search_{size}"] = {
            "roofline_ms": _time(lambda: serving_roofline(dense, n, hw, searched), repeat) * 1e3,
        }
        out[f"moe_search_{size}"] = {
            "roofline_ms": _time(lambda: serving_roofline(moe, n, hw, searched, experts=experts), repeat) * 1e3,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = bench(args.repeat)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for key, row in result.items():
        line = f"{key:10s} serving_roofline {row['roofline_ms']:8.3f} ms"
        if "reference_ms" in row:
            line += (f"   numpy reference {row['reference_ms']:7.3f} ms  ({row['roofline_ms'] / row['reference_ms']:.1f}x)"
                     f"   batches equal {row['batches_equal']}, GPU-s rel diff {row['gpu_seconds_max_rel_diff']:.1e}")
        print(line)


if __name__ == "__main__":
    main()
