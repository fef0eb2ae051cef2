"""A mixture of experts planned for its lifetime cost under the serving roofline (issue 13).

Law: Ludziejewski et al. 2025 ("Joint MoE Scaling Laws", ICML, eq. 6 with their Table 3
constants, tsbudget.laws.joint_moe), which values experts and data together. Under FLOPs-only
serving, experts are free at serving (only active parameters are charged), so the plan runs
to the largest expert count allowed. Under the roofline every expert must be held in memory
(replica devices from capacity) and a batched decode step reads the experts its positions
are routed to (MixtureOfExperts.weight_params_touched), so experts cost serving time: the
optimum is interior, and it moves down as the serving load grows.
"""

import pytest

from tsbudget.laws.joint_moe import JointMoE
from tsbudget.planning.plan import plan
from tsbudget.planning.serving import Serving

# Switch-style top-1 routing, one granularity: experts is the expert count of the paper.
MOE = dict(law=JointMoE(), cost_model="moe", free=("experts",), fixed={"top_k": 1, "granularity": 1},
           hardware="h100-sxm")
#: the loss of the compute-optimal MoE at 1e22 FLOPs without serving (2.0111, experts at 4096)
TARGET = 2.011


def served(positions):
    """``positions`` served as requests of 900 context + 100 generated tokens, 20 ms per token."""
    return Serving(requests=positions / 1000, context=900, generate=100, latency_ms=20)


def test_flops_only_serving_sends_experts_to_their_bound():
    p = plan(target_loss=TARGET, serving=Serving(positions=1e12), **MOE)
    assert p.variables["experts"] == 4096 and p.at_bound == ("experts",)


def test_serving_1e12_positions_at_a_latency_target_gives_an_interior_expert_count():
    p = plan(target_loss=TARGET, serving=served(1e12), **MOE)
    assert 1 < p.variables["experts"] < 4096 and p.at_bound == ()
    assert p.diagnostics["decode_latency_ms"] <= 20 * (1 + 1e-9)
    assert p.total_params > p.active_params and p.loss == pytest.approx(TARGET, rel=1e-9)


@pytest.mark.slow
def test_the_expert_count_moves_down_as_the_serving_load_grows():
    experts = [plan(target_loss=TARGET, serving=served(load), **MOE).variables["experts"]
               for load in (1e11, 3e11, 1e12)]
    assert 4096 > experts[0] > experts[1] > experts[2] > 1, experts
