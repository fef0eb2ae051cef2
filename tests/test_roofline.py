"""The serving roofline: the identities of issue 13 and its limits."""

import math

import attrs
import numpy as np
import pytest

from costmodels.dense import Dense
from costmodels.moe import MixtureOfExperts
from tsbudget.errors import InputError
from tsbudget.hardware import HARDWARE, Hardware, get_hardware
from tsbudget.roofline import LIMITS, NO_CACHE_NOTE, Roofline, Workload, crossover_batch, serving_roofline


def test_decode_70b_dense_bf16_on_one_h200_is_29_ms():
    # issue 13: 140e9 B / 4.8e12 B/s = 29.2 ms per position at batch 1, no cache
    r = serving_roofline(Dense(), 70e9, "h200", Workload(context=0, generate=1, batch=1))
    assert float(r.decode_latency_ms) == pytest.approx(140e9 / 4.8e12 * 1e3, rel=1e-12)
    assert float(r.decode_latency_ms) == pytest.approx(29.2, rel=0.01)
    assert r.decode_limit == "bandwidth" and int(r.devices) == 1


def test_70b_bf16_needs_two_80gb_devices():
    # 140e9 bytes of weights do not fit one 80 GB device
    for name in ("h100-sxm", "a100"):
        r = serving_roofline(Dense(), 70e9, name, Workload(batch=1))
        assert int(r.devices) == 2 and r.devices_limit == "capacity"
    assert int(serving_roofline(Dense(), 39e9, "h100-sxm", Workload(batch=1)).devices) == 1


def test_moe_moves_only_active_at_batch_1_but_holds_all_experts():
    # expert_share 1: total = 8x active; at batch 1 a position reads only the active weights
    moe = MixtureOfExperts(expert_share=1.0)
    dense = serving_roofline(Dense(), 10e9, "h200", Workload(batch=1))
    routed = serving_roofline(moe, 10e9, "h200", Workload(batch=1), experts=8)
    assert float(moe.total_params(10e9, experts=8)) == pytest.approx(80e9)
    assert int(routed.devices) == 2 and int(dense.devices) == 1  # 160e9 B vs 20e9 B on 141 GB devices
    # bytes moved per step (time x devices' bandwidth) are the active 20e9 B in both
    moved = [float(r.decode_seconds * r.devices) * 4.8e12 for r in (dense, routed)]
    assert moved == pytest.approx([20e9, 20e9], rel=1e-12)
    # on one device (5e9 active, 40e9 total: 80 GB) the step takes as long as the dense 5e9 model's
    small = [serving_roofline(m, 5e9, "h200", Workload(batch=1), **kw)
             for m, kw in ((Dense(), {}), (moe, {"experts": 8}))]
    assert [int(r.devices) for r in small] == [1, 1]
    assert float(small[1].decode_seconds) == pytest.approx(float(small[0].decode_seconds), rel=1e-12)


def test_crossover_batch_h100_sxm_bf16():
    # 989.4e12 * 2 / (2 * 3.35e12) = 295.3
    b = crossover_batch("h100-sxm", "bf16")
    assert b == pytest.approx(989.4e12 * 2 / (2 * 3.35e12), rel=1e-15)
    assert b == pytest.approx(295, abs=0.5)
    # the roofline turns compute-bound exactly there (at full utilisation)
    hw = get_hardware("h100-sxm", serve_utilization=1.0)
    below = serving_roofline(Dense(), 7e9, hw, Workload(batch=295))
    above = serving_roofline(Dense(), 7e9, hw, Workload(batch=296))
    assert below.decode_limit == "bandwidth" and above.decode_limit == "compute"
    free = serving_roofline(Dense(), 7e9, hw, Workload())
    assert float(free.batch) == 296 and free.batch_limit == "compute"


