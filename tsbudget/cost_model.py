"""The cost-model plugin kind: FLOPs and parameter counts of one architecture family."""

from __future__ import annotations

import math
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import attrs
import numpy as np

from tsbudget.errors import InputError
from tsbudget.plugin_calls import wrap_plugin_methods
from tsbudget.variables import Variable, as_nonnegative_array, as_positive_array

__all__ = ["CostModel", "TouchedCurve", "any_of_batch", "any_of_batch_logged", "log_miss", "positive_int",
           "optional_positive_int", "saturating_curve", "share", "nonnegative"]


@attrs.frozen
class TouchedCurve:
    """:meth:`CostModel.weight_params_touched` at fixed ``n`` and variables, as a function of
    the batch alone: ``curve(B)`` is the parameters a decode step of ``B`` sequences reads.
    Its batch-independent parts are evaluated once when the curve is built, so the serving
    roofline's batch search (:func:`tsbudget.roofline.serving_roofline`), which evaluates it
    at many batches, repeats no variable checks. ``constant`` is the value at every batch
    when it does not depend on the batch (``None`` otherwise): the roofline then solves its
    batch caps in closed form. ``inverse(value)``, when given, is the largest real batch at
    which the curve is at most ``value`` (below 1, or ``±inf``, where it is so at no or at
    every batch): the roofline then solves a latency cap in closed form too. ``B`` must be a
    float array of batches >= 1 (not checked)."""

    at: Callable[[np.ndarray], np.ndarray]
    constant: np.ndarray | None = None
    inverse: Callable[[np.ndarray], np.ndarray] | None = None

    def __call__(self, batch) -> np.ndarray:
        return self.at(batch)


#: Arrays :meth:`CostModel.resolve_variables` returned, keyed by (variable, id of the array).
_CHECKED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _checked(variable: Variable, value) -> np.ndarray:
    """``variable.check(value)``, skipped for a read-only array already checked against it."""
    if isinstance(value, np.ndarray) and _CHECKED.get((variable, id(value))) is value:
        return value
    arr = np.array(variable.check(value), dtype=float, copy=True)
    arr.flags.writeable = False
    _CHECKED[(variable, id(arr))] = arr
    return arr


class CostModel(ABC):
    """Base class of cost models. Subclasses are frozen attrs classes whose fields are
    fixed architecture hyperparameters (layers, context, local encoder size, ...).

    ``n`` is always the parameter count the scaling law sees (for MoE, the active
    parameters per position). The allocation variables a model declares (expert count,
    compression rate, recurrence, ...) are passed as keyword arrays and broadcast with
    ``n`` and ``positions``. Costs are linear in positions: subclasses implement the
    per-position FLOPs and the base class multiplies.

    Every override of :attr:`plugin_methods` is wrapped when the subclass is created
    (:func:`tsbudget.plugin_calls.wrap_plugin_methods`): a non-finite value at finite inputs
    raises a :class:`~tsbudget.errors.PluginError` naming the cost model, the method and the
    inputs, wherever it is called from (planner, fit, sweeps, CLI).
    """

    #: The methods whose values are checked to be finite.
    plugin_methods: ClassVar[tuple[str, ...]] = (
        "train_flops_per_position", "inference_flops_per_position", "total_params", "active_params",
        "weight_params_touched", "cache_bytes_per_position",
    )

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        wrap_plugin_methods(cls, cls.plugin_methods, "cost model")

    name: ClassVar[str]
    description: ClassVar[str]
    citation: ClassVar[str] = ""
    declared_variables: ClassVar[tuple[Variable, ...]] = ()

    @property
    def variables(self) -> tuple[Variable, ...]:
        """The extra allocation variables (override when they depend on the fields)."""
        return self.declared_variables

    def resolve_variables(self, **given) -> dict[str, np.ndarray]:
        """Fill defaults, reject unknown names, check bounds; returns name -> array.

        The arrays returned are read-only copies, remembered (weakly) with the variable they
        were checked against: passed back (the serving roofline resolves once and hands them
        to every hook, and each hook resolves them again) they are recognised and not
        checked twice. A read-only array that owns its data cannot have changed since."""
        variables = self.variables
        known = {v.name: v for v in variables}
        unknown = set(given) - set(known)
        if unknown:
            raise InputError(
                f"cost model {self.name!r} has no variable {sorted(unknown)[0]!r}; "
                f"its variables are {sorted(known) or 'none'}"
            )
        return {k: _checked(v, given.get(k, v.default)) for k, v in known.items()}

    @abstractmethod
    def train_flops_per_position(self, n, **variables) -> np.ndarray:
        """Training FLOPs (forward + backward) per trained position."""

    @abstractmethod
    def inference_flops_per_position(self, n, **variables) -> np.ndarray:
        """Forward FLOPs per served position."""

    @abstractmethod
    def total_params(self, n, **variables) -> np.ndarray:
        """All parameters held in memory (every expert, encoder, level)."""

    def active_params(self, n, **variables) -> np.ndarray:
        """Parameters one position passes through; ``n`` unless the family says otherwise."""
        return as_positive_array(n, "n") + 0.0 * sum(np.asarray(v) for v in variables.values())

    # -- memory hooks of the serving roofline (tsbudget.roofline) --------------------------
    def weight_params_touched(self, n, batch, **variables) -> np.ndarray:
        """Parameters read from memory per decode step when ``batch`` sequences each decode
        one position (the bytes a step moves are these times the bytes per parameter).

        Default, for plugins that give only FLOPs: :meth:`active_params` at every batch --
        every position runs through the same weights, read once per step and shared by the
        batch (the dense case of Pope et al. 2022, "Efficiently Scaling Transformer
        Inference", §2). A family whose positions touch different weights (routed experts,
        loops that re-read a block, levels that run only on some steps) overrides it;
        ``active_params`` is its value at batch 1 and ``total_params`` bounds it from above
        unless a step reads some weights more than once (recurrent depth re-reads its core).
        """
        batch = as_positive_array(batch, "batch")
        return self.active_params(n, **variables) + 0.0 * batch

    def weight_params_touched_curve(self, n, **variables) -> TouchedCurve:
        """:meth:`weight_params_touched` as a function of the batch alone (a
        :class:`TouchedCurve`), its batch-independent parts evaluated once.

        Default: the constant :meth:`active_params` when the family keeps the base
        :meth:`weight_params_touched`; otherwise the family's own hook, called at each batch
        (correct, checked at every call, slower). A family that overrides this method must
        return exactly its :meth:`weight_params_touched` (the built-in ones compute that hook
        through their curve, so the two cannot differ).
        """
        if type(self).weight_params_touched is CostModel.weight_params_touched:
            active = np.asarray(self.active_params(n, **variables), dtype=float)
            return TouchedCurve(lambda batch: active + 0.0 * batch, constant=active)
        return TouchedCurve(lambda batch: self.weight_params_touched(n, batch, **variables))

    def cache_bytes_per_position(self, n, precision_bytes, **variables) -> np.ndarray:
        """Bytes of attention cache one sequence holds per context position, at
        ``precision_bytes`` bytes per cached value; each decode step reads all of it.

        Default 0: a plugin without attention geometry (layers, width) has no cache to count.
        Families with attention override it (dense: ``2·n_layer·d_model`` values per
        position, keys and values, Pope et al. 2022 §2).
        """
        precision_bytes = as_positive_array(precision_bytes, "precision_bytes")
        return 0.0 * precision_bytes + 0.0 * as_positive_array(n, "n") + 0.0 * sum(
            np.asarray(v, dtype=float) for v in self.resolve_variables(**variables).values()
        )

    def train_flops(self, n, positions, **variables) -> np.ndarray:
        """Training FLOPs of ``positions`` trained positions (broadcasts)."""
        positions = as_nonnegative_array(positions, "positions")
        return positions * self.train_flops_per_position(n, **variables)

    def inference_flops(self, n, positions, **variables) -> np.ndarray:
        """Forward FLOPs of serving ``positions`` positions (broadcasts)."""
        positions = as_nonnegative_array(positions, "positions")
        return positions * self.inference_flops_per_position(n, **variables)


