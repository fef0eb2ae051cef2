"""The serving roofline: what serving a model really costs -- compute, memory bandwidth,
memory capacity and latency, not only FLOPs.

The roofline (Williams, Waterman & Patterson 2009, "Roofline: an insightful visual
performance model for multicore architectures", CACM 52(4)) bounds the time of a kernel by
the larger of its FLOPs over the peak FLOP/s and its bytes over the memory bandwidth.
Transformer inference splits into two phases with very different arithmetic intensity
(Pope et al. 2022, "Efficiently Scaling Transformer Inference", §2-3):

* **prefill** runs the ``C`` prompt positions of a request in parallel, and the prompts of
  a batch of requests together (Pope et al. 2022 batch the prefill across sequences: "a 76%
  MFU during large-batch-size processing of input tokens", abstract): ``B·C·F`` FLOPs
  against one read of the weights the ``B·C`` positions touch (and a write of the cache), so
  it is compute-bound;
* **decode** generates one position per sequence per step: each step reads the weights the
  batch touches plus every sequence's attention cache, for only ``B·F`` FLOPs, so at small
  batch it is memory-bandwidth-bound.

For a replica of ``k`` devices (each of peak ``P`` FLOP/s at the serving precision, reached
at the serving utilisation ``u``; bandwidth ``W`` bytes/s; capacity ``M`` bytes), a model of
``F`` forward FLOPs per position, ``b`` bytes per parameter at the precision, ``T(B)``
parameters touched per decode step at batch ``B`` and ``κ`` cache bytes per context position::

    prefill(B) = max( C·F / (k·P·u),  (T(B·C)·b / B + C·κ) / (k·W) )   per request (its share)
    step(B)  = max( B·F / (k·P·u),  (T(B)·b + B·c̄·κ) / (k·W) ),  c̄ = C + (G − 1)/2
    latency  = step(B)                                              per generated position
    request  = p · prefill(B) + G · step(B)           per request: its prefill group, G steps
    GPU-s    = k · (prefill(B) + G · step(B) / B)                                per request
    throughput = 1 / (prefill(B) + G · step(B) / B)                  requests/s per replica
    k_min    = ⌈(N_total·b + B·(C + G)·κ) / M⌉              the fewest devices that hold it

The requests decoded together are prefilled together, as many as one forward pass takes
(``Workload.step_tokens`` positions, the engine's token budget per step: TensorRT-LLM's
``max_num_tokens``, 8,192 by default), ``p = min(B, ⌊step_tokens / C⌋)`` prompts: the weights
their prompts touch are read once for all of them, ``T(p·C)·b`` bytes, a share
``T(p·C)·b/p`` per request (the formula above with ``B`` read as ``p``), and a request waits
for its group's prefill, ``p·prefill``, before its first generated position.
``Workload.prefill_batch`` fixes ``p`` (``1``: each prompt alone); ``step_tokens=inf`` lets
the whole decode batch prefill at once. Chunked prefills run with the decode steps are not
modelled.
``c̄`` is the mean cache length over the ``G`` decode steps of a request (the cache grows by
one position per step). The decode FLOPs per position ``F`` is the cost model's
``inference_flops_per_position``, so with an infinite bandwidth the GPU-seconds per request
is exactly ``(C + G)·F / (P·u)``: the FLOPs-only serving cost (Sardana & Frankle 2024).
At ``B = 1`` a dense model of ``N`` parameters moves ``N·b`` bytes per step; decode turns
compute-bound at the crossover batch ``B* = P·b / (2·W)`` (at ``u = 1``; the ridge point
``P/W`` of Williams et al. over the ``2/b`` FLOPs per byte of a batch-1 step).

When the batch is not given it is the smallest that reaches the lowest cost the memory and
the latency target allow: the largest batch whose caches fit next to the weights (the
memory left after the weights on the replica's devices), capped by the latency target(s), and no larger than the batch at which decode
turns compute-bound (beyond it the cost per request no longer falls and only latency grows).
The batch's prefill is compute-bound by then when ``C >= 1`` and ``T(x)/x`` does not rise
(as for every built-in family): its ``B·C >= B`` positions carry at least the decode's FLOPs
per touched byte. With ``0 < C < 1`` the prefill's own crossover is searched too.

The replica has ``k_min`` devices (``Workload.devices=None``), a given number, or, with
``Workload.devices="search"``, the cheapest per request among ``k_min .. max(k_min,
max_devices)`` that meets the latency targets (ties: the fewest), all candidates solved at once.
Per request ``k·prefill`` and ``k·step/B`` depend on ``k`` only through the batch (each phase's
time is its FLOPs or bytes over ``k`` devices' rate), so GPU-seconds per request is a
non-increasing function of the batch, and the batch (memory room ``k·M − N_total·b``, latency
cap) grows with ``k`` while the crossover ``B*`` does not depend on it: nothing gets cheaper
beyond ``k ≥ max(⌈(N_total·b + B*·(C + G)·κ)/M⌉, ⌈step₁(B*)/X⌉)`` (``step₁``: the step on one
device, ``X``: the latency target per position). When decode never turns compute-bound
(``F/(P·u) <= c̄·κ/W``: each sequence's cache read outlasts its FLOPs) ``B*`` is infinite and
the cost keeps falling toward ``G·c̄·κ/W`` per request as devices are added; ``max_devices``
(default 8, one server node) bounds the search. With an infinite bandwidth every ``k`` costs
``(C + G)·F/(P·u)`` and the fewest is kept. The interconnect is not charged (below), so the
search favours wide replicas; it is therefore opt-in: under the planner a mixture of experts'
serving cost would jump where ``k_min`` passes ``max_devices`` (a cap, not physics), and the
Ludziejewski-law expert optimum of ``tests/planning/test_serving_moe.py`` then moved
394 → 64 → 91 (1e11, 3e11, 1e12 positions) instead of falling (394 → 253 → 162 with ``k_min``;
with a cap of 64, wide enough for the batch to reach the crossover, 261 → 164 → 164).

Not charged (the roofline is a lower bound on time): the interconnect between the devices of
a replica (``Hardware.interconnect_bandwidth`` is recorded, but tensor-parallel all-reduces
and per-message latencies are not costed; Pope et al. 2022 §3 show they dominate at low
batch on many chips: PaLM 540B measured 29 ms per token on 64 TPU v4 against a 7 ms
bandwidth bound, tests/golden/test_roofline_pope2022.py), prefill stalling the decode of
other sequences, cache fragmentation, and utilisation below peak bandwidth.
"""

