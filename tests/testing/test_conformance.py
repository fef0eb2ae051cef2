"""The conformance checks of tsbudget.testing.conformance: every built-in passes them, and deliberately
broken plugins fail them with an AssertionError that names what is broken."""

import math
from typing import ClassVar

import attrs
import numpy as np
import polars as pl
import pytest

import tsbudget.registry
from tsbudget import tables
from tsbudget.cost_model import CostModel
from tsbudget.data_unit import DataCount, DataUnit
from tsbudget.errors import InputError, SchemaError
from tsbudget.law import Law, Parameter
from tsbudget.testing.conformance import check_costmodel, check_law, check_unit
from tsbudget.variables import Variable, as_nonnegative_array, as_positive_array

# -- every built-in passes ---------------------------------------------------------

# A valid table per built-in unit, holding every declared column (optional ones too).
UNIT_TABLES = {
    "tokens": ({}, {"n_tokens": [3, 4, 9], "n_unique_tokens": [3, 2, 9], "unique": [True, False, True]}),
    "events": ({"events_per_position": 8}, {"n_events": [3, 40], "n_unique_events": [3, 20], "unique": [True, False]}),
    "cells": ({"patch_length": 4}, {"n_channels": [3, 2, 3], "n_timesteps": [10, 8, 0], "unique": [True, False, True]}),
    "intervention_windows": (
        {"window_length": 4, "stride": 2},
        {
            "n_timesteps": [10, 3, 12, 10],
            "intervention_steps": [[5], [1], [11, 0], []],
            "unique": [True, True, False, True],
            "regime": ["fault", "normal", "fault", "normal"],
        },
    ),
}


def test_every_builtin_unit_passes():
    assert set(UNIT_TABLES) == set(tsbudget.registry.units.names())
    for name, (unit_settings, table) in UNIT_TABLES.items():
        check_unit(tsbudget.registry.units.resolve(name, **unit_settings), pl.DataFrame(table))
    mixed = tsbudget.registry.units.resolve("cells", patch_length=8, channel_grouping="mixed", channels=3)
    check_unit(mixed, pl.DataFrame(UNIT_TABLES["cells"][1]))


@pytest.mark.parametrize("name", tsbudget.registry.costmodels.names())
def test_every_builtin_cost_model_passes(name):
    check_costmodel(tsbudget.registry.costmodels.resolve(name))


@pytest.mark.parametrize("name", tsbudget.registry.laws.names())
def test_every_builtin_law_passes(name):
    check_law(tsbudget.registry.laws.resolve(name))


def test_extended_law_over_cost_model_variables_passes():
    from tsbudget.laws.extended import Extended

    check_law(Extended.for_cost_model("moe", gamma=(0.1, -0.05, 0.02), eta=(0.0, 0.03, 0.0)))


# -- broken data units ---------------------------------------------------------------


@attrs.frozen
class SumUnit(DataUnit):
    """The audit's scratch unit: sums column n with no checks ({"n": [1, -5, 2.5]} gave -1.5)."""

    name: ClassVar[str] = "scratch_sum"
    description: ClassVar[str] = "sums n"
    columns: ClassVar[dict] = {"n": "items (integer >= 0)"}

    def _df(self, table):
        df = tables.as_table(table)
        tables.require_columns(df, ["n"])
        return df

    def count(self, table) -> DataCount:
        total = float(self._df(table)["n"].sum())
        return DataCount(self.name, total, total)

    def positions_per_unit(self) -> float:
        return 1.0


class RowlessUnit(SumUnit):
    """Rejects bad values, but its message names no row."""

    def count(self, table):
        df = self._df(table)
        if df["n"].null_count() or not df["n"].dtype.is_integer() or (df["n"] < 0).any():
            raise SchemaError("column 'n' holds a bad value")
        return super().count(df)


