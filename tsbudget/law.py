"""The law plugin kind: a parametric loss with named parameters that can be fixed or free."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

import attrs
import numpy as np

from tsbudget.errors import InputError
from tsbudget.plugin_calls import check_finite

__all__ = ["Law", "Parameter", "value_field", "scratch_array"]


def _finite(instance, attribute, value):
    if not math.isfinite(value):
        raise InputError(f"{type(instance).__name__}.{attribute.name} must be finite, got {value!r}")


def value_field(default: float):
    """An attrs field for a law's parameter value: a finite float (an error names the field)."""
    return attrs.field(default=default, converter=float, validator=_finite)


@attrs.frozen
class Parameter:
    """One named parameter of a law.

    ``log`` parameters are fitted as their natural log (``E = exp(e)``), as in Hoffmann
    et al. 2022 App. D.2. ``grid`` lists start values in fit coordinates (log for ``log``
    parameters). ``lower``/``upper`` bound the value itself.
    """

    name: str
    log: bool = False
    grid: tuple[float, ...] = attrs.field(default=(0.0,), converter=tuple)
    lower: float = -math.inf
    upper: float = math.inf
    description: str = ""

    def to_fit(self, value):
        """Value -> fit coordinate."""
        return np.log(value) if self.log else np.asarray(value, dtype=float)

    def from_fit(self, raw):
        """Fit coordinate -> value."""
        return np.exp(raw) if self.log else np.asarray(raw, dtype=float)


