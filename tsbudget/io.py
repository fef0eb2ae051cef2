"""Reading and writing: runs tables, results (JSON plus netCDF draws), atomic writes.

One codec for every result: :func:`save_result` writes a result's ``to_dict()`` as JSON and
its bootstrap draws (an xarray Dataset) as netCDF beside it, named in the JSON together with
the draws file's SHA-256 so that :func:`load_result` refuses a draws file that is not the one
written with the JSON. Every write is atomic: a temporary file in the target folder, then a
rename, so an interrupted write never leaves a half-written file under the real name.

Draws to netCDF and back exactly, with the scipy engine:

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

import contextlib
import hashlib
import json
import numbers
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from tsbudget.errors import InputError, SchemaError
from tsbudget.report import jsonable

__all__ = [
    "atomic_path",
    "check_fields",
    "load_dataset",
    "load_result",
    "read_runs",
    "save_dataset",
    "save_result",
    "write_json",
    "write_table",
    "write_text",
]

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
    with atomic_path(path) as tmp:
        out.to_netcdf(tmp, engine="scipy")
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


# -- atomic writes -----------------------------------------------------------------------
@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``.

    The folder must exist (an :class:`InputError` names it otherwise); on any error the
    temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(obj, path=None) -> str:
    """JSON text of ``obj`` (see :func:`tsbudget.report.jsonable`), indented; written to
    ``path`` atomically when given."""
    text = json.dumps(jsonable(obj), indent=2)
    if path is not None:
        write_text(path, text + "\n")
    return text


def write_table(table, path, what: str = "table output") -> Path:
    """Write a polars table atomically as CSV (``.csv``) or Parquet (``.parquet``/``.pq``);
    any other suffix is an :class:`InputError` that names ``what`` and the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InputError(f"{what} {str(path)!r}: use a .csv or .parquet file name")
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            table.write_csv(tmp)
        else:
            table.write_parquet(tmp)
    return path


# -- results -------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_result(data: Mapping, draws, path) -> Path:
    """Write a result: ``data`` (its ``to_dict()``) as JSON at ``path`` and, when ``draws`` is
    a Dataset, the draws as netCDF at ``<stem>.draws.nc`` (named in the JSON as ``draws_file``
    with its ``draws_sha256``). Floats are written by ``repr`` so they read back exactly. No pickle."""
    path = Path(path)
    out = dict(data)
    if draws is not None:
        nc = path.with_name(path.stem + ".draws.nc")
        save_dataset(draws, nc)
        out["draws_file"] = nc.name
        out["draws_sha256"] = _sha256(nc)
    write_text(path, json.dumps(out, indent=1))
    return path