from __future__ import annotations

import numpy as np

from tsbudget.batch_search import bracket, largest_true, line_cap
from tsbudget.cost_model import CostModel
from tsbudget.errors import InputError
from tsbudget.hardware import Hardware, bytes_per_param, get_hardware
from tsbudget.plugin_calls import check_finite
from tsbudget.roofline_report import LIMITS, Roofline
from tsbudget.workload import Workload

__all__ = ["LIMITS", "MAX_BATCH", "NO_CACHE_NOTE", "Roofline", "Workload", "crossover_batch", "serving_roofline"]

#: The note of a roofline whose cost model counts no attention cache (no attention shape):
#: decode then reads only the weights, and the batch is not capped by the caches.
NO_CACHE_NOTE = "no attention cache counted: give the cost model n_layer/d_model (--cost-setting)"

#: Upper end of the batch search (a bisection range, not a hardware number): 2**40 sequences,
#: far beyond any batch whose caches fit a device; a batch that reaches it is unbounded.
MAX_BATCH = float(2**40)


def crossover_batch(hardware, precision: str = "bf16", utilization: float = 1.0) -> float:
    """Batch at which dense decode turns from bandwidth- to compute-bound,
    ``B* = P·u·b / (2·W)`` (Williams et al. 2009 ridge point ``P/W`` over the ``2/b``
    FLOPs per byte of a decode step; Pope et al. 2022 §2). H100 SXM, BF16:
    989.4e12·2 / (2·3.35e12) ≈ 295."""
    hw = get_hardware(hardware)
    _check_memory(hw)
    return hw.peak(precision) * float(utilization) * bytes_per_param(precision) / (2.0 * hw.memory_bandwidth)


def _check_memory(hw: Hardware) -> None:
    for field in ("memory_bandwidth", "memory_capacity"):
        if getattr(hw, field) is None:
            raise InputError(
                f"hardware {hw.name!r} has no {field}; the serving roofline needs it (give it in a .toml/.json profile)"
            )