@pytest.mark.parametrize("model,variables", [
    (Dense(), {}),
    (Dense(n_layer=32, n_ctx=2048, d_model=4096), {}),
    (MixtureOfExperts(d_model=2048, n_layer=24), {"experts": np.array([1.0, 8.0, 64.0])}),
])
@pytest.mark.parametrize("batch", [None, 1, 7])
def test_infinite_bandwidth_recovers_flops_only_cost(model, variables, batch):
    hw = attrs.evolve(HARDWARE["h200"], memory_bandwidth=math.inf, interconnect_bandwidth=math.inf)
    w = Workload(context=512, generate=64, batch=batch)
    n = np.array([[1e8], [7e10]])
    r = serving_roofline(model, n, hw, w, **variables)
    flops = model.inference_flops(n, w.context + w.generate, **variables)
    expected = flops / (hw.peak("bf16") * hw.serve_utilization)
    np.testing.assert_allclose(r.gpu_seconds_per_request, expected, rtol=1e-12)


def test_broadcasts_over_n_and_variables():
    n = np.array([1e9, 1e10, 1e11])[:, None]
    r = serving_roofline(MixtureOfExperts(), n, "h100-sxm", Workload(context=128, generate=32), experts=[1, 8])
    assert r.devices.shape == r.batch.shape == r.decode_limit.shape == (3, 2)
    one = serving_roofline(MixtureOfExperts(), 1e10, "h100-sxm", Workload(context=128, generate=32), experts=8)
    assert float(r.gpu_seconds_per_request[1, 1]) == pytest.approx(float(one.gpu_seconds_per_request), rel=1e-12)


def test_latency_target_caps_the_batch_and_names_the_shortfall():
    # a 7B model with its attention cache (4096 positions of 2*32*4096 values): each sequence
    # adds its cache reads to the step, so the target caps the batch below what memory holds
    cached = Dense(n_layer=32, n_ctx=8192, d_model=4096)  # a window that holds 4096 + 100
    w = Workload(context=4096, generate=100, latency_ms=10.0)
    r = serving_roofline(cached, 7e9, "h200", w)
    assert r.feasible and r.batch_limit == "latency" and float(r.decode_latency_ms) <= 10.0
    assert 1 < float(r.batch) < float(r.max_batch)
    over = serving_roofline(cached, 7e9, "h200", attrs.evolve(w, batch=int(r.batch) + 1))
    assert not over.feasible and float(over.decode_latency_ms) > 10.0
    # without a target the memory left after the weights sets the batch
    free = serving_roofline(cached, 7e9, "h200", attrs.evolve(w, latency_ms=None))
    assert free.batch_limit == "capacity" and float(free.batch) == float(free.max_batch)
    per_sequence = (4096 + 100) * 2 * 32 * 4096 * 2
    assert float(free.max_batch) == (141e9 - 14e9) // per_sequence
    w = Workload(context=0, generate=100, latency_ms=40.0)
    # 29.2 ms at batch 1 on one H200 cannot meet 10 ms: bandwidth binds, by 2.92x
    miss = serving_roofline(Dense(), 70e9, "h200", attrs.evolve(w, latency_ms=10.0))
    assert not miss.feasible and miss.latency_limit == "bandwidth"
    assert float(miss.shortfall) == pytest.approx(140e9 / 4.8e12 * 1e3 / 10.0, rel=1e-12)
    assert "factor 2.917" in repr(miss)


def test_throughput_and_gpu_hours_are_consistent():
    r = serving_roofline(Dense(), 7e9, "h100-sxm", Workload(context=1000, generate=200))
    per_request = float(r.prefill_seconds) + 200 * float(r.decode_seconds) / float(r.batch)
    assert float(r.throughput) == pytest.approx(1 / per_request, rel=1e-12)
    assert float(r.gpu_hours_per_million_requests) == pytest.approx(
        float(r.devices) * per_request * 1e6 / 3600, rel=1e-12)
    assert r.prefill_limit == "compute"
    assert isinstance(r, Roofline) and r.to_dict()["decode_limit"] in ("compute", "bandwidth")


def test_bad_inputs_name_the_field():
    with pytest.raises(InputError, match="Workload.batch"):
        Workload(batch=0)
    with pytest.raises(InputError, match="Workload.context"):
        Workload(context=-1)
    with pytest.raises(InputError, match="precision 'fp3'"):
        Workload(precision="fp3")
    with pytest.raises(InputError, match="memory_bandwidth"):
        serving_roofline(Dense(), 1e9, Hardware("bare", 1e15), Workload())
    with pytest.raises(InputError, match="'l4' has no peak for precision 'fp4'"):
        serving_roofline(Dense(), 1e9, "l4", Workload(precision="fp4"))


