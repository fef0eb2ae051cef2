"""check_law (tsbudget.testing.law_checks): every built-in law passes it, and deliberately broken
laws fail it with an AssertionError that names what is broken."""

import math
from typing import ClassVar

import attrs
import numpy as np
import pytest

import tsbudget.registry
from tsbudget.errors import InputError
from tsbudget.law import Law, Parameter
from tsbudget.testing import check_law

# -- every built-in passes ---------------------------------------------------------


@pytest.mark.parametrize("name", tsbudget.registry.laws.names())
def test_every_builtin_law_passes(name):
    check_law(tsbudget.registry.laws.resolve(name))


def test_extended_law_over_cost_model_variables_passes():
    from tsbudget.laws.extended import Extended

    check_law(Extended.for_cost_model("moe", gamma=(0.1, -0.05, 0.02), eta=(0.0, 0.03, 0.0)))



# -- broken laws ---------------------------------------------------------------------


@attrs.frozen
class Power(Law):
    """L = E + A / N^alpha: passes."""

    name: ClassVar[str] = "scratch_power"
    description: ClassVar[str] = "E + A/N^alpha"
    inputs: ClassVar[tuple] = ("N",)

    E: float = 1.7
    A: float = 400.0
    alpha: float = 0.34

    @property
    def parameters(self):
        return (Parameter("E", lower=0.0), Parameter("A", lower=0.0), Parameter("alpha", lower=0.0, upper=1.0))

    def evaluate(self, params, inputs):
        return params["E"] + params["A"] * np.asarray(inputs["N"], dtype=float) ** -params["alpha"]


class Drifting(Power):
    """Adds a term from the spread of the inputs: a batch differs from its single runs."""

    def evaluate(self, params, inputs):
        return super().evaluate(params, inputs) + 0.01 * np.std(np.log(inputs["N"]))


class NegativeAtLargeN(Power):
    """Goes negative past N = 1e11, beyond the fixed inputs (N <= 1e10) but plausible."""

    def evaluate(self, params, inputs):
        n = np.asarray(inputs["N"], dtype=float)
        return super().evaluate(params, inputs) - 2.1 * np.clip(np.log10(n) - 10.0, 0.0, None)


@attrs.frozen
class OutOfBounds(Power):
    """Its default alpha lies above the bound it declares."""

    alpha: float = 1.5


class InputsUnchecked(Power):
    """Checks that inputs are present but not their values: N = -1 gives a NaN loss."""

    def check_inputs(self, inputs):
        missing = [k for k in self.required_inputs if k not in inputs]
        if missing:
            raise InputError(f"needs input {missing[0]!r}")
        return {k: np.asarray(inputs[k], dtype=float) for k in self.required_inputs}


class InputsIgnored(Power):
    """Reads inputs without any check: a missing N escapes as a KeyError."""

    def check_inputs(self, inputs):
        return dict(inputs)


@pytest.mark.parametrize(
    "law, words",
    [
        (Drifting(), ["loss must broadcast", "element", "scalar call"]),
        (NegativeAtLargeN(), ["loss must be finite and > 0 for plausible inputs", "'N'"]),
        (OutOfBounds(), ["alpha=1.5 lies outside its declared bounds [0.0, 1.0]"]),
        (InputsUnchecked(), ["loss() with input N=-1.0 must raise InputError naming 'N'"]),
        (InputsIgnored(), ["loss() without input 'N' must raise InputError", "KeyError"]),
    ],
)
def test_broken_laws_fail_and_name_the_problem(law, words):
    check_law(Power())
    with pytest.raises(AssertionError) as info:
        check_law(law)
    for word in words:
        assert word in str(info.value)


def test_negative_at_large_n_passes_the_fixed_inputs():
    law = NegativeAtLargeN()
    assert np.all(law.loss(N=np.geomspace(1e7, 1e10, 6)) > 0)  # the old check's inputs
    assert law.loss(N=1e12) < 0 and math.isfinite(law.loss(N=1e12))