class CastingUnit(SumUnit):
    """Checks sign, NaN, null and integrality itself, then casts to int64: a count beyond
    int64 escapes as a polars error."""

    def count(self, table):
        df = self._df(table)
        arr = df["n"].cast(pl.Float64).to_numpy()
        bad = df["n"].is_null().to_numpy() | ~np.isfinite(arr) | (arr < 0) | (arr != np.floor(arr))
        if bad.any():
            raise SchemaError(f"column 'n', row {int(np.flatnonzero(bad)[0])}: bad count")
        total = float(df["n"].cast(pl.Int64).sum())
        return DataCount(self.name, total, total)


class WrappingUnit(SumUnit):
    """Checks every cell but sums in int64, which wraps past 9.2e18."""

    def count(self, table):
        df = self._df(table)
        tables.check_counts(df, ["n"])
        total = float(tables.count_column(df, "n").sum())
        return DataCount(self.name, total, total)


class MaxUnit(SumUnit):
    """Checked, but its total is the largest row, not the sum: not additive over rows."""

    def count(self, table):
        df = self._df(table)
        tables.check_counts(df, ["n"])
        total = float(tables.count_column(df, "n").max())
        return DataCount(self.name, total, total)


class CheckedUnit(SumUnit):
    """The fixed version: passes."""

    def count(self, table):
        df = self._df(table)
        tables.check_counts(df, ["n"])
        total = float(tables.exact_sum(tables.count_column(df, "n")))
        return DataCount(self.name, total, total)


GOOD_TABLE = pl.DataFrame({"n": [1, 2, 3]})


def test_the_audits_scratch_unit_counted_bad_values():
    assert SumUnit().count({"n": [1, -5, 2.5]}).total == -1.5


@pytest.mark.parametrize(
    "unit, words",
    [
        (SumUnit(), ["column 'n'", "negative value (-5)", "row 2", "must raise SchemaError", "returned DataCount"]),
        (RowlessUnit(), ["must name the column 'n' and 'row 2'", "holds a bad value"]),
        (CastingUnit(), ["beyond int64", "must raise SchemaError", "InvalidOperationError"]),
        (WrappingUnit(), ["2**62 in every row", "0 <= unique <= total", "overflow"]),
        (MaxUnit(), ["add over rows", "3.0", "stacked twice"]),
    ],
)
def test_broken_units_fail_and_name_the_problem(unit, words):
    with pytest.raises(AssertionError) as info:
        check_unit(unit, GOOD_TABLE)
    for word in words:
        assert word in str(info.value)


def test_check_unit_needs_every_declared_column_and_two_rows():
    CheckedUnit().count(GOOD_TABLE)
    check_unit(CheckedUnit(), GOOD_TABLE)
    with pytest.raises(AssertionError, match=r"lacks declared column\(s\) \['n_unique_tokens'\]"):
        check_unit(tsbudget.registry.units.resolve("tokens"), pl.DataFrame({"n_tokens": [1, 2], "unique": [1, 1]}))
    with pytest.raises(AssertionError, match="at least two rows"):
        check_unit(CheckedUnit(), pl.DataFrame({"n": [1]}))


def test_check_unit_probes_flags_labels_and_lists():
    # a unit that ignores a declared flag column: a null flag is not rejected
    @attrs.frozen
    class IgnoresFlag(CheckedUnit):
        columns: ClassVar[dict] = {"n": "items", "unique": "optional flag"}

    with pytest.raises(AssertionError, match=r"column 'unique' holds a null value \(None\) in row 1"):
        check_unit(IgnoresFlag(), pl.DataFrame({"n": [1, 2], "unique": [True, False]}))

    # intervention windows whose step lists skip the element checks
    from units.intervention_windows import InterventionWindows

    class LaxSteps(InterventionWindows):
        def per_trajectory(self, table):
            df = tables.as_table(table)
            if "intervention_steps" in df.columns and isinstance(df["intervention_steps"].dtype, pl.List):
                lax = pl.col("intervention_steps").list.eval(pl.element().abs().floor().cast(pl.Int64))
                df = df.with_columns(lax)
            return super().per_trajectory(df)

    with pytest.raises(AssertionError, match=r"negative element value \(\[-1\]\) in row 3.*must raise SchemaError"):
        check_unit(LaxSteps(4), pl.DataFrame(UNIT_TABLES["intervention_windows"][1]))


