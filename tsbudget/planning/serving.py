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


def _optional_step_tokens(instance, attribute, value):
    if value is not None and not value >= 1:  # inf allowed: no limit
        raise InputError(f"Serving.step_tokens must be >= 1 (inf: no limit), got {value!r}")


def _optional_nonnegative(instance, attribute, value):
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise InputError(f"Serving.{attribute.name} must be finite and >= 0, got {value!r}")


def _optional_float(value):
    return None if value is None else float(value)


def _optional_batch(instance, attribute, value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
        raise InputError(f"Serving.batch must be an integer >= 1 (or None: the largest memory and latency allow), "
                         f"got {value!r}")


def _optional_precision(instance, attribute, value):
    if value is not None and (not isinstance(value, str) or not value):
        raise InputError(f"Serving.precision must be a precision name such as 'bf16' or 'fp8', got {value!r}")


def _optional_hardware(instance, attribute, value):
    if value is not None and not isinstance(value, str) and not hasattr(value, "peak_flops"):
        raise InputError(f"Serving.hardware must be a profile name, a profile file or a Hardware, got {value!r}")


#: The workload fields: any of them makes serving a roofline workload.
_WORKLOAD = ("context", "generate", "latency_ms", "request_latency_ms", "precision", "batch", "step_tokens",
             "hardware")


@attrs.frozen
class Serving:
    """Deployment load over the model's lifetime, given in exactly one way:

    - ``units``: data served, counted in the plan's data unit (cells, events, tokens, ...),
      the unit ``unique`` and the planned ``D`` are counted in; the planner converts it to
      model positions through the unit's positions per unit (:meth:`in_unit`), so 1.6e13
      cells served with patch length 16 are 1e12 positions;
    - ``positions``: model positions (what the network processes, after tokenization);
    - ``requests`` × ``positions_per_request``;
    - a **roofline workload**: ``requests`` with ``context`` (prompt read per request) and
      ``generate`` (data generated per request), both in the plan's unit like ``units``,
      optionally a ``latency_ms`` target per generated model position and a
      ``request_latency_ms`` target per whole request (prefill + generation), a serving
      ``precision`` (default ``"bf16"``) and a ``batch`` (default: the largest that memory
      and the latency target allow).

    A bare number is refused by :func:`as_serving` because it could mean either of the first two.

    The first three cost serving by FLOPs only (Sardana & Frankle 2024): they ignore memory
    bandwidth, memory capacity and latency. A workload is costed by the roofline
    (:func:`tsbudget.roofline.serving_roofline`: prefill compute-bound, decode moving the
    touched weights and the attention cache through memory, replicas sized by capacity):
    its GPU-seconds per request times ``requests`` (:meth:`gpu_seconds`); a candidate whose
    replica cannot meet the latency target costs ``inf``. The served positions are
    ``requests × (context + generate)`` in model positions either way, so the workload's
    inference FLOPs are those of the FLOPs-only path.

    ``price_per_gpu_hour`` (any form) prices a GPU-hour of training and, unless
    ``serve_price_per_gpu_hour`` is given, of serving; it reports a lifetime cost in money and,
    one price for both, does not move the plan. A workload may be served on other
    ``hardware`` (a profile name, file or :class:`~tsbudget.hardware.Hardware`; default: the
    plan's) at ``serve_price_per_gpu_hour``: a serving GPU-hour then counts as
    ``serve_price / price`` training GPU-hours (:meth:`price_ratio`), which does move the plan.
    GPU-hours of two kinds of device are not added without both prices.

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
    #: roofline workload (per request, in the plan's unit; latency per generated position)
    context: float | None = attrs.field(default=None, converter=_optional_float, validator=_optional_nonnegative)
    generate: float | None = attrs.field(default=None, converter=_optional_float, validator=_optional_nonnegative)
    latency_ms: float | None = attrs.field(default=None, converter=_optional_float, validator=_optional_positive)
    request_latency_ms: float | None = attrs.field(default=None, converter=_optional_float,
                                                   validator=_optional_positive)
    precision: str | None = attrs.field(default=None, validator=_optional_precision)
    batch: int | None = attrs.field(default=None, validator=_optional_batch)
    #: model positions one forward pass of the serving engine takes (None: Workload's default,
    #: :data:`tsbudget.workload.STEP_TOKENS`); prompts are prefilled together up to it
    step_tokens: float | None = attrs.field(default=None, converter=_optional_float, validator=_optional_step_tokens)
    price_per_gpu_hour: float | None = attrs.field(default=None, converter=_optional_float,
                                                   validator=_optional_positive)
    #: the serving device of a workload (None: the plan's hardware) and the price of its hour
    hardware: object = attrs.field(default=None, validator=_optional_hardware)
    serve_price_per_gpu_hour: float | None = attrs.field(default=None, converter=_optional_float,
                                                         validator=_optional_positive)

    def __attrs_post_init__(self):
        if self.roofline or any(getattr(self, k) is not None for k in _WORKLOAD):
            self._check_workload()
            return
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
        self._check_utilization()

    def _check_utilization(self):
        if self.utilization is not None and not 0 < self.utilization <= 1:
            raise InputError(f"Serving.utilization must be in (0, 1], got {self.utilization!r}")
        if self.serve_price_per_gpu_hour is not None and self.price_per_gpu_hour is None:
            raise InputError("Serving.serve_price_per_gpu_hour is weighed against the training price: give "
                             "price_per_gpu_hour (a training GPU-hour) too")

    def _check_workload(self):
        given = [k for k in _WORKLOAD if getattr(self, k) is not None]
        if self.context is None and self.generate is None:
            raise InputError(
                f"Serving: {', '.join(given)} describe a roofline workload, which needs context and/or generate "
                f"(data read and generated per request, in the plan's unit) and requests"
            )
        others = [k for k in ("units", "positions", "positions_per_request") if getattr(self, k) is not None]
        if others:
            raise InputError(
                f"Serving: a roofline workload is requests × (context + generate); {others[0]} cannot be given "
                f"with it (got {others[0]}={getattr(self, others[0])!r})"
            )
        if self.requests is None:
            raise InputError("Serving: a roofline workload (context, generate) needs requests, the number of "
                             "requests served over the deployment")
        if (self.context or 0.0) + (self.generate or 0.0) <= 0:
            raise InputError(f"Serving: context + generate must be > 0 per request, got context={self.context!r}, "
                             f"generate={self.generate!r}")
        self._check_utilization()

    @property
    def roofline(self) -> bool:
        """True when this is a roofline workload (context/generate per request), False for
        the FLOPs-only forms (units, positions, requests × positions_per_request)."""
        return self.context is not None or self.generate is not None

    @property
    def served_positions(self) -> float:
        """Model positions served over the deployment."""
        if self.positions is not None:
            return self.positions
        if self.roofline:
            return self.requests * self.request_positions
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

    @property
    def request_positions(self) -> float:
        """Model positions per request of a workload, ``(context + generate)`` × positions per unit."""
        if not self.roofline:
            raise InputError("Serving.request_positions: not a roofline workload (no context/generate)")
        if self.positions_per_unit is None:
            raise InputError(
                f"Serving(context={self.context!r}, generate={self.generate!r}) counts data in the plan's unit; its "
                f"positions are known once a unit is given (Serving.in_unit, which plan() calls)"
            )
        return ((self.context or 0.0) + (self.generate or 0.0)) * self.positions_per_unit

    def workload(self):
        """The :class:`tsbudget.roofline.Workload` of one request, in model positions."""
        from tsbudget.roofline import Workload

        self.request_positions  # noqa: B018 -- refuses a workload without its unit
        ppu = self.positions_per_unit
        return Workload(context=(self.context or 0.0) * ppu, generate=(self.generate or 0.0) * ppu,
                        precision=self.precision or "bf16", batch=self.batch, latency_ms=self.latency_ms,
                        request_latency_ms=self.request_latency_ms,
                        **({} if self.step_tokens is None else {"step_tokens": self.step_tokens}))

    def serving_hardware(self, hardware):
        """The serving device (:attr:`hardware`, else the plan's ``hardware``) with this load's
        serving utilisation, when it has one."""
        from tsbudget.hardware import get_hardware

        device = hardware if self.hardware is None else get_hardware(self.hardware)
        if self.utilization is None:
            return device
        return attrs.evolve(device, serve_utilization=self.utilization)

    def price_ratio(self, hardware) -> float:
        """Training GPU-hours one serving GPU-hour is worth: ``serve_price / price`` (1 without a
        serving price). Serving on another device than the plan's ``hardware`` needs both
        prices: an hour of one kind of device is not an hour of another."""
        device = self.serving_hardware(hardware)
        if self.serve_price_per_gpu_hour is None:
            if device.name != hardware.name:
                raise InputError(
                    f"serving on {device.name!r} while training on {hardware.name!r}: their GPU-hours are not "
                    f"the same; give price_per_gpu_hour (training) and serve_price_per_gpu_hour (serving) "
                    f"(--price-per-gpu-hour, --serve-price-per-gpu-hour) to weigh them"
                )
            return 1.0
        return self.serve_price_per_gpu_hour / self.price_per_gpu_hour

    def roofline_of(self, cost_model, n, hardware, train_variables: Mapping[str, np.ndarray]):
        """The :class:`tsbudget.roofline.Roofline` of serving one request of this workload with a
        model of ``n`` law parameters on ``hardware`` (broadcasts over ``n`` and variables)."""
        from tsbudget.roofline import serving_roofline

        merged = {**train_variables, **self.serving_variables(cost_model)}
        return serving_roofline(cost_model, n, self.serving_hardware(hardware), self.workload(), **merged)

    def gpu_seconds(self, cost_model, n, hardware, train_variables: Mapping[str, np.ndarray]) -> np.ndarray:
        """GPU-seconds of serving the whole workload: ``requests`` × the roofline's GPU-seconds
        per request; ``inf`` where a replica cannot hold the model or meet the latency target."""
        rf = self.roofline_of(cost_model, n, hardware, train_variables)
        per = np.asarray(rf.gpu_seconds_per_request, float)
        return np.where(np.asarray(rf.feasible, bool), self.requests * per, np.inf)

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
            "model": "roofline" if self.roofline else "flops",
            "context": self.context,
            "generate": self.generate,
            "latency_ms": self.latency_ms,
            "request_latency_ms": self.request_latency_ms,
            "precision": (self.precision or "bf16") if self.roofline else None,
            "batch": self.batch,
            "step_tokens": self.step_tokens,
            "price_per_gpu_hour": self.price_per_gpu_hour,
            "hardware": self.hardware if self.hardware is None or isinstance(self.hardware, str)
            else self.hardware.name,
            "serve_price_per_gpu_hour": self.serve_price_per_gpu_hour,
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
