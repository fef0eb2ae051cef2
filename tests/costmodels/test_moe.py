"""MoE cost model: exact dense limit, parameter counts by explicit expert counting, Krajewski router FLOPs."""

import numpy as np
import pytest
from hypothesis import given

from costmodels.dense import Dense
from costmodels.moe import MixtureOfExperts
from tsbudget.errors import InputError
from tsbudget.testing import check_costmodel, cost_settings, n_params

N = np.array([3e7, 4e8, 1.3e10])


@pytest.mark.parametrize("cm", [MixtureOfExperts(), MixtureOfExperts(d_model=1024, n_layer=16, expert_share=0.6)])
def test_one_expert_is_exactly_dense(cm):
    one = {"experts": 1, "top_k": 1, "granularity": 1}
    np.testing.assert_array_equal(cm.train_flops_per_position(N, **one), Dense().train_flops_per_position(N))
    np.testing.assert_array_equal(cm.inference_flops_per_position(N, **one), Dense().inference_flops_per_position(N))
    np.testing.assert_array_equal(cm.total_params(N, **one), N)
    np.testing.assert_array_equal(cm.active_params(N, **one), N)


def _explicit_count(d, layers, d_ff, experts, top_k, granularity):
    """Count weights layer by layer: attention 4d², E·k·G fine experts of hidden d_ff/(k·G), a d×E·k·G router."""
    fine = experts * top_k * granularity
    hidden = d_ff / (top_k * granularity)
    router = d * fine if fine > 1 else 0
    total = layers * (4 * d * d + fine * 2 * d * hidden + router)
    active_dense = layers * (4 * d * d + 2 * d * d_ff)  # k·G fine experts == one dense FFN
    return total, active_dense, layers * router


@pytest.mark.parametrize(
    "experts, top_k, granularity", [(8, 1, 1), (4, 2, 1), (64, 1, 8), (16, 2, 4), (1, 2, 1), (1, 1, 1)]
)
def test_total_params_match_explicit_count(experts, top_k, granularity):
    d, layers = 512, 8
    d_ff = 4 * d
    total, active, router = _explicit_count(d, layers, d_ff, experts, top_k, granularity)
    cm = MixtureOfExperts(expert_share=2 * d * d_ff / (4 * d * d + 2 * d * d_ff), d_model=d, n_layer=layers)
    var = {"experts": experts, "top_k": top_k, "granularity": granularity}
    np.testing.assert_allclose(cm.total_params(active, **var), total, rtol=1e-12)
    np.testing.assert_allclose(cm.router_params(**var), router, rtol=0)
    np.testing.assert_allclose(cm.active_params(active, **var), active + router, rtol=1e-15)
    assert cm.expert_count(**var) == experts * top_k * granularity


def test_mixtral_shape():
    # Mixtral 8x7B (Jiang et al. 2024): 8 experts, top-2, so expansion E = 8/2 = 4. With
    # 32 layers, d_model 4096 and SwiGLU experts of 3·4096·14336 weights, the expert
    # weights add 32·3·4096·14336·(8 − 2) to the active count.
    layers, expert = 32, 3 * 4096 * 14336
    active_experts = layers * 2 * expert
    n_active = 12.9e9
    cm = MixtureOfExperts(expert_share=active_experts / n_active)
    extra = cm.total_params(n_active, experts=4, top_k=2) - n_active
    np.testing.assert_allclose(extra, layers * expert * 6, rtol=1e-12)
    assert cm.expert_count(experts=4, top_k=2) == 8


def test_router_flops_follow_krajewski():
    # Krajewski et al. 2024 §5: F = (12 d² c_f + d E G c_r) · D · n_blocks, c_f = 6, c_r = 14.
    d, blocks, e, g = 1024, 12, 64, 8
    cm = MixtureOfExperts(d_model=d, n_layer=blocks)
    n_act = 12 * d**2 * blocks
    expected = (12 * d**2 * 6 + d * e * g * 14) * blocks
    np.testing.assert_allclose(cm.train_flops_per_position(n_act, experts=e, granularity=g), expected, rtol=1e-15)
    # serving: one third of the router's training cost, like 2N vs 6N
    np.testing.assert_allclose(
        cm.inference_flops_per_position(n_act, experts=e, granularity=g),
        2 * n_act + d * e * g * 14 / 3 * blocks,
        rtol=1e-15,
    )