def serving_roofline(cost_model: CostModel | str, n, hardware, workload: Workload | None = None,
                     **variables) -> Roofline:
    """Serving cost of ``n`` (the parameters the law sees) under ``cost_model`` on
    ``hardware`` (a profile name, a .toml/.json path or a :class:`Hardware`) for
    ``workload``; ``variables`` are the cost model's (serving-time) variables. Broadcasts
    over ``n`` and the variables. Formulas and sources: the module docstring.

    The variables are resolved and checked once; the cost model's hooks are evaluated once,
    the batch-dependent parameters touched as a :class:`~tsbudget.cost_model.TouchedCurve`.
    A free batch is found by bisection over integers between bounds that the caps give in
    closed form with the touched parameters frozen (exact when they do not depend on the
    batch, as for dense models; :func:`tsbudget.batch_search.bracket`) or through the
    curve's inverse (a mixture of experts' latency cap); the bounds are checked, so the
    batch is the one a plain bisection finds. ``Workload.devices="search"`` solves every
    replica size from the fewest devices to ``Workload.max_devices`` at once and keeps the
    cheapest that meets the latency targets (the module docstring says why that is bounded)."""
    if isinstance(cost_model, str):
        from tsbudget.registry import costmodels

        cost_model = costmodels.resolve(cost_model)
    if not isinstance(cost_model, CostModel):
        raise InputError(f"cost_model must be a CostModel or a registered name, got {cost_model!r}")
    workload = Workload() if workload is None else workload
    if not isinstance(workload, Workload):
        raise InputError(f"workload must be a Workload, got {workload!r}")
    hw = get_hardware(hardware)
    _check_memory(hw)

    cm, w = cost_model, workload
    n_ctx = getattr(cm, "n_ctx", None)
    if n_ctx is not None and w.context + w.generate > n_ctx:
        # the attention FLOPs per position are the cost model's (2·n_layer·n_ctx·d_model, Kaplan
        # et al. 2020 Table 1): a request longer than n_ctx would be charged for a shorter one
        raise InputError(
            f"Workload: context + generate = {w.context:g} + {w.generate:g} = {w.context + w.generate:g} positions "
            f"exceed the cost model's n_ctx = {n_ctx:g} (its attention FLOPs are counted at n_ctx); give a "
            f"shorter request or a larger n_ctx (--cost-setting n_ctx=...)"
        )
    v = cm.resolve_variables(**variables)
    b = bytes_per_param(w.precision)
    rate = hw.peak(w.precision) * hw.serve_utilization  # FLOP/s reached per device
    bw, cap = hw.memory_bandwidth, hw.memory_capacity
    flops = np.asarray(cm.inference_flops_per_position(n, **v), dtype=float)
    weights = np.asarray(cm.total_params(n, **v), dtype=float) * b
    cache = np.asarray(cm.cache_bytes_per_position(n, b, **v), dtype=float)
    curve = cm.weight_params_touched_curve(n, **v)
    shape = np.broadcast_shapes(flops.shape, weights.shape, cache.shape)
    flops, weights, cache = (np.broadcast_to(x, shape).astype(float) for x in (flops, weights, cache))
    C, G = float(w.context), float(w.generate)
    mean_cache = C + max(G - 1.0, 0.0) / 2.0
    per_sequence = (C + G) * cache  # cache one sequence holds at its end
    model = (flops, weights, cache, per_sequence)
    # devices: the weights and the batch's caches (one sequence when the batch is free) must fit
    fixed = w.batch is not None
    first = float(w.batch) if fixed else 1.0
    needed = np.maximum(np.ceil((weights + first * per_sequence) / cap), 1.0)

    def solve(devices, needed):
        """The roofline's fields on replicas of ``devices`` devices (any shape that ``n`` and
        the variables broadcast to; ``needed``: the fewest that hold the model)."""
        shape = devices.shape
        flops, weights, cache, per_sequence = (np.broadcast_to(x, shape) for x in model)
        needed = np.broadcast_to(needed, shape)
        fits = needed <= devices

        def touched_at(batch):
            batch = np.asarray(batch, dtype=float)
            return curve(batch if batch.shape == shape else np.broadcast_to(batch, shape))

        kr, kw = devices * rate, devices * bw  # FLOP/s and bytes/s of the replica

        def decode_parts(batch, touched):
            """Compute and memory time of a decode step of ``batch`` sequences."""
            return batch * flops / kr, (touched * b + batch * mean_cache * cache) / kw

        def bandwidth_bound(batch):
            compute, memory = decode_parts(batch, touched_at(batch))
            return compute < memory

        most_prompts = w.prompts_per_prefill  # None: the whole decode batch

        def prompts(batch):
            """Prompts prefilled together when ``batch`` sequences decode together: the batch's, up
            to what one forward pass takes (``Workload.prompts_per_prefill``)."""
            return batch if most_prompts is None else np.minimum(batch, most_prompts)

        def prefill_parts(batch, touched):
            """Compute and memory time per request of prefilling ``prompts(batch)`` prompts together
            (``touched``: the parameters their positions touch, read once for all of them)."""
            return C * flops / kr, (touched * b / prompts(batch) + C * cache) / kw

        room = devices * cap - weights
        with np.errstate(divide="ignore", invalid="ignore"):
            max_batch = np.where(per_sequence > 0, np.floor(np.maximum(room, 0.0)
                                                            / np.where(per_sequence > 0, per_sequence, 1.0)), np.inf)

        def meets(step, request):
            """The latency targets met, for a decode step of ``step`` seconds and a request of
            ``request`` seconds."""
            ok = np.ones(shape, dtype=bool)
            if w.latency_ms is not None:
                ok &= step * 1e3 <= w.latency_ms * (1 + 1e-12)
            if w.request_latency_ms is not None:
                ok &= request * 1e3 <= w.request_latency_ms * (1 + 1e-12)
            return ok

        by_request = w.request_latency_ms is not None and C > 0  # the batch's prefill counts

        def latency_ok(batch):
            step = np.maximum(*decode_parts(batch, touched_at(batch)))
            first = prompts(batch) * np.maximum(*prefill_parts(batch, touched_at(prompts(batch) * C))) if by_request else 0.0
            return meets(step, first + G * step)

        targeted = w.latency_ms is not None or w.request_latency_ms is not None
        if fixed:
            batch = np.full(shape, float(w.batch))
            batch_limit = np.full(shape, "given")
        else:
            rounds = 0 if curve.constant is not None else 2
            # compute >= memory from B on where B·(F/(k·P·u) − c̄·κ/(k·W)) >= T(B)·b/(k·W); with T
            # frozen the crossover is T·b/W over that slope, and T(∞) bounds the search
            slope = flops / rate - mean_cache * cache / bw
            positive = np.where(slope > 0, slope, 1.0)

            def crossover(touched):
                return np.where(slope > 0, touched * b / bw / positive, np.inf)

            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                bound = np.ceil(crossover(touched_at(MAX_BATCH)))
                hi = np.minimum(np.minimum(max_batch, bound), MAX_BATCH)
                low, up = bracket(crossover, touched_at, hi, rising=True, rounds=rounds)
            # still bandwidth-bound up to here (the largest integer below the real crossover)
            below = largest_true(bandwidth_bound, hi, np.ceil(low) - 1.0, np.ceil(up) - 1.0)
            saturated = np.where(below >= MAX_BATCH, np.inf, below + 1.0)
            if 0 < C < 1:  # the batch's prefill (up to the step's prompts) may stay bandwidth-bound longer
                slope_p = C * (flops / rate - cache / bw)

                def crossover_p(touched):
                    return np.where(slope_p > 0, touched * b / bw / np.where(slope_p > 0, slope_p, 1.0), np.inf)

                def prompts_at(batch):
                    return touched_at(batch * C)

                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    hi_p = np.minimum(np.minimum(max_batch, np.ceil(crossover_p(prompts_at(MAX_BATCH)))), MAX_BATCH)
                    if most_prompts is not None:  # beyond it the prefill share no longer changes
                        hi_p = np.minimum(hi_p, most_prompts)
                    low, up = bracket(crossover_p, prompts_at, hi_p, rising=True, rounds=rounds)
                below = largest_true(lambda B: np.less(*prefill_parts(B, prompts_at(B))), hi_p,
                                     np.ceil(low) - 1.0, np.ceil(up) - 1.0)
                saturated = np.maximum(saturated, np.where(below >= MAX_BATCH, np.inf, below + 1.0))
            # a latency cap matters only below the batch the memory and the saturation give
            hi = np.minimum(np.minimum(max_batch, saturated), MAX_BATCH)
            if targeted:
                def touched_pair(batch):
                    return touched_at(batch), (touched_at(prompts(batch) * C) if by_request else None)

                def latency_cap(pair):
                    lines = [(0.0, flops / kr), (pair[0] * b / kw, mean_cache * cache / kw)]
                    caps = []
                    if w.latency_ms is not None:
                        caps.append(line_cap(w.latency_ms * (1 + 1e-12) / 1e3, lines))
                    if w.request_latency_ms is not None:  # the batch's prefill, then G steps
                        first = [(0.0, 0.0)]
                        if by_request and most_prompts is None:
                            first = [(0.0, C * flops / kr), (pair[1] * b / kw, C * cache / kw)]
                        elif by_request:  # at most a fixed number of prompts: bounded by its prefill
                            first = [(most_prompts * np.maximum(*prefill_parts(most_prompts, pair[1])), 0.0)]
                        caps.append(line_cap(w.request_latency_ms * (1 + 1e-12) / 1e3,
                                             [(p0 + G * c0, p1 + G * c1) for p0, p1 in first for c0, c1 in lines]))
                    return np.minimum.reduce(caps)

                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    inverse = curve.inverse is not None and w.request_latency_ms is None
                    low, up = bracket(latency_cap, touched_pair, hi, rising=False, rounds=0 if inverse else rounds)
                    if inverse:
                        # T(B)·b <= X·k·W − B·c̄·κ: the inverse curve at a bound of B bounds the cap
                        # (exact without a cache); the compute line caps it too
                        limit, per_batch = w.latency_ms * (1 + 1e-12) / 1e3, mean_cache * cache / kw
                        compute_cap = limit * kr / flops
                        for _ in range(3 if np.any(per_batch > 0) else 1):
                            at_up, at_low = (np.clip(x, 0.0, np.maximum(hi, 1.0)) for x in (up, low))
                            low = np.maximum(low, np.minimum(compute_cap, curve.inverse((limit - at_up * per_batch) * kw / b)))
                            up = np.minimum(up, np.minimum(compute_cap, curve.inverse((limit - at_low * per_batch) * kw / b)))
                by_latency = largest_true(latency_ok, hi, np.floor(low), np.floor(up))
            else:
                by_latency = np.full(shape, np.inf)
            batch = np.maximum(np.minimum(np.minimum(max_batch, saturated), by_latency), 1.0)
            batch_limit = np.where(
                by_latency < np.minimum(max_batch, saturated), "latency",
                np.where(max_batch < saturated, "capacity", "compute"),
            )
        # prefill: the prompts of the batch's requests together, the weights they touch read once
        # for all of them (per request: their share), the cache written
        touched = touched_at(batch)
        p_touched = touched_at(prompts(batch) * C) if C > 0 else None
        for at, value in ((batch, touched), (prompts(batch) * C, p_touched)):
            if value is not None and not np.all(np.isfinite(value)):
                check_finite(cm, "weight_params_touched", value, {"n": n, "batch": at, **v}, "cost model")
        if C > 0:
            p_compute, p_memory = prefill_parts(batch, p_touched)
            prefill = np.maximum(p_compute, p_memory)
            prefill_limit = np.where(p_compute >= p_memory, "compute", "bandwidth")
        else:
            prefill = np.zeros(shape)
            prefill_limit = np.full(shape, "none")
        batch_prefill = prompts(batch) * prefill  # the prompts' prefill: their first positions come after it
        d_compute, d_memory = decode_parts(batch, touched)
        decode, compute_bound = np.maximum(d_compute, d_memory), d_compute >= d_memory
        decode_limit = np.where(compute_bound, "compute", "bandwidth")

        # latency targets: met at this batch? else the factor by which they are missed (at batch 1
        # when the batch is free: no smaller batch is faster)
        ok = meets(decode, batch_prefill + G * decode)
        ratios = [np.ones(shape)]
        if w.latency_ms is not None:
            ratios.append(decode * 1e3 / w.latency_ms)
        if w.request_latency_ms is not None:
            ratios.append((batch_prefill + G * decode) * 1e3 / w.request_latency_ms)
        shortfall = np.where(ok, 1.0, np.maximum.reduce(ratios))
        # a given replica too small for the weights (and caches): capacity binds, by needed / given
        shortfall = np.where(fits, shortfall, np.maximum(shortfall, needed / devices))
        # what binds the latency: the decode limit, or the prefill when a request target is missed there
        latency_limit = np.where(ok, "none", decode_limit)
        if w.request_latency_ms is not None and C > 0:
            prefill_binds = ~ok & (batch_prefill >= G * decode)
            latency_limit = np.where(prefill_binds, prefill_limit, latency_limit)

        latency_limit = np.where(fits, latency_limit, "capacity")
        ok = ok & fits
        per_request = prefill + G * decode / batch
        decode_share = G * decode / batch
        throughput_limit = np.where(decode_share >= prefill, decode_limit, prefill_limit)
        out = dict(
            batch=batch, prefill_seconds=prefill, prefill_latency_seconds=batch_prefill, decode_seconds=decode,
            decode_latency_ms=decode * 1e3, gpu_seconds_per_request=devices * per_request,
            throughput=1.0 / per_request,
        )
        limits = dict(prefill_limit=prefill_limit, decode_limit=decode_limit, batch_limit=batch_limit,
                      throughput_limit=throughput_limit)
        if not np.all(fits):  # a replica that cannot hold the model serves nothing: no batch, time or cost
            out = {key: np.where(fits, x, np.nan) for key, x in out.items()}
            limits = {key: np.where(fits, x, "capacity") for key, x in limits.items()}
            max_batch = np.where(fits, max_batch, 0.0)
        return dict(out, **limits, devices=devices, max_batch=max_batch, latency_limit=latency_limit, feasible=ok,
                    shortfall=shortfall)

    if w.devices == "search":
        fields, devices_limit = _cheapest_replica(solve, needed, w.max_devices)
    else:
        given = w.devices is not None
        fields = solve(np.full(shape, float(w.devices)) if given else needed, needed)
        devices_limit = np.full(shape, "given" if given else "capacity")
    notes = ()
    if C + G > 0 and np.any(cache == 0):  # a cost model without attention shape counts no cache
        notes = (NO_CACHE_NOTE,)
    return Roofline(
        **fields, devices_limit=devices_limit, flops_only_gpu_seconds_per_request=(C + G) * flops / rate,
        weight_bytes=weights, cache_bytes_per_sequence=per_sequence, workload=w, hardware=hw.name, notes=notes,
    )