def test_given_replica_too_small_is_infeasible_with_capacity_binding():
    # 140e9 B of weights on 1 H100 (80 GB): 2 are needed -> shortfall 2, capacity binds
    r = serving_roofline(Dense(), 70e9, "h100-sxm", Workload(batch=1, devices=1))
    assert not r.feasible and r.latency_limit == "capacity" and float(r.shortfall) == 2.0
    assert "capacity binds" in repr(r) and r.devices_limit == "given"
    # it serves nothing: no batch, time, cost or throughput (NaN), and memory allows no batch
    for field in ("batch", "decode_latency_ms", "prefill_seconds", "gpu_seconds_per_request", "throughput",
                  "gpu_hours_per_million_requests"):
        assert np.isnan(getattr(r, field)), field
    assert float(r.max_batch) == 0 and "allows any" not in repr(r) and "the weights do not fit" in repr(r)
    assert r.batch_limit == r.throughput_limit == "capacity"
    # without a cache (max_batch inf when it fits) and with a free batch alike; arrays elementwise
    free = serving_roofline(Dense(), np.array([7e9, 70e9]), "l4", Workload(devices=1))
    assert list(free.feasible) == [True, False] and np.isfinite(free.gpu_seconds_per_request[0])
    assert np.isnan(free.gpu_seconds_per_request[1]) and list(free.max_batch) == [math.inf, 0.0]
    # a larger replica than needed splits the bytes: 4 devices, a quarter of the time
    big = serving_roofline(Dense(), 70e9, "h100-sxm", Workload(batch=1, devices=4))
    assert big.feasible and float(big.decode_seconds) == pytest.approx(140e9 / (4 * 3.35e12), rel=1e-12)


def test_grouped_query_cache_shrinks_the_cache():
    # d_kv = 1024 of d_model 8192 (8 of 64 heads): one eighth of the multi-head cache
    full = Dense(n_layer=80, n_ctx=8192, d_model=8192)
    gqa = Dense(n_layer=80, n_ctx=8192, d_model=8192, d_kv=1024)
    assert float(gqa.cache_bytes_per_position(70e9, 2.0)) * 8 == float(full.cache_bytes_per_position(70e9, 2.0))
    w = Workload(context=4096, generate=256)
    a, b = (serving_roofline(m, 70e9, "h200", w) for m in (full, gqa))
    assert float(b.max_batch) > float(a.max_batch) and float(b.gpu_seconds_per_request) < float(a.gpu_seconds_per_request)
    with pytest.raises(InputError, match="d_kv"):
        Dense(d_kv=128)


_MODELS = ("dense", "moe", "recurrent_depth", "hierarchical", "adaptive_patching", "patched")


@pytest.mark.parametrize("name", _MODELS)
def test_invariants_for_every_builtin_cost_model(name):
    # the roofline never costs less than the FLOPs-only estimate (each phase takes the larger of
    # compute and memory time), the batch fits, a met target is met, and the limits are named
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from tsbudget.registry import costmodels
    from tsbudget.testing import cost_settings, n_params

    cm = costmodels.resolve(name)

    @settings(max_examples=25, deadline=None, derandomize=True)
    @given(n=n_params(1e6, 1e12), variables=cost_settings(cm), context=st.sampled_from([0.0, 100.0, 4096.0]),
           latency=st.sampled_from([None, 5.0, 50.0]), hw=st.sampled_from(["h100-sxm", "l4", "b200"]))
    def check(n, variables, context, latency, hw):
        w = Workload(context=context, generate=64.0, latency_ms=latency)
        r = serving_roofline(cm, n, hw, w, **variables)
        assert float(r.gpu_seconds_per_request) >= float(r.flops_only_gpu_seconds_per_request) * (1 - 1e-12)
        assert 1 <= float(r.batch) and (float(r.batch) <= float(r.max_batch) or float(r.batch) == 1)
        if latency is not None and bool(r.feasible):
            assert float(r.decode_latency_ms) <= latency * (1 + 1e-9)
        if not bool(r.feasible):
            assert float(r.shortfall) > 1 and float(r.batch) == 1
        assert {str(r.decode_limit), str(r.prefill_limit), str(r.batch_limit)} <= set(LIMITS)

    check()


