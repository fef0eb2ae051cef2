"""The interpolated deadweight compute of a frontier (serving or free variables: C_eq read off each
draw's own frontier) depends on how dense the budget grid is; a grid coarser than
DCL_BUDGETS_PER_DECADE is flagged, a dense one is not."""

import numpy as np
import xarray as xr

from tsbudget.laws.presets import get_preset
from tsbudget.planning.frontier import DCL_BUDGETS_PER_DECADE, frontier
from tsbudget.planning.serving import Serving


def draws(n=40):
    rng = np.random.default_rng(0)
    values = get_preset("epoch2024").values
    return xr.Dataset({k: ("draw", v * np.exp(0.02 * rng.standard_normal(n))) for k, v in values.items()})


def test_a_coarse_grid_is_flagged_and_a_dense_one_is_not():
    serving = Serving(positions=1e12)
    coarse = frontier(np.geomspace(1e20, 1e23, 4), draws=draws(), serving=serving)
    dense = frontier(np.geomspace(1e20, 1e23, 3 * DCL_BUDGETS_PER_DECADE + 1), draws=draws(), serving=serving)
    assert "interpolated" in coarse.attrs["dcl_method"] and "WARNING" in coarse.attrs["dcl_method"]
    assert "interpolated" in dense.attrs["dcl_method"] and "WARNING" not in dense.attrs["dcl_method"]
