"""The data-unit plugin kind: what one unit of data is and how many model positions it becomes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

import attrs
import numpy as np

from tsbudget.errors import InputError
from tsbudget.plugin_calls import wrap_plugin_methods
from tsbudget.variables import as_nonnegative_array

__all__ = ["DataUnit", "DataCount"]


@attrs.frozen
class DataCount:
    """A dataset counted in one unit: ``total`` units, of which ``unique`` are distinct.

    ``details`` holds unit-specific counts (e.g. windows that contain an intervention).
    """

    unit: str
    total: float
    unique: float
    details: Mapping[str, float] = attrs.field(factory=dict, converter=dict)

    @property
    def epochs(self) -> float:
        """Passes over the unique data that reading ``total`` units amounts to."""
        return self.total / self.unique if self.unique > 0 else float("inf")

    def to_dict(self) -> dict:
        return {"unit": self.unit, "total": self.total, "unique": self.unique, **dict(self.details)}


class DataUnit(ABC):
    """Base class of data units. Subclasses are frozen attrs classes whose fields are
    tokenization settings (patch length, channel grouping, events per position, ...).

    Class metadata: ``name`` (registry name), ``description``, ``citation`` and
    ``columns``: the table columns :meth:`count` needs, mapped to what each means.

    Every override of :attr:`plugin_methods` is wrapped when the subclass is created
    (:func:`tsbudget.plugin_calls.wrap_plugin_methods`): a non-finite number of positions
    raises a :class:`~tsbudget.errors.PluginError` naming the unit and the method.
    """

    #: The methods whose values are checked to be finite.
    plugin_methods: ClassVar[tuple[str, ...]] = ("positions_per_unit", "units_per_position")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        wrap_plugin_methods(cls, cls.plugin_methods, "data unit")

    name: ClassVar[str]
    description: ClassVar[str]
    citation: ClassVar[str] = ""
    columns: ClassVar[Mapping[str, str]] = {}

    @abstractmethod
    def count(self, table) -> DataCount:
        """Count a dataset (a polars DataFrame with :attr:`columns`) into total and unique units."""

    @abstractmethod
    def positions_per_unit(self) -> float:
        """Model positions one unit becomes under this unit's tokenization settings."""

    def units_per_position(self) -> float:
        """Units one model position holds; units that pack several units into a position
        (a patch of cells, a group of events) override it with the exact count, so that
        conversions divide by an integer instead of multiplying by its rounded reciprocal."""
        return 1.0 / self.positions_per_unit()

    def _packs(self) -> bool:
        return type(self).units_per_position is not DataUnit.units_per_position

    def to_positions(self, units) -> np.ndarray:
        """Model positions for an amount of data in this unit (broadcasts)."""
        units = as_nonnegative_array(units, "units")
        return units / self.units_per_position() if self._packs() else units * self.positions_per_unit()

    def from_positions(self, positions) -> np.ndarray:
        """Amount of data in this unit that makes ``positions`` model positions (broadcasts)."""
        positions = as_nonnegative_array(positions, "positions")
        return positions * self.units_per_position() if self._packs() else positions / self.positions_per_unit()


def int_setting(field: str, optional: bool = False):
    """An attrs converter (for unit settings) to an integer >= 1 that names ``field`` when the value is not one."""

    def convert(value):
        if value is None and optional:
            return None
        try:
            out = int(value)
            whole = float(value) == out
        except (TypeError, ValueError, OverflowError):
            whole = False
        if isinstance(value, bool) or not whole or out < 1:
            raise InputError(f"{field} must be an integer >= 1, got {value!r}")
        return out

    return convert
