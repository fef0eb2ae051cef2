"""Serving as it really costs (issue 13): roofline workloads in the planner.

A workload (requests × context/generate per request, a latency target, a precision) is
costed by the roofline (tsbudget.roofline.serving_roofline); its GPU time enters the budget
at the training throughput (Problem.serve_cost). The FLOPs-only forms stay as they were.
"""

import math

import numpy as np
import pytest

from tsbudget.errors import InfeasibleError, InputError
from tsbudget.hardware import Hardware, get_hardware
from tsbudget.laws.extended import Extended
from tsbudget.laws.presets import get_preset
from tsbudget.planning.closed_form import closed_form_budget
from tsbudget.planning.plan import plan
from tsbudget.planning.request import PlanRequest
from tsbudget.planning.serving import Serving
from tsbudget.registry import units

EPOCH = get_preset("epoch2024").values

#: A device with the H100 SXM's dense BF16 peak and unbounded memory bandwidth and link, and
#: the same utilisation for training and serving: on it the roofline is the FLOPs count.
IDEAL = Hardware("ideal", 989.4e12, train_utilization=0.4, serve_utilization=0.4, memory_bandwidth=math.inf,
                 memory_capacity=80e9, interconnect_bandwidth=math.inf)


def workload(positions=1e12, **kw):
    """``positions`` served as requests of 900 context + 100 generated tokens."""
    return Serving(requests=positions / 1000, context=900, generate=100, **kw)


# -- the workload in the plan's unit ---------------------------------------------------------
def test_a_workload_is_requests_times_context_plus_generate_in_the_plan_unit():
    cells = units.resolve("cells", patch_length=16)
    s = Serving(requests=1e9, context=4096, generate=64, latency_ms=20).in_unit(cells)
    assert s.roofline and s.request_positions == pytest.approx((4096 + 64) / 16, rel=1e-15)
    assert s.served_positions == pytest.approx(1e9 * 260, rel=1e-15) and s.served_units() == pytest.approx(4.16e12)
    w = s.workload()  # the roofline counts model positions
    assert (w.context, w.generate, w.precision, w.latency_ms) == (256.0, 4.0, "bf16", 20.0)
    d = s.to_dict()
    assert d["model"] == "roofline" and d["context"] == 4096 and d["precision"] == "bf16"
    assert Serving(positions=1e9).to_dict()["model"] == "flops"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"requests": 1e9, "latency_ms": 20}, "latency_ms describe a roofline workload, which needs context"),
        ({"positions": 1e9, "precision": "fp8"}, "precision describe a roofline workload"),
        ({"context": 100, "generate": 10}, "needs requests"),
        ({"requests": 1e9, "context": 100, "positions_per_request": 110}, "positions_per_request cannot be given"),
        ({"units": 1e9, "generate": 10, "requests": 5}, "units cannot be given"),
        ({"requests": 1e9, "context": 0, "generate": 0}, "context \\+ generate must be > 0"),
        ({"requests": 1e9, "context": -1}, "Serving.context must be finite and >= 0"),
        ({"requests": 1e9, "generate": 8, "batch": 0}, "Serving.batch must be an integer >= 1"),
        ({"requests": 1e9, "generate": 8, "latency_ms": 0}, "latency_ms must be finite and > 0"),
    ],
)
def test_bad_workloads_name_the_field(kwargs, match):
    with pytest.raises(InputError, match=match):
        Serving(**kwargs)


def test_a_workload_without_a_unit_says_so():
    with pytest.raises(InputError, match="known once a unit is given"):
        Serving(requests=3, context=10, generate=2).served_positions


# -- no serving and FLOPs-only serving are unchanged -------------------------------------------
def test_without_serving_the_plan_is_the_closed_form_exactly():
    p = plan(1e22)
    N, D = closed_form_budget(EPOCH, 1e22)
    assert p.method == "closed form" and (p.N, p.D) == (float(N), float(D))
    assert "serving" not in p.message and not any(k.startswith("lifetime") for k in p.diagnostics)


def test_flops_only_serving_costs_its_inference_flops_and_says_it_ignores_memory():
    r = PlanRequest.build(1e22, serving=Serving(positions=1e12))
    N = np.geomspace(1e8, 1e11, 5)
    np.testing.assert_array_equal(r.problem.serve_cost(N, {}), r.problem.serve_flops(N, {}))
    p = plan(1e22, serving=Serving(positions=1e12))
    assert "serving costed by FLOPs only (memory bandwidth, memory capacity and latency ignored" in p.message
    assert p.total_flops == pytest.approx(1e22, rel=1e-9)


