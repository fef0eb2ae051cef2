"""Datasets to netCDF and back exactly (tsbudget.io), e.g. bootstrap draws."""

import numpy as np
import polars as pl
import pytest
import xarray as xr

from tsbudget.errors import InputError
from tsbudget.io import atomic_path, load_dataset, load_result, save_dataset, save_result, write_json, write_table


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


# -- atomic writes and the result codec ------------------------------------------------------
def test_write_into_a_missing_folder_names_the_folder_and_writes_nothing(tmp_path):

    target = tmp_path / "nope" / "out.json"
    with pytest.raises(InputError, match="folder .*nope.* does not exist"):
        write_json({"a": 1}, target)
    assert not (tmp_path / "nope").exists()


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def _draws():
    return xr.Dataset({"E": ("draw", np.array([1.7, 1.8, 1.9]))}, coords={"draw": np.arange(3)})


def test_result_round_trip_with_draws(tmp_path):
    path = save_result({"x": 0.1 + 0.2, "nested": {"k": [1, 2]}}, _draws(), tmp_path / "r.json")
    data, draws = load_result(path)
    assert data["x"] == 0.1 + 0.2 and data["nested"] == {"k": [1, 2]}
    assert data["draws_file"] == "r.draws.nc" and len(data["draws_sha256"]) == 64
    np.testing.assert_array_equal(draws["E"].values, [1.7, 1.8, 1.9])


def test_draws_not_written_with_the_json_are_refused(tmp_path):
    path = save_result({"x": 1}, _draws(), tmp_path / "r.json")
    other = _draws().assign(E=("draw", np.array([9.0, 9.0, 9.0])))
    save_dataset(other, tmp_path / "r.draws.nc")
    with pytest.raises(InputError, match="does not match the one written with it"):
        load_result(path)


@pytest.mark.parametrize("text,match", [
    ("[1, 2]", "top level is a list"),
    ("{not json", "cannot read"),
    ('{"draws_file": "../elsewhere.nc"}', "plain file name"),
    ('{"draws_file": 3}', "plain file name"),
])
def test_malformed_result_files_are_clean_errors(tmp_path, text, match):
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        load_result(path, "a fit result")


def test_write_table_round_trips_csv_and_parquet_and_refuses_other_suffixes(tmp_path):
    df = pl.DataFrame({"N": [1e8, 2e8], "loss": [3.0, 2.5]})
    for name in ("runs.csv", "runs.parquet", "runs.PQ"):
        path = write_table(df, tmp_path / name)
        back = pl.read_csv(path) if name.endswith(".csv") else pl.read_parquet(path)
        assert back.equals(df)
    with pytest.raises(InputError, match=r"sweep output '.*runs\.txt': use a \.csv or \.parquet file name"):
        write_table(df, tmp_path / "runs.txt", "sweep output")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.PQ", "runs.csv", "runs.parquet"]
