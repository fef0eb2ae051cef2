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
    """Deployment load: ``positions`` served over the model's lifetime, or ``requests`` ×
    ``positions_per_request``.

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
    variables: Mapping[str, float] = attrs.field(factory=dict, converter=lambda m: {k: float(v) for k, v in m.items()})

    def __attrs_post_init__(self):
        by_requests = self.requests is not None or self.positions_per_request is not None
        if self.positions is None and not (self.requests is not None and self.positions_per_request is not None):
            raise InputError(
                "Serving needs positions, or both requests and positions_per_request; "
                f"got requests={self.requests!r}, positions_per_request={self.positions_per_request!r}"
            )
        if self.positions is not None and by_requests:
            raise InputError("Serving takes positions or requests × positions_per_request, not both")
        if self.utilization is not None and not 0 < self.utilization <= 1:
            raise InputError(f"Serving.utilization must be in (0, 1], got {self.utilization!r}")

    @property
    def served_positions(self) -> float:
        """Model positions served over the deployment."""
        if self.positions is not None:
            return self.positions
        return self.requests * self.positions_per_request

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
            "positions": self.served_positions,
            "requests": self.requests,
            "positions_per_request": self.positions_per_request,
            "utilization": self.utilization,
            "variables": dict(self.variables),
        }


def as_serving(serving) -> Serving | None:
    """``None``, a :class:`Serving`, a number of served positions, or a mapping of Serving fields."""
    if serving is None or isinstance(serving, Serving):
        return serving
    if isinstance(serving, Mapping):
        try:
            return Serving(**serving)
        except TypeError as exc:
            raise InputError(f"bad serving specification {dict(serving)!r}: {exc}") from exc
    if isinstance(serving, (int, float, np.number)):
        return Serving(positions=serving)
    raise InputError(f"serving must be a Serving, a number of served positions or a mapping, got {serving!r}")
