"""The touched-parameters curve (CostModel.weight_params_touched_curve) is the hook, bit for bit,
for every built-in cost model; a plugin that gives only the hook gets a curve that calls it;
resolved variables are checked once and recognised when passed back."""

import numpy as np
import pytest

from tsbudget.cost_model import CostModel, TouchedCurve
from tsbudget.errors import InputError
from tsbudget.registry import costmodels
from tsbudget.variables import Variable

_BUILTIN = ("dense", "moe", "recurrent_depth", "hierarchical", "adaptive_patching", "patched")


@pytest.mark.parametrize("name", _BUILTIN)
def test_curve_is_the_hook_bit_for_bit(name):
    from hypothesis import given, settings

    from tsbudget.testing import cost_settings, n_params

    cm = costmodels.resolve(name)
    batches = np.array([1.0, 2.0, 3.0, 17.0, 300.0, 1e5, 2.0**40])[:, None]

    @settings(max_examples=20, deadline=None, derandomize=True)
    @given(n=n_params(1e6, 1e12), variables=cost_settings(cm))
    def check(n, variables):
        hook = cm.weight_params_touched(n, batches, **variables)
        curve = cm.weight_params_touched_curve(n, **cm.resolve_variables(**variables))
        assert isinstance(curve, TouchedCurve)
        np.testing.assert_array_equal(curve(batches), hook)
        if curve.constant is not None:
            np.testing.assert_array_equal(np.broadcast_to(curve.constant, hook.shape), hook)

    check()


class _HookOnly(CostModel):
    """A plugin giving its own touched count (two thirds of n per step plus one per sequence)."""

    name = "hook_only"
    description = "test plugin"
    declared_variables = (Variable("width", 1, 8, 2),)

    def train_flops_per_position(self, n, **v):
        return 6.0 * np.asarray(n, float)

    def inference_flops_per_position(self, n, **v):
        return 2.0 * np.asarray(n, float)

    def total_params(self, n, **v):
        return np.asarray(n, float) + 0.0 * self.resolve_variables(**v)["width"]

    def weight_params_touched(self, n, batch, **v):
        return 2.0 / 3.0 * np.asarray(n, float) + np.asarray(batch, float)


def test_a_plugin_with_only_the_hook_gets_a_curve_calling_it():
    cm = _HookOnly()
    curve = cm.weight_params_touched_curve(3e9, width=2.0)
    assert curve.constant is None
    np.testing.assert_array_equal(curve(np.array([1.0, 10.0])), [2e9 + 1.0, 2e9 + 10.0])


def test_resolved_variables_are_read_only_and_recognised():
    cm = costmodels.resolve("moe")
    given = np.array([1.0, 8.0, 64.0])
    resolved = cm.resolve_variables(experts=given)
    assert not resolved["experts"].flags.writeable and resolved["experts"] is not given
    given[0] = 1e6  # the caller's array is copied: changing it does not change what was checked
    assert resolved["experts"][0] == 1.0
    again = cm.resolve_variables(**resolved)
    assert all(again[k] is resolved[k] for k in resolved)  # recognised, not checked again
    with pytest.raises(ValueError):
        resolved["experts"][0] = 1e6
    with pytest.raises(InputError, match="experts"):
        cm.resolve_variables(experts=given)  # a fresh array is checked


@pytest.mark.parametrize("name,variables", [("moe", {"experts": np.array([1.0, 2.0, 8.0, 4096.0])}),
                                            ("adaptive_patching", {"compression": np.array([1.0, 4.5, 64.0])})])
def test_the_inverse_curve_gives_the_largest_batch_under_a_value(name, variables):
    cm = costmodels.resolve(name, **({"encoder_params": 1e7} if name == "adaptive_patching" else {}))
    curve = cm.weight_params_touched_curve(3e9, **cm.resolve_variables(**variables))
    batches = np.array([1.0, 2.0, 7.0, 300.0, 5e4])[:, None]
    values = curve(batches)
    back = curve.inverse(values)
    # where the curve still rises the inverse returns the batch; where it has saturated, any batch
    rising = curve(batches + 1.0) > values
    np.testing.assert_allclose(back[rising], np.broadcast_to(batches, back.shape)[rising], rtol=1e-6)
    assert np.all(back[~rising] >= np.broadcast_to(batches, back.shape)[~rising] * (1 - 1e-9))
    cap = np.floor(curve.inverse(values * 1.001))  # a little above each value: the batch or more
    assert np.all(curve(np.maximum(cap, 1.0)) <= values * 1.001 * (1 + 1e-12))
    finite = np.isfinite(cap)  # inf where the value is above the whole pool: every batch fits
    assert np.all(curve(cap + 1.0)[finite] > (values * 1.001)[finite])
    assert np.all(np.broadcast_to(curve(np.full((1, 1), 2.0**40)), cap.shape)[~finite] <= (values * 1.001)[~finite])
    assert np.all(curve.inverse(curve(np.full((1, 1), 2.0**40)) * 2) == np.inf)
    assert np.all(curve.inverse(values[:1] * 0.5) < 1.0)  # under the batch-1 value: no batch