def any_of_batch(chance, batch) -> np.ndarray:
    """``1 − (1 − q)^B``: probability that at least one of ``B`` independent positions hits
    an event of probability ``q`` each (a given expert chosen, a patch or level boundary
    reached). Written with ``expm1``/``log1p`` so that small ``q`` keeps its precision;
    ``q = 1`` gives 1 and ``B = 1`` gives ``q``. Broadcasts."""
    return any_of_batch_logged(log_miss(chance), batch)


def saturating_curve(shared, pool, chance) -> TouchedCurve:
    """The curve ``T(B) = shared + pool·(1 − (1 − q)^B)`` (:func:`any_of_batch`): weights read
    every step plus a pool of which each of ``B`` positions touches each part with chance
    ``q`` (experts, a latent model run when a patch closes), with its inverse
    ``B = ln(1 − y)/ln(1 − q)`` for ``T = shared + pool·y``."""
    logged = log_miss(chance)

    def inverse(value):
        with np.errstate(divide="ignore", invalid="ignore"):
            y = (value - shared) / pool
            x = np.log1p(-np.minimum(y, 1.0)) / logged
        return np.where((y >= 1.0) | np.isnan(y), np.inf, np.where(np.isnan(x), -np.inf, x))

    return TouchedCurve(lambda batch: shared + pool * any_of_batch_logged(logged, batch), inverse=inverse)


def log_miss(chance) -> np.ndarray:
    """``ln(1 − q)`` (``-inf`` at ``q = 1``): the batch-independent part of :func:`any_of_batch`,
    evaluated once when a :class:`TouchedCurve` is built."""
    chance = np.asarray(chance, dtype=float)
    with np.errstate(divide="ignore"):
        return np.log1p(-chance)


def any_of_batch_logged(logged, batch) -> np.ndarray:
    """:func:`any_of_batch` from ``logged = log_miss(q)``: ``−expm1(B·ln(1 − q))``."""
    return -np.expm1(np.asarray(batch, dtype=float) * logged)


# -- attrs validators for cost-model settings (an InputError names the class, field and value)
def _where(instance, attribute) -> str:
    return f"{type(instance).__name__}.{attribute.name}"


def positive_int(instance, attribute, value):
    """attrs validator: an integer >= 1 (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{_where(instance, attribute)} must be an integer >= 1, got {value!r}")


def optional_positive_int(instance, attribute, value):
    """attrs validator: None or an integer >= 1."""
    if value is not None:
        positive_int(instance, attribute, value)


def _real(instance, attribute, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{_where(instance, attribute)} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise InputError(f"{_where(instance, attribute)} must be finite, got {value!r}")
    return float(value)


def share(instance, attribute, value):
    """attrs validator: a fraction in [0, 1]."""
    if not 0.0 <= _real(instance, attribute, value) <= 1.0:
        raise InputError(f"{_where(instance, attribute)} must be in [0, 1], got {value!r}")


def nonnegative(instance, attribute, value):
    """attrs validator: a finite number >= 0."""
    if _real(instance, attribute, value) < 0:
        raise InputError(f"{_where(instance, attribute)} must be >= 0, got {value!r}")