# -- unbounded bandwidth recovers the FLOPs-only plan -------------------------------------------
@pytest.mark.parametrize("goal", [{"budget": 1e22}, {"target_loss": 2.3}])
@pytest.mark.parametrize(
    "cost_model, settings, fixed",
    [
        ("dense", {}, {}),
        ("dense", {"d_model": 2048, "n_layer": 24, "n_ctx": 1024}, {}),  # a KV cache, free to read
        ("moe", {}, {"experts": 8}),
    ],
)
def test_with_unbounded_bandwidth_the_roofline_plan_is_the_flops_only_plan(goal, cost_model, settings, fixed):
    # With memory bandwidth = inf every phase is compute-bound: GPU-seconds = FLOPs / (peak · u_serve)
    # and the plan charges them at peak · u_train; with u_train = u_serve and bf16 (the dense peak)
    # that is the inference FLOPs themselves, the FLOPs-only cost (Sardana & Frankle 2024).
    kw = dict(cost_model=cost_model, cost_settings=settings, fixed=fixed, hardware=IDEAL, **goal)
    roof = plan(serving=workload(1e12), **kw)
    flops = plan(serving=Serving(positions=1e12), **kw)
    for name in ("N", "D", "loss", "inference_flops", "serve_gpu_hours", "train_gpu_hours"):
        assert getattr(roof, name) == pytest.approx(getattr(flops, name), rel=1e-9), name
    assert roof.diagnostics["lifetime_cost_flops"] == pytest.approx(flops.total_flops, rel=1e-9)
    assert roof.diagnostics["decode_limit"] == "compute"


def test_lifetime_gpu_hours_are_the_cost_at_the_training_throughput():
    h100 = get_hardware("h100-sxm")
    p = plan(1e22, serving=workload(1e12, latency_ms=20, price_per_gpu_hour=2.0))
    hours = p.train_gpu_hours + p.serve_gpu_hours
    assert p.diagnostics["lifetime_cost_flops"] == pytest.approx(1e22, rel=1e-9)  # the budget is spent
    assert hours == pytest.approx(1e22 / (h100.peak_flops * h100.train_utilization * 3600), rel=1e-9)
    assert p.diagnostics["lifetime_gpu_hours"] == pytest.approx(hours, rel=1e-12)
    assert p.diagnostics["lifetime_cost_money"] == pytest.approx(2.0 * hours, rel=1e-12)


# -- latency targets ---------------------------------------------------------------------------
def test_a_latency_target_caps_the_model_and_binds():
    # 1e23 FLOPs would buy a model far larger than a 2 ms/position decode allows on one H200:
    # batch-1 decode of N bf16 parameters takes 2N / 4.8e12 s, so N <= 4.8e9
    p = plan(1e23, serving=workload(1e12, latency_ms=2), hardware="h200")
    assert "latency target" in p.binding and "latency target" in p.message
    assert p.N == pytest.approx(4.8e12 * 2e-3 / 2, rel=1e-6)
    assert p.diagnostics["decode_latency_ms"] <= 2 * (1 + 1e-9) and p.diagnostics["decode_limit"] == "bandwidth"
    free = plan(1e23, serving=workload(1e12), hardware="h200")
    assert free.N > 2 * p.N and "latency target" not in free.binding


@pytest.mark.parametrize("goal", [{"budget": 1e22}, {"target_loss": 2.3}])
def test_an_unreachable_latency_target_names_the_limit_and_the_factor(goal):
    # the smallest allowed dense model, 2e9 parameters in bf16, moves 4e9 bytes per decode step
    # at batch 1: 4e9 / 3.35e12 B/s = 1.194 ms on an H100 SXM, 1.194 times a 1 ms target
    with pytest.raises(InfeasibleError) as info:
        plan(serving=workload(1e12, latency_ms=1), n_bounds=(2e9, 1e10), **goal)
    msg = str(info.value)
    assert "serving latency target 1 ms per generated position: no allowed model meets it" in msg
    assert "bound by bandwidth" in msg and f"×{4e9 / 3.35e12 / 1e-3:.4g}" in msg


def test_a_target_reachable_only_by_models_too_slow_to_serve_says_so():
    with pytest.raises(InfeasibleError) as info:
        plan(target_loss=1.9, serving=workload(1e12, latency_ms=2), hardware="h200")
    msg = str(info.value)
    assert "lowest loss reachable within the bounds by models that meet the serving latency target" in msg
    assert "larger models miss it" in msg and "bound by bandwidth" in msg


# -- interior optima the physics gives ----------------------------------------------------------
def test_hierarchical_compression_buys_less_under_a_bandwidth_bound_decode():
    # A law that penalises compressing the inner level (fixture exponent γ = -0.3) against the
    # FLOPs it saves has an interior optimum ratio under FLOPs-only serving. Under the roofline,
    # once a latency target holds decode bandwidth-bound at a batch > 1, every level's weights
    # are read every step (HierarchicalCompression.weight_params_touched), so compression no
    # longer saves serving time and the optimum moves down, staying interior.
    law = Extended(**EPOCH, variables=("ratio_inner",), references=(1.0,), gamma=(-0.3,), eta=(0.0,))
    kw = dict(target_loss=2.3, law=law, cost_model="hierarchical", free=("ratio_inner",))
    flops = plan(serving=Serving(positions=1e13), **kw).variables["ratio_inner"]
    tight = plan(serving=workload(1e13, latency_ms=0.4), **kw)
    ratio = tight.variables["ratio_inner"]
    assert 1.0 < ratio < flops < 1024 and tight.at_bound == ()
    assert tight.diagnostics["decode_limit"] == "bandwidth" and tight.diagnostics["batch"] > 1


