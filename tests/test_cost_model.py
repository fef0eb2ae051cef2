"""The CostModel base class: variable resolution, the defaults, per-position to total FLOPs."""

from typing import ClassVar

import attrs
import numpy as np
import pytest

from tsbudget.cost_model import CostModel
from tsbudget.errors import InputError
from tsbudget.variables import Variable


@attrs.frozen
class Routed(CostModel):
    """A toy routed model: 6·N per trained position plus a router of ``width`` per expert."""

    name: ClassVar[str] = "toy_routed"
    description: ClassVar[str] = "6N + router"
    declared_variables: ClassVar[tuple[Variable, ...]] = (
        Variable("experts", lower=1, upper=64, default=8, integer=True),
    )
    width: float = 100.0

    def train_flops_per_position(self, n, **variables):
        return 6.0 * np.asarray(n, dtype=float) + 6.0 * self.width * np.asarray(variables["experts"], dtype=float)

    def inference_flops_per_position(self, n, **variables):
        return self.train_flops_per_position(n, **variables) / 3.0

    def total_params(self, n, **variables):
        return np.asarray(n, dtype=float) * np.asarray(variables["experts"], dtype=float)


def test_resolve_variables_fills_defaults_and_checks_bounds():
    cm = Routed()
    assert cm.variables == Routed.declared_variables
    resolved = cm.resolve_variables()
    assert list(resolved) == ["experts"] and float(resolved["experts"]) == 8.0
    assert cm.resolve_variables(experts=[1, 64])["experts"].tolist() == [1.0, 64.0]
    with pytest.raises(InputError, match=r"experts=128 outside its bounds \[1, 64\]"):
        cm.resolve_variables(experts=128)
    with pytest.raises(InputError, match="cost model 'toy_routed' has no variable 'top_k'; its variables are"
                                         r" \['experts'\]"):
        cm.resolve_variables(top_k=2)


def test_a_model_without_variables_says_none():
    @attrs.frozen
    class Plain(Routed):
        name: ClassVar[str] = "toy_plain"
        declared_variables: ClassVar[tuple[Variable, ...]] = ()

    with pytest.raises(InputError, match="its variables are none"):
        Plain().resolve_variables(experts=8)


def test_totals_are_positions_times_per_position_and_broadcast():
    cm = Routed()
    n = np.array([1e8, 1e9])
    per = cm.train_flops_per_position(n, experts=8.0)
    np.testing.assert_array_equal(cm.train_flops(n, 1e10, experts=8.0), 1e10 * per)
    np.testing.assert_array_equal(cm.inference_flops(n, 3e9, experts=8.0), 3e9 * per / 3.0)
    grid = cm.train_flops(n[:, None], np.array([1e9, 1e10, 1e11]), experts=8.0)
    assert grid.shape == (2, 3)
    assert cm.train_flops(n, 0.0, experts=8.0).tolist() == [0.0, 0.0]
    with pytest.raises(InputError, match=r"positions must be finite and >= 0, got array\(\[-1.\]\)"):
        cm.train_flops(n, -1.0, experts=8.0)


def test_active_params_default_is_n_broadcast_against_the_variables():
    cm = Routed()
    out = cm.active_params(1e9, experts=np.array([1.0, 8.0, 64.0]))
    assert out.tolist() == [1e9, 1e9, 1e9]
    assert float(cm.active_params(5e8)) == 5e8
    with pytest.raises(InputError, match="n must be finite and > 0"):
        cm.active_params(0.0)


def test_metadata_defaults_and_abstract_hooks():
    assert Routed.citation == ""
    assert CostModel.declared_variables == ()

    class Incomplete(CostModel):
        name = "incomplete"
        description = "no FLOPs"

    with pytest.raises(TypeError, match="inference_flops_per_position"):
        Incomplete()


def test_setting_validators_name_the_class_field_and_value():
    from tsbudget.cost_model import nonnegative, optional_positive_int, positive_int, share

    @attrs.frozen
    class Settings:
        layers: int = attrs.field(default=2, validator=positive_int)
        context: int | None = attrs.field(default=None, validator=optional_positive_int)
        fraction: float = attrs.field(default=0.5, validator=share)
        extra: float = attrs.field(default=0.0, validator=nonnegative)

    assert Settings(context=2048).context == 2048
    for kw, message in [({"layers": 0}, "Settings.layers must be an integer >= 1, got 0"),
                        ({"layers": True}, "Settings.layers must be an integer >= 1, got True"),
                        ({"context": 2.5}, "Settings.context must be an integer >= 1, got 2.5"),
                        ({"fraction": 1.5}, r"Settings.fraction must be in \[0, 1\], got 1.5"),
                        ({"fraction": "half"}, "Settings.fraction must be a number, got 'half'"),
                        ({"extra": -1.0}, "Settings.extra must be >= 0, got -1.0"),
                        ({"extra": float("nan")}, "Settings.extra must be finite, got nan")]:
        with pytest.raises(InputError, match=message):
            Settings(**kw)
