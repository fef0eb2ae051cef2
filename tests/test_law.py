"""The Law base class: every hook's default, the finite-difference gradient, value checks."""

import math
from typing import ClassVar

import attrs
import numpy as np
import pytest

from tsbudget.errors import InputError, PluginError
from tsbudget.law import Law, Parameter, scratch_array, value_field


@attrs.frozen
class Power(Law):
    """``L = E + A/N^α``: a toy law that declares no hooks beyond the abstract ones."""

    name: ClassVar[str] = "toy_power"
    description: ClassVar[str] = "E + A/N^alpha"
    inputs: ClassVar[tuple[str, ...]] = ("N",)

    E: float = value_field(1.7)
    A: float = value_field(400.0)
    alpha: float = value_field(0.34)

    @property
    def parameters(self):
        return (Parameter("E", log=True, lower=0.0), Parameter("A", log=True, lower=0.0), Parameter("alpha"))

    def evaluate(self, params, inputs):
        return params["E"] + params["A"] * np.asarray(inputs["N"], dtype=float) ** -params["alpha"]


def analytic(params, n):
    """d log L / d value of :class:`Power`, by hand."""
    power = params["A"] * n ** -params["alpha"]
    loss = params["E"] + power
    return {"E": 1.0 / loss, "A": power / params["A"] / loss, "alpha": -np.log(n) * power / loss}


class PowerWithGradient(Power):
    """Overrides only log_gradient: the base's fused hook must use it."""

    def log_gradient(self, params, inputs):
        return analytic(params, np.asarray(inputs["N"], dtype=float))


class PowerOptedOut(PowerWithGradient):
    log_gradient = None


N = np.array([1e6, 1e8, 1e10])


def test_finite_difference_default_matches_the_analytic_gradient():
    law = Power()
    assert not law.has_analytic_gradient
    params = {k: np.array([[v], [2 * v]]) for k, v in law.values.items()}
    value, grad = law.log_value_and_gradient(params, {"N": N})
    np.testing.assert_array_equal(value, law.log_evaluate(params, {"N": N}))
    want = analytic(params, N)
    for k in want:
        np.testing.assert_allclose(grad[k], want[k], rtol=1e-7, err_msg=k)
    # log_gradient is derived from the fused hook
    for k, g in law.log_gradient(params, {"N": N}).items():
        np.testing.assert_array_equal(g, grad[k])


def test_finite_differences_step_a_log_parameter_at_zero_in_its_value():
    law = Power(A=0.0)  # log parameter at 0: no relative step possible
    grad = law.finite_difference_log_gradient(law.values, {"N": N})
    np.testing.assert_allclose(grad["A"], N ** -law.alpha / law.E, rtol=1e-6)
    assert set(law.finite_difference_log_gradient({"E": 1.7, "A": 400.0, "alpha": 0.3, "extra": 1.0},
                                                  {"N": N})) == {"E", "A", "alpha"}


def test_a_law_with_its_own_log_gradient_is_analytic_and_fused_uses_it():
    law = PowerWithGradient()
    assert law.has_analytic_gradient
    value, grad = law.log_value_and_gradient(law.values, {"N": N})
    np.testing.assert_array_equal(value, np.log(law.loss(N=N)))
    np.testing.assert_array_equal(grad["alpha"], analytic(law.values, N)["alpha"])
    assert not PowerOptedOut().has_analytic_gradient
    assert set(PowerOptedOut().log_value_and_gradient(law.values, {"N": N})[1]) == {"E", "A", "alpha"}


def test_closed_form_effective_and_fixed_variable_defaults():
    law = Power()
    assert law.has_closed_form is False
    with pytest.raises(InputError, match="toy_power.*no closed-form"):
        law.optimal_allocation(1e21)
    eff = law.effective(law.values, {"N": [1e9], "D": [2e10]})
    assert eff["N_eff"].tolist() == [1e9] and eff["D_eff"].tolist() == [2e10]
    assert law.at() is law
    with pytest.raises(InputError, match="toy_power.*takes no variables.*experts"):
        law.at(experts=8.0)
    draws = {"E": np.array([1.7, 1.8]), "A": np.array([400.0, 410.0]), "alpha": np.array([0.3, 0.4])}
    fixed = law.params_at(draws, experts=8.0)  # variables the law does not take are ignored
    assert fixed == draws and fixed is not draws


def test_values_replace_and_to_dict():
    law = Power()
    assert law.values == {"E": 1.7, "A": 400.0, "alpha": 0.34}
    assert law.replace(E=2).E == 2.0 and law.replace(E=2).A == 400.0
    with pytest.raises(InputError, match="toy_power.*no parameter 'beta'"):
        law.replace(beta=1.0)
    assert law.to_dict() == {"law": "toy_power", "parameters": law.values}
    assert law.required_inputs == ("N",)


