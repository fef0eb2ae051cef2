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


# -- log-quadratic efficiencies ------------------------------------------------------------
QUAD = Extended(variables=("experts", "compression"), references=(8.0, 4.0), kinds=("linear", "quadratic"),
                gamma=(0.3, 0.05), eta=(0.05, 0.02), gamma2=(0.0, -0.1), eta2=(0.0, -0.25))
QUAD_INPUTS = {"N": INPUTS["N"], "D": INPUTS["D"], "experts": INPUTS["experts"],
               "compression": np.array([1.0, 16.0, 4.0])}


def test_quadratic_kind_adds_curvature_parameters():
    names = [p.name for p in QUAD.parameters]
    assert names[5:] == ["gamma_experts", "eta_experts", "gamma_compression", "eta_compression",
                         "gamma2_compression", "eta2_compression"]
    assert list(QUAD.values) == names and QUAD.quadratic == ("compression",)
    assert QUAD.replace(eta2_compression=-0.5).eta2 == (0.0, -0.5)
    assert QUAD.to_dict()["kinds"] == ["linear", "quadratic"]
    check_law(QUAD)
    check_law(Extended(variables=("rate",), kinds=("quadratic",), eta2=(-0.2,)))
    with pytest.raises(InputError, match="linear"):
        Extended(variables=("experts",), gamma2=(0.1,))
    with pytest.raises(InputError, match="kinds"):
        Extended(variables=("experts",), kinds=("cubic",))
    with pytest.raises(InputError, match="kinds"):
        Extended(variables=("experts", "rate"), kinds=("linear",))


def test_quadratic_effective_sizes_and_gradient():
    lc = np.log(QUAD_INPUTS["compression"] / 4.0)
    le = np.log(QUAD_INPUTS["experts"] / 8.0)
    n_eff = QUAD_INPUTS["N"] * np.exp(0.3 * le + 0.05 * lc - 0.1 * lc**2)
    d_eff = QUAD_INPUTS["D"] * np.exp(0.05 * le + 0.02 * lc - 0.25 * lc**2)
    np.testing.assert_allclose(QUAD.loss(**QUAD_INPUTS), Chinchilla().loss(N=n_eff, D=d_eff), rtol=1e-13)
    got = QUAD.effective(QUAD.values, QUAD_INPUTS)
    np.testing.assert_allclose(got["D_eff"], d_eff, rtol=1e-13)
    assert_gradient_matches(QUAD, QUAD_INPUTS)
    assert_broadcasts(QUAD, QUAD_INPUTS)


def test_quadratic_at_fixed_variables_is_chinchilla():
    fixed = QUAD.at(experts=32.0, compression=16.0)
    n, d = QUAD_INPUTS["N"], QUAD_INPUTS["D"]
    inputs = {"N": n, "D": d, "experts": np.full(3, 32.0), "compression": np.full(3, 16.0)}
    np.testing.assert_allclose(fixed.loss(N=n, D=d), QUAD.loss(**inputs), rtol=1e-13)
    # draws broadcast through params_at
    draws = {k: np.full(4, v) for k, v in QUAD.values.items()}
    draws["eta2_compression"] = np.array([0.0, -0.1, -0.25, -0.5])
    b = QUAD.params_at(draws, experts=8.0, compression=16.0)["B"]
    lc = np.log(4.0)
    np.testing.assert_allclose(b, QUAD.B * np.exp(-QUAD.beta * (0.02 * lc + draws["eta2_compression"] * lc**2)),
                               rtol=1e-13)


def test_efficiency_peak():
    # eta 0.02, eta2 -0.25 around 4: peak at 4·exp(0.02/0.5)
    assert QUAD.efficiency_peak("compression") == pytest.approx(4.0 * np.exp(0.04), rel=1e-14)
    assert QUAD.efficiency_peak("compression", "parameters") == pytest.approx(4.0 * np.exp(0.25), rel=1e-14)
    with pytest.raises(InputError, match="not a quadratic"):
        QUAD.efficiency_peak("experts")
    with pytest.raises(InputError, match="no peak"):
        QUAD.replace(eta2_compression=0.1).efficiency_peak("compression")


def test_for_cost_model_quadratic():
    law = Extended.for_cost_model("adaptive_patching", quadratic=("compression",))
    assert law.kinds == ("quadratic",) and law.references == (4.5,)
    with pytest.raises(InputError, match="recurrence"):
        Extended.for_cost_model("adaptive_patching", quadratic=("recurrence",))


# A known valley in compression: the parameter and data efficiencies peak near the
# reference, while the adaptive_patching cost (6·N/p per position) rewards compression.
TRUE_VALLEY = Extended(E=1.8, A=480.0, B=2000.0, alpha=0.35, beta=0.36, variables=("compression",),
                       references=(4.0,), kinds=("quadratic",), gamma=(0.05,), eta=(0.0,),
                       gamma2=(-0.1,), eta2=(-0.25,))


def _valley_runs(noise: float, seed: int = 0):
    import polars as pl

    rng = np.random.default_rng(seed)
    rows = []
    for n in np.geomspace(2e7, 1e9, 5):
        for tokens_per_param in (5.0, 20.0, 80.0):
            for p in (1.0, 2.0, 4.0, 8.0, 16.0, 32.0):
                d = tokens_per_param * n
                loss = float(TRUE_VALLEY.loss(N=n, D=d, compression=p)) * np.exp(rng.normal(0.0, noise))
                rows.append({"N": n, "D": d, "compression": p, "loss": loss, "flops": 6.0 * n * d / p})
    return pl.DataFrame(rows)


def test_synthetic_valley_is_recovered_and_planned():
    import tsbudget as tb
    from tsbudget.fitting.fit import fit

    runs = _valley_runs(noise=0.0)
    start = Extended(variables=("compression",), references=(4.0,), kinds=("quadratic",))
    result = fit(runs, start, cost_model="adaptive_patching")
    got = result.law
    for name in ("gamma_compression", "eta_compression", "gamma2_compression", "eta2_compression"):
        assert got.values[name] == pytest.approx(TRUE_VALLEY.values[name], abs=2e-3), name
    assert got.efficiency_peak("compression") == pytest.approx(TRUE_VALLEY.efficiency_peak("compression"), rel=1e-2)
    # the planner frees compression with the fitted law, 10x beyond the largest run
    budget = 10.0 * float(runs["flops"].max())
    want = tb.plan(budget, law=TRUE_VALLEY, cost_model="adaptive_patching", free=["compression"])
    plan = tb.plan(budget, law=result, cost_model="adaptive_patching", free=["compression"])
    assert plan.success and want.success
    p_want = want.variables["compression"]
    assert 1.0 < p_want < 64.0  # an interior optimum, not a bound
    assert plan.variables["compression"] == pytest.approx(p_want, rel=0.05)
    assert plan.N == pytest.approx(want.N, rel=0.05)