class Law(ABC):
    """Base class of laws. Subclasses are frozen attrs classes whose fields are their
    parameter values (and, for configurable laws, their configuration).

    :meth:`evaluate` is a pure function of a parameter mapping and the run inputs and
    broadcasts over both: fitting calls it with parameter arrays of shape ``(starts, 1)``
    and inputs of shape ``(runs,)``. ``inputs`` names what a run must give (``N``, ``D``,
    ``U`` for unique data, or a cost model's variables).

    Hooks with a default here, to override where a law can do better:

    - :meth:`log_evaluate` (default ``log(evaluate)``) and :meth:`log_value_and_gradient`
      (default: central finite differences); :meth:`log_gradient` derives from the latter.
      :attr:`has_analytic_gradient` says whether a class supplies its own gradient.
    - :meth:`optimal_allocation`, the closed-form compute optimum, for laws whose class sets
      :attr:`has_closed_form` (the default raises: callers test the flag first).
    - :meth:`effective`: the effective sizes the law's terms see (default ``N`` and ``D``).
    - :meth:`at` and :meth:`params_at`: the law with its variables held fixed (default:
      the law itself, for laws without variables).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    citation: ClassVar[str] = ""
    inputs: ClassVar[tuple[str, ...]] = ("N", "D")
    #: True when :meth:`optimal_allocation` gives the compute-optimal ``(N, D)`` in closed form.
    has_closed_form: ClassVar[bool] = False

    @property
    @abstractmethod
    def parameters(self) -> tuple[Parameter, ...]:
        """The law's parameters, in a fixed order."""

    @property
    def required_inputs(self) -> tuple[str, ...]:
        """Inputs this instance needs (override when they depend on configuration)."""
        return self.inputs

    @property
    def values(self) -> dict[str, float]:
        """Parameter name -> value of this instance."""
        return {p.name: float(getattr(self, p.name)) for p in self.parameters}

    def replace(self, **values) -> "Law":
        """A copy with some parameter values replaced."""
        names = {p.name for p in self.parameters}
        unknown = set(values) - names
        if unknown:
            raise InputError(f"law {self.name!r} has no parameter {sorted(unknown)[0]!r}; it has {sorted(names)}")
        return attrs.evolve(self, **{k: float(v) for k, v in values.items()})

    @abstractmethod
    def evaluate(self, params: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Predicted loss for the given parameter values and run inputs (broadcasts)."""

    def predict(self, params: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """:meth:`evaluate`, checked: where the parameters and inputs are finite, a non-finite
        loss raises a :class:`~tsbudget.errors.PluginError` naming the law, the method and the
        inputs and parameters there (:func:`tsbudget.plugin_calls.check_finite`). The planner and
        :meth:`loss` call this; the fit calls :meth:`evaluate` unchecked, since its optimiser
        probes parameter values where a law may legitimately overflow and treats those as infeasible."""
        out = np.asarray(self.evaluate(params, inputs), dtype=float)
        if not np.all(np.isfinite(out)):
            check_finite(self, "evaluate", out, {**inputs, **params}, "law")
        return out

    def log_evaluate(self, params: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """log of :meth:`evaluate`; override with a log-sum-exp form where one exists."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(self.evaluate(params, inputs))

    # -- gradient ------------------------------------------------------------------------
    def log_value_and_gradient(self, params: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray], *,
                               workspace: dict | None = None):
        """``(log_evaluate(...), d log L / d value)`` in one call; the fit calls this.

        Default: :meth:`log_evaluate` and, for a class that overrides :meth:`log_gradient`,
        that gradient, else :meth:`finite_difference_log_gradient`. A law overrides this to
        compute both from one pass. ``workspace`` is a dict the caller keeps between calls:
        an override may hold scratch arrays in it (see :func:`scratch_array`) and return
        views of them, valid until the next call with the same workspace.
        """
        own = type(self).log_gradient
        if own is not None and own is not Law.log_gradient:
            return self.log_evaluate(params, inputs), self.log_gradient(params, inputs)
        return self.log_evaluate(params, inputs), self.finite_difference_log_gradient(params, inputs)

    def log_gradient(self, params: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """d log L / d value of each parameter (broadcasts like :meth:`evaluate`); by default
        the gradient half of :meth:`log_value_and_gradient`."""
        return self.log_value_and_gradient(params, inputs)[1]

    @property
    def has_analytic_gradient(self) -> bool:
        """True when the class computes its gradient itself (overrides :meth:`log_gradient`
        or :meth:`log_value_and_gradient`); False for the finite-difference default, and for
        a class that sets ``log_gradient = None`` to opt out."""
        cls = type(self)
        if cls.log_gradient is None:
            return False
        return cls.log_gradient is not Law.log_gradient or cls.log_value_and_gradient is not Law.log_value_and_gradient

    def finite_difference_log_gradient(self, params: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray],
                                       step: float = 1e-6) -> dict[str, np.ndarray]:
        """d log L / d value by central differences of :meth:`log_evaluate`.

        Each parameter moves in its fit coordinate (:meth:`Parameter.to_fit`: the log of the
        value for ``log`` parameters, so the step is relative; the value otherwise) by
        ``h = step·max(1, |coordinate|)``, the rule of the fit's own differences, and the slope
        is turned back into d/d value (divided by the value for ``log`` parameters). A ``log``
        parameter with a value <= 0 somewhere moves by ``h`` in its value instead.
        Truncation error is O(h²), rounding error O(ε/h): about 1e-10 relative at the default step.
        """
        out = {}
        for p in self.parameters:
            if p.name not in params:
                continue
            value = np.asarray(params[p.name], dtype=float)
            relative = p.log and bool(np.all(value > 0))
            x = np.log(value) if relative else value
            h = step * np.maximum(1.0, np.abs(x))
            up, down = (np.exp(x + h), np.exp(x - h)) if relative else (x + h, x - h)
            with np.errstate(all="ignore"):
                slope = (self.log_evaluate({**params, p.name: up}, inputs)
                         - self.log_evaluate({**params, p.name: down}, inputs)) / (2.0 * h)
                out[p.name] = slope / value if relative else slope
        return out

    # -- optional closed form and effective sizes --------------------------------------------
    def optimal_allocation(self, flops, flops_per_param_position=6.0, *, params: Mapping | None = None,
                           **variables) -> tuple[np.ndarray, np.ndarray]:
        """Compute-optimal ``(N_opt, D_opt)`` for ``flops`` under ``C = k·N·D`` in closed form,
        for laws whose class sets :attr:`has_closed_form`; the variables of a law that has
        some are given as keywords. ``params`` (name -> array) replaces this instance's values
        and broadcasts against ``flops``, so one call covers every bootstrap draw.

        Default: no closed form, an :class:`~tsbudget.errors.InputError` that says so
        (callers test :attr:`has_closed_form` first; :func:`tsbudget.plan` optimises any law).
        """
        raise InputError(f"law {self.name!r} has no closed-form optimal allocation; use tsbudget.plan")

    def effective(self, params: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The effective sizes the law's terms see: a mapping with at least ``N_eff`` and
        ``D_eff`` (broadcast), plus whatever intermediate quantities a law reports. Default:
        ``N`` and ``D`` as given (a law that counts every parameter and unit fully)."""
        return {"N_eff": np.asarray(inputs["N"], dtype=float), "D_eff": np.asarray(inputs["D"], dtype=float)}

    # -- fixed variables -----------------------------------------------------------------------
    def at(self, **variables) -> "Law":
        """This law with each of its variables (inputs other than ``N``, ``D``, ``U``) held at a
        scalar value, as a law of the remaining inputs; a name that is not one of its
        variables raises. Default: the law itself, for a law without variables."""
        if variables:
            raise InputError(f"law {self.name!r} takes no variables; got {sorted(variables)}")
        return self

    def params_at(self, params: Mapping[str, np.ndarray], /, **variables) -> dict[str, np.ndarray]:
        """The parameter arrays of :meth:`at` computed from ``params`` (arrays of this law's
        parameters, e.g. bootstrap draws; broadcasts). Values for names that are not variables
        of this law are ignored (a cost model may declare variables the law does not use).
        Default: ``params`` unchanged, for a law without variables."""
        return dict(params)

    # -- inputs ------------------------------------------------------------------------------
    def check_inputs(self, inputs: Mapping) -> dict[str, np.ndarray]:
        """Inputs as float arrays; missing or non-finite/non-positive ones raise, naming the input."""
        out = {}
        for key in self.required_inputs:
            if key not in inputs or inputs[key] is None:
                raise InputError(f"law {self.name!r} needs input {key!r}; got {sorted(inputs)}")
            arr = np.asarray(inputs[key], dtype=float)
            if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
                raise InputError(f"law {self.name!r}: input {key} must be finite and > 0, got {inputs[key]!r}")
            out[key] = arr
        return out

    def loss(self, **inputs) -> np.ndarray:
        """Predicted loss of this instance at the given inputs (``N=..., D=..., ...``)."""
        return self.predict(self.values, self.check_inputs(inputs))

    def to_dict(self) -> dict:
        return {"law": self.name, "parameters": self.values}


def scratch_array(work: dict | None, name: str, shape) -> np.ndarray:
    """An uninitialised float array of ``shape``: new, or a view of ``work[name]`` (grown as
    needed), so that repeated calls reuse memory instead of allocating (fresh pages cost
    about as much as the arithmetic here)."""
    if work is None:
        return np.empty(shape)
    size = math.prod(shape)
    buf = work.get(name)
    if buf is None or buf.size < size:
        buf = work[name] = np.empty(size)
    return buf[:size].reshape(shape)
