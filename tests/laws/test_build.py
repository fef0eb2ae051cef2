"""tsbudget.laws.build: a law from its name and the variables a fit measures."""

import pytest

from tsbudget.errors import InputError
from tsbudget.laws.build import build_law


def test_plain_law_by_name():
    assert build_law("chinchilla", {}).name == "chinchilla"


def test_extended_law_takes_variables_and_references():
    law = build_law("extended", {"experts": 8.0, "compression": None})
    assert law.variables == ("experts", "compression")
    assert law.references == (8.0, 1.0)


def test_variables_for_a_law_without_them_are_refused():
    with pytest.raises(InputError, match="law 'chinchilla' has no extra variables, but experts was given"):
        build_law("chinchilla", {"experts": None})


def test_extended_law_without_variables_is_refused():
    with pytest.raises(InputError, match="needs its variables"):
        build_law("extended", {})


def test_parse_law_variable_spellings():
    from tsbudget.laws.build import parse_law_variable

    assert parse_law_variable("compression") == ("compression", None, "linear")
    assert parse_law_variable("compression=4") == ("compression", 4.0, "linear")
    assert parse_law_variable("compression:quadratic") == ("compression", None, "quadratic")
    assert parse_law_variable(" compression = 4.5 : quadratic ") == ("compression", 4.5, "quadratic")
    for bad, match in (("compression:cubic", "linear"), ("1x", "NAME"), ("c=0", "> 0"), ("c=abc", "number")):
        with pytest.raises(InputError, match=match):
            parse_law_variable(bad)


def test_extended_law_takes_kinds():
    law = build_law("extended", {"experts": 8.0, "compression": 4.0}, {"compression": "quadratic"})
    assert law.kinds == ("linear", "quadratic") and law.quadratic == ("compression",)
    assert "eta2_compression" in law.values
    with pytest.raises(InputError, match="'depth' is not one of the variables"):
        build_law("extended", {"experts": None}, {"depth": "quadratic"})


def test_cli_law_variable_with_kind():
    from tsbudget.cli.fit import fit_kwargs

    kwargs = fit_kwargs({"law": "extended", "law_variables": ("compression=4:quadratic",)})
    assert kwargs["law"].kinds == ("quadratic",) and kwargs["law"].references == (4.0,)
