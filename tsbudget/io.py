"""xarray Datasets (bootstrap draws) to netCDF and back exactly, with the scipy engine.

The scipy engine writes netCDF3, which has no 64-bit integers, no booleans, no null or
nested attributes: xarray turns int64 variables into int32, and attributes come back as
numpy scalars or arrays (``np.int32(3)`` for ``3``, ``array([1, 2])`` for ``[1, 2]``,
a scalar for a one-element list). :func:`save_dataset` writes the variables and
attributes as usual (for any netCDF reader) plus one JSON attribute, ``tsbudget_spec``,
holding each variable's dtype and the exact attributes; :func:`load_dataset` uses it to
give back the dataset as it was: same dtypes, same variable order, attributes as plain
Python values. Integers beyond int32 are stored as float64 when exact (|v| <= 2**53).
No pickle.
"""

from __future__ import annotations

import json
import numbers
from pathlib import Path

import numpy as np

from tsbudget.errors import InputError

__all__ = ["load_dataset", "save_dataset"]

_SPEC = "tsbudget_spec"
_INT32 = np.iinfo(np.int32)


def _plain(value, where: str):
    """``value`` as JSON-able Python (numpy scalars and arrays unwrapped, tuples as lists)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, where) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise InputError(f"{where}: attribute value {value!r} cannot be saved (numbers, strings, lists, dicts only)")


def _native(attrs: dict) -> dict:
    """The attributes netCDF3 can hold natively (others live only in the JSON spec)."""
    out = {}
    for k, v in attrs.items():
        if isinstance(v, (bool, np.bool_)) or v is None or isinstance(v, dict):
            continue
        if isinstance(v, (list, tuple)):
            if not v or not all(isinstance(x, numbers.Number) and not isinstance(x, bool) for x in v) \
                    and not all(isinstance(x, str) for x in v):
                continue
            if all(isinstance(x, str) for x in v):
                v = ", ".join(v)
        if isinstance(v, numbers.Integral) and not _INT32.min <= int(v) <= _INT32.max:
            v = float(v)
        out[k] = v
    return out


def save_dataset(ds, path) -> Path:
    """Write ``ds`` to netCDF at ``path`` (scipy engine) so :func:`load_dataset` restores it exactly."""
    path = Path(path)
    spec = {"attrs": _plain(dict(ds.attrs), "dataset"), "variables": {}, "data_vars": [str(v) for v in ds.data_vars]}
    out = ds.copy()
    out.attrs = _native(ds.attrs)
    for name, var in ds.variables.items():
        spec["variables"][str(name)] = {"dtype": var.dtype.str if var.dtype.kind != "O" else "O",
                                        "attrs": _plain(dict(var.attrs), f"variable {name!r}")}
        new = out.variables[name]
        new.attrs = _native(var.attrs)
        if var.dtype.kind in "iu" and var.size and (var.values.min() < _INT32.min or var.values.max() > _INT32.max):
            if np.abs(var.values).max() > 2**53:
                raise InputError(f"variable {name!r}: integers beyond 2**53 cannot be saved to netCDF3 exactly")
            out = out.assign_coords({name: var.astype(float)}) if name in ds.coords else \
                out.assign({name: var.astype(float)})
    out.attrs[_SPEC] = json.dumps(spec)
    out.to_netcdf(path, engine="scipy")
    return path


def load_dataset(path):
    """Read a dataset written by :func:`save_dataset` (dtypes and attributes as saved);
    a netCDF file without the spec is returned as xarray reads it."""
    import xarray as xr

    path = Path(path)
    try:
        with xr.open_dataset(path, engine="scipy") as f:
            ds = f.load()
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"cannot read netCDF file {str(path)!r}: {exc}") from exc
    raw = ds.attrs.pop(_SPEC, None)
    if raw is None:
        return ds
    spec = json.loads(raw)
    ds.attrs = spec["attrs"]
    for name, info in spec["variables"].items():
        if name not in ds.variables:
            raise InputError(f"netCDF file {str(path)!r} lacks variable {name!r} named in its spec")
        dtype = np.dtype(info["dtype"])
        var = ds.variables[name]
        if var.dtype != dtype and dtype.kind != "O":
            var = var.astype(dtype)
            ds = ds.assign_coords({name: var}) if name in ds.coords else ds.assign({name: var})
        ds.variables[name].attrs = info["attrs"]
    ds.encoding = {}
    for name in ds.variables:
        ds.variables[name].encoding = {}
    return ds[spec["data_vars"]] if list(ds.data_vars) != spec["data_vars"] else ds