# -- broken cost models --------------------------------------------------------------


@attrs.frozen
class Linear(CostModel):
    """6·N per trained position, 2·N served: passes."""

    name: ClassVar[str] = "scratch_linear"
    description: ClassVar[str] = "6N"
    declared_variables: ClassVar[tuple] = (
        Variable("a", 1.0, 10.0, 1.0),
        Variable("b", 1.0, 10.0, 1.0),
        Variable("k", 1, 8, 2, integer=True),
    )

    def _scale(self, variables):
        v = self.resolve_variables(**variables)
        return v["a"] + v["b"] + v["k"]

    def train_flops_per_position(self, n, **variables):
        return 6.0 * as_positive_array(n, "n") * self._scale(variables)

    def inference_flops_per_position(self, n, **variables):
        return 2.0 * as_positive_array(n, "n") * self._scale(variables)

    def total_params(self, n, **variables):
        return as_positive_array(n, "n") + 0.0 * self._scale(variables)


def _reject_unknown(cm, given):
    unknown = set(given) - {v.name for v in cm.variables}
    if unknown:
        raise InputError(f"no variable {sorted(unknown)[0]!r}")


class JointlyNegative(Linear):
    """Positive at the defaults and at each bound alone, negative when a and b are both large."""

    def _scale(self, variables):
        v = self.resolve_variables(**variables)
        return 13.0 - v["a"] - v["b"] + 0.0 * v["k"]


class NotVectorized(Linear):
    """Adds a term from the largest n in the call: the vectorized call differs from scalar calls."""

    def train_flops_per_position(self, n, **variables):
        n = as_positive_array(n, "n")
        return 6.0 * n * self._scale(variables) + 1e-3 * np.max(n)


class LowerBoundUnchecked(Linear):
    """Checks only the upper bound of its variables."""

    def resolve_variables(self, **given):
        _reject_unknown(self, given)
        out = {}
        for v in self.variables:
            arr = np.asarray(given.get(v.name, v.default), dtype=float)
            if np.any(arr > v.upper) or np.any(np.isnan(arr)):
                raise InputError(f"{v.name} is above {v.upper}")
            out[v.name] = arr
        return out


class NonIntegerAccepted(Linear):
    """Checks bounds but lets a fractional value through for the integer variable k."""

    def resolve_variables(self, **given):
        _reject_unknown(self, given)
        out = {}
        for v in self.variables:
            arr = np.asarray(given.get(v.name, v.default), dtype=float)
            if not np.all((arr >= v.lower) & (arr <= v.upper)):
                raise InputError(f"{v.name} outside [{v.lower}, {v.upper}]")
            out[v.name] = arr
        return out


class NUnchecked(Linear):
    """Takes any n: a negative parameter count gives negative FLOPs instead of an error."""

    def train_flops_per_position(self, n, **variables):
        return 6.0 * np.asarray(n, dtype=float) * self._scale(variables)


class ZeroPositionsCost(Linear):
    """Charges a fixed start-up cost even for zero positions."""

    def train_flops(self, n, positions, **variables):
        positions = as_nonnegative_array(positions, "positions")
        return positions * self.train_flops_per_position(n, **variables) + 0.0 * (positions == 0)


@pytest.mark.parametrize(
    "cm, words",
    [
        (JointlyNegative(), ["train_flops must be finite and > 0 for every setting within bounds", "'a'", "'b'"]),
        (NotVectorized(), ["train_flops must broadcast", "element", "scalar call"]),
        (LowerBoundUnchecked(), ["a=0.0 (below its lower bound)", "must raise InputError naming 'a'"]),
        (NonIntegerAccepted(), ["k=1.5 (not an integer)", "must raise InputError naming 'k'"]),
        (NUnchecked(), ["train_flops(n=-1.0) must raise InputError naming 'n'"]),
    ],
)
def test_broken_cost_models_fail_and_name_the_problem(cm, words):
    check_costmodel(Linear())
    with pytest.raises(AssertionError) as info:
        check_costmodel(cm)
    for word in words:
        assert word in str(info.value)


