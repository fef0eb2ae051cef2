"""Hypothesis strategies for plugin authors' property tests: plausible parameter counts,
data amounts and budgets (log-uniform), values of an allocation variable, and cost-model
settings within the declared bounds. ``hypothesis`` (a test dependency) is imported only
when a strategy is built."""

from __future__ import annotations

import math

from tsbudget.cost_model import CostModel
from tsbudget.variables import Variable

__all__ = ["budgets", "cost_settings", "data_amounts", "n_params", "variable_values"]


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
