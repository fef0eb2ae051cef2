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
