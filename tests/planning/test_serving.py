"""Serving specification: served positions and serving-time variables (Sardana & Frankle 2024)."""

import numpy as np
import pytest

from tsbudget.errors import InputError
from tsbudget.registry import costmodels
from tsbudget.planning.serving import Serving, as_serving


def test_positions_or_requests_times_length():
    assert Serving(positions=2e12).served_positions == 2e12
    assert Serving(requests=1e9, positions_per_request=2000).served_positions == 2e12


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "needs units"),
        ({"requests": 10}, "needs units"),
        ({"positions": 1e9, "requests": 3, "positions_per_request": 2}, "one of units, positions"),
        ({"positions": 1e9, "units": 3}, "one of units, positions"),
        ({"units": -1}, "units must be finite and > 0"),
        ({"positions": -1}, "positions must be finite and > 0"),
        ({"positions": float("inf")}, "positions must be finite"),
        ({"positions": 1e9, "utilization": 1.5}, "utilization"),
    ],
)
def test_bad_specifications_name_the_field(kwargs, match):
    with pytest.raises(InputError, match=match):
        Serving(**kwargs)


def test_dense_serving_flops_are_2N_per_position():
    # Kaplan et al. 2020 Table 1: forward pass 2N FLOPs per position
    s = Serving(positions=5e11)
    flops = s.inference_flops(costmodels.resolve("dense"), np.array([1e9, 7e10]), {})
    np.testing.assert_allclose(flops, 2 * np.array([1e9, 7e10]) * 5e11)


def test_serving_time_variables_override_training_values():
    rd = costmodels.resolve("recurrent_depth")
    n, core = 1e9, 0.5
    s = Serving(positions=1e6, variables={"recurrence": 32})
    flops = s.inference_flops(rd, n, {"recurrence": np.array(4.0)})
    # Geiping et al. 2025: serve = 2N + 2(r − 1)·N_core per position, with r = 32 at test time
    assert float(flops) == pytest.approx(1e6 * (2 * n + 2 * 31 * core * n))


def test_serving_variables_are_checked_against_the_cost_model():
    with pytest.raises(InputError, match="'experts' is not a variable of cost model 'dense'"):
        Serving(positions=1, variables={"experts": 4}).serving_variables(costmodels.resolve("dense"))
    with pytest.raises(InputError, match="recurrence"):
        Serving(positions=1, variables={"recurrence": 1000}).serving_variables(costmodels.resolve("recurrent_depth"))


def test_as_serving():
    assert as_serving(None) is None
    with pytest.raises(InputError, match=r"serving=3000000000.0 is ambiguous: pass Serving\(units=.*Serving\(positions="):
        as_serving(3e9)
    assert as_serving({"positions": 3e9}).served_positions == 3e9
    assert as_serving({"requests": 2, "positions_per_request": 5}).served_positions == 10
    with pytest.raises(InputError, match="bad serving"):
        as_serving({"bogus": 1})
    with pytest.raises(InputError, match="serving must be"):
        as_serving("lots")
    assert Serving(positions=4, utilization=0.5).to_dict()["positions"] == 4


def test_served_units_convert_through_the_plan_unit():
    # 1.6e13 cells served with patch length 16 are 1e12 model positions (issue 11)
    from tsbudget.registry import units

    cells = units.resolve("cells", patch_length=16)
    s = Serving(units=1.6e13).in_unit(cells)
    assert s.served_positions == pytest.approx(1e12, rel=1e-15)
    assert s.served_units() == 1.6e13 and s.to_dict()["unit"] == "cells"
    p = Serving(positions=1e12).in_unit(cells)
    assert p.served_units() == pytest.approx(1.6e13, rel=1e-15)
    with pytest.raises(InputError, match="known once a unit is given"):
        Serving(units=5.0).served_positions
