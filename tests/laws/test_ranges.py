"""FitRanges: the span of a fit's runs and the factor by which a plan lies outside it."""

import json

import numpy as np
import pytest

from tsbudget.errors import InputError
from tsbudget.laws.ranges import FitRanges


def test_ratio_is_one_inside_and_the_outside_factor_beyond_either_end():
    r = FitRanges(budget=(1e18, 1e21), n=(7e7, 1.6e10), d=None)
    assert r.ratios(budget=1e20, n=1e9) == {"budget": 1.0, "n": 1.0}
    assert r.ratios(budget=1e23)["budget"] == pytest.approx(100.0)
    assert r.ratios(n=7e6)["n"] == pytest.approx(10.0)
    assert r.ratios(budget=1e21, n=7e7) == {"budget": 1.0, "n": 1.0}  # the ends are inside


def test_unknown_ranges_and_missing_values_have_no_key():
    r = FitRanges(budget=(1.0, 2.0))
    assert r.ratios(n=5.0, d=3.0) == {}
    assert r.ratios() == {}
    assert r.worst(n=5.0) is None


def test_arrays_give_arrays_and_worst_names_the_furthest():
    r = FitRanges(budget=(1.0, 10.0), n=(1.0, 10.0), d=(1.0, 10.0))
    out = r.ratios(budget=np.array([0.5, 5.0, 40.0]))["budget"]
    np.testing.assert_allclose(out, [2.0, 1.0, 4.0])
    assert r.worst(budget=20.0, n=0.1, d=5.0) == ("n", pytest.approx(10.0))


def test_round_trip_through_json():
    r = FitRanges(budget=(6e18, 3e21), n=(7e7, 1.6e10), d=None)
    back = FitRanges.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back == r and back.d is None
    assert r.to_dict() == {"budget": [6e18, 3e21], "n": [7e7, 1.6e10], "d": None}


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"n": (10.0, 1.0)}, "FitRanges.n"),
        ({"budget": (0.0, 1.0)}, "FitRanges.budget"),
        ({"d": (1.0, float("inf"))}, "FitRanges.d"),
        ({"d": "ab"}, "FitRanges.d"),
        ({"n": 3.0}, "FitRanges.n"),
    ],
)
def test_bad_ranges_are_refused_naming_the_field(kwargs, words):
    with pytest.raises(InputError, match=words):
        FitRanges(**kwargs)


def test_bad_values_and_dicts_are_refused():
    r = FitRanges(n=(1.0, 2.0))
    with pytest.raises(InputError, match="n must be positive"):
        r.ratios(n=-1.0)
    with pytest.raises(InputError, match="n must be positive"):
        r.ratios(n=float("nan"))
    with pytest.raises(InputError, match="unknown key"):
        FitRanges.from_dict({"N": [1, 2]})
    with pytest.raises(InputError, match="mapping"):
        FitRanges.from_dict([1, 2])