def test_jointly_negative_only_fails_where_variables_meet():
    cm = JointlyNegative()
    for v in cm.variables:  # each bound alone is fine: only the joint draws find it
        for value in (v.lower, v.upper):
            assert np.all(cm.train_flops(1e8, 1e9, **{v.name: value}) > 0)
    assert cm.train_flops(1e8, 1e9, a=10.0, b=10.0) < 0


# -- broken laws ---------------------------------------------------------------------


@attrs.frozen
class Power(Law):
    """L = E + A / N^alpha: passes."""

    name: ClassVar[str] = "scratch_power"
    description: ClassVar[str] = "E + A/N^alpha"
    inputs: ClassVar[tuple] = ("N",)

    E: float = 1.7
    A: float = 400.0
    alpha: float = 0.34

    @property
    def parameters(self):
        return (Parameter("E", lower=0.0), Parameter("A", lower=0.0), Parameter("alpha", lower=0.0, upper=1.0))

    def evaluate(self, params, inputs):
        return params["E"] + params["A"] * np.asarray(inputs["N"], dtype=float) ** -params["alpha"]


class Drifting(Power):
    """Adds a term from the spread of the inputs: a batch differs from its single runs."""

    def evaluate(self, params, inputs):
        return super().evaluate(params, inputs) + 0.01 * np.std(np.log(inputs["N"]))


class NegativeAtLargeN(Power):
    """Goes negative past N = 1e11, beyond the fixed inputs (N <= 1e10) but plausible."""

    def evaluate(self, params, inputs):
        n = np.asarray(inputs["N"], dtype=float)
        return super().evaluate(params, inputs) - 2.1 * np.clip(np.log10(n) - 10.0, 0.0, None)


@attrs.frozen
class OutOfBounds(Power):
    """Its default alpha lies above the bound it declares."""

    alpha: float = 1.5


class InputsUnchecked(Power):
    """Checks that inputs are present but not their values: N = -1 gives a NaN loss."""

    def check_inputs(self, inputs):
        missing = [k for k in self.required_inputs if k not in inputs]
        if missing:
            raise InputError(f"needs input {missing[0]!r}")
        return {k: np.asarray(inputs[k], dtype=float) for k in self.required_inputs}


class InputsIgnored(Power):
    """Reads inputs without any check: a missing N escapes as a KeyError."""

    def check_inputs(self, inputs):
        return dict(inputs)


@pytest.mark.parametrize(
    "law, words",
    [
        (Drifting(), ["loss must broadcast", "element", "scalar call"]),
        (NegativeAtLargeN(), ["loss must be finite and > 0 for plausible inputs", "'N'"]),
        (OutOfBounds(), ["alpha=1.5 lies outside its declared bounds [0.0, 1.0]"]),
        (InputsUnchecked(), ["loss() with input N=-1.0 must raise InputError naming 'N'"]),
        (InputsIgnored(), ["loss() without input 'N' must raise InputError", "KeyError"]),
    ],
)
def test_broken_laws_fail_and_name_the_problem(law, words):
    check_law(Power())
    with pytest.raises(AssertionError) as info:
        check_law(law)
    for word in words:
        assert word in str(info.value)


def test_negative_at_large_n_passes_the_fixed_inputs():
    law = NegativeAtLargeN()
    assert np.all(law.loss(N=np.geomspace(1e7, 1e10, 6)) > 0)  # the old check's inputs
    assert law.loss(N=1e12) < 0 and math.isfinite(law.loss(N=1e12))


def test_the_readme_plugin_example_passes_its_own_check():
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"# mypkg/costmodels.py\n(.*?)```", readme, re.S)
    assert block, "README lost its plugin example"
    namespace: dict = {}
    exec(block.group(1), namespace)  # noqa: S102 - the README's own example
    check_costmodel(namespace["StateSpace"]())