# -- prefill batched with the decode batch (Pope et al. 2022: "large-batch-size processing of
# input tokens", abstract) ---------------------------------------------------------------------
def test_the_prompts_of_a_batch_are_prefilled_together():
    # 16 prompts of 64 positions read the experts their 1,024 positions touch once, a share
    # T(16·64)·b/16 per request; prefilled one at a time each reads T(64)·b (bandwidth-bound)
    cm, hw = MixtureOfExperts(), get_hardware("h200")
    w = Workload(context=64, generate=64, batch=16)
    r = serving_roofline(cm, 70e9, hw, w, experts=8)
    alone = serving_roofline(cm, 70e9, hw, attrs.evolve(w, prefill_batch=1), experts=8)
    k, flops = float(r.devices), float(cm.inference_flops_per_position(70e9, experts=8))
    compute = 64 * flops / (k * hw.peak("bf16") * hw.serve_utilization)

    def share(prompts):
        return float(cm.weight_params_touched(70e9, prompts * 64, experts=8)) * 2 / prompts / (k * 4.8e12)

    assert float(r.prefill_seconds) == pytest.approx(max(compute, share(16)), rel=1e-12)
    assert float(r.prefill_latency_seconds) == pytest.approx(16 * float(r.prefill_seconds), rel=1e-12)
    assert float(alone.prefill_seconds) == pytest.approx(share(1), rel=1e-12) and alone.prefill_limit == "bandwidth"
    assert float(alone.prefill_latency_seconds) == float(alone.prefill_seconds)
    assert float(r.gpu_seconds_per_request) < float(alone.gpu_seconds_per_request)
    assert float(r.decode_seconds) == float(alone.decode_seconds)
    # one request at a time: the same either way
    one = [serving_roofline(cm, 70e9, hw, attrs.evolve(w, batch=1, prefill_batch=p), experts=8) for p in (None, 1)]
    assert float(one[0].gpu_seconds_per_request) == float(one[1].gpu_seconds_per_request)
    with pytest.raises(InputError, match="Workload.prefill_batch"):
        Workload(prefill_batch=0)


def test_a_request_target_waits_for_the_batch_prefill():
    # a request's first position comes after its batch's prefill: B·prefill + G·step <= target
    cm = Dense(n_layer=32, n_ctx=4096, d_model=4096)
    w = Workload(context=900, generate=100, request_latency_ms=3000.0, step_tokens=math.inf)  # whole batch
    r = serving_roofline(cm, 7e9, "h200", w)
    assert r.feasible and r.batch_limit == "latency" and float(r.batch) > 1
    total = float(r.prefill_latency_seconds) + 100 * float(r.decode_seconds)
    assert total * 1e3 <= 3000.0 and float(r.prefill_latency_seconds) == pytest.approx(
        float(r.batch) * float(r.prefill_seconds), rel=1e-12)
    over = serving_roofline(cm, 7e9, "h200", attrs.evolve(w, batch=int(r.batch) + 1))
    assert not over.feasible and over.latency_limit == "compute"  # the prefill binds
    # prompts prefilled alone wait only for their own: a larger batch meets the same target
    alone = serving_roofline(cm, 7e9, "h200", attrs.evolve(w, prefill_batch=1))
    assert alone.feasible and float(alone.batch) > float(r.batch)


def test_prefills_are_batched_up_to_the_engine_step_budget():
    # one forward pass takes step_tokens positions (TensorRT-LLM's max_num_tokens, 8,192 by
    # default): 9 prompts of 900 positions; a decode batch above 9 prefills 9 at a time
    cm, hw = MixtureOfExperts(), get_hardware("h100-sxm")
    w = Workload(context=900, generate=100, latency_ms=20.0)
    assert w.prompts_per_prefill == 9.0 and Workload(context=900, step_tokens=4000).prompts_per_prefill == 4.0
    assert Workload(context=9000).prompts_per_prefill == 1.0 and Workload(generate=8).prompts_per_prefill is None
    r = serving_roofline(cm, 8e9, hw, w, experts=64)
    assert float(r.batch) > 9
    k = float(r.devices)
    share = float(cm.weight_params_touched(8e9, 9 * 900, experts=64)) * 2 / 9 / (k * hw.memory_bandwidth)
    compute = 900 * float(cm.inference_flops_per_position(8e9, experts=64)) / (k * hw.peak("bf16") * hw.serve_utilization)
    assert float(r.prefill_seconds) == pytest.approx(max(share, compute), rel=1e-12)
    assert float(r.prefill_latency_seconds) == pytest.approx(9 * float(r.prefill_seconds), rel=1e-12)
    # no step limit: the whole decode batch together, never dearer per request
    whole = serving_roofline(cm, 8e9, hw, attrs.evolve(w, step_tokens=math.inf), experts=64)
    assert float(whole.gpu_seconds_per_request) <= float(r.gpu_seconds_per_request)
    with pytest.raises(InputError, match="Workload.step_tokens"):
        Workload(step_tokens=0.5)


