"""Patched cost model (adaptive-patching front end over any cost model): exact reductions to
each part, the composed accounting, variables free or fixed in the planner, clear errors."""

import attrs
import numpy as np
import pytest

from costmodels.adaptive_patching import AdaptivePatching
from costmodels.hierarchical import HierarchicalCompression, Level
from costmodels.moe import MixtureOfExperts
from costmodels.patched import Patched
from tsbudget.errors import InputError, PluginNotFoundError
from tsbudget.fitting.runs import plugin_settings
from tsbudget.registry import costmodels
from tsbudget.testing import check_costmodel

N = np.array([1e6, 4e8, 3e10])
OUTPUTS = ("train_flops_per_position", "inference_flops_per_position", "total_params", "active_params")


def _same(a, b, a_vars, b_vars):
    for out in OUTPUTS:
        np.testing.assert_array_equal(getattr(a, out)(N, **a_vars), getattr(b, out)(N, **b_vars), err_msg=out)


@pytest.mark.parametrize("ratios", [{}, {"ratio_outer": 2.0, "ratio_inner": 8.0}, {"ratio_inner": 1024.0}])
def test_compression_one_without_local_models_is_exactly_the_hierarchy(ratios):
    _same(Patched(), HierarchicalCompression(), {"compression": 1.0, **ratios}, ratios)


def test_compression_one_over_any_inner_model_is_that_model():
    moe = MixtureOfExperts(d_model=512, n_layer=8)
    _same(Patched.over(moe), moe, {"compression": 1.0, "experts": 16, "top_k": 2}, {"experts": 16, "top_k": 2})


@pytest.mark.parametrize("p", [1.0, 4.5, 8.0, 64.0])
def test_one_level_hierarchy_is_exactly_adaptive_patching(p):
    front = {"encoder_params": 1e8, "decoder_params": 3e8, "embedding_params": 5e8}
    one_level = Patched(inner_settings={"levels": [Level(ratio=1.0, share=1.0)]}, **front)
    assert [v.name for v in one_level.variables] == ["compression", "ratio_0"]
    _same(one_level, AdaptivePatching(**front), {"compression": p}, {"compression": p})
    _same(Patched(inner="dense", **front), AdaptivePatching(**front), {"compression": p}, {"compression": p})


def test_hierarchy_over_patches_compounds_the_compression():
    # default hierarchy: outer level at patch resolution (0.25 down + 0.25 return), inner level
    # with half of N on patches/4. Per input position with patches of 8 and 1e8 local params:
    cm = Patched(encoder_params=4e7, decoder_params=6e7, embedding_params=2e8)
    factor = (0.25 + 0.25) / 8 + 0.5 / 32
    assert cm.train_flops_per_position(1e9, compression=8) == pytest.approx(6e9 * factor + 6e8, rel=1e-15)
    assert cm.inference_flops_per_position(1e9, compression=8) == pytest.approx(2e9 * factor + 2e8, rel=1e-15)
    assert cm.total_params(1e9) == 1e9 + 1e8 + 2e8
    assert cm.active_params(1e9) == 1e9 + 1e8


def test_variables_are_the_front_end_then_the_inner_model():
    cm = Patched()
    assert cm.variables == AdaptivePatching.declared_variables + HierarchicalCompression().variables
    moe = Patched(inner="moe")
    integer = {v.name: v.integer for v in moe.variables}
    assert integer == {"compression": False, "experts": True, "top_k": True, "granularity": True}
    out = moe.train_flops(np.array([[1e8], [1e9]]), 1e10, compression=np.array([1.0, 4.0, 16.0]), experts=8)
    assert out.shape == (2, 3)


@pytest.mark.parametrize("inner", ["hierarchical", "dense", "moe", "recurrent_depth"])
def test_conforms(inner):
    check_costmodel(Patched(inner=inner, encoder_params=2e7, decoder_params=2e7, embedding_params=1e8))


