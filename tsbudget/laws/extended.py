"""Chinchilla with fitted efficiency factors for a cost model's extra variables."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

import attrs
import numpy as np

from tsbudget.errors import InputError
from tsbudget.law import Law, Parameter, value_field
from tsbudget.laws.chinchilla import (
    HOFFMANN_A,
    HOFFMANN_ALPHA,
    HOFFMANN_B,
    HOFFMANN_BETA,
    HOFFMANN_E,
    Chinchilla,
    chinchilla_optimum,
    chinchilla_parameters,
)
from tsbudget.laws.logsumexp import float_params, input_logs, logsumexp, logsumexp_and_softmax

__all__ = ["Extended"]

_BASE = ("E", "A", "B", "alpha", "beta")
# Every efficiency exponent starts at 0 ("no effect", i.e. at Chinchilla): the terms are
# linear in log v, and one start recovered all exponents of noiseless two-variable sweeps.
# A wider grid multiplies the starts by its size per exponent; pass one to fit for that.
_EXPONENT_GRID = (0.0,)


def _names(value) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else tuple(value)
    for v in names:
        if not isinstance(v, str) or not v.isidentifier():
            raise InputError(f"Extended: variable names must be identifiers, got {v!r}")
        if v in ("N", "D", "U"):
            raise InputError(f"Extended: variable {v!r} clashes with a base input (N, D, U)")
    if len(set(names)) != len(names):
        raise InputError(f"Extended: variable names must be unique, got {names}")
    return names


KINDS = ("linear", "quadratic")


def _kinds(value) -> tuple[str, ...]:
    kinds = (value,) if isinstance(value, str) else tuple(value)
    for k in kinds:
        if k not in KINDS:
            raise InputError(f"Extended: kinds must each be one of {list(KINDS)}, got {k!r}")
    return kinds


def _floats_tuple(value) -> tuple[float, ...]:
    return tuple(float(x) for x in np.atleast_1d(np.asarray(value, dtype=float)))


def _fill(value):
    return attrs.Factory(lambda self: (value,) * len(self.variables), takes_self=True)


@attrs.frozen
class Extended(Law):
    """``L = E + A/N_eff^α + B/D_eff^β`` with
    ``N_eff = N·Π_v exp(γ_v ℓ_v + γ2_v ℓ_v²)`` and ``D_eff = D·Π_v exp(η_v ℓ_v + η2_v ℓ_v²)``,
    ``ℓ_v = log(v/v_ref)``; the squared terms only for variables of kind ``"quadratic"``
    (for a ``"linear"`` variable the factors are the powers ``(v/v_ref)^γ_v``, ``(v/v_ref)^η_v``).

    Each configured variable ``v`` (a cost model's expert count, compression rate,
    recurrence, level ratio, or any variable a plugin declares; positive values) scales
    the parameters and the data the Chinchilla law sees by a fitted power: ``γ_v > 0``
    means raising ``v`` acts like more parameters, ``η_v > 0`` like more (or more
    informative) data; negative exponents are allowed (a variable can hurt). With every
    exponent 0, or at ``v = v_ref``, this is the Chinchilla law exactly.

    Why this form. Clark et al. 2022 (Unified Scaling Laws for Routed Language Models,
    eq. 1) fit ``log L = a log N + b log E + c log N log E + d`` for expert count E; Krajewski
    et al. 2024 (Scaling Laws for Fine-Grained Mixture of Experts, eq. 4) fit
    ``L = c + (g/G^γ + a)/N^α + b/D^β`` for granularity G. Both make the variable enter the
    reducible terms as a power; writing it as an effective-size multiplier keeps the
    Chinchilla structure the planner relies on (irreducible E, a closed-form optimum at
    fixed variables, ``N_eff``/``D_eff`` readable as "worth this many dense parameters /
    tokens"), and keeps each log-sum-exp term linear in ``log v``:
    ``log L = LSE(log E, log A − α(log N + Σγ_v log(v/v_ref)), log B − β(log D + Ση_v log(v/v_ref)))``,
    so fitting stays as cheap as Chinchilla's. Clark's ``c log N log E`` interaction (gains
    shrinking with N) is left out: Krajewski et al. attribute it to the fixed token count
    of Clark's runs and find no such decay once data is scaled too; and Krajewski's floor
    ``a`` is a second-order refinement that would add a parameter per variable.

    Log-quadratic efficiencies. A power can only reward or punish a variable monotonically,
    so a planner that frees it runs to a bound. Compression, recurrence or a hierarchy
    ratio typically has a valley: some compression frees compute, too much loses
    information. A variable of kind ``"quadratic"`` adds ``γ2_v ℓ²`` (and ``η2_v ℓ²``) to the
    log effective sizes; with ``η2_v < 0`` the data efficiency peaks at
    ``ℓ* = −η_v/(2η2_v)`` (:meth:`efficiency_peak`). This is the second-order (translog)
    expansion in ``log v`` of any smooth efficiency, the same family Clark et al. 2022 use in
    ``log N × log E``; each log term stays polynomial in the parameters, so the fused
    gradient is as cheap as before, and at fixed variables the law is still Chinchilla
    (:meth:`at`, :meth:`params_at`), so the planner's closed form applies.

    Configuration: ``variables`` (names), ``references`` (``v_ref``, default 1 each) and
    ``kinds`` (``"linear"``, the default, or ``"quadratic"`` per variable); parameter
    values: E, A, B, alpha, beta and ``gamma``/``eta`` (one per variable, named
    ``gamma_<v>``/``eta_<v>`` in :attr:`values`), plus ``gamma2``/``eta2`` (named
    ``gamma2_<v>``/``eta2_<v>``; parameters of the quadratic variables only, held at 0 for
    linear ones). Defaults: the Chinchilla fit (Hoffmann et al. 2022, TeX precision) with
    every exponent 0.
    """

    name: ClassVar[str] = "extended"
    description: ClassVar[str] = (
        "Chinchilla on N and D scaled by efficiencies exp(g*l + g2*l^2), l = log(v/v_ref), per variable"
    )
    citation: ClassVar[str] = (
        "Hoffmann et al. 2022 form with efficiency factors after Clark et al. 2022 (eq. 1) "
        "and Krajewski et al. 2024 (eq. 4)"
    )
    has_closed_form: ClassVar[bool] = True

    E: float = value_field(HOFFMANN_E)
    A: float = value_field(HOFFMANN_A)
    B: float = value_field(HOFFMANN_B)
    alpha: float = value_field(HOFFMANN_ALPHA)
    beta: float = value_field(HOFFMANN_BETA)
    variables: tuple[str, ...] = attrs.field(default=(), converter=_names)
    references: tuple[float, ...] = attrs.field(default=_fill(1.0), converter=_floats_tuple)
    gamma: tuple[float, ...] = attrs.field(default=_fill(0.0), converter=_floats_tuple)
    eta: tuple[float, ...] = attrs.field(default=_fill(0.0), converter=_floats_tuple)
    kinds: tuple[str, ...] = attrs.field(default=_fill("linear"), converter=_kinds)
    gamma2: tuple[float, ...] = attrs.field(default=_fill(0.0), converter=_floats_tuple)
    eta2: tuple[float, ...] = attrs.field(default=_fill(0.0), converter=_floats_tuple)

    def __attrs_post_init__(self):
        k = len(self.variables)
        if len(self.kinds) != k:
            raise InputError(f"Extended: kinds needs one value per variable {self.variables}, got {self.kinds}")
        for label in ("references", "gamma", "eta", "gamma2", "eta2"):
            values = getattr(self, label)
            if len(values) != k:
                raise InputError(
                    f"Extended: {label} needs one value per variable {self.variables}, got {values}"
                )
            if not all(math.isfinite(x) for x in values):
                raise InputError(f"Extended: {label} must be finite, got {values}")
        if any(r <= 0 for r in self.references):
            raise InputError(f"Extended: references must be > 0, got {self.references}")
        for v, kind, g2, e2 in zip(self.variables, self.kinds, self.gamma2, self.eta2):
            if kind == "linear" and (g2 != 0.0 or e2 != 0.0):
                raise InputError(
                    f"Extended: variable {v} is linear, so gamma2/eta2 must be 0 (got {g2}, {e2}); "
                    f"give kinds=... 'quadratic' for it"
                )

    @property
    def quadratic(self) -> tuple[str, ...]:
        """The variables of kind ``"quadratic"``."""
        return tuple(v for v, k in zip(self.variables, self.kinds) if k == "quadratic")

    @classmethod
    def for_cost_model(cls, cost_model, *, quadratic=(), **values) -> "Extended":
        """An Extended law over every variable a cost model declares, referenced at their
        defaults (a name or instance; resolved through the registry); the variables named in
        ``quadratic`` (or ``quadratic=True`` for all) are of kind ``"quadratic"``."""
        from tsbudget.registry import costmodels

        cm = costmodels.resolve(cost_model)
        declared = cm.variables
        names = tuple(v.name for v in declared)
        wanted = names if quadratic is True else _names(quadratic) if quadratic else ()
        unknown = [q for q in wanted if q not in names]
        if unknown:
            raise InputError(f"Extended.for_cost_model: {unknown[0]!r} is not a variable of {cm.name!r}; it has {list(names)}")
        return cls(
            variables=names,
            references=tuple(v.default if v.default > 0 else 1.0 for v in declared),
            kinds=tuple("quadratic" if n in wanted else "linear" for n in names),
            **values,
        )

    # -- configuration-dependent API -------------------------------------------------
    @property
    def inputs(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("N", "D") + self.variables

    @property
    def required_inputs(self) -> tuple[str, ...]:
        return self.inputs

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        extra = []
        for v, kind in zip(self.variables, self.kinds):
            extra.append(Parameter(f"gamma_{v}", grid=_EXPONENT_GRID, description=f"parameter efficiency of {v}"))
            extra.append(Parameter(f"eta_{v}", grid=_EXPONENT_GRID, description=f"data efficiency of {v}"))
            if kind == "quadratic":
                extra.append(Parameter(f"gamma2_{v}", grid=_EXPONENT_GRID,
                                       description=f"curvature of the parameter efficiency in log {v}"))
                extra.append(Parameter(f"eta2_{v}", grid=_EXPONENT_GRID,
                                       description=f"curvature of the data efficiency in log {v}"))
        return chinchilla_parameters() + tuple(extra)

    @property
    def values(self) -> dict[str, float]:
        out = {k: float(getattr(self, k)) for k in _BASE}
        for v, kind, g, e, g2, e2 in zip(self.variables, self.kinds, self.gamma, self.eta, self.gamma2, self.eta2):
            out[f"gamma_{v}"] = g
            out[f"eta_{v}"] = e
            if kind == "quadratic":
                out[f"gamma2_{v}"] = g2
                out[f"eta2_{v}"] = e2
        return out

    def replace(self, **values) -> "Extended":
        known = set(self.values)
        unknown = set(values) - known
        if unknown:
            raise InputError(f"law {self.name!r} has no parameter {sorted(unknown)[0]!r}; it has {sorted(known)}")
        base = {k: float(v) for k, v in values.items() if k in _BASE}
        gamma = tuple(float(values.get(f"gamma_{v}", g)) for v, g in zip(self.variables, self.gamma))
        eta = tuple(float(values.get(f"eta_{v}", e)) for v, e in zip(self.variables, self.eta))
        gamma2 = tuple(float(values.get(f"gamma2_{v}", g)) for v, g in zip(self.variables, self.gamma2))
        eta2 = tuple(float(values.get(f"eta2_{v}", e)) for v, e in zip(self.variables, self.eta2))
        return attrs.evolve(self, gamma=gamma, eta=eta, gamma2=gamma2, eta2=eta2, **base)

    def to_dict(self) -> dict:
        return {
            "law": self.name,
            "parameters": self.values,
            "variables": list(self.variables),
            "references": list(self.references),
            "kinds": list(self.kinds),
        }

    def efficiency_peak(self, variable: str, which: str = "data") -> float:
        """The value of a quadratic ``variable`` at which its data (``which="data"``: ``η``) or
        parameter (``"parameters"``: ``γ``) efficiency peaks, ``v_ref·exp(−η/(2η2))``; an
        :class:`InputError` when the curvature is not negative (no interior peak). This is
        the valley of the loss at fixed ``N`` and ``D``; the compute-optimal value also weighs
        what the variable costs (see :func:`tsbudget.plan`)."""
        if variable not in self.quadratic:
            raise InputError(f"Extended.efficiency_peak: {variable!r} is not a quadratic variable; those are {list(self.quadratic)}")
        if which not in ("data", "parameters"):
            raise InputError(f"Extended.efficiency_peak: which must be 'data' or 'parameters', got {which!r}")
        i = self.variables.index(variable)
        slope, curve = (self.eta[i], self.eta2[i]) if which == "data" else (self.gamma[i], self.gamma2[i])
        if not curve < 0:
            raise InputError(f"Extended.efficiency_peak: the {which} curvature of {variable} is {curve}, not < 0: no peak")
        return float(self.references[i] * math.exp(-slope / (2.0 * curve)))

    def at(self, **variables) -> Chinchilla:
        """The Chinchilla law this one equals with every variable held at a (scalar) value
        (see :meth:`params_at`)."""
        unknown = set(variables) - set(self.variables)
        if unknown:
            raise InputError(
                f"Extended.at needs exactly the variables {list(self.variables)}; unknown {sorted(unknown)}"
            )
        fixed = self.params_at(self.values, **variables)
        return Chinchilla(**{k: float(fixed[k]) for k in _BASE})

    def params_at(self, params: Mapping[str, np.ndarray], /, **variables) -> dict[str, np.ndarray]:
        """The Chinchilla parameters ``E, A', B', α, β`` this law reduces to with each variable at
        a (scalar) value, from parameter arrays ``params`` (e.g. bootstrap draws; broadcasts):
        ``A' = A·Π exp(−α(γ_v ℓ_v + γ2_v ℓ_v²))``, ``B' = B·Π exp(−β(η_v ℓ_v + η2_v ℓ_v²))``, since
        ``A/N_eff^α = A'/N^α`` and ``B/D_eff^β = B'/D^β``. Values for names that are not
        variables of this law are ignored."""
        missing = [v for v in self.variables if v not in variables]
        if missing:
            raise InputError(
                f"law 'extended' needs a value for variable {missing[0]!r} (its variables are "
                f"{list(self.variables)}); pass variables={{...}}"
            )
        p = float_params(params, _BASE)
        log_a, log_b = np.log(p["A"]), np.log(p["B"])
        for v, ref, kind in zip(self.variables, self.references, self.kinds):
            value = float(variables[v])
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"Extended: variable {v} must be finite and > 0, got {variables[v]!r}")
            lv = math.log(value / ref)
            shift_n = np.asarray(params[f"gamma_{v}"], dtype=float) * lv
            shift_d = np.asarray(params[f"eta_{v}"], dtype=float) * lv
            if kind == "quadratic":
                shift_n = shift_n + np.asarray(params[f"gamma2_{v}"], dtype=float) * lv * lv
                shift_d = shift_d + np.asarray(params[f"eta2_{v}"], dtype=float) * lv * lv
            log_a = log_a - p["alpha"] * shift_n
            log_b = log_b - p["beta"] * shift_d
        return {**p, "A": np.exp(log_a), "B": np.exp(log_b)}

    def optimal_allocation(self, flops, flops_per_param_position=6.0, *, params=None, **variables):
        """Compute-optimal ``(N_opt, D_opt)`` at fixed variables under ``C = k·N·D``: the
        closed form of Hoffmann et al. 2022 App. D.2 applied to :meth:`params_at`; ``k`` is the
        cost model's training FLOPs per parameter and position at those variables. ``params``
        replaces this law's values (arrays broadcast: one call for all draws)."""
        p = self.params_at({**self.values, **(params or {})}, **variables)
        return chinchilla_optimum(*(p[k] for k in _BASE), flops=flops, k=flops_per_param_position)

    # -- numerics -----------------------------------------------------------------------
    def effective_sizes(self, params: Mapping, inputs: Mapping) -> tuple[np.ndarray, np.ndarray]:
        """``(log N_eff, log D_eff)``, broadcast."""
        log_n, log_d = input_logs(inputs, "N", "D")
        for v, ref, kind in zip(self.variables, self.references, self.kinds):
            lv = self._log_ratio(inputs, v, ref)
            log_n = log_n + np.asarray(params[f"gamma_{v}"], dtype=float) * lv
            log_d = log_d + np.asarray(params[f"eta_{v}"], dtype=float) * lv
            if kind == "quadratic":
                sq = lv * lv
                log_n = log_n + np.asarray(params[f"gamma2_{v}"], dtype=float) * sq
                log_d = log_d + np.asarray(params[f"eta2_{v}"], dtype=float) * sq
        return log_n, log_d

    @staticmethod
    def _log_ratio(inputs, v, ref):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(np.asarray(inputs[v], dtype=float) / ref)

    @staticmethod
    def _log_terms(p, log_n, log_d):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.log(p["E"]), np.log(p["A"]) - p["alpha"] * log_n, np.log(p["B"]) - p["beta"] * log_d)

    def evaluate(self, params, inputs) -> np.ndarray:
        p = float_params(params, _BASE)
        # Multiplied out (not via logs) so that zero exponents give Chinchilla bit for bit.
        n, d = np.asarray(inputs["N"], dtype=float), np.asarray(inputs["D"], dtype=float)
        for v, ref, kind in zip(self.variables, self.references, self.kinds):
            ratio = np.asarray(inputs[v], dtype=float) / ref
            n = n * ratio ** np.asarray(params[f"gamma_{v}"], dtype=float)
            d = d * ratio ** np.asarray(params[f"eta_{v}"], dtype=float)
            if kind == "quadratic":
                with np.errstate(divide="ignore", invalid="ignore"):
                    sq = np.log(ratio) ** 2
                n = n * np.exp(np.asarray(params[f"gamma2_{v}"], dtype=float) * sq)
                d = d * np.exp(np.asarray(params[f"eta2_{v}"], dtype=float) * sq)
        return p["E"] + p["A"] * n ** -p["alpha"] + p["B"] * d ** -p["beta"]

    def log_evaluate(self, params, inputs) -> np.ndarray:
        return logsumexp(*self._log_terms(float_params(params, _BASE), *self.effective_sizes(params, inputs)))

    def effective(self, params, inputs) -> dict[str, np.ndarray]:
        """``N_eff`` and ``D_eff`` (see the class docstring), broadcast."""
        log_n, log_d = self.effective_sizes(params, inputs)
        return {"N_eff": np.exp(log_n), "D_eff": np.exp(log_d)}

    def log_value_and_gradient(self, params, inputs, *, workspace=None):
        """``(log L, d log L / d value)`` from one log-sum-exp pass. With shares ``w`` of the
        three terms: ``∂/∂E = w_E/E``, ``∂/∂A = w_A/A``, ``∂/∂α = −w_A log N_eff``,
        ``∂/∂γ_v = −α w_A ℓ_v``, ``∂/∂γ2_v = −α w_A ℓ_v²`` (and B, β, η_v, η2_v alike)."""
        p = float_params(params, _BASE)
        log_n, log_d = self.effective_sizes(params, inputs)
        lse, (w_e, w_a, w_b) = logsumexp_and_softmax(*self._log_terms(p, log_n, log_d))
        grad = {
            "E": w_e / p["E"],
            "A": w_a / p["A"],
            "B": w_b / p["B"],
            "alpha": -w_a * log_n,
            "beta": -w_b * log_d,
        }
        for v, ref, kind in zip(self.variables, self.references, self.kinds):
            lv = self._log_ratio(inputs, v, ref)
            da, db = -p["alpha"] * w_a, -p["beta"] * w_b
            grad[f"gamma_{v}"] = da * lv
            grad[f"eta_{v}"] = db * lv
            if kind == "quadratic":
                grad[f"gamma2_{v}"] = da * (lv * lv)
                grad[f"eta2_{v}"] = db * (lv * lv)
        return lse, grad