def _cheapest_replica(solve, needed, max_devices):
    """The replica size of a free ``Workload.devices``: the cheapest (GPU-seconds per request)
    from ``needed`` (the fewest that hold the model) to ``max(needed, max_devices)`` among
    those that meet the latency targets, ties (within 1e-12 relative) to the fewest; when
    none meets them, the most searched (the smallest shortfall). All candidates are solved
    at once, stacked on a leading axis. Returns the fields of :func:`solve` and
    ``devices_limit``: ``capacity`` (the fewest were chosen), ``latency`` (more were needed
    for the targets), ``cost`` (more made it cheaper)."""
    top = np.maximum(needed, float(max_devices))
    count = int(np.max(top - needed)) + 1
    steps = np.arange(count, dtype=float).reshape((count,) + (1,) * needed.ndim)
    fields = solve(np.minimum(needed + steps, top), needed)
    cost, ok = fields["gpu_seconds_per_request"], fields["feasible"]
    with np.errstate(invalid="ignore"):
        best = np.min(np.where(ok, cost, np.inf), axis=0)
        cheapest = ok & (cost <= best * (1.0 + 1e-12))
    any_ok = np.any(ok, axis=0)
    pick = np.where(any_ok, np.argmax(cheapest, axis=0), count - 1)
    limit = np.where(pick == 0, "capacity",
                     np.where(~any_ok | (pick == np.argmax(ok, axis=0)), "latency", "cost"))
    chosen = {key: np.take_along_axis(np.asarray(x), pick[None], axis=0)[0] for key, x in fields.items()}
    return chosen, limit
