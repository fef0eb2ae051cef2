"""Recurrent-depth cost model: exact dense limit at r = 1, truncated backprop counted pass by pass."""

import numpy as np
import pytest

from costmodels.dense import Dense
from costmodels.recurrent_depth import RecurrentDepth
from tsbudget.errors import InputError
from tsbudget.testing import check_costmodel

N = np.array([2e6, 3.5e9, 1e11])


@pytest.mark.parametrize(
    "cm", [RecurrentDepth(), RecurrentDepth(prelude_share=0.1, core_share=0.7, coda_share=0.2, backprop_repeats=1)]
)
def test_one_repeat_is_exactly_dense(cm):
    np.testing.assert_array_equal(cm.train_flops_per_position(N, recurrence=1), Dense().train_flops_per_position(N))
    np.testing.assert_array_equal(
        cm.inference_flops_per_position(N, recurrence=1), Dense().inference_flops_per_position(N)
    )
    np.testing.assert_array_equal(cm.total_params(N, recurrence=1), N)


def _count_passes(n, shares, r, k):
    """Walk the unrolled graph: forward 2 FLOPs per weight use; backward 4 per weight use
    for the coda, the last min(k, r) core repeats, and the prelude once (through e)."""
    p, c, o = (s * n for s in shares)
    forward = 2 * p + sum(2 * c for _ in range(r)) + 2 * o
    backward = 4 * o + sum(4 * c for i in range(r) if i >= r - k) + 4 * p
    return forward, forward + backward


@pytest.mark.parametrize("r, k", [(1, 8), (4, 8), (8, 8), (32, 8), (5, 1), (64, 3)])
def test_matches_pass_by_pass_count(r, k):
    shares = (0.2, 0.6, 0.2)
    cm = RecurrentDepth(*shares, backprop_repeats=k)
    serve, train = _count_passes(1e9, shares, r, k)
    np.testing.assert_allclose(cm.inference_flops_per_position(1e9, recurrence=r), serve, rtol=1e-13)
    np.testing.assert_allclose(cm.train_flops_per_position(1e9, recurrence=r), train, rtol=1e-13)


def test_huginn_unrolls_to_132_layers():
    # Geiping et al. 2025 §4: 2 prelude + 4 core + 2 coda layers; at r = 32 the model
    # unrolls to 2 + 4·32 + 2 = 132 layers, i.e. 132/8 = 16.5 times the forward FLOPs of its 8 layers.
    cm = RecurrentDepth(prelude_share=2 / 8, core_share=4 / 8, coda_share=2 / 8)
    ratio = cm.inference_flops_per_position(1e9, recurrence=32) / Dense().inference_flops_per_position(1e9)
    assert ratio == pytest.approx(132 / 8, rel=1e-14)


def test_truncation_saturates_training_cost():
    cm = RecurrentDepth(backprop_repeats=4)
    r = np.arange(1, 12)
    train = cm.train_flops_per_position(1e9, recurrence=r)
    step = np.diff(train)
    # each repeat inside the window adds 6·N_c, past k only the forward 2·N_c
    np.testing.assert_allclose(step[:3], 6 * 0.5e9, rtol=1e-12)
    np.testing.assert_allclose(step[3:], 2 * 0.5e9, rtol=1e-12)
    assert np.all(np.diff(cm.inference_flops_per_position(1e9, recurrence=r)) > 0)


def test_serving_uses_the_r_it_is_given():
    cm = RecurrentDepth()
    assert cm.inference_flops(1e9, 1e6, recurrence=64) > cm.inference_flops(1e9, 1e6, recurrence=8)


def test_broadcasts_over_n_positions_and_recurrence():
    cm = RecurrentDepth()
    n = np.array([[1e8], [1e9], [1e10]])
    r = np.array([1, 2, 16, 32])
    out = cm.train_flops(n, np.array([1e9, 2e9, 3e9, 4e9]), recurrence=r)
    assert out.shape == (3, 4)
    assert out[1, 2] == cm.train_flops(1e9, 3e9, recurrence=16)


@pytest.mark.parametrize("value", [0, 2.5, 257, -1])
def test_bad_recurrence_names_it(value):
    with pytest.raises(InputError, match="recurrence"):
        RecurrentDepth().inference_flops(1e9, 1e9, recurrence=value)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"core_share": 0.6}, "share"),
        ({"prelude_share": -0.1, "core_share": 0.85}, "prelude_share"),
        ({"backprop_repeats": 0}, "backprop_repeats"),
        ({"backprop_repeats": 2.0}, "backprop_repeats"),
    ],
)
def test_bad_fields_name_the_field(kwargs, field):
    with pytest.raises(InputError, match=field):
        RecurrentDepth(**kwargs)


def test_conformance():
    check_costmodel(RecurrentDepth())
    check_costmodel(RecurrentDepth(0.0, 1.0, 0.0, backprop_repeats=2))


def test_decode_rereads_the_core_every_loop():
    # r loops read the core r times per step: N + (r − 1)·N_c, half the serving FLOPs
    cm = RecurrentDepth()
    r = np.array([1.0, 4.0, 32.0])
    touched = cm.weight_params_touched(1e9, 16, recurrence=r)
    np.testing.assert_allclose(touched, 1e9 + (r - 1) * 0.5e9, rtol=1e-15)
    np.testing.assert_allclose(touched, cm.inference_flops_per_position(1e9, recurrence=r) / 2, rtol=1e-15)


def test_each_loop_keeps_its_cache():
    cm = RecurrentDepth(cache_values=2000.0, core_cache_values=500.0)
    got = cm.cache_bytes_per_position(1e9, 2.0, recurrence=np.array([1.0, 8.0]))
    np.testing.assert_allclose(got, [(2000 + 500) * 2, (2000 + 8 * 500) * 2], rtol=1e-15)
    assert float(RecurrentDepth().cache_bytes_per_position(1e9, 2.0)) == 0.0
