"""Datasets to netCDF and back exactly (tsbudget.io), e.g. bootstrap draws."""

import numpy as np
import polars as pl
import pytest
import xarray as xr

from tsbudget.errors import InputError
from tsbudget.io import load_dataset, save_dataset


def same(a: xr.Dataset, b: xr.Dataset) -> None:
    assert b.identical(a)
    assert list(b.data_vars) == list(a.data_vars)
    for name in a.variables:
        assert b[name].dtype == a[name].dtype, name
        assert b[name].attrs == a[name].attrs, name
    assert {k: type(v) for k, v in b.attrs.items()} == {k: type(v) for k, v in a.attrs.items()}


def test_fit_draws_keep_dtypes_and_attribute_types(tmp_path):
    from tsbudget.uncertainty.bootstrap import bootstrap
    from tsbudget.fitting.fit import fit

    runs = pl.read_csv(__import__("pathlib").Path(__file__).parent / "data" / "isoflops_epochai_chinchilla.csv")
    r = fit(runs, columns={"N": "params", "D": "tokens", "flops": "budget"},
            init={"E": 1.8, "A": 400, "B": 2000, "alpha": 0.34, "beta": 0.36})
    draws = bootstrap(r, 6, seed=2, budgets=[1e22]).draws
    assert draws["n_runs"].dtype == np.int64
    # the plain scipy-engine round trip loses both (what FitResult.save does today)
    draws.to_netcdf(tmp_path / "plain.nc", engine="scipy")
    with xr.open_dataset(tmp_path / "plain.nc", engine="scipy") as plain:
        assert plain["n_runs"].dtype == np.int32 and isinstance(plain.attrs["seed"], np.integer)
    save_dataset(draws, tmp_path / "d.nc")
    same(draws, load_dataset(tmp_path / "d.nc"))


def test_awkward_values_round_trip(tmp_path):
    ds = xr.Dataset(
        {"big": ("i", np.array([2**40, -3], dtype=np.int64)), "ok": ("i", np.array([True, False])),
         "x": ("i", np.array([0.1, np.nan]), {"units": "1", "scale": [1.5], "flag": True})},
        coords={"i": np.arange(2, dtype=np.int64)},
        attrs={"none": None, "nested": {"a": [1, 2]}, "flag": False, "one": [0.5], "names": ["a", "b"], "n": 2**40},
    )
    save_dataset(ds, tmp_path / "a.nc")
    same(ds, load_dataset(tmp_path / "a.nc"))
    with pytest.raises(InputError, match="2\\*\\*53"):
        save_dataset(xr.Dataset({"v": ("i", np.array([2**60]))}), tmp_path / "b.nc")


def test_foreign_netcdf_reads_as_is(tmp_path):
    ds = xr.Dataset({"v": ("i", np.arange(3.0))})
    ds.to_netcdf(tmp_path / "f.nc", engine="scipy")
    assert load_dataset(tmp_path / "f.nc").identical(ds)
    (tmp_path / "bad.nc").write_text("not netcdf")
    with pytest.raises(InputError, match="bad.nc"):
        load_dataset(tmp_path / "bad.nc")