def test_value_field_names_the_field_and_value():
    with pytest.raises(InputError, match=r"Power\.alpha must be finite, got nan"):
        Power(alpha=math.nan)
    with pytest.raises(InputError, match=r"Power\.E must be finite, got inf"):
        Power(E=math.inf)
    assert Power(A="12").A == 12.0


def test_check_inputs_and_loss_name_the_input_and_value():
    law = Power()
    with pytest.raises(InputError, match="toy_power.*needs input 'N'"):
        law.loss(D=1.0)
    with pytest.raises(InputError, match=r"input N must be finite and > 0, got -1\.0"):
        law.loss(N=-1.0)
    with pytest.raises(InputError, match="input N"):
        law.loss(N=[1.0, math.nan])
    np.testing.assert_allclose(law.loss(N=1e8), 1.7 + 400.0 * 1e8 ** -0.34, rtol=1e-15)


def test_parameter_coordinates():
    p = Parameter("A", log=True)
    assert float(p.to_fit(math.e)) == pytest.approx(1.0) and float(p.from_fit(0.0)) == 1.0
    q = Parameter("alpha", grid=[0.1, 0.2])
    assert q.grid == (0.1, 0.2) and float(q.to_fit(0.3)) == 0.3 and q.lower == -math.inf


def test_cannot_instantiate_without_the_abstract_hooks():
    class Bare(Law):
        name = "bare"
        description = "nothing"

    with pytest.raises(TypeError, match="evaluate"):
        Bare()


def test_scratch_array_reuses_its_buffer():
    work = {}
    a = scratch_array(work, "x", (2, 3))
    b = scratch_array(work, "x", (3, 2))
    assert a.shape == (2, 3) and b.shape == (3, 2) and np.shares_memory(a, b)
    assert scratch_array(work, "x", (4, 4)).size == 16 and work["x"].size == 16
    assert scratch_array(None, "x", (2,)).shape == (2,)


# -- a non-finite loss at finite inputs and parameters is the law's error -----------------------
def _nan_chinchilla(above=1e11):
    from tsbudget.laws.chinchilla import Chinchilla

    @attrs.frozen
    class NanLaw(Chinchilla):
        """Chinchilla whose loss is NaN once ``D`` exceeds ``above`` (a buggy plugin)."""

        name: ClassVar[str] = "toy_nan_law"
        above: float = 1e11

        def evaluate(self, params, inputs):
            out = super().evaluate(params, inputs)
            return np.where(np.asarray(inputs["D"]) > self.above, np.nan, out)

        def log_evaluate(self, params, inputs):
            return np.log(self.evaluate(params, inputs))

        def log_value_and_gradient(self, params, inputs, *, workspace=None):
            return Law.log_value_and_gradient(self, params, inputs)

    return NanLaw(above=above)


def test_predict_names_the_law_the_inputs_and_the_parameters():
    law = _nan_chinchilla()
    assert np.isfinite(law.loss(N=1e9, D=1e10))
    with pytest.raises(PluginError) as info:
        law.loss(N=1e9, D=[1e10, 1e12])
    msg = str(info.value)
    assert "law 'toy_nan_law'" in msg and "evaluate(N=1e+09, D=1e+12, E=" in msg and "alpha=" in msg
    assert "returned nan (1 of 2 elements" in msg


def test_predict_passes_non_finite_parameters_through():
    # a failed bootstrap draw (NaN parameters) is the caller's to drop, not the law's fault
    law = Power()
    out = law.predict({"E": np.array([1.7, np.nan]), "A": 400.0, "alpha": 0.34}, {"N": np.array([1e6, 1e6])})
    assert np.isfinite(out[0]) and np.isnan(out[1])


def test_a_plan_with_a_nan_law_names_the_law_not_the_bounds():
    import tsbudget as tb

    with pytest.raises(PluginError, match=r"law 'toy_nan_law'.*evaluate\(N="):
        tb.plan(1e21, law=_nan_chinchilla(above=1e3))


def test_a_fit_of_a_law_that_is_nan_everywhere_names_the_law():
    import polars as pl

    import tsbudget as tb

    n = np.repeat([1e7, 3e7, 1e8], 3)
    d = np.tile([2e11, 5e11, 1e12], 3)
    runs = pl.DataFrame({"N": n, "D": d, "loss": 1.8 + 400 / n**0.34 + 2000 / d**0.37})
    with pytest.raises(PluginError, match=r"law 'toy_nan_law'.*evaluate\(N=1e\+07, D=2e\+11"):
        tb.fit(runs, law=_nan_chinchilla(), grid={"E": [0.5], "A": [5.0], "B": [6.0], "alpha": [0.3], "beta": [0.3]})
