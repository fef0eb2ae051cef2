"""Golden: Ludziejewski et al. 2025, "Joint MoE Scaling Laws: Mixture of Experts Can Be Memory Efficient".

The preset ``ludziejewski2025`` carries Table 3 (App. B), the coefficients of eq. 6. Checked here:

* Table 4 (App. B): eq. 6 reduced to Chinchilla form per expert count. Reproduced to 0.26% in the
  scales m, n and 1.4e-4 in the exponents µ, ν: this fixes the signs of Table 3 (α, β, δ, ζ < 0).
* Table 1 (§4.1): compute-optimal N_act and D at 1e20, 1e21, 1e22 FLOPs for E = 1..32 (eq. 7).
  Reproduced within the printed precision (2-3 digits) plus 1% for the rounding of Table 3.
* Table 2 (§4.5): the memory-optimal E for budgets 1e21-1e24 FLOPs and memory of 24 GB, 80 GB and
  640 GB, "16k tokens in the KV cache and bfloat16 for storing model weights and activations".
  Computed with the paper's own shape relations (App. A eq. 9-10, N_blocks = d_model/64, V = 50,257),
  a KV cache of 2·T·N_blocks·d_model values (§4.3), T = 16,384, GB = 1e9 bytes, E in {1, 2, 4, 8, 16,
  32} ("≥ 32" read as 32, the largest count they consider). 9 of the 12 cells match exactly. In the
  other 3 the paper's E is the neighbouring power of two and, under eq. 6, its loss lies 0.004-0.007
  nats above our optimum, within the fit's own error (held-out RMSE 0.0039, max 0.018, §5.2 and
  Fig. 5). The misses go both ways (1e21/24 GB: paper 16, ours 32; 1e23/80 GB: paper 8, ours 4;
  1e24/640 GB: paper 16, ours 8), so no single reading of the memory budget reproduces all cells:
  the first needs about 0.6x the stated memory or less, the second about 1.7x or more (scanned
  in 8% steps; pinned below at 0.5x/0.7x and 1x/2x). Other readings
  tried, none better than 9/12: GiB instead of GB, T of 0, 8k or 32k tokens, an inference load of
  100B or 1T tokens (§4.4, as Fig. 4), and Table 4's reduced coefficients instead of Table 3.
  The measured gap is pinned; no constant is adjusted.
"""

import re

import pytest

from tsbudget.laws.joint_moe_optima import compute_optimum, memory_optimum
from tsbudget.laws.presets import get_preset

LAW = get_preset("ludziejewski2025")

# Table 4: E -> (m, µ, n, ν); c = 1.3637 for every E
TABLE4 = {
    1: (30.3640, -0.1817, 53.9838, -0.1965), 2: (27.7982, -0.1780, 66.8401, -0.2065),
    4: (24.8462, -0.1731, 87.7022, -0.2192), 8: (21.8330, -0.1676, 119.9126, -0.2338),
    16: (19.0159, -0.1617, 167.5073, -0.2494), 32: (16.5424, -0.1557, 234.6726, -0.2652),
}

# Table 1: budget -> [(E, N_act^opt, D^opt)] as printed
TABLE1 = {
    1e20: [(1, "1.7B", "9.7B"), (2, "1.5B", "11.4B"), (4, "1.2B", "13.9B"), (8, "990M", "17B"),
           (16, "810M", "20.7B"), (32, "669M", "24.9B")],
    1e21: [(1, "5.7B", "29.3B"), (2, "5B", "33B"), (4, "4.4B", "38B"), (8, "3.8B", "44.3B"),
           (16, "3.3B", "51.2B"), (32, "2.85B", "58.4B")],
    1e22: [(1, "18.8B", "88.6B"), (2, "17.4B", "96B"), (4, "15.8B", "105.4B"), (8, "14.4B", "115.8B"),
           (16, "13.2B", "126.5B"), (32, "12.2B", "136.9B")],
}

# Table 2: budget -> optimal E at 24 GB, 80 GB, 640 GB ("≥ 32" written 32)
TABLE2 = {1e21: (16, 32, 32), 1e22: (4, 16, 32), 1e23: (1, 8, 32), 1e24: (1, 1, 16)}
MEMORY = (24e9, 80e9, 640e9)
# the cells eq. 6 does not reproduce: (budget, memory) -> (our E, loss of the paper's E minus ours)
MISSES = {(1e21, 24e9): (32, 0.0041), (1e23, 80e9): (4, 0.0057), (1e24, 640e9): (8, 0.0067)}


def _printed(text: str) -> tuple[float, float]:
    """A printed size ('1.7B', '990M') as a number and half a unit of its last printed digit."""
    number, suffix = re.fullmatch(r"([\d.]+)([MB])", text).groups()
    scale = {"M": 1e6, "B": 1e9}[suffix]
    decimals = len(number.split(".")[1]) if "." in number else 0
    return float(number) * scale, 0.5 * 10.0 ** -decimals * scale


def test_table4_reduced_coefficients():
    for e, (m, mu, n, nu) in TABLE4.items():
        q = LAW.params_at(LAW.values, experts=e)
        assert q["A"] == pytest.approx(m, rel=0.003) and q["B"] == pytest.approx(n, rel=0.003)
        assert -q["alpha"] == pytest.approx(mu, abs=2e-4) and -q["beta"] == pytest.approx(nu, abs=2e-4)
        assert q["E"] == 1.3637


@pytest.mark.parametrize("budget", sorted(TABLE1))
def test_table1_compute_optimal_configurations(budget):
    for e, n_text, d_text in TABLE1[budget]:
        n, d = compute_optimum(LAW, budget, e)
        for got, text in ((n, n_text), (d, d_text)):
            want, half_unit = _printed(text)
            assert abs(got - want) <= half_unit + 0.01 * want, (budget, e, text, got)


@pytest.mark.parametrize("budget", sorted(TABLE2))
def test_table2_memory_optimal_experts(budget):
    for memory, printed in zip(MEMORY, TABLE2[budget]):
        res = memory_optimum(LAW, budget, memory, kv_tokens=16384, bytes_per_value=2)
        got = res.best.experts
        if (budget, memory) not in MISSES:
            assert got == printed, (budget, memory, got)
            continue
        ours, gap = MISSES[(budget, memory)]
        assert got == ours and got / printed in (0.5, 2.0)
        paper = next(c for c in res.candidates if c.experts == printed)
        assert paper.loss - res.best.loss == pytest.approx(gap, abs=2e-4)


def test_table2_misses_need_opposite_memory_readings():
    # 1e21 FLOPs / 24 GB gives the paper's 16 only with less memory than stated ...
    assert memory_optimum(LAW, 1e21, 0.5 * 24e9).best.experts == 16
    assert memory_optimum(LAW, 1e21, 0.7 * 24e9).best.experts == 32
    # ... while 1e23 FLOPs / 80 GB gives the paper's 8 only with more
    assert memory_optimum(LAW, 1e23, 1.0 * 80e9).best.experts == 4
    assert memory_optimum(LAW, 1e23, 2.0 * 80e9).best.experts == 8
