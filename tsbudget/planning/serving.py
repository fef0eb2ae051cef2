"""What a model will serve over its deployment, for lifetime-cost planning."""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs
import numpy as np

from tsbudget.errors import InputError

__all__ = ["Serving", "as_serving"]


def _optional_positive(instance, attribute, value):
    if value is not None and not (math.isfinite(value) and value > 0):
        raise InputError(f"Serving.{attribute.name} must be finite and > 0, got {value!r}")


def _optional_float(value):
    return None if value is None else float(value)


@attrs.frozen
class Serving:
    """Deployment load over the model's lifetime, given in exactly one way:

    - ``units``: data served, counted in the plan's data unit (cells, events, tokens, ...),
      the unit ``unique`` and the planned ``D`` are counted in; the planner converts it to
      model positions through the unit's positions per unit (:meth:`in_unit`), so 1.6e13
      cells served with patch length 16 are 1e12 positions;
    - ``positions``: model positions (what the network processes, after tokenization);
    - ``requests`` × ``positions_per_request``.

    A bare number is refused by :func:`as_serving` because it could mean either of the first two.

    Lifetime FLOPs = training FLOPs + inference FLOPs over the served positions
    (Sardana & Frankle 2024, "Beyond Chinchilla-Optimal", eq. 2-3); inference FLOPs come
    from the cost model's ``inference_flops`` with ``variables`` (serving-time values of
    cost-model variables, e.g. the recurrence used at inference). Variables not named here
    take the training-time value. ``utilization`` overrides the hardware profile's serving
    utilisation when converting serving FLOPs to GPU-hours.
    """

    positions: float | None = attrs.field(default=None, converter=_optional_float, validator=_optional_positive)
    requests: float | None = attrs.field(default=None, converter=_optional_float, validator=_optional_positive)
    positions_per_request: float | None = attrs.field(
        default=None, converter=_optional_float, validator=_optional_positive
    )
    utilization: float | None = attrs.field(default=None, converter=_optional_float)
    units: float | None = attrs.field(default=None, converter=_optional_float, validator=_optional_positive)
    #: set by :meth:`in_unit`: the plan's unit and its model positions per unit
    unit: str | None = None
    positions_per_unit: float | None = attrs.field(default=None, converter=_optional_float,
                                                   validator=_optional_positive)
    variables: Mapping[str, float] = attrs.field(factory=dict, converter=lambda m: {k: float(v) for k, v in m.items()})

    def __attrs_post_init__(self):
        by_requests = self.requests is not None or self.positions_per_request is not None
        given = [name for name, yes in (("units", self.units is not None), ("positions", self.positions is not None),
                                        ("requests × positions_per_request", by_requests)) if yes]
        if len(given) > 1:
            raise InputError(f"Serving takes one of units, positions or requests × positions_per_request; got {given}")
        if not given or (by_requests and (self.requests is None or self.positions_per_request is None)):
            raise InputError(
                "Serving needs units (served data in the plan's unit), positions (model positions), or both "
                f"requests and positions_per_request; got requests={self.requests!r}, "
                f"positions_per_request={self.positions_per_request!r}"
            )
        if self.utilization is not None and not 0 < self.utilization <= 1:
            raise InputError(f"Serving.utilization must be in (0, 1], got {self.utilization!r}")

    @property
    def served_positions(self) -> float:
        """Model positions served over the deployment."""
        if self.positions is not None:
            return self.positions
        if self.units is not None:
            if self.positions_per_unit is None:
                raise InputError(
                    f"Serving(units={self.units:g}) counts data in the plan's unit; its positions are known once "
                    f"a unit is given (Serving.in_unit, which plan() calls)"
                )
            return self.units * self.positions_per_unit
        return self.requests * self.positions_per_request

    def served_units(self) -> float | None:
        """Served data in the plan's unit (None before :meth:`in_unit` when given in positions)."""
        if self.units is not None:
            return self.units
        if self.positions_per_unit is None:
            return None
        return self.served_positions / self.positions_per_unit

    def in_unit(self, unit) -> "Serving":
        """This load for a plan counting data in ``unit`` (a data-unit instance): records the
        unit's name and positions per unit, so served units and positions convert both ways."""
        return attrs.evolve(self, unit=unit.name, positions_per_unit=float(unit.positions_per_unit()))

    def inference_flops(self, cost_model, n, train_variables: Mapping[str, np.ndarray]) -> np.ndarray:
        """Serving FLOPs of a model with ``n`` law parameters (broadcasts over ``n`` and variables)."""
        merged = {**train_variables, **self.serving_variables(cost_model)}
        return cost_model.inference_flops(n, self.served_positions, **merged)

    def serving_variables(self, cost_model) -> dict[str, np.ndarray]:
        """Serving-time variable values, checked against the cost model's declared variables."""
        known = {v.name: v for v in cost_model.variables}
        unknown = set(self.variables) - set(known)
        if unknown:
            raise InputError(
                f"serving variable {sorted(unknown)[0]!r} is not a variable of cost model "
                f"{cost_model.name!r}; its variables are {sorted(known) or 'none'}"
            )
        return {k: known[k].check(v) for k, v in self.variables.items()}

    def to_dict(self) -> dict:
        return {
            "units": self.served_units(),
            "unit": self.unit,
            "positions": self.served_positions,
            "requests": self.requests,
            "positions_per_request": self.positions_per_request,
            "utilization": self.utilization,
            "variables": dict(self.variables),
        }


def as_serving(serving) -> Serving | None:
    """``None``, a :class:`Serving`, or a mapping of Serving fields (``{"units": ...}``,
    ``{"positions": ...}``, ...). A bare number is refused: it could count served data in
    the plan's unit or model positions, which differ by the unit's positions per unit."""
    if serving is None or isinstance(serving, Serving):
        return serving
    if isinstance(serving, Mapping):
        try:
            return Serving(**serving)
        except TypeError as exc:
            raise InputError(f"bad serving specification {dict(serving)!r}: {exc}") from exc
    if isinstance(serving, (int, float, np.number)) and not isinstance(serving, bool):
        raise InputError(
            f"serving={serving!r} is ambiguous: pass Serving(units={serving!r}) for data served in the plan's "
            f"unit, or Serving(positions={serving!r}) for model positions"
        )
    raise InputError(f"serving must be a Serving or a mapping of its fields, got {serving!r}")
