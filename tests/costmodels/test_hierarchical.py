"""Hierarchical compression cost model: exact dense limit, per-level variables, the derived FLOPs factor."""

import numpy as np
import pytest

from costmodels.dense import Dense
from costmodels.hierarchical import HierarchicalCompression, Level
from tsbudget.errors import InputError
from tsbudget.testing import check_costmodel

N = np.array([1e6, 4e8, 3e10])


def test_single_level_is_exactly_dense():
    cm = HierarchicalCompression(levels=[Level(ratio=1.0, share=1.0)])
    assert [v.name for v in cm.variables] == ["ratio_0"]
    np.testing.assert_array_equal(cm.train_flops_per_position(N), Dense().train_flops_per_position(N))
    np.testing.assert_array_equal(cm.inference_flops_per_position(N), Dense().inference_flops_per_position(N))
    np.testing.assert_array_equal(cm.total_params(N), N)


def test_two_level_hourglass_factor():
    # outer level at full resolution (a quarter of N down, a quarter on the return path),
    # inner level on positions/4 with half of N: 0.25 + 0.25 + 0.5/4 = 0.625 of dense.
    cm = HierarchicalCompression()
    assert [v.name for v in cm.variables] == ["ratio_outer", "ratio_inner"]
    assert cm.flops_factor() == 0.625
    assert cm.train_flops_per_position(1e9) == pytest.approx(6e9 * 0.625, rel=1e-15)
    # ratios compound: inner level at 4·8 = 32x shorter
    assert cm.flops_factor(ratio_outer=4.0, ratio_inner=8.0) == pytest.approx(0.5 / 4 + 0.5 / 32, rel=1e-15)


def test_three_levels_explicit_sum():
    levels = [(2.0, 0.1, 0.1, "a"), {"ratio": 3.0, "share": 0.2, "return_share": 0.2, "name": "b"}, (5.0, 0.4)]
    cm = HierarchicalCompression(levels=levels)
    assert [v.name for v in cm.variables] == ["ratio_a", "ratio_b", "ratio_2"]
    expected = 0.2 / 2 + 0.4 / 6 + 0.4 / 30
    assert cm.inference_flops_per_position(1e9) == pytest.approx(2e9 * expected, rel=1e-15)


def test_flops_fall_as_compression_rises():
    cm = HierarchicalCompression()
    ratios = np.array([1.0, 2.0, 4.0, 16.0, 1024.0])
    flops = cm.train_flops_per_position(1e9, ratio_inner=ratios)
    assert np.all(np.diff(flops) < 0)
    # the full-resolution outer level is a floor
    assert flops[-1] > 6e9 * 0.5


def test_broadcasts_over_n_positions_and_ratios():
    cm = HierarchicalCompression()
    n = np.array([[1e8], [1e9]])
    out = cm.train_flops(n, 1e10, ratio_outer=np.array([1.0, 2.0, 3.0]), ratio_inner=4.0)
    assert out.shape == (2, 3)
    assert out[1, 1] == cm.train_flops(1e9, 1e10, ratio_outer=2.0)


@pytest.mark.parametrize(
    "var, match",
    [({"ratio_inner": 0.5}, "ratio_inner"), ({"ratio_outer": 2000}, "ratio_outer"), ({"ratio_1": 2}, "ratio_1")],
)
def test_bad_variables_name_them(var, match):
    with pytest.raises(InputError, match=match):
        HierarchicalCompression().train_flops(1e9, 1e9, **var)


@pytest.mark.parametrize(
    "levels, match",
    [
        ([], "at least one level"),
        ([(1.0, 0.5)], "sum to 1"),
        ([(0.5, 1.0)], r"levels\[0\].*ratio"),
        ([(1.0, 0.5), (2.0, 1.5)], r"levels\[1\].*share"),
        ([(1.0, 0.5, 0.0, "x"), (2.0, 0.5, 0.0, "x")], "repeat"),
        ([(1.0, 1.0, 0.0, "has space")], r"levels\[0\].*Level.name"),
        ("levels", "sequence"),
        ([5.0], "a level is"),
    ],
)
def test_bad_levels_name_the_field(levels, match):
    with pytest.raises(InputError, match=match):
        HierarchicalCompression(levels=levels)


def test_conformance():
    check_costmodel(HierarchicalCompression())
    check_costmodel(HierarchicalCompression(levels=[(1.0, 1.0)]))


def test_parameter_shares_from_widths():
    # 12·L·d² per stage (Kaplan et al. 2020 Table 1): a 4-layer stage at width 1024 and an
    # 8-layer stage at width 2048 hold 1 : 8 of the parameters.
    from costmodels.hierarchical import parameter_shares

    assert parameter_shares([4, 8], [1024, 2048]) == pytest.approx([1 / 9, 8 / 9], rel=1e-15)
    with pytest.raises(InputError, match="one width per stage"):
        parameter_shares([4, 8], [1024])


def test_touched_levels_amortise_at_batch_1_and_fill_at_large_batch():
    # default levels: outer (ratio 1, share .25, return .25), inner (ratio 4, share .5)
    cm = HierarchicalCompression()
    touched = cm.weight_params_touched(1e9, np.array([1.0, 2.0, 1e6]))
    np.testing.assert_allclose(touched[0], cm.inference_flops_per_position(1e9) / 2, rtol=1e-12)
    # batch 2: the inner level runs unless both sequences are off its boundary: 1 − (3/4)²
    assert touched[1] == pytest.approx(1e9 * (0.5 + 0.5 * (1 - 0.75**2)), rel=1e-12)
    assert touched[2] == pytest.approx(float(cm.total_params(1e9)), rel=1e-12)


def test_level_caches_amortise_over_their_ratio():
    cm = HierarchicalCompression(levels=[Level(1.0, 0.5, 0.0, "outer", cache_values=1000.0),
                                         Level(4.0, 0.5, 0.0, "inner", cache_values=8000.0)])
    # outer: 1000 values per input position; inner: 8000 per inner position, one per 4 (x ratio_inner)
    got = cm.cache_bytes_per_position(1e9, 2.0, ratio_inner=np.array([4.0, 8.0]))
    np.testing.assert_allclose(got, [(1000 + 8000 / 4) * 2, (1000 + 8000 / 8) * 2], rtol=1e-15)
    assert float(HierarchicalCompression().cache_bytes_per_position(1e9, 2.0)) == 0.0
    with pytest.raises(InputError, match="cache_values"):
        Level(cache_values=-1.0)