def test_a_prompt_under_one_position_searches_the_prefill_crossover_too():
    # context 0.5: the batch's prefill carries half the decode's positions, so it turns
    # compute-bound at twice decode's crossover (295.3 on an H100 at full utilisation)
    hw = get_hardware("h100-sxm", serve_utilization=1.0)
    r = serving_roofline(Dense(), 7e9, hw, Workload(context=0.5, generate=64))
    assert r.prefill_limit == "compute" and r.decode_limit == "compute" and float(r.batch) == 591
    assert float(r.gpu_seconds_per_request) == pytest.approx(float(r.flops_only_gpu_seconds_per_request), rel=1e-12)
    below = serving_roofline(Dense(), 7e9, hw, Workload(context=0.5, generate=64, batch=590))
    assert below.prefill_limit == "bandwidth"
    assert float(below.gpu_seconds_per_request) > float(r.gpu_seconds_per_request)


# -- the replica size searched (Workload.devices="search") ----------------------------------------
SHAPED_70B = Dense(n_layer=80, n_ctx=4096, d_model=8192)


def test_device_search_takes_the_cheapest_replica_not_the_fewest_devices():
    # 70e9 dense with its multi-head cache, 4000 + 96 positions on H100 SXM: the fewest devices
    # (2) leave room for one sequence's cache, batch 1; 4 and 8 devices hold 16 and 46 sequences
    w = Workload(context=4000, generate=96)
    hours = {k: float(serving_roofline(SHAPED_70B, 70e9, "h100-sxm", attrs.evolve(w, devices=k))
                      .gpu_hours_per_million_requests) for k in (2, 4, 8)}
    assert hours[2] > 2 * hours[4] > 2 * hours[8]
    assert hours == pytest.approx({2: 1851.9, 4: 807.1, 8: 761.7}, abs=0.05)
    fewest = serving_roofline(SHAPED_70B, 70e9, "h100-sxm", w)
    assert int(fewest.devices) == 2 and fewest.devices_limit == "capacity" and int(fewest.batch) == 1
    r = serving_roofline(SHAPED_70B, 70e9, "h100-sxm", attrs.evolve(w, devices="search"))
    # decode never turns compute-bound (each cache read outlasts its FLOPs): the cap (8) binds
    assert int(r.devices) == 8 and r.devices_limit == "cost" and int(r.batch) == 46
    assert float(r.gpu_seconds_per_request) == float(serving_roofline(
        SHAPED_70B, 70e9, "h100-sxm", attrs.evolve(w, devices=8)).gpu_seconds_per_request)
    capped = serving_roofline(SHAPED_70B, 70e9, "h100-sxm", attrs.evolve(w, devices="search", max_devices=4))
    assert int(capped.devices) == 4 and float(capped.gpu_hours_per_million_requests) == pytest.approx(hours[4])


