"""Kaplan et al. 2020's compute-efficient frontier, as Hoffmann et al. 2022 App. D.4 apply it.

Hoffmann et al. 2022, App. D.4 ("Small-scale comparison to Kaplan et al. (2020)"): "For 10^21
FLOPs ... From Kaplan et al. (2020), we find that the optimal model size should be 4.68 billion
parameters." Kaplan et al. 2020, App. A Table 6: N_opt = N_e·C_min^p_N, p_N = 0.73,
N_e = 1.3·10^9 params, C_min in PF-days (8.64·10^19 FLOPs, §1.3); §6.3 (above eq. 6.7): training
at the critical batch size costs C = 2·C_min. So 10^21 FLOPs is C_min = 5.79 PF-days and
N_opt = 1.3e9 · 5.79^0.73 = 4.683e9.
"""

import math

import pytest

from tsbudget.laws.kaplan import Kaplan, kaplan_frontier
from tsbudget.laws.presets import get_preset
from tsbudget.planning.plan import plan


def test_table6_frontier_at_1e21_is_hoffmanns_4_68e9():
    n, d = kaplan_frontier(1e21)
    assert n == pytest.approx(4.68e9, rel=5e-3)
    assert n * d * 6 == pytest.approx(1e21, rel=1e-12)
    # C_min = C, the other reading, gives 7.8e9: not the figure Hoffmann et al. quote
    assert 1.3e9 * (1e21 / 8.64e19) ** 0.73 == pytest.approx(7.8e9, rel=5e-3)


def test_kaplan2020_preset_plans_on_the_frontier_through_the_closed_form_hook():
    p = plan(1e21, law="kaplan2020")
    assert p.N == pytest.approx(4.68e9, rel=5e-3) and p.method == "closed form"
    assert plan(1e21, law="kaplan2020", method="closed_form").N == p.N
    law = get_preset("kaplan2020")
    assert law.has_closed_form and law.allocation == "compute_efficient"


def test_frontier_exponent_is_table6s_0_73():
    n1, _ = kaplan_frontier(1e21)
    n2, _ = kaplan_frontier(1e22)
    assert math.log10(n2 / n1) == pytest.approx(0.73, abs=1e-12)


def test_minimum_loss_allocation_is_the_documented_option():
    p = plan(1e21, law="kaplan2020_loss")
    assert p.N == pytest.approx(6.23e9, rel=5e-3)
    assert not Kaplan().has_closed_form