def test_registered_and_settings_round_trip():
    cm = costmodels.resolve("patched", inner_settings={"levels": [[1.0, 0.5], [4.0, 0.5, 0.0, "top"]]},
                            encoder_params=1e7)
    assert isinstance(cm, Patched)
    assert [v.name for v in cm.variables] == ["compression", "ratio_0", "ratio_top"]
    settings = plugin_settings(cm)
    assert settings["inner"] == "hierarchical"
    again = costmodels.resolve("patched", **settings)
    assert again == cm and hash(again) == hash(cm)
    _same(again, cm, {"compression": 3.0, "ratio_top": 5.0}, {"compression": 3.0, "ratio_top": 5.0})


@pytest.mark.parametrize(
    "settings, error, match",
    [
        ({"inner": "adaptive_patching"}, InputError, "already declares a variable 'compression'"),
        ({"inner": "patched"}, InputError, "one patching front end"),
        ({"inner": "no_such_model"}, PluginNotFoundError, "no_such_model"),
        ({"inner_settings": {"depth": 3}}, InputError, r"Patched.inner_settings.*'depth'.*levels"),
        ({"inner_settings": {"levels": []}}, InputError, r"Patched.inner_settings.*at least one level"),
        ({"inner_settings": [1, 2]}, InputError, "inner_settings must be a mapping"),
        ({"encoder_params": -1.0}, InputError, "Patched.encoder_params"),
    ],
)
def test_bad_settings_name_the_field(settings, error, match):
    with pytest.raises(error, match=match):
        Patched(**settings)


@pytest.mark.parametrize("var, match", [({"compression": 0.5}, "compression"), ({"ratio_inner": 2000}, "ratio_inner"),
                                        ({"experts": 2}, "experts")])
def test_bad_variables_name_them(var, match):
    with pytest.raises(InputError, match=match):
        Patched().train_flops(1e9, 1e9, **var)


def test_frozen():
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Patched().inner = "dense"


def test_every_variable_free_or_fixed_in_the_planner():
    from tsbudget.laws.extended import Extended
    from tsbudget.planning.plan import plan

    cm = Patched(encoder_params=5e7, decoder_params=5e7)
    names = tuple(v.name for v in cm.variables)
    law = Extended(variables=names, references=(4.5, 1.0, 4.0), gamma=(-0.05, -0.02, -0.03), eta=(0.0, 0.0, 0.0))
    fixed = {"compression": 6.0, "ratio_outer": 2.0, "ratio_inner": 3.0}
    pinned = plan(1e21, law=law, cost_model=cm, fixed=fixed)
    assert pinned.variables == fixed
    positions = pinned.positions
    assert cm.train_flops(pinned.N, positions, **fixed) == pytest.approx(1e21, rel=1e-6)
    free = plan(1e21, law=law, cost_model=cm, free="all")
    assert set(free.variables) == set(names)
    for v in cm.variables:
        assert v.lower <= free.variables[v.name] <= v.upper
    assert free.loss <= pinned.loss + 1e-12
    assert cm.train_flops(free.N, free.positions, **free.variables) == pytest.approx(1e21, rel=1e-6)


def test_touched_and_cache_over_the_inner_model():
    from costmodels.dense import Dense

    # compression 1 is the inner model plus the local models
    cm = Patched(inner="moe", inner_settings={"d_model": 512, "n_layer": 8}, encoder_params=1e6)
    b = np.array([1.0, 5.0, 50.0])
    np.testing.assert_allclose(
        cm.weight_params_touched(1e8, b, compression=1.0, experts=8),
        cm.inner_model.weight_params_touched(1e8, b, experts=8) + 1e6, rtol=1e-12)
    # a dense inner model at batch 1 amortises over the patch: N/p + local
    dense = Patched(inner="dense", inner_settings={"n_layer": 8, "n_ctx": 64, "d_model": 512})
    assert float(dense.weight_params_touched(1e8, 1, compression=4.0)) == pytest.approx(1e8 / 4, rel=1e-12)
    assert float(dense.cache_bytes_per_position(1e8, 2.0, compression=4.0)) == pytest.approx(
        float(Dense(n_layer=8, n_ctx=64, d_model=512).cache_bytes_per_position(1e8, 2.0)) / 4)
