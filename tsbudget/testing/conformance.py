"""Conformance checks a plugin author runs on their plugin, and hypothesis strategies.

Usage in a plugin's own test suite::

    from tsbudget.testing.conformance import check_costmodel, check_unit
    def test_conforms():
        check_costmodel(MyCostModel())
        check_unit(MyUnit(), pl.DataFrame({...}))  # valid, every declared column, >= 2 rows

Each check raises ``AssertionError`` naming the plugin and the broken promise. Beyond fixed
inputs, the checks feed bad values (each must raise the matching TsbudgetError naming the
column and row, or the input) and a fixed-seed random sample of plausible inputs (outputs
finite, vectorized calls equal to element-by-element calls). The strategies need
``hypothesis`` (a test dependency), imported only when they are used.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import attrs
import numpy as np

from tsbudget.cost_model import CostModel
from tsbudget.data_unit import DataCount, DataUnit
from tsbudget.errors import InputError, SchemaError, TsbudgetError
from tsbudget.law import Law, Parameter
from tsbudget.variables import Variable

__all__ = [
    "check_unit",
    "check_costmodel",
    "check_law",
    "n_params",
    "data_amounts",
    "budgets",
    "variable_values",
    "cost_settings",
]


def _fail(plugin, promise: str):
    raise AssertionError(f"{type(plugin).__qualname__} ({getattr(plugin, 'name', '?')!r}): {promise}")


def _check_metadata(plugin, base: type):
    if not isinstance(plugin, base):
        _fail(plugin, f"is not an instance of {base.__qualname__}")
    for attr in ("name", "description"):
        value = getattr(type(plugin), attr, None)
        if not isinstance(value, str) or not value:
            _fail(plugin, f"class attribute {attr!r} must be a non-empty str")
    if not attrs.has(type(plugin)):
        _fail(plugin, "must be an attrs class (fields are its settings)")
    fields = attrs.fields(type(plugin))
    if fields:
        try:
            setattr(plugin, fields[0].name, getattr(plugin, fields[0].name))
        except attrs.exceptions.FrozenInstanceError:
            pass  # frozen, as required
        else:
            _fail(plugin, "must be frozen (attrs.frozen): plugins are value objects")
    try:
        hash(plugin)
    except TypeError:
        _fail(plugin, "must be hashable (a frozen value object)")


_ROW = re.compile(r"\brow (\d+)\b")


def _qualified(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"


def _unit_probes(series) -> list[tuple[str, object]]:
    """Bad values for one cell of ``series``, by the column's type in the valid table:
    integer columns are counts (negative, NaN, infinite, non-integer, null, beyond int64);
    float columns are amounts (negative, NaN, infinite, null); lists of numbers get bad
    elements; every other column (flags, labels) gets a null."""
    import polars as pl

    dtype = series.dtype
    if dtype.is_integer():
        return [("negative", -5), ("NaN", math.nan), ("infinite", math.inf), ("non-integer", 2.5),
                ("null", None), ("beyond int64", 2**63)]
    if dtype.is_numeric():
        return [("negative", -5.0), ("NaN", math.nan), ("infinite", math.inf), ("null", None)]
    if isinstance(dtype, pl.List) and (dtype.inner.is_numeric() or dtype.inner == pl.Null):
        probes = [("null list", None), ("negative element", [-1]), ("NaN element", [math.nan]),
                  ("null element", [None])]
        if dtype.inner.is_integer() or dtype.inner == pl.Null:
            probes.append(("non-integer element", [2.5]))
        return probes
    return [("null", None)]


def _with_cell(df, column: str, row: int, value):
    import polars as pl

    values = df[column].to_list()
    values[row] = value
    return df.with_columns(pl.Series(column, values, strict=False))


def _count_or_fail(unit, table, what: str):
    try:
        return unit.count(table)
    except TsbudgetError:
        raise
    except Exception as exc:
        _fail(unit, f"counting {what} must give a count or raise a TsbudgetError; it raised {_qualified(exc)}")


def _check_count(unit, count, what: str) -> None:
    if not isinstance(count, DataCount):
        _fail(unit, f"count() of {what} must return a DataCount, got {type(count).__name__}")
    if not (math.isfinite(count.total) and math.isfinite(count.unique) and 0 <= count.unique <= count.total):
        _fail(unit, f"count() of {what} must give 0 <= unique <= total, finite; got {count}")


def check_unit(unit: DataUnit, table) -> None:
    """Check a data unit: metadata, positions conversion and table checking.

    ``table`` is a small valid table (two rows or more) holding every column the unit
    declares in ``columns``, optional ones too; write count columns as integers (an
    integer column is probed as a count, a float column as a real amount). The check:

    - counts ``table``: a finite ``0 <= unique <= total``; counting it twice over
      (``vstack``) doubles the total;
    - drops each column in turn: the count either still works (an optional column) or
      raises :class:`~tsbudget.errors.SchemaError` naming the column;
    - writes one bad value at a time into the last row of each declared column
      (negative, NaN, infinite, null, non-integer and beyond-int64 counts, bad list
      elements, null flags and labels): each must raise ``SchemaError`` whose message names
      the column and the row (``row <i>``), not another error and not a count;
    - writes 2**62 into every row of each integer column: the count must not overflow
      (a ``SchemaError`` or a finite ``0 <= unique <= total``).
    """
    import polars as pl

    _check_metadata(unit, DataUnit)
    columns = getattr(type(unit), "columns", None)
    if not (isinstance(columns, Mapping) and columns and all(isinstance(k, str) and isinstance(v, str)
                                                             for k, v in columns.items())):
        _fail(unit, "class attribute 'columns' must map each table column (str) to what it means (str)")
    ppu = unit.positions_per_unit()
    if not (isinstance(ppu, (float, int, np.floating)) and math.isfinite(ppu) and ppu > 0):
        _fail(unit, f"positions_per_unit() must be a finite float > 0, got {ppu!r}")
    amounts = np.array([[1.0], [1e6], [3.5e12]])
    pos = unit.to_positions(amounts)
    if pos.shape != amounts.shape or not np.allclose(unit.from_positions(pos), amounts, rtol=1e-12):
        _fail(unit, "from_positions(to_positions(x)) must return x with x's shape")
    try:
        unit.to_positions(-1.0)
    except InputError:
        pass  # refused, as required
    else:
        _fail(unit, "to_positions(-1) must raise InputError")

    try:
        unit.count(pl.DataFrame({"__no_such_column__": [1]}))
    except SchemaError as exc:
        if not any(col in str(exc) for col in unit.columns):
            _fail(unit, f"a missing-column error must name the column; got {exc}")
    except TsbudgetError:
        _fail(unit, "a table missing its columns must raise SchemaError")
    except Exception as exc:
        _fail(unit, f"a table missing its columns must raise SchemaError; it raised {_qualified(exc)}")
    else:
        _fail(unit, "counting a table without its columns must raise SchemaError")

    if not isinstance(table, pl.DataFrame):
        _fail(unit, f"check_unit needs a valid polars DataFrame to probe, got {type(table).__name__}")
    absent = [c for c in unit.columns if c not in table.columns]
    if absent:
        _fail(unit, f"the table given to check_unit lacks declared column(s) {absent}: give every column "
                    "in columns (optional ones too) so that each can be probed with bad values")
    if table.height < 2:
        _fail(unit, "the table given to check_unit needs at least two rows")
    count = _count_or_fail(unit, table, "the valid table")
    _check_count(unit, count, "the valid table")
    twice = _count_or_fail(unit, pl.concat([table, table]), "the valid table stacked twice")
    _check_count(unit, twice, "the valid table stacked twice")
    if not math.isclose(twice.total, 2 * count.total, rel_tol=1e-12, abs_tol=1e-9):
        _fail(unit, f"total must add over rows: the valid table counts {count.total}, stacked twice "
                    f"{twice.total}")

    for column in unit.columns:
        what = f"the valid table without column {column!r}"
        try:
            _check_count(unit, _count_or_fail(unit, table.drop(column), what), what)
        except SchemaError as exc:
            if column not in str(exc):
                _fail(unit, f"counting {what} raised a SchemaError that does not name it: {exc}")

    row = table.height - 1
    for column in unit.columns:
        for label, value in _unit_probes(table[column]):
            bad = _with_cell(table, column, row, value)
            what = f"a table whose column {column!r} holds a {label} value ({value!r}) in row {row}"
            try:
                result = unit.count(bad)
            except SchemaError as exc:
                named = [int(m) for m in _ROW.findall(str(exc))]
                if column not in str(exc) or row not in named:
                    _fail(unit, f"counting {what} raised SchemaError, but its message must name the column "
                                f"{column!r} and 'row {row}'; got: {exc}")
            except Exception as exc:
                _fail(unit, f"counting {what} must raise SchemaError; it raised {_qualified(exc)}")
            else:
                _fail(unit, f"counting {what} must raise SchemaError naming the column and row; "
                            f"it returned {result}")
        if table[column].dtype.is_integer():
            big = table.with_columns(pl.Series(column, [2**62] * table.height, dtype=pl.Int64))
            what = f"a table whose column {column!r} holds 2**62 in every row"
            try:
                _check_count(unit, _count_or_fail(unit, big, what), what + " (an int64 overflow?)")
            except SchemaError:
                pass  # refusing counts that large is as good as summing them exactly


def _default_variables(cm: CostModel) -> dict:
    return {v.name: v.default for v in cm.variables}


def _draw_variables(variables, rng, size: int) -> dict[str, np.ndarray]:
    """``size`` values of each variable, spread over its bounds (log-uniform for log ones,
    integers for integer ones); both bounds are among the draws."""
    out = {}
    for v in variables:
        if v.log:
            x = np.exp(rng.uniform(math.log(v.lower), math.log(v.upper), size))
        else:
            x = rng.uniform(v.lower, v.upper, size)
        x[:2] = v.lower, v.upper
        if v.integer:
            x = np.clip(np.round(x), v.lower, v.upper)
        out[v.name] = rng.permutation(x)
    return out


def _expect_input_error(plugin, name: str, what: str, fn, *args, **kwargs) -> None:
    """``fn(*args, **kwargs)`` must raise InputError whose message names ``name``."""
    try:
        with np.errstate(all="ignore"):  # the bad value may reach numpy in a broken plugin
            fn(*args, **kwargs)
    except InputError as exc:
        if name not in str(exc):
            _fail(plugin, f"{what} raised InputError, but its message must name {name!r}; got: {exc}")
    except Exception as exc:
        _fail(plugin, f"{what} must raise InputError naming {name!r}; it raised {_qualified(exc)}")
    else:
        _fail(plugin, f"{what} must raise InputError naming {name!r}")


def check_costmodel(cm: CostModel) -> None:
    """Check a cost model: declared variables, finite positive broadcasting FLOPs, linearity
    in positions, training >= serving per position, monotone in N, parameter counts, and
    clear errors for unknown or out-of-bounds variables.

    Besides each variable at its default and bounds, it draws 24 random settings (N
    log-uniform in [1e6, 1e12], positions in [1, 1e13], every variable within its bounds at
    once) and requires: the vectorized call equals the element-by-element scalar calls;
    every output finite, FLOPs > 0, ``total_params >= active_params > 0``, training FLOPs
    rising in N. Bad ``n`` or ``positions`` (negative, NaN), variables below their lower
    bound, above their upper bound, non-integer for integer variables or NaN must raise
    :class:`~tsbudget.errors.InputError` naming what is wrong.
    """
    _check_metadata(cm, CostModel)
    variables = cm.variables
    if not all(isinstance(v, Variable) for v in variables):
        _fail(cm, "variables must be a tuple of tsbudget.Variable")
    names = [v.name for v in variables]
    if len(set(names)) != len(names):
        _fail(cm, f"variable names must be unique, got {names}")
    n = np.array([[1e6], [1e8], [1e10]])
    positions = np.array([1.0, 1e9, 2e12])
    settings = [_default_variables(cm)]
    settings += [{**settings[0], v.name: v.lower} for v in variables]
    settings += [{**settings[0], v.name: v.upper} for v in variables]
    for kw in settings:
        train = cm.train_flops(n, positions, **kw)
        serve = cm.inference_flops(n, positions, **kw)
        for label, arr in (("train_flops", train), ("inference_flops", serve)):
            if np.shape(arr) != (3, 3) or not np.all(np.isfinite(arr)) or not np.all(arr > 0):
                _fail(cm, f"{label}(n, positions, **{kw}) must broadcast to (3, 3), finite and > 0")
        if not np.allclose(cm.train_flops(n, 2 * positions, **kw), 2 * train, rtol=1e-12):
            _fail(cm, "train_flops must be linear in positions")
        if np.any(np.asarray(cm.train_flops(n, 0.0, **kw)) != 0):
            _fail(cm, f"train_flops of 0 positions must be 0 (variables {kw})")
        if np.any(train < serve):
            _fail(cm, f"training a position must cost at least serving it (variables {kw})")
        per_pos = cm.train_flops_per_position(n[:, 0], **kw)
        if np.any(np.diff(per_pos) <= 0):
            _fail(cm, f"training FLOPs per position must rise with n (variables {kw})")
        total = np.asarray(cm.total_params(n, **kw))
        active = np.asarray(cm.active_params(n, **kw))
        if not (np.all(np.isfinite(total)) and np.all(active > 0) and np.all(total >= active * (1 - 1e-12))):
            _fail(cm, f"need total_params >= active_params > 0 (variables {kw})")

    # Random settings, every variable free at once: vectorized == element by element.
    rng = np.random.default_rng(20240611)
    size = 24
    drawn = _draw_variables(variables, rng, size)
    n_draw = 10.0 ** rng.uniform(6, 12, size)
    pos_draw = 10.0 ** rng.uniform(0, 13, size)
    outputs = {
        "train_flops": lambda n_, pos_, kw: cm.train_flops(n_, pos_, **kw),
        "inference_flops": lambda n_, pos_, kw: cm.inference_flops(n_, pos_, **kw),
        "total_params": lambda n_, pos_, kw: cm.total_params(n_, **kw),
        "active_params": lambda n_, pos_, kw: cm.active_params(n_, **kw),
    }
    vectors = {}
    for label, fn in outputs.items():
        try:
            arr = np.asarray(fn(n_draw, pos_draw, drawn), dtype=float)
        except Exception as exc:
            _fail(cm, f"{label} must accept arrays for n, positions and every variable; it raised {_qualified(exc)}")
        if arr.shape != (size,):
            _fail(cm, f"{label} with n, positions and variables of shape ({size},) must return shape "
                      f"({size},), got {arr.shape}")
        if not np.all(np.isfinite(arr)) or not np.all(arr > 0):
            i = int(np.flatnonzero(~(np.isfinite(arr) & (arr > 0)))[0])
            one = {k: float(v[i]) for k, v in drawn.items()}
            _fail(cm, f"{label} must be finite and > 0 for every setting within bounds; "
                      f"n={n_draw[i]:.6g}, positions={pos_draw[i]:.6g}, {one} gave {arr[i]!r}")
        vectors[label] = arr
    for i in range(size):
        one = {k: float(v[i]) for k, v in drawn.items()}
        for label, fn in outputs.items():
            scalar = float(np.asarray(fn(float(n_draw[i]), float(pos_draw[i]), one), dtype=float))
            if not math.isclose(scalar, vectors[label][i], rel_tol=1e-12):
                _fail(cm, f"{label} must broadcast: element {i} of the vectorized call is {vectors[label][i]!r}, "
                          f"the scalar call with n={n_draw[i]:.6g}, {one} gives {scalar!r}")
    if np.any(vectors["train_flops"] < vectors["inference_flops"]):
        _fail(cm, "training a position must cost at least serving it, for every drawn setting")
    if np.any(vectors["total_params"] < vectors["active_params"] * (1 - 1e-12)):
        _fail(cm, "need total_params >= active_params for every drawn setting")
    if np.any(cm.train_flops_per_position(1.5 * n_draw, **drawn) <= cm.train_flops_per_position(n_draw, **drawn)):
        _fail(cm, "training FLOPs per position must rise with n for every drawn setting")

    defaults = settings[0]
    for bad in (-1.0, math.nan):
        _expect_input_error(cm, "n", f"train_flops(n={bad})", cm.train_flops, bad, 1e9, **defaults)
        _expect_input_error(cm, "n", f"inference_flops(n={bad})", cm.inference_flops, bad, 1e9, **defaults)
        _expect_input_error(cm, "n", f"total_params(n={bad})", cm.total_params, bad, **defaults)
        _expect_input_error(cm, "positions", f"train_flops(positions={bad})", cm.train_flops, 1e8, bad, **defaults)
    try:
        cm.resolve_variables(__no_such_variable__=1.0)
    except InputError as exc:
        if "__no_such_variable__" not in str(exc):
            _fail(cm, "an unknown-variable error must name the variable")
    else:
        _fail(cm, "an unknown variable must raise InputError")
    for v in variables:
        bad_values = [(v.upper + max(1.0, abs(v.upper)), "above its upper bound"),
                      (v.lower - max(1.0, abs(v.lower)), "below its lower bound"),
                      (math.nan, "NaN")]
        if v.integer and v.lower + 0.5 <= v.upper:
            bad_values.append((v.lower + 0.5, "not an integer"))
        for value, why in bad_values:
            for label in ("train_flops", "inference_flops"):
                _expect_input_error(cm, v.name, f"{label} with {v.name}={value!r} ({why})",
                                    getattr(cm, label), 1e8, 1e9, **{**defaults, v.name: value})


def _law_inputs(law: Law) -> dict:
    runs = 6
    base = {
        "N": np.geomspace(1e7, 1e10, runs),
        "D": np.geomspace(1e9, 1e12, runs),
    }
    base["U"] = base["D"] / 3.0
    return {k: base.get(k, np.linspace(1.0, 4.0, runs)) for k in law.required_inputs}


def _draw_law_inputs(law: Law, rng, size: int) -> dict:
    """Random run inputs: N log-uniform in [1e6, 1e12], D in [1e8, 1e14], U in [D/100, D],
    any other input (a cost model's variable) log-uniform in [1, 64]."""
    d = 10.0 ** rng.uniform(8, 14, size)
    base = {"N": 10.0 ** rng.uniform(6, 12, size), "D": d, "U": d / 10.0 ** rng.uniform(0, 2, size)}
    return {k: base[k] if k in base else 2.0 ** rng.uniform(0, 6, size) for k in law.required_inputs}


def check_law(law: Law) -> None:
    """Check a law: parameters and values agree, defaults within the declared bounds,
    evaluate broadcasts (params ``(S, 1)`` against inputs ``(R,)``) and equals its
    element-by-element scalar calls, losses are finite and > 0 on 24 random inputs,
    log_evaluate = log(evaluate), an optional log_gradient matches central differences,
    replace() round-trips, and a missing or bad (negative, NaN) input raises InputError
    naming it."""
    _check_metadata(law, Law)
    params = law.parameters
    if not params or not all(isinstance(p, Parameter) for p in params):
        _fail(law, "parameters must be a non-empty tuple of tsbudget.Parameter")
    names = [p.name for p in params]
    if len(set(names)) != len(names) or list(law.values) != names:
        _fail(law, f"values keys {list(law.values)} must equal parameter names {names} in order")
    values = law.values
    if not all(math.isfinite(v) for v in values.values()):
        _fail(law, f"default parameter values must be finite, got {values}")
    for p in params:
        if not p.lower <= values[p.name] <= p.upper:
            _fail(law, f"parameter {p.name}={values[p.name]!r} lies outside its declared bounds "
                       f"[{p.lower}, {p.upper}]")
    inputs = _law_inputs(law)
    loss = law.evaluate(values, inputs)
    if np.shape(loss) != (6,) or not np.all(np.isfinite(loss)) or not np.all(loss > 0):
        _fail(law, "evaluate(values, inputs) must give finite positive losses of the inputs' shape")
    stacked = {k: np.array([[v], [v]]) for k, v in values.items()}
    both = law.evaluate(stacked, inputs)
    if np.shape(both) != (2, 6) or not np.allclose(both, loss[None, :], rtol=1e-12):
        _fail(law, "evaluate must broadcast parameter arrays of shape (S, 1) against inputs (R,)")
    if not np.allclose(law.log_evaluate(values, inputs), np.log(loss), rtol=1e-10, atol=1e-12):
        _fail(law, "log_evaluate must equal log(evaluate)")
    if not np.allclose(law.loss(**inputs), loss, rtol=1e-12):
        _fail(law, "loss(**inputs) must equal evaluate(values, inputs)")

    rng = np.random.default_rng(20240611)
    size = 24
    drawn = _draw_law_inputs(law, rng, size)
    try:
        vector = np.asarray(law.loss(**drawn), dtype=float)
    except Exception as exc:
        _fail(law, f"loss() must accept input arrays; it raised {_qualified(exc)}")
    if vector.shape != (size,):
        _fail(law, f"loss() with inputs of shape ({size},) must return shape ({size},), got {vector.shape}")
    good = np.isfinite(vector) & (vector > 0)
    if not np.all(good):
        i = int(np.flatnonzero(~good)[0])
        one = {k: float(v[i]) for k, v in drawn.items()}
        _fail(law, f"loss must be finite and > 0 for plausible inputs; {one} gave {vector[i]!r}")
    for i in range(size):
        one = {k: float(v[i]) for k, v in drawn.items()}
        scalar = float(np.asarray(law.loss(**one), dtype=float))
        if not math.isclose(scalar, vector[i], rel_tol=1e-12):
            _fail(law, f"loss must broadcast: element {i} of the vectorized call is {vector[i]!r}, "
                       f"the scalar call with {one} gives {scalar!r}")

    grad_fn = getattr(law, "log_gradient", None)
    if grad_fn is not None:
        grad = grad_fn(values, inputs)
        for p in params:
            v = values[p.name]
            h = 1e-6 * max(abs(v), 1e-3)
            up = law.log_evaluate({**values, p.name: v + h}, inputs)
            down = law.log_evaluate({**values, p.name: v - h}, inputs)
            fd = (up - down) / (2 * h)
            if not np.allclose(np.broadcast_to(grad[p.name], fd.shape), fd, rtol=1e-5, atol=1e-8):
                _fail(law, f"log_gradient[{p.name!r}] disagrees with central differences")
    again = law.replace(**values)
    if again != law:
        _fail(law, "replace(**values) must return an equal law")
    first = law.required_inputs[0]
    _expect_input_error(law, first, f"loss() without input {first!r}", law.loss,
                        **{k: v for k, v in inputs.items() if k != first})
    for key in law.required_inputs:
        for bad in (-1.0, math.nan):
            _expect_input_error(law, key, f"loss() with input {key}={bad}", law.loss,
                                **{**inputs, key: np.full(6, bad)})


# -- hypothesis strategies ------------------------------------------------------------


def _log_uniform(lo: float, hi: float):
    from hypothesis import strategies as st

    return st.floats(math.log10(lo), math.log10(hi), allow_nan=False).map(lambda x: _pow10_within(x, lo, hi))


def _pow10_within(exponent: float, lo: float, hi: float) -> float:
    """``10**exponent`` within ``[lo, hi]``, and exactly a bound when ``exponent`` is its log:
    10**log10(1024) is 1024.0000000000002 (outside) and 10**log10(64) is 63.999999999999986
    (never the bound itself), so the draw is snapped at the ends and clipped in between."""
    if exponent >= math.log10(hi):
        return float(hi)
    if exponent <= math.log10(lo):
        return float(lo)
    return min(max(10.0**exponent, lo), hi)


def n_params(lo: float = 1e6, hi: float = 1e12):
    """Plausible parameter counts, log-uniform."""
    return _log_uniform(lo, hi)


def data_amounts(lo: float = 1e8, hi: float = 1e14):
    """Plausible data amounts (tokens, cells, ...), log-uniform."""
    return _log_uniform(lo, hi)


def budgets(lo: float = 1e17, hi: float = 1e26):
    """Plausible training budgets in FLOPs, log-uniform."""
    return _log_uniform(lo, hi)


def variable_values(variable: Variable):
    """Values of one allocation variable within its bounds (integers when it is integer)."""
    from hypothesis import strategies as st

    if variable.integer:
        return st.integers(int(variable.lower), int(variable.upper)).map(float)
    if variable.log:
        return _log_uniform(variable.lower, variable.upper)
    return st.floats(variable.lower, variable.upper, allow_nan=False)


def cost_settings(cm: CostModel, *, partial: bool = False, **fixed):
    """Dicts of values for the variables a cost model declares, each within its bounds.

    By default every declared variable is drawn. ``partial=True`` draws any subset of them
    (the rest take their defaults, as when a user sets only some); ``name=value`` pins a
    variable (checked against its bounds now: an unknown name or bad value raises InputError).
    """
    from hypothesis import strategies as st

    cm.resolve_variables(**fixed)
    drawn = {v.name: st.just(float(fixed[v.name])) if v.name in fixed else variable_values(v)
             for v in cm.variables}
    if not partial:
        return st.fixed_dictionaries(drawn)
    pinned = {k: drawn.pop(k) for k in fixed}
    return st.fixed_dictionaries(pinned, optional=drawn)
