"""check_costmodel (tsbudget.testing.costmodel_checks): every built-in cost model passes it, and
deliberately broken cost models fail it with an AssertionError that names what is broken."""

from typing import ClassVar

import attrs
import numpy as np
import pytest

import tsbudget.registry
from tsbudget.cost_model import CostModel
from tsbudget.errors import InputError
from tsbudget.testing import check_costmodel
from tsbudget.variables import Variable, as_nonnegative_array, as_positive_array

# -- every built-in passes ---------------------------------------------------------


@pytest.mark.parametrize("name", tsbudget.registry.costmodels.names())
def test_every_builtin_cost_model_passes(name):
    check_costmodel(tsbudget.registry.costmodels.resolve(name))



# -- broken cost models --------------------------------------------------------------


@attrs.frozen
class Linear(CostModel):
    """6·N per trained position, 2·N served: passes."""

    name: ClassVar[str] = "scratch_linear"
    description: ClassVar[str] = "6N"
    declared_variables: ClassVar[tuple] = (
        Variable("a", 1.0, 10.0, 1.0),
        Variable("b", 1.0, 10.0, 1.0),
        Variable("k", 1, 8, 2, integer=True),
    )

    def _scale(self, variables):
        v = self.resolve_variables(**variables)
        return v["a"] + v["b"] + v["k"]

    def train_flops_per_position(self, n, **variables):
        return 6.0 * as_positive_array(n, "n") * self._scale(variables)

    def inference_flops_per_position(self, n, **variables):
        return 2.0 * as_positive_array(n, "n") * self._scale(variables)

    def total_params(self, n, **variables):
        return as_positive_array(n, "n") + 0.0 * self._scale(variables)


def _reject_unknown(cm, given):
    unknown = set(given) - {v.name for v in cm.variables}
    if unknown:
        raise InputError(f"no variable {sorted(unknown)[0]!r}")


class JointlyNegative(Linear):
    """Positive at the defaults and at each bound alone, negative when a and b are both large."""

    def _scale(self, variables):
        v = self.resolve_variables(**variables)
        return 13.0 - v["a"] - v["b"] + 0.0 * v["k"]


class NotVectorized(Linear):
    """Adds a term from the largest n in the call: the vectorized call differs from scalar calls."""

    def train_flops_per_position(self, n, **variables):
        n = as_positive_array(n, "n")
        return 6.0 * n * self._scale(variables) + 1e-3 * np.max(n)


class LowerBoundUnchecked(Linear):
    """Checks only the upper bound of its variables."""

    def resolve_variables(self, **given):
        _reject_unknown(self, given)
        out = {}
        for v in self.variables:
            arr = np.asarray(given.get(v.name, v.default), dtype=float)
            if np.any(arr > v.upper) or np.any(np.isnan(arr)):
                raise InputError(f"{v.name} is above {v.upper}")
            out[v.name] = arr
        return out


class NonIntegerAccepted(Linear):
    """Checks bounds but lets a fractional value through for the integer variable k."""

    def resolve_variables(self, **given):
        _reject_unknown(self, given)
        out = {}
        for v in self.variables:
            arr = np.asarray(given.get(v.name, v.default), dtype=float)
            if not np.all((arr >= v.lower) & (arr <= v.upper)):
                raise InputError(f"{v.name} outside [{v.lower}, {v.upper}]")
            out[v.name] = arr
        return out


class NUnchecked(Linear):
    """Takes any n: a negative parameter count gives negative FLOPs instead of an error."""

    def train_flops_per_position(self, n, **variables):
        return 6.0 * np.asarray(n, dtype=float) * self._scale(variables)


class ZeroPositionsCost(Linear):
    """Charges a fixed start-up cost even for zero positions."""

    def train_flops(self, n, positions, **variables):
        positions = as_nonnegative_array(positions, "positions")
        return positions * self.train_flops_per_position(n, **variables) + 0.0 * (positions == 0)


@pytest.mark.parametrize(
    "cm, words",
    [
        (JointlyNegative(), ["train_flops must be finite and > 0 for every setting within bounds", "'a'", "'b'"]),
        (NotVectorized(), ["train_flops must broadcast", "element", "scalar call"]),
        (LowerBoundUnchecked(), ["a=0.0 (below its lower bound)", "must raise InputError naming 'a'"]),
        (NonIntegerAccepted(), ["k=1.5 (not an integer)", "must raise InputError naming 'k'"]),
        (NUnchecked(), ["train_flops(n=-1.0) must raise InputError naming 'n'"]),
    ],
)
def test_broken_cost_models_fail_and_name_the_problem(cm, words):
    check_costmodel(Linear())
    with pytest.raises(AssertionError) as info:
        check_costmodel(cm)
    for word in words:
        assert word in str(info.value)


def test_jointly_negative_only_fails_where_variables_meet():
    cm = JointlyNegative()
    for v in cm.variables:  # each bound alone is fine: only the joint draws find it
        for value in (v.lower, v.upper):
            assert np.all(cm.train_flops(1e8, 1e9, **{v.name: value}) > 0)
    assert cm.train_flops(1e8, 1e9, a=10.0, b=10.0) < 0



def test_the_readme_plugin_example_passes_its_own_check():
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"# mypkg/costmodels.py\n(.*?)```", readme, re.S)
    assert block, "README lost its plugin example"
    namespace: dict = {}
    exec(block.group(1), namespace)  # noqa: S102 - the README's own example
    check_costmodel(namespace["StateSpace"]())
