import pytest

from tsbudget.errors import InputError
from tsbudget.comparisons.references import REFERENCES, get_reference, match_reference, register_reference


def test_builtin_references_are_first_class():
    for name in ("uniform", "hand_scheduled", "static_bowtie", "learned_router", "dense"):
        assert REFERENCES[name].description


def test_match_by_alias_and_exact_label():
    assert match_reference("uniform", ["Uniform-Allocation", "router"])[0] == "Uniform-Allocation"
    assert match_reference("dense", ["Dense", "S-Base-64"])[0] == "Dense"
    assert match_reference("S-Base-64", ["Dense", "S-Base-64"]) == ("S-Base-64", None)


def test_unknown_reference_names_the_systems():
    with pytest.raises(InputError, match="not one of the systems"):
        match_reference("bowtie", ["a", "b"])
    with pytest.raises(InputError, match="known"):
        get_reference("nope")


def test_user_named_reference():
    ref = register_reference("my_patcher", "entropy patcher v1", aliases=("patcher-v1",), replace=True)
    assert get_reference("patcher-v1") is ref
    assert match_reference("my_patcher", ["patcher_v1", "other"])[0] == "patcher_v1"
    with pytest.raises(InputError, match="already exists"):
        register_reference("my_patcher", "again")