def load_result(path, what: str = "a result") -> tuple[dict, object]:
    """Read what :func:`save_result` wrote: ``(data, draws)``, draws ``None`` when there are none.

    Raises :class:`InputError` naming the file when it cannot be read, is not a JSON object,
    names a draws file that is not a plain file name beside it, or whose draws do not match
    the recorded SHA-256 (the JSON and the draws were not written together).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {what} from {str(path)!r}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{str(path)!r} does not hold {what}: its top level is a {type(data).__name__}, not an object")
    name = data.get("draws_file")
    if not name:
        return data, None
    if not isinstance(name, str) or Path(name).name != name or name in (".", ".."):
        raise InputError(f"{str(path)!r}: draws_file must be a plain file name beside it, got {name!r}")
    nc = path.with_name(name)
    if not nc.is_file():
        raise InputError(f"{str(path)!r}: its draws file {name!r} does not exist beside it")
    expected = data.get("draws_sha256")
    if not isinstance(expected, str):
        raise InputError(f"{str(path)!r}: field 'draws_sha256' (the draws file's SHA-256) is missing or not a string")
    if _sha256(nc) != expected:
        raise InputError(
            f"{str(path)!r}: draws file {name!r} does not match the one written with it (SHA-256 differs); "
            f"refit or save the result again"
        )
    return data, load_dataset(nc)


def _type_name(kind) -> str:
    return {float: "a finite number", int: "an integer", bool: "true or false", str: "a string", list: "a list",
            dict: "an object"}[kind]


def check_fields(data, fields: Mapping[str, type], where: str, optional: Mapping[str, type] | None = None) -> None:
    """Check a result read from JSON against its schema: ``data`` is an object with every key of
    ``fields``, no key outside ``fields`` and ``optional``, and each value of its kind (``float``:
    a finite number, ``int``: an integer, ``bool``, ``str``, ``list``, ``dict``). Anything else is
    an :class:`InputError` naming ``where`` and the field."""
    if not isinstance(data, Mapping):
        raise InputError(f"{where}: expected an object, got {type(data).__name__}")
    optional = dict(optional or {})
    missing = [k for k in fields if k not in data]
    if missing:
        raise InputError(f"{where}: field {missing[0]!r} is missing")
    extra = sorted(str(k) for k in data if k not in fields and k not in optional)
    if extra:
        raise InputError(f"{where}: unexpected field {extra[0]!r}; the fields are {', '.join(fields)}")
    for key, kind in {**fields, **optional}.items():
        if key not in data:
            continue
        value = data[key]
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise InputError(f"{where}: field {key!r} must be {_type_name(kind)}, got {value!r:.80}")


# -- runs tables ---------------------------------------------------------------------------
def _numeric_text_to_float(df):
    """String columns whose every non-null cell is a number become Float64.

    polars infers a column holding ``nan``, ``inf`` or ``-inf`` as text (it reads only
    ``NaN`` as a float), so a single ``nan`` loss would turn the whole column into strings
    and the checks would blame a valid row; read as numbers, the checks name the real
    culprit (``row 7: value nan is NaN``). Columns with any non-numeric cell are left as text.
    """
    import polars as pl

    fixes = []
    for name, dtype in df.schema.items():
        if dtype != pl.String:
            continue
        s = df[name]
        parsed = s.str.strip_chars().cast(pl.Float64, strict=False)
        if s.null_count() < len(s) and parsed.null_count() == s.null_count():
            fixes.append(parsed.alias(name))
    return df.with_columns(fixes) if fixes else df


def _check_header(header: list[str], where: str) -> None:
    """Refuse a header that names a column twice or leaves one unnamed (polars would rename
    the second copy to ``<name>_duplicated_0`` and the wrong one could be read)."""
    seen = set()
    for i, name in enumerate(header):
        name = name.strip()
        if not name:
            raise SchemaError(f"{where}: column {i + 1} of the header has no name")
        if name in seen:
            raise SchemaError(f"{where}: column {name!r} appears twice in the header")
        seen.add(name)


def _csv_header(data: bytes, separator: str, where: str) -> None:
    import csv
    import io

    first = data.split(b"\n", 1)[0].decode("utf-8", errors="replace").lstrip("\ufeff")
    row = next(csv.reader(io.StringIO(first), delimiter=separator), [])
    _check_header(row, where)


def read_runs(path):
    """Runs from a CSV or Parquet file as a polars DataFrame (by extension; ``-`` reads CSV on stdin).

    Any failure (missing file, unknown format, unreadable bytes, a header naming a column
    twice, no rows) is an :class:`InputError` naming the file."""
    import gzip
    import io

    import polars as pl

    p = Path(path)
    if str(path) == "-":
        where = "runs from standard input"
        data = sys.stdin.buffer.read()
        separator = ","
    else:
        where = f"runs file {str(p)!r}"
        if not p.exists():
            raise InputError(f"runs file {str(p)!r} does not exist")
        if p.is_dir():
            raise InputError(f"runs file {str(p)!r} is a folder, not a table")
        suffixes = "".join(p.suffixes[-2:]).lower()
        if not suffixes.endswith((".parquet", ".pq", ".csv", ".csv.gz", ".tsv", ".txt")):
            raise InputError(f"runs file {str(p)!r}: unknown format; use .csv, .csv.gz, .tsv or .parquet")
        separator = "\t" if ".tsv" in suffixes else ","
        data = None if suffixes.endswith((".parquet", ".pq")) else p.read_bytes()
        if data is not None and suffixes.endswith(".gz"):
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as exc:
                raise InputError(f"cannot read {where}: {exc}") from None
    try:
        if data is None:
            df = pl.read_parquet(p)
            _check_header(df.columns, where)
        else:
            if not data.strip():
                raise SchemaError(f"{where}: empty (no header, no rows)")
            _csv_header(data, separator, where)
            df = pl.read_csv(io.BytesIO(data), separator=separator, infer_schema_length=10_000)
    except InputError:
        raise
    except Exception as exc:  # polars raises many kinds; the user needs the file and the cause
        raise InputError(f"cannot read {where}: {type(exc).__name__}: {exc}") from None
    if df.height == 0:
        raise SchemaError(f"{where} has no rows")
    return _numeric_text_to_float(df)
