"""Golden: Krajewski et al. 2024, "Scaling Laws for Fine-Grained Mixture of Experts".

Table 1 (MoE row; KRAJEWSKI_TABLE1) gives the constants of eq. 9. Table 2 prints
compute-optimal configurations with their predicted loss, e.g. (transcribed)
    N = 64 x 100M, D = 4.37B,  G = 8,  F = 2.95e18, L = 3.133
    N = 64 x 1B,   D = 28.94B, G = 16, F = 1.93e20, L = 2.491
    N = 64 x 1T,   D = 7.94T,  G = 64, F = 4.97e25, L = 1.367
Evaluating eq. 9 with the Table 1 constants at N = 64 x (the printed active size) gives
3.044, 2.422, 1.334: 0.03-0.09 nats BELOW the printed losses. The gap is what the rounding of
Table 1 (three digits) cannot explain at the small end; the likeliest cause is that the
paper's N counts fewer parameters than 64 x active (only the expert feed-forward weights are
multiplied by the expansion rate). So Table 2 is NOT reproduced exactly; this test pins the
size and sign of the gap, so that a change of the formula or constants shows up here.
"""

import pytest

from tsbudget.laws.fine_grained_moe import FineGrainedMoE

TABLE2 = ((100e6, 4.37e9, 8, 3.133), (1e9, 28.94e9, 16, 2.491), (1e12, 7.94e12, 64, 1.367))


@pytest.mark.parametrize("active, tokens, granularity, printed", TABLE2)
def test_table2_losses_lie_just_above_eq9_at_64x_active(active, tokens, granularity, printed):
    got = float(FineGrainedMoE().loss(N=64 * active, D=tokens, granularity=granularity))
    assert 0.0 < printed - got < 0.1, (printed, got)


def test_table2_budgets_follow_6nd_on_active_parameters():
    # Table 2's FLOPs are ~6 x active x tokens (routing overhead aside): F / (6 N_act D) within 15%
    for (active, tokens, _, _), flops in zip(TABLE2, (2.95e18, 1.93e20, 4.97e25)):
        assert flops / (6 * active * tokens) == pytest.approx(1.0, rel=0.15)
