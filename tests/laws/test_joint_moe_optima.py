"""Compute- and memory-optimal expert counts under the joint MoE law (Ludziejewski et al. 2025 §4)."""

import json

import pytest

from tsbudget.errors import InfeasibleError, InputError
from tsbudget.laws.joint_moe import JointMoE
from tsbudget.laws.joint_moe_optima import (
    active_params, compute_optimum, d_model_for_active, d_model_for_memory, kv_cache_values, memory_bytes,
    memory_optimum, total_params,
)
from tsbudget.laws.presets import get_preset

LAW = JointMoE()


@pytest.mark.parametrize(
    "d_model, experts, n_total, n_act",
    # App. E rows whose shape follows N_blocks = d_model/64 (App. A.3); printed to 2-3 digits
    [(512, 32, 664e6, 79e6), (1024, 32, 5.0e9, 321e6), (2304, 1, 2.7e9, 2.7e9), (1792, 4, 3.8e9, 1.3e9),
     (640, 8, 376e6, 118e6), (1664, 2, 1.8e9, 1.1e9)],
)
def test_parameter_counts_match_the_paper_listing(d_model, experts, n_total, n_act):
    # App. A eq. 9 and 10 against the App. E listing, to the listing's 2 significant digits
    assert float(total_params(d_model, experts)) == pytest.approx(n_total, rel=0.04)
    assert float(active_params(d_model)) == pytest.approx(n_act, rel=0.04)


def test_widths_invert_the_counts():
    for e in (1, 8, 32):
        m = 80e9
        d = d_model_for_memory(m, e, kv_tokens=16384)
        assert float(memory_bytes(d, e, 16384)) == pytest.approx(m, rel=1e-12)
    assert float(active_params(d_model_for_active(3.3e9))) == pytest.approx(3.3e9, rel=1e-12)
    assert float(kv_cache_values(1024, 16384)) == 2 * 16384 * 16 * 1024


def test_memory_optimum_respects_the_budget_and_is_the_best_candidate():
    res = memory_optimum(LAW, 1e22, 80e9)
    assert [c.experts for c in res.candidates] == [1, 2, 4, 8, 16, 32]
    for c in res.candidates:
        assert c.memory_bytes <= 80e9 * (1 + 1e-12)
        assert 6 * c.n_active * c.tokens == pytest.approx(1e22, rel=1e-12)
        n_opt, _ = compute_optimum(LAW, 1e22, c.experts)
        if c.bound == "compute":
            assert c.n_active == pytest.approx(n_opt, rel=1e-12)
        else:  # memory binds: the largest model that fits, smaller than the compute optimum
            assert c.n_active < n_opt and c.memory_bytes == pytest.approx(80e9, rel=1e-9)
    assert res.best.loss == min(c.loss for c in res.candidates)
    json.loads(res.to_json())
    assert "Memory-optimal experts: success" in repr(res)


def test_more_memory_never_lowers_the_optimal_expert_count():
    best = [memory_optimum(LAW, 1e23, g * 1e9).best.experts for g in (8, 24, 80, 240, 640, 2000)]
    assert best == sorted(best) and best[0] < best[-1]


def test_inference_load_shrinks_the_active_size():
    plain = memory_optimum(LAW, 1e22, 80e9, experts=[1])
    served = memory_optimum(LAW, 1e22, 80e9, experts=[1], inference_tokens=1e12)
    c = served.best
    assert c.n_active < plain.best.n_active
    assert 6 * c.n_active * c.tokens + 2 * c.n_active * 1e12 == pytest.approx(1e22, rel=1e-9)
    # the optimum is interior: nudging the size either way raises the loss
    for f in (0.97, 1.03):
        n = c.n_active * f
        d = (1e22 - 2 * n * 1e12) / (6 * n)
        assert float(LAW.loss(N=n, D=d, experts=1.0)) > c.loss


def test_preset_builds_the_law_and_bad_inputs_are_refused():
    assert get_preset("ludziejewski2025") == LAW
    with pytest.raises(InfeasibleError, match="smallest model"):
        memory_optimum(LAW, 1e21, 1e6)
    with pytest.raises(InputError, match="memory must be finite"):
        memory_optimum(LAW, 1e21, -1.0)
    with pytest.raises(InputError, match="experts must be"):
        memory_optimum(LAW, 1e21, 80e9, experts=[0.5])
    with pytest.raises(InputError, match="law of N, D and experts"):
        memory_optimum(get_preset("epoch2024"), 1e21, 80e9)
    with pytest.raises(InputError, match="flops must be"):
        compute_optimum(LAW, float("nan"), 8)