def test_monotone_in_experts_and_granularity():
    cm = MixtureOfExperts(d_model=768, n_layer=12)
    experts = np.array([2, 4, 8, 32, 256])
    assert np.all(np.diff(cm.total_params(1e9, experts=experts)) > 0)
    assert np.all(np.diff(cm.train_flops_per_position(1e9, experts=experts)) > 0)
    g = np.array([1, 2, 4, 16])
    assert np.all(np.diff(cm.train_flops_per_position(1e9, granularity=g)) > 0)
    # granularity leaves the expert weights unchanged, only the router grows
    bare = MixtureOfExperts()
    np.testing.assert_array_equal(bare.total_params(1e9, granularity=g), bare.total_params(1e9, granularity=1) + 0 * g)
    # top-k at fixed expansion: more, smaller experts; same weights, bigger router
    k = np.array([1, 2, 4, 8])
    np.testing.assert_array_equal(bare.total_params(1e9, experts=8, top_k=k), np.full(4, bare.total_params(1e9)))
    assert np.all(np.diff(cm.router_params(experts=8, top_k=k)) > 0)


def test_broadcasts_over_n_positions_and_variables():
    cm = MixtureOfExperts(d_model=512, n_layer=6)
    n = np.array([[1e7], [1e8], [1e9]])
    experts = np.array([1, 4, 16, 64])
    out = cm.train_flops(n, 1e10, experts=experts, granularity=2)
    assert out.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            assert out[i, j] == cm.train_flops(n[i, 0], 1e10, experts=experts[j], granularity=2)
    assert cm.total_params(n, experts=experts, top_k=1).shape == (3, 4)


@pytest.mark.parametrize(
    "var, match",
    [
        ({"experts": 0}, "experts"),
        ({"experts": 2.5}, "experts"),
        ({"top_k": 9}, "top_k"),
        ({"granularity": 1000}, "granularity"),
        ({"top_k": 0}, "top_k"),
        ({"recurrence": 2}, "recurrence"),
    ],
)
def test_bad_variables_name_them(var, match):
    with pytest.raises(InputError, match=match):
        MixtureOfExperts().train_flops(1e9, 1e9, **var)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"expert_share": 1.5}, "expert_share"),
        ({"expert_share": "half"}, "expert_share"),
        ({"d_model": 512}, "n_layer"),
        ({"n_layer": 0, "d_model": 512}, "n_layer"),
        ({"router_flops_constant": -1.0}, "router_flops_constant"),
    ],
)
def test_bad_fields_name_the_field(kwargs, field):
    with pytest.raises(InputError, match=field):
        MixtureOfExperts(**kwargs)


def test_conformance():
    check_costmodel(MixtureOfExperts())
    check_costmodel(MixtureOfExperts(d_model=2048, n_layer=24, expert_share=0.5))


@given(settings=cost_settings(MixtureOfExperts()), n=n_params())
def test_every_drawn_combination_is_valid(settings, n):
    # the variables are independent: any value within each bound is a valid model
    cm = MixtureOfExperts(d_model=1024, n_layer=12)
    assert cm.train_flops_per_position(n, **settings) >= 6 * n
    assert cm.total_params(n, **settings) >= cm.active_params(n, **settings) >= n


def test_touched_experts_match_simulated_uniform_routing():
    # E = 4 experts per one used, top_k = 2, granularity 2: a pool of 16 fine experts, each
    # position picks 4 distinct ones uniformly; the mean share of the pool touched by B
    # positions must match E·(1 − (1 − 1/E)^B) in units of one position's experts.
    cm = MixtureOfExperts(expert_share=1.0)
    rng = np.random.default_rng(0)
    pool, per_position, trials = 16, 4, 20000
    for batch in (1, 3, 10):
        picks = np.argsort(rng.random((trials, batch, pool)), axis=2)[:, :, :per_position]
        touched = np.zeros((trials, pool), dtype=bool)
        np.put_along_axis(touched, picks.reshape(trials, -1), True, axis=1)
        simulated = touched.mean() * pool / per_position  # in units of one position's experts
        model = float(cm.weight_params_touched(1.0, batch, experts=4, top_k=2, granularity=2))
        assert model == pytest.approx(simulated, rel=0.01)


def test_touched_is_active_at_batch_1_and_reaches_the_pool():
    cm = MixtureOfExperts(d_model=1024, n_layer=12)
    n, kw = 1e9, {"experts": np.array([1.0, 8.0, 64.0]), "top_k": 2}
    np.testing.assert_allclose(cm.weight_params_touched(n, 1, **kw), cm.active_params(n, **kw), rtol=1e-12)
    np.testing.assert_allclose(cm.weight_params_touched(n, 1e6, **kw), cm.total_params(n, **kw), rtol=1e-9)
    steps = cm.weight_params_touched(n, np.arange(1.0, 200.0)[:, None], **kw)
    assert np.all(np.diff(steps, axis=0) >= 0)
    # the KV cache: 2·n_layer·d_model values per position, none without the shape
    assert float(cm.cache_bytes_per_position(n, 2.0, **kw)) == 2 * 12 * 1024 * 2
    assert float(MixtureOfExperts().cache_bytes_per_position(n, 2.0)) == 0.0