def test_recurrent_depth_keeps_its_interior_optimum_under_the_roofline():
    # The core is re-read once per loop (RecurrentDepth.weight_params_touched = N + (r-1)·N_core,
    # half the serving FLOPs per position): loops cost bandwidth in the same proportion as FLOPs,
    # so a law valuing recurrence with a peak (fixture: quadratic efficiency γ = 1, γ2 = -0.15)
    # keeps the same interior optimum when decode is bandwidth-bound. What the roofline adds is
    # the latency target, which caps N·(1 + (r-1)·core share) per decode step.
    law = Extended(**EPOCH, variables=("recurrence",), references=(1.0,), gamma=(1.0,), eta=(0.0,),
                   kinds=("quadratic",), gamma2=(-0.15,))
    kw = dict(target_loss=2.3, law=law, cost_model="recurrent_depth", free=("recurrence",))
    flops = plan(serving=Serving(positions=1e13), **kw)
    roof = plan(serving=workload(1e13, latency_ms=0.3), **kw)
    assert roof.diagnostics["decode_limit"] == "bandwidth"
    assert 1 < roof.variables["recurrence"] == flops.variables["recurrence"] < 256 and roof.at_bound == ()


# -- serving on other hardware, at another price -------------------------------------------------
def test_a_serving_price_weighs_serving_hours_and_moves_the_plan():
    def at(price):
        return plan(target_loss=2.2, serving=workload(1e12, latency_ms=50, price_per_gpu_hour=3.0,
                                                      serve_price_per_gpu_hour=price))
    cheap, same, dear = at(0.8), at(3.0), at(30.0)
    assert cheap.N > same.N > dear.N  # dearer serving: a smaller model trained longer
    one = plan(target_loss=2.2, serving=workload(1e12, latency_ms=50, price_per_gpu_hour=3.0))
    assert same.N == one.N
    d = cheap.diagnostics
    assert d["lifetime_gpu_hours"] == pytest.approx(cheap.train_gpu_hours + 0.8 / 3.0 * cheap.serve_gpu_hours)
    assert d["lifetime_cost_money"] == pytest.approx(3.0 * cheap.train_gpu_hours + 0.8 * cheap.serve_gpu_hours)


def test_serving_on_other_hardware_needs_both_prices():
    with pytest.raises(InputError, match="serving on 'l4' while training on 'h100-sxm'.*serve_price_per_gpu_hour"):
        plan(1e22, serving=workload(1e12, hardware="l4"))
    with pytest.raises(InputError, match="give price_per_gpu_hour"):
        Serving(positions=1e9, serve_price_per_gpu_hour=1.0)
    p = plan(1e22, serving=workload(1e12, hardware="l4", price_per_gpu_hour=3.0, serve_price_per_gpu_hour=0.8))
    assert p.diagnostics["serving_hardware"] == "l4" and p.hardware == "h100-sxm"
    # the serving GPU-hours are L4 hours: the roofline's GPU-seconds on an L4 replica
    from tsbudget.roofline import serving_roofline

    rf = serving_roofline("dense", p.N, "l4", workload(1e12).in_unit(units.resolve("tokens")).workload())
    assert p.serve_gpu_hours == pytest.approx(1e9 * float(rf.gpu_seconds_per_request) / 3600, rel=1e-12)


def test_step_tokens_passes_to_the_workload_and_sets_the_prefill_group():
    """Serving.step_tokens reaches the roofline: 900-position prompts, 8,192 positions per forward
    pass (the default) prefill 9 at a time; no limit prefills the whole decode batch together."""
    from tsbudget.planning.serving import Serving
    from units.tokens import Tokens

    def served(**kw):
        return Serving(requests=1e9, context=900, generate=100, latency_ms=20, **kw)

    assert served().in_unit(Tokens()).workload().prompts_per_prefill == 9.0
    assert served(step_tokens=math.inf).in_unit(Tokens()).workload().prompts_per_prefill is None
    default = plan(1e22, serving=served()).diagnostics
    whole = plan(1e22, serving=served(step_tokens=math.inf)).diagnostics
    assert default["prefill_latency_ms"] == pytest.approx(9 * default["prefill_ms"], rel=1e-9)
    assert whole["prefill_latency_ms"] == pytest.approx(whole["batch"] * whole["prefill_ms"], rel=1e-9)
    with pytest.raises(InputError, match="step_tokens"):
        served(step_tokens=0.5)
