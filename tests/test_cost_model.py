"""The CostModel base class: variable resolution, the defaults, per-position to total FLOPs."""

from typing import ClassVar

import attrs
import numpy as np
import pytest

from tsbudget.cost_model import CostModel
from tsbudget.errors import InputError, PluginError, TsbudgetError
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


# -- non-finite values from a plugin method are the plugin's error -----------------------------
@attrs.frozen
class NanBeyond(CostModel):
    """Returns NaN training FLOPs above ``limit`` parameters, as a buggy plugin might."""

    name: ClassVar[str] = "toy_nan"
    description: ClassVar[str] = "NaN above a size"
    limit: float = 1e6

    def train_flops_per_position(self, n, **variables):
        n = np.asarray(n, dtype=float)
        return np.where(n > self.limit, np.nan, 6.0 * n)

    def inference_flops_per_position(self, n, **variables):
        return 2.0 * np.asarray(n, dtype=float)

    def total_params(self, n, **variables):
        return np.asarray(n, dtype=float) * np.inf


@attrs.frozen
class Doubled(Routed):
    """A subclass of an attrs (slotted) plugin whose override calls ``super()``."""

    name: ClassVar[str] = "toy_doubled"

    def train_flops_per_position(self, n, **variables):
        return 2.0 * super().train_flops_per_position(n, **variables)


def test_nan_flops_name_the_plugin_the_method_and_the_inputs():
    cm = NanBeyond()
    assert cm.train_flops_per_position(1e5).item() == 6e5  # finite values pass untouched
    with pytest.raises(PluginError) as info:
        cm.train_flops_per_position(np.array([1e3, 1e9, 1e10]))
    msg = str(info.value)
    assert "cost model 'toy_nan'" in msg and "NanBeyond" in msg
    assert "train_flops_per_position(n=1e+09)" in msg  # the inputs at the first NaN
    assert "returned nan (2 of 3 elements, first at index (1,))" in msg
    assert isinstance(info.value, TsbudgetError)
    with pytest.raises(PluginError, match=r"total_params\(n=1000\) returned inf"):
        cm.total_params(1e3)
    with pytest.raises(PluginError, match=r"train_flops_per_position\(n=1e\+07\)"):  # through the public wrapper
        cm.train_flops(1e7, 1e9)


def test_variables_are_named_in_the_message():
    @attrs.frozen
    class NanRouter(Routed):
        name: ClassVar[str] = "toy_nan_router"

        def inference_flops_per_position(self, n, **variables):
            return np.where(np.asarray(variables["experts"]) > 32, np.nan, 2.0 * np.asarray(n, float))

    with pytest.raises(PluginError, match=r"inference_flops_per_position\(n=1e\+08, experts=64\)"):
        NanRouter().inference_flops(1e8, 10.0, experts=np.array([8, 64]))


def test_a_non_finite_input_is_not_blamed_on_the_plugin():
    out = Routed().train_flops_per_position(np.array([np.nan, 1e6]), experts=8)
    assert np.isnan(out[0]) and out[1] == 6e6 + 4800.0


def test_overrides_calling_super_keep_working_after_wrapping():
    assert float(Doubled().train_flops_per_position(1e6, experts=1)) == 2 * (6e6 + 600.0)


def test_a_plan_with_nan_flops_names_the_cost_model_not_the_bounds():
    import tsbudget as tb

    with pytest.raises(PluginError, match=r"cost model 'toy_nan'.*train_flops_per_position\(n="):
        tb.plan(1e21, cost_model=NanBeyond())
