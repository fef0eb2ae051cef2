"""Allocation variables and the shared numeric checks (tsbudget.variables)."""

import math

import numpy as np
import pytest

from tsbudget.errors import InputError
from tsbudget.variables import Variable, as_nonnegative_array, as_positive_array, positive_number


def experts(**kw):
    return Variable("experts", **{"lower": 1, "upper": 64, "default": 8, "integer": True, "log": True, **kw})


def test_fields_are_floats_and_round_trip():
    v = experts(description="expert count")
    assert (v.lower, v.upper, v.default) == (1.0, 64.0, 8.0) and isinstance(v.lower, float)
    assert v.to_dict() == {"name": "experts", "lower": 1.0, "upper": 64.0, "default": 8.0, "integer": True,
                           "log": True, "description": "expert count"}
    assert Variable(**v.to_dict()) == v


@pytest.mark.parametrize("kw, message", [
    ({"lower": 8, "upper": 4, "default": 4}, "'experts': lower 8.0 > upper 4.0"),
    ({"default": 128}, r"'experts': default 128.0 outside \[1.0, 64.0\]"),
    ({"lower": 0, "integer": False}, "'experts': log scale needs lower > 0, got 0.0"),
    ({"upper": 63.5, "default": 8, "log": False}, "'experts': integer bounds must be integers"),
    ({"upper": math.inf}, "Variable.upper must be finite, got inf"),
    ({"default": math.nan}, "Variable.default must be finite, got nan"),
])
def test_construction_errors_name_the_variable_and_value(kw, message):
    with pytest.raises(InputError, match=message):
        experts(**kw)


def test_name_must_be_an_identifier():
    with pytest.raises(InputError, match="identifier, got 'top k'"):
        Variable("top k", lower=1, upper=4, default=1)


def test_check_enforces_bounds_integrality_and_finiteness():
    v = experts()
    out = v.check([1, 8, 64])
    assert out.dtype == float and out.tolist() == [1.0, 8.0, 64.0]
    with pytest.raises(InputError, match=r"experts=128 outside its bounds \[1, 64\]"):
        v.check(128)
    with pytest.raises(InputError, match=r"experts=\[0.5, 2\] outside"):
        v.check([0.5, 2])
    with pytest.raises(InputError, match="experts must be an integer, got 2.5"):
        v.check(2.5)
    with pytest.raises(InputError, match="experts must be finite, got nan"):
        v.check(math.nan)
    real = Variable("rate", lower=0.5, upper=8, default=1)
    assert float(real.check(2.5)) == 2.5


def test_array_checks_name_the_argument_and_the_bad_values():
    assert as_positive_array([1, 2], "n").tolist() == [1.0, 2.0]
    with pytest.raises(InputError, match=r"n must be finite and > 0, got array\(\[ 0., -1.\]\)"):
        as_positive_array([3.0, 0.0, -1.0], "n")
    with pytest.raises(InputError, match="flops must be finite and > 0"):
        as_positive_array(math.inf, "flops")
    assert as_nonnegative_array(0.0, "positions") == 0.0
    with pytest.raises(InputError, match=r"positions must be finite and >= 0, got array\(\[-2.\]\)"):
        as_nonnegative_array(np.array([1.0, -2.0]), "positions")


def test_positive_number():
    assert positive_number("2.5", "budget") == 2.5
    with pytest.raises(InputError, match="budget must be a number > 0, got 'lots'"):
        positive_number("lots", "budget")
    with pytest.raises(InputError, match="budget must be finite and > 0, got -1"):
        positive_number(-1, "budget")
    with pytest.raises(InputError, match="budget must be finite and > 0, got nan"):
        positive_number(math.nan, "budget")
