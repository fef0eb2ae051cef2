"""Extended law: Chinchilla with fitted efficiency factors for cost-model variables."""

from typing import ClassVar

import attrs
import numpy as np
import pytest

from tests.laws.helpers import assert_broadcasts, assert_gradient_matches, assert_grid_finite
from tsbudget.cost_model import CostModel
from tsbudget.errors import InputError
from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.laws.extended import Extended
from tsbudget.registry import costmodels, laws
from tsbudget.testing import check_law
from tsbudget.variables import Variable

INPUTS = {
    "N": np.array([1e8, 1e9, 1e10]),
    "D": np.array([1e10, 1e11, 3e11]),
    "experts": np.array([4.0, 64.0, 8.0]),
    "rate": np.array([1.0, 8.0, 3.0]),
}
LAW = Extended(variables=("experts", "rate"), references=(8.0, 2.0), gamma=(0.3, -0.1), eta=(0.05, 0.2))


def test_conforms_and_is_registered():
    check_law(Extended())
    check_law(LAW)
    assert laws.get("extended") is Extended
    assert laws.resolve("extended", variables=("experts",)).required_inputs == ("N", "D", "experts")


def test_configuration_drives_parameters_inputs_and_values():
    assert LAW.required_inputs == ("N", "D", "experts", "rate") == LAW.inputs
    names = [p.name for p in LAW.parameters]
    assert names == ["E", "A", "B", "alpha", "beta", "gamma_experts", "eta_experts", "gamma_rate", "eta_rate"]
    assert list(LAW.values) == names
    assert LAW.values["gamma_rate"] == -0.1 and LAW.values["eta_experts"] == 0.05
    moved = LAW.replace(gamma_experts=0.5, E=2.0)
    assert moved.gamma == (0.5, -0.1) and moved.E == 2.0 and moved.references == LAW.references
    with pytest.raises(InputError, match="gamma_depth"):
        LAW.replace(gamma_depth=1.0)
    assert LAW.to_dict()["variables"] == ["experts", "rate"]


def test_zero_exponents_are_chinchilla_exactly():
    law = Extended(variables=("experts", "rate"))
    np.testing.assert_array_equal(law.loss(**INPUTS), Chinchilla().loss(N=INPUTS["N"], D=INPUTS["D"]))
    plain = Chinchilla().loss(N=INPUTS["N"], D=INPUTS["D"])
    np.testing.assert_array_equal(Extended().loss(N=INPUTS["N"], D=INPUTS["D"]), plain)
    # At the reference values the exponents do not matter either.
    at_ref = {**INPUTS, "experts": np.full(3, 8.0), "rate": np.full(3, 2.0)}
    np.testing.assert_allclose(LAW.loss(**at_ref), Chinchilla().loss(N=INPUTS["N"], D=INPUTS["D"]), rtol=1e-14)


def test_efficiency_factors_act_as_effective_sizes():
    n_eff = INPUTS["N"] * (INPUTS["experts"] / 8) ** 0.3 * (INPUTS["rate"] / 2) ** -0.1
    d_eff = INPUTS["D"] * (INPUTS["experts"] / 8) ** 0.05 * (INPUTS["rate"] / 2) ** 0.2
    np.testing.assert_allclose(LAW.loss(**INPUTS), Chinchilla().loss(N=n_eff, D=d_eff), rtol=1e-13)
    log_n, log_d = LAW.effective_sizes(LAW.values, INPUTS)
    np.testing.assert_allclose(np.exp(log_n), n_eff, rtol=1e-13)


def test_gradient_and_broadcasting():
    assert_gradient_matches(LAW, INPUTS)
    assert_broadcasts(LAW, INPUTS)


@attrs.frozen
class _Routed(CostModel):
    """A throwaway cost model declaring two variables (expert count and a ratio)."""

    name: ClassVar[str] = "routed_test"
    description: ClassVar[str] = "test only"
    declared_variables: ClassVar[tuple] = (
        Variable("experts", lower=1, upper=512, default=8, integer=True, log=True),
        Variable("ratio", lower=0.0, upper=1.0, default=0.0),
    )

    def train_flops_per_position(self, n, **variables):
        return 6.0 * np.asarray(n, dtype=float)

    def inference_flops_per_position(self, n, **variables):
        return 2.0 * np.asarray(n, dtype=float)

    def total_params(self, n, **variables):
        return np.asarray(n, dtype=float)


def test_for_cost_model_takes_the_declared_variables():
    law = Extended.for_cost_model(_Routed(), E=2.0)
    assert law.variables == ("experts", "ratio") and law.E == 2.0
    # References at the declared defaults; a non-positive default falls back to 1.
    assert law.references == (8.0, 1.0)
    assert Extended.for_cost_model("dense").variables == tuple(v.name for v in costmodels.get("dense")().variables)


def test_bad_configuration_and_inputs():
    with pytest.raises(InputError, match="gamma"):
        Extended(variables=("experts",), gamma=(0.1, 0.2))
    with pytest.raises(InputError, match="unique"):
        Extended(variables=("experts", "experts"))
    with pytest.raises(InputError, match="clashes"):
        Extended(variables=("N",))
    with pytest.raises(InputError, match="references"):
        Extended(variables=("experts",), references=(0.0,))
    with pytest.raises(InputError, match="'rate'"):
        LAW.loss(N=1e9, D=1e10, experts=8.0)
    with pytest.raises(InputError, match="experts"):
        LAW.loss(N=1e9, D=1e10, experts=0.0, rate=1.0)


def test_default_grid_is_finite():
    # 4,500 Hoffmann starts; one start (0) for each exponent.
    inputs = {k: INPUTS[k] for k in ("N", "D", "experts")}
    assert assert_grid_finite(Extended(variables=("experts",)), inputs) == 4500


def test_at_fixed_variables_is_a_chinchilla_law_with_its_closed_form():
    fixed = LAW.at(experts=32.0, rate=4.0)
    assert isinstance(fixed, Chinchilla) and fixed.alpha == LAW.alpha
    n, d = INPUTS["N"], INPUTS["D"]
    inputs = {"N": n, "D": d, "experts": np.full(3, 32.0), "rate": np.full(3, 4.0)}
    np.testing.assert_allclose(fixed.loss(N=n, D=d), LAW.loss(**inputs), rtol=1e-13)
    n_opt, d_opt = LAW.optimal_allocation(1e22, experts=32.0, rate=4.0)
    grid = np.geomspace(n_opt / 3, n_opt * 3, 20001)
    losses = LAW.loss(N=grid, D=1e22 / (6 * grid), experts=32.0, rate=4.0)
    assert grid[np.argmin(losses)] == pytest.approx(n_opt, rel=1e-3)
    with pytest.raises(InputError, match="rate"):
        LAW.at(experts=32.0)
    with pytest.raises(InputError, match="experts"):
        LAW.at(experts=-1.0, rate=1.0)
