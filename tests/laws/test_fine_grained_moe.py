"""The fine-grained MoE law of Krajewski et al. 2024 (eq. 9)."""

import numpy as np
import pytest

from tests.laws.helpers import assert_broadcasts, assert_gradient_matches
from tsbudget.errors import InputError
from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.laws.fine_grained_moe import KRAJEWSKI_TABLE1, FineGrainedMoE
from tsbudget.registry import laws
from tsbudget.testing import check_law

INPUTS = {"N": np.array([6.4e9, 6.4e10, 6.4e13]), "D": np.array([4.37e9, 2.894e10, 7.94e12]),
          "granularity": np.array([8.0, 16.0, 64.0])}


def test_conforms_registered_and_formula():
    law = FineGrainedMoE()
    check_law(law)
    assert laws.get("fine_grained_moe") is FineGrainedMoE and law.values == KRAJEWSKI_TABLE1
    n, d, g = INPUTS["N"], INPUTS["D"], INPUTS["granularity"]
    want = 0.47 + (2.1 / g**0.58 + 18.1) / n**0.115 + 30.8 / d**0.147
    np.testing.assert_allclose(law.loss(**INPUTS), want, rtol=1e-13)
    assert_gradient_matches(law, INPUTS)
    assert_broadcasts(law, INPUTS)


def test_fixed_granularity_is_chinchilla_with_closed_form():
    law = FineGrainedMoE()
    fixed = law.at(granularity=8.0)
    assert isinstance(fixed, Chinchilla) and fixed.A == pytest.approx(18.1 + 2.1 / 8**0.58, rel=1e-14)
    np.testing.assert_allclose(fixed.loss(N=INPUTS["N"], D=INPUTS["D"]),
                               law.loss(N=INPUTS["N"], D=INPUTS["D"], granularity=8.0), rtol=1e-13)
    n_opt, d_opt = law.optimal_allocation(1e21, granularity=8.0)
    grid = np.geomspace(n_opt / 3, n_opt * 3, 20001)
    assert grid[np.argmin(law.loss(N=grid, D=1e21 / (6 * grid), granularity=8.0))] == pytest.approx(n_opt, rel=1e-3)
    with pytest.raises(InputError, match="granularity"):
        law.params_at(law.values)
    with pytest.raises(InputError, match="experts"):
        law.at(experts=8.0)


def test_finer_experts_lower_the_loss_toward_a_floor():
    law = FineGrainedMoE()
    losses = law.loss(N=6.4e9, D=1e11, granularity=np.array([1.0, 4.0, 16.0, 64.0, 1e9]))
    assert np.all(np.diff(losses) < 0)
    floor = 0.47 + 18.1 / 6.4e9**0.115 + 30.8 / 1e11**0.147
    assert losses[-1] == pytest.approx(floor, rel=1e-4)
