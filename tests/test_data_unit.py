"""The DataUnit base class: conversions to and from model positions, DataCount, integer settings."""

from typing import ClassVar

import attrs
import numpy as np
import pytest

from tsbudget.data_unit import DataCount, DataUnit, int_setting
from tsbudget.errors import InputError, PluginError


@attrs.frozen
class Spread(DataUnit):
    """One unit becomes ``per`` positions (e.g. a window split into patches)."""

    name: ClassVar[str] = "toy_spread"
    description: ClassVar[str] = "per positions per unit"
    columns: ClassVar[dict] = {"length": "units per series"}
    per: float = 3.0

    def count(self, table):
        total = float(sum(table["length"]))
        return DataCount(self.name, total, total)

    def positions_per_unit(self):
        return self.per


@attrs.frozen
class Packed(Spread):
    """``group`` units share one position: overrides units_per_position with the exact count."""

    group: int = attrs.field(default=7, converter=int_setting("group"))

    def positions_per_unit(self):
        return 1.0 / self.group

    def units_per_position(self):
        return float(self.group)


def test_spread_units_multiply_by_positions_per_unit():
    unit = Spread()
    assert unit.units_per_position() == pytest.approx(1 / 3)
    np.testing.assert_array_equal(unit.to_positions([1.0, 10.0]), [3.0, 30.0])
    np.testing.assert_array_equal(unit.from_positions(30.0), 10.0)


def test_packed_units_divide_by_the_exact_count():
    unit = Packed(group=7)
    # 7 · (1/7) rounds; dividing by the exact 7 does not
    assert float(unit.to_positions(7.0 * 3)) == 3.0
    assert float(unit.from_positions(3.0)) == 21.0
    units = np.array([7.0, 70.0, 7e12])
    np.testing.assert_array_equal(unit.from_positions(unit.to_positions(units)), units)


def test_conversions_name_a_bad_amount():
    with pytest.raises(InputError, match=r"units must be finite and >= 0, got array\(\[-1.\]\)"):
        Spread().to_positions([2.0, -1.0])
    with pytest.raises(InputError, match="positions must be finite and >= 0"):
        Packed().from_positions(np.nan)


def test_data_count():
    count = Spread().count({"length": [10, 20]})
    assert (count.unit, count.total, count.unique) == ("toy_spread", 30.0, 30.0)
    repeated = DataCount("tokens", total=30.0, unique=10.0, details={"windows": 3})
    assert repeated.epochs == 3.0
    assert repeated.to_dict() == {"unit": "tokens", "total": 30.0, "unique": 10.0, "windows": 3}
    assert DataCount("tokens", 5.0, 0.0).epochs == float("inf")


def test_int_setting_names_the_field_and_value():
    convert = int_setting("patch_length")
    assert convert(4) == 4 and convert(4.0) == 4 and convert("16") == 16
    for bad in (0, 2.5, True, "four", None, float("inf")):
        with pytest.raises(InputError, match=f"patch_length must be an integer >= 1, got {bad!r}"):
            convert(bad)
    assert int_setting("group", optional=True)(None) is None
    with pytest.raises(InputError, match="group must be an integer >= 1, got 0"):
        Packed(group=0)


def test_metadata_defaults_and_abstract_hooks():
    assert DataUnit.columns == {} and Spread.citation == ""

    class Incomplete(DataUnit):
        name = "incomplete"
        description = "cannot count"

    with pytest.raises(TypeError, match="count"):
        Incomplete()


# -- a non-finite count of positions is the unit's error --------------------------------------
@attrs.frozen
class Broken(DataUnit):
    """Positions per unit come out NaN (a division by a zero setting, say)."""

    name: ClassVar[str] = "toy_broken"
    description: ClassVar[str] = "NaN positions"

    def count(self, table):
        return DataCount(self.name, 1.0, 1.0)

    def positions_per_unit(self):
        return float("nan")


def test_nan_positions_name_the_unit_and_the_method():
    with pytest.raises(PluginError, match=r"data unit 'toy_broken' \(.*Broken\): positions_per_unit\(\) returned nan"):
        Broken().to_positions(10.0)


def test_a_plan_in_a_nan_unit_names_the_unit():
    import tsbudget as tb

    with pytest.raises(PluginError, match=r"data unit 'toy_broken'.*positions_per_unit"):
        tb.plan(1e21, unit=Broken())
