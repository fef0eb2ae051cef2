"""The Chinchilla law ``L(N, D) = E + A/N^α + B/D^β`` (Hoffmann et al. 2022).

Also what every law built on this form shares: the closed-form compute-optimal
allocation, the parameters with the Hoffmann start grid, and the published values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

import attrs
import numpy as np

from tsbudget.errors import InputError
from tsbudget.law import Law, Parameter, scratch_array, value_field
from tsbudget.laws.logsumexp import (
    EXP_HI,
    EXP_LO,
    LSE_LO,
    fallback_index,
    fallback_rows,
    fallback_terms,
    float_params,
    input_logs,
    logsumexp,
    softmax,
)
from tsbudget.variables import as_positive_array

__all__ = [
    "Chinchilla",
    "chinchilla_optimum",
    "chinchilla_parameters",
    "HOFFMANN_GRID",
    "HOFFMANN_E",
    "HOFFMANN_A",
    "HOFFMANN_B",
    "HOFFMANN_ALPHA",
    "HOFFMANN_BETA",
]

# Hoffmann et al. 2022, App. D.2: the L-BFGS starts, in fit coordinates (e = log E,
# a = log A, b = log B): 5 · 5 · 5 · 6 · 6 = 4,500 starts; the same grid as Besiroglu
# et al. 2024 (their repository epoch-research/analyzing-chinchilla).
_EXPONENTS = (0.0, 0.5, 1.0, 1.5, 2.0)
_LOG_E = (-1.0, -0.5, 0.0, 0.5, 1.0)
_LOG_SCALE = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)
HOFFMANN_GRID: dict[str, tuple[float, ...]] = {
    "E": _LOG_E,
    "A": _LOG_SCALE,
    "B": _LOG_SCALE,
    "alpha": _EXPONENTS,
    "beta": _EXPONENTS,
}

# Hoffmann et al. 2022 eq. 10 to the precision of their TeX source, as recovered by
# Besiroglu et al. 2024 (their logs e, a, b of E, A, B): the paper prints the rounded
# E 1.69, A 406.4, B 410.7, α 0.34, β 0.28. The default of every law built on this form.
HOFFMANN_E = math.exp(0.5267228)
HOFFMANN_A = math.exp(6.0073404)
HOFFMANN_B = math.exp(6.0179186)
HOFFMANN_ALPHA = 0.33917084
HOFFMANN_BETA = 0.2849083
_NAMES = ("E", "A", "B", "alpha", "beta")


def chinchilla_optimum(E, A, B, alpha, beta, flops, k=6.0) -> tuple[np.ndarray, np.ndarray]:
    """Compute-optimal ``(N_opt, D_opt)`` of ``E + A/N^α + B/D^β`` under ``C = k·N·D``.

    Hoffmann et al. 2022, App. D.2 eq. 4 (with ``k = 6``):
    ``N_opt = G·(C/k)^(β/(α+β))``, ``D_opt = (C/k)/N_opt``, ``G = (αA/(βB))^(1/(α+β))``.
    Derivation: on ``N·D = C/k`` the loss is ``A N^-α + B (C/(kN))^-β``; setting its
    derivative in ``log N`` to zero gives ``α A N^-α = β B D^-β``. ``E`` does not move the
    optimum (kept in the signature so a parameter mapping can be splatted in). Broadcasts
    over the flops and over parameter arrays.
    """
    flops = as_positive_array(flops, "flops")
    k = as_positive_array(k, "flops_per_param_position")
    A, B, alpha, beta = (np.asarray(x, dtype=float) for x in (A, B, alpha, beta))
    if np.any(A <= 0) or np.any(B <= 0) or np.any(alpha <= 0) or np.any(beta <= 0):
        raise InputError(
            f"the closed-form optimum needs A, B, alpha, beta > 0; got A={A}, B={B}, alpha={alpha}, beta={beta}"
        )
    s = alpha + beta
    # In logs, so that large budgets and extreme coefficients neither overflow nor underflow.
    log_g = (np.log(alpha) + np.log(A) - np.log(beta) - np.log(B)) / s
    log_c = np.log(flops / k)
    log_n = log_g + (beta / s) * log_c
    return np.exp(log_n), np.exp(log_c - log_n)


@attrs.frozen
class Chinchilla(Law):
    """``L(N, D) = E + A/N^α + B/D^β`` (Hoffmann et al. 2022, eq. 2 / App. D.2).

    ``N`` is the parameter count, ``D`` the training data (tokens, or any data unit's
    positions). Defaults: the published fit (eq. 10) at the precision of the paper's TeX
    source as used by Besiroglu et al. 2024, E 1.6934, A 406.40, B 410.72, α 0.33917,
    β 0.28491. Fitted in log-sum-exp form,
    ``log L = LSE(log E, log A − α log N, log B − β log D)`` (App. D.2), from the
    Hoffmann grid of 4,500 starts.
    """

    name: ClassVar[str] = "chinchilla"
    description: ClassVar[str] = "E + A/N^alpha + B/D^beta (Hoffmann et al. 2022)"
    citation: ClassVar[str] = (
        "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, eq. 2 and App. D.2"
    )
    inputs: ClassVar[tuple[str, ...]] = ("N", "D")
    has_closed_form: ClassVar[bool] = True

    E: float = value_field(HOFFMANN_E)
    A: float = value_field(HOFFMANN_A)
    B: float = value_field(HOFFMANN_B)
    alpha: float = value_field(HOFFMANN_ALPHA)
    beta: float = value_field(HOFFMANN_BETA)

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return chinchilla_parameters()

    def evaluate(self, params: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        p = float_params(params, _NAMES)
        n, d = np.asarray(inputs["N"], dtype=float), np.asarray(inputs["D"], dtype=float)
        return p["E"] + p["A"] * n ** -p["alpha"] + p["B"] * d ** -p["beta"]

    def log_evaluate(self, params, inputs) -> np.ndarray:
        return self._lse(params, inputs, shares=False, work=None)[0]

    def log_value_and_gradient(self, params, inputs, *, workspace=None):
        """``(log L, d log L / d value)`` from one log-sum-exp pass. With shares ``w_i`` of
        the three terms in L: ``∂/∂E = w_E/E``, ``∂/∂A = w_A/A``, ``∂/∂α = −w_A log N`` (the
        same for B, β, D). With a ``workspace`` dict the arrays live in it (see
        :meth:`Law.log_value_and_gradient`)."""
        cls = type(self)
        if cls.log_evaluate is not Chinchilla.log_evaluate or cls.log_gradient is not Law.log_gradient:
            return super().log_value_and_gradient(params, inputs)  # a subclass changed the formula
        return self._lse(params, inputs, shares=True, work=workspace)

    def _lse(self, params, inputs, shares: bool, work):
        """``log L`` (and the gradient when ``shares``), computed as ``log(E + e^{t_A} + e^{t_B})``
        with ``t_A = log A − α log N``, ``t_B = log B − β log D``: all terms are positive, so
        the plain sum loses no precision, and it needs one exp per term instead of the
        shifted log-sum-exp's three. Rows where it could over- or underflow (a sum beyond
        e^709 or below e^-668) are recomputed by the shifted :func:`logsumexp`."""
        p = float_params(params, _NAMES)
        log_n, log_d = input_logs(inputs, "N", "D")
        shape = np.broadcast_shapes(*(v.shape for v in p.values()), log_n.shape, log_d.shape)
        with np.errstate(all="ignore"):
            e_a = np.multiply(p["alpha"], log_n, out=scratch_array(work, "e_a", shape))
            np.subtract(np.log(p["A"]), e_a, out=e_a)
            np.exp(np.clip(e_a, EXP_LO, EXP_HI, out=e_a), out=e_a)
            e_b = np.multiply(p["beta"], log_d, out=scratch_array(work, "e_b", shape))
            np.subtract(np.log(p["B"]), e_b, out=e_b)
            np.exp(np.clip(e_b, EXP_LO, EXP_HI, out=e_b), out=e_b)
            total = np.add(e_a, e_b, out=scratch_array(work, "total", shape))
            total += p["E"]
            lse = np.log(total, out=scratch_array(work, "lse", shape))
            # a sum beyond the float range or below the normal range (subnormals lose digits)
            fix = None
            if not (np.min(lse) >= LSE_LO and np.max(lse) < EXP_HI):
                fix = fallback_index(lse)
                terms = fallback_terms(self._log_terms(fallback_rows(p, fix, shape), inputs), fix, shape)
                lse[fix] = logsumexp(*terms)
            if not shares:
                return lse[()], None
            inv = np.reciprocal(total, out=total)  # d log L / d E = w_E / E = 1 / L
            w_a = np.multiply(e_a, inv, out=e_a)
            w_b = np.multiply(e_b, inv, out=e_b)
            if fix is not None:
                w_e, w_a[fix], w_b[fix] = softmax(*terms)
                inv[fix] = w_e / np.broadcast_to(p["E"], shape)[fix]
            return lse[()], {
                "E": inv,
                "A": np.divide(w_a, p["A"], out=scratch_array(work, "A", shape)),
                "B": np.divide(w_b, p["B"], out=scratch_array(work, "B", shape)),
                "alpha": np.multiply(w_a, -log_n, out=w_a),
                "beta": np.multiply(w_b, -log_d, out=w_b),
            }

    def _log_terms(self, params, inputs):
        p = float_params(params, _NAMES)
        log_n, log_d = input_logs(inputs, "N", "D")
        with np.errstate(divide="ignore", invalid="ignore"):
            return (
                np.log(p["E"]),
                np.log(p["A"]) - p["alpha"] * log_n,
                np.log(p["B"]) - p["beta"] * log_d,
            )

    def optimal_allocation(self, flops, flops_per_param_position=6.0, *, params=None,
                           **variables) -> tuple[np.ndarray, np.ndarray]:
        """``(N_opt, D_opt)`` for ``flops`` under ``C = k·N·D`` (see :func:`chinchilla_optimum`);
        ``params`` replaces this law's values (arrays broadcast: one call for all draws)."""
        self.at(**variables)  # Chinchilla has no variables: names any given
        p = {**self.values, **(params or {})}
        return chinchilla_optimum(*(p[k] for k in _NAMES), flops=flops, k=flops_per_param_position)

    @staticmethod
    def chinchilla_optimum(E, A, B, alpha, beta, flops, k=6.0) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised closed form over parameter arrays; see :func:`chinchilla_optimum`."""
        return chinchilla_optimum(E, A, B, alpha, beta, flops, k)


def chinchilla_parameters() -> tuple[Parameter, ...]:
    """The five parameters of the Chinchilla form with the Hoffmann grid as starts."""
    return (
        Parameter("E", log=True, grid=HOFFMANN_GRID["E"], lower=0.0, description="irreducible loss"),
        Parameter("A", log=True, grid=HOFFMANN_GRID["A"], lower=0.0, description="parameter-term scale"),
        Parameter("B", log=True, grid=HOFFMANN_GRID["B"], lower=0.0, description="data-term scale"),
        Parameter("alpha", grid=HOFFMANN_GRID["alpha"], description="parameter exponent"),
        Parameter("beta", grid=HOFFMANN_GRID["beta"], description="data exponent"),
    )