def test_device_search_meets_a_latency_target_the_fewest_devices_miss():
    # 140e9 B over 2 devices' 6.7e12 B/s: 20.9 ms per position at batch 1, 1.39x a 15 ms target
    w = Workload(latency_ms=15)
    fewest = serving_roofline(Dense(), 70e9, "h100-sxm", w)
    assert not fewest.feasible and fewest.latency_limit == "bandwidth"
    assert float(fewest.shortfall) == pytest.approx(140e9 / (2 * 3.35e12) / 15e-3, rel=1e-12)
    r = serving_roofline(Dense(), 70e9, "h100-sxm", attrs.evolve(w, devices="search"))
    assert r.feasible and int(r.devices) == 3 and r.devices_limit == "latency"
    assert float(r.decode_latency_ms) == pytest.approx(13.96, abs=0.005)
    # 3 devices reach the compute crossover: more cost the same (FLOPs only), the fewest kept
    assert float(r.gpu_seconds_per_request) == pytest.approx(float(r.flops_only_gpu_seconds_per_request), rel=1e-12)
    # none of the searched sizes meets 1 ms: the most searched is reported, latency binding
    tight = serving_roofline(Dense(), 70e9, "h100-sxm", Workload(latency_ms=1, devices="search"))
    assert not tight.feasible and int(tight.devices) == 8 and tight.devices_limit == "latency"
    assert float(tight.shortfall) == pytest.approx(140e9 / (8 * 3.35e12) / 1e-3, rel=1e-12)


def test_device_search_keeps_the_fewest_under_infinite_bandwidth_and_past_the_cap():
    hw = attrs.evolve(HARDWARE["h200"], memory_bandwidth=math.inf)
    w = Workload(context=512, generate=64, devices="search")
    n = np.array([1e9, 7e10, 3e11])
    r = serving_roofline(SHAPED_70B, n, hw, w)
    flops = SHAPED_70B.inference_flops(n, 576)
    np.testing.assert_allclose(r.gpu_seconds_per_request, flops / (hw.peak("bf16") * hw.serve_utilization), rtol=1e-12)
    fewest = serving_roofline(SHAPED_70B, n, hw, attrs.evolve(w, devices=None))
    np.testing.assert_array_equal(r.devices, fewest.devices)
    assert list(r.devices_limit) == ["capacity"] * 3
    # a model needing more than max_devices keeps its fewest: 4e12 bf16 bytes need 50 H100s
    big = serving_roofline(Dense(), 2e12, "h100-sxm", Workload(devices="search"))
    assert int(big.devices) == 50 and big.devices_limit == "capacity"


@pytest.mark.parametrize("field,value", [("devices", "wide"), ("devices", 0), ("max_devices", 0),
                                         ("max_devices", 2.5), ("max_devices", None)])
def test_workload_devices_and_max_devices_are_checked(field, value):
    with pytest.raises(InputError, match=f"Workload.{field}"):
        Workload(**{field: value})


def test_a_request_longer_than_the_cost_models_context_is_refused():
    # the attention FLOPs per position are counted at n_ctx (2·n_layer·n_ctx·d_model): a request
    # of more positions would be charged as a shorter one
    cm = Dense(n_layer=32, n_ctx=4096, d_model=4096)
    serving_roofline(cm, 7e9, "h200", Workload(context=4000, generate=96))  # 4096: fits the window
    for context, generate in ((4000, 97), (1e15, 1)):
        with pytest.raises(InputError, match=r"context \+ generate = .* exceed the cost model's n_ctx = 4096"):
            serving_roofline(cm, 7e9, "h200", Workload(context=context, generate=generate))
    # without a shape the model has no window to exceed
    assert serving_roofline(Dense(), 7e9, "h200", Workload(context=1e6, generate=1)).feasible


def test_a_cost_model_without_attention_shape_says_it_counts_no_cache():
    # Dense() has no n_layer/d_model: its cache is 0, which the roofline says rather than hides
    bare = serving_roofline(Dense(), 7e9, "h200", Workload(context=4000, generate=96))
    assert float(bare.cache_bytes_per_sequence) == 0 and bare.notes == (NO_CACHE_NOTE,)
    assert "note: no attention cache counted" in repr(bare) and bare.to_dict()["notes"] == [NO_CACHE_NOTE]
    shaped = serving_roofline(Dense(n_layer=32, n_ctx=4096, d_model=4096), 7e9, "h200",
                              Workload(context=4000, generate=96))
    assert shaped.notes == () and "note:" not in repr(shaped)
    # arrays too (a mixture of experts without shape, over several expert counts)
    moe = serving_roofline(MixtureOfExperts(), np.array([1e9, 1e10]), "h200", Workload(), experts=np.array([8.0, 64.0]))
    assert moe.notes == (NO_CACHE_NOTE,) and "note: no attention cache counted" in repr(moe)
