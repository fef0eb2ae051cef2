"""Chinchilla plus an additive overfitting penalty for repeated data (Lovelace et al. 2026)."""

from __future__ import annotations

import math
from typing import ClassVar

import attrs
import numpy as np

from tsbudget.law import Law, Parameter, value_field
from tsbudget.laws.chinchilla import (
    HOFFMANN_A,
    HOFFMANN_ALPHA,
    HOFFMANN_B,
    HOFFMANN_BETA,
    HOFFMANN_E,
    chinchilla_parameters,
)
from tsbudget.laws.logsumexp import float_params, logsumexp, logsumexp_and_softmax

__all__ = ["RepetitionPenalty"]

_NAMES = ("E", "A", "B", "alpha", "beta", "P", "delta", "kappa")


@attrs.frozen
class RepetitionPenalty(Law):
    """``L = E + A/N^α + B/(U_D(1+R_D))^β + P·R_D^δ·(N/U_D)^κ``
    (Lovelace et al. 2026, Prescriptive Scaling Laws for Data Constrained Training, as
    quoted in DESIGN.md).

    Inputs ``N``, ``D`` (data seen) and ``U`` (unique data). ``U_D = min(U, D)`` and
    ``R_D = D/U_D − 1`` (so ``R_D = 0`` without repetition and ``U_D(1+R_D) = D``: the data
    term is Chinchilla's ``B/D^β``). The penalty grows with repetitions and with the
    parameters per unique unit, the overfitting capacity; it vanishes without repetition.
    Unlike the data-constrained law, loss can rise with more epochs.

    ``P = 0`` gives the Chinchilla law exactly. Defaults: the Chinchilla fit (Hoffmann et
    al. 2022, TeX precision) with ``P = 0``, δ = κ = 1: this module does not ship
    penalty coefficients from the paper (not checked here), so fit P, δ, κ to your runs.

    Log form, stable and valid for any P that keeps L > 0:
    ``log L = S + log1p(P·R_D^δ·(N/U_D)^κ·e^−S)``, ``S = LSE(log E, log A − α log N,
    log B − β log D)``.
    """

    name: ClassVar[str] = "repetition_penalty"
    description: ClassVar[str] = "Chinchilla + P*R_D^delta*(N/U_D)^kappa overfitting penalty (Lovelace et al. 2026)"
    citation: ClassVar[str] = (
        "Lovelace, Belardi, Kundurthy, Sudhakar, Weinberger 2026, "
        "Prescriptive Scaling Laws for Data Constrained Training (arXiv 2605.01640)"
    )
    inputs: ClassVar[tuple[str, ...]] = ("N", "D", "U")

    E: float = value_field(HOFFMANN_E)
    A: float = value_field(HOFFMANN_A)
    B: float = value_field(HOFFMANN_B)
    alpha: float = value_field(HOFFMANN_ALPHA)
    beta: float = value_field(HOFFMANN_BETA)
    P: float = value_field(0.0)
    delta: float = value_field(1.0)
    kappa: float = value_field(1.0)

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        # One start each for P (0.01), δ and κ (1) on top of the 4,500 Hoffmann starts; pass a
        # grid for more.
        return chinchilla_parameters() + (
            Parameter("P", log=True, grid=(math.log(0.01),), lower=0.0, description="overfitting coefficient"),
            Parameter("delta", grid=(1.0,), description="repetition exponent"),
            Parameter("kappa", grid=(1.0,), description="parameters-per-unique-data exponent"),
        )

    def _parts(self, params, inputs):
        p = float_params(params, _NAMES)
        n = np.asarray(inputs["N"], dtype=float)
        d = np.asarray(inputs["D"], dtype=float)
        u_d = np.minimum(np.asarray(inputs["U"], dtype=float), d)
        r_d = np.maximum(d / u_d - 1.0, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_n, log_d, log_r = np.log(n), np.log(d), np.log(r_d)
            log_ratio = log_n - np.log(u_d)
            terms = (np.log(p["E"]), np.log(p["A"]) - p["alpha"] * log_n, np.log(p["B"]) - p["beta"] * log_d)
            # R_D^δ (N/U_D)^κ, exactly 0 without repetition (whatever δ).
            shape = np.where(r_d > 0, np.exp(p["delta"] * log_r + p["kappa"] * log_ratio), 0.0)
        return p, terms, shape, log_r, log_ratio, log_n, log_d

    def evaluate(self, params, inputs) -> np.ndarray:
        p, _, shape, *_ = self._parts(params, inputs)
        n, d = np.asarray(inputs["N"], dtype=float), np.asarray(inputs["D"], dtype=float)
        # Summed in Chinchilla's order so that P = 0 reproduces it to the last bit.
        return p["E"] + p["A"] * n ** -p["alpha"] + p["B"] * d ** -p["beta"] + p["P"] * shape

    def log_evaluate(self, params, inputs) -> np.ndarray:
        p, terms, shape, *_ = self._parts(params, inputs)
        s = logsumexp(*terms)
        with np.errstate(invalid="ignore", over="ignore"):
            return s + np.log1p(p["P"] * shape * np.exp(-s))

    def log_value_and_gradient(self, params, inputs, *, workspace=None):
        """``(log L, d log L / d value)`` from one log-sum-exp pass.
        With ``L = e^S + P·q``, ``q = R_D^δ (N/U_D)^κ`` and shares ``w`` of the Chinchilla
        terms in ``e^S``: ``∂/∂θ_chinchilla = (e^S/L)·(Chinchilla gradient)``,
        ``∂/∂P = q/L``, ``∂/∂δ = P q log R_D / L``, ``∂/∂κ = P q log(N/U_D) / L``."""
        p, terms, shape, log_r, log_ratio, log_n, log_d = self._parts(params, inputs)
        s, (w_e, w_a, w_b) = logsumexp_and_softmax(*terms)
        with np.errstate(invalid="ignore", over="ignore"):
            penalty_ratio = p["P"] * shape * np.exp(-s)  # P·q / e^S
            log_l = s + np.log1p(penalty_ratio)
            share = 1.0 / (1.0 + penalty_ratio)  # e^S / L
            q_over_l = shape * np.exp(-s) * share
            pen = p["P"] * q_over_l  # the penalty's share of L
        has = shape > 0
        return log_l, {
            "E": share * w_e / p["E"],
            "A": share * w_a / p["A"],
            "B": share * w_b / p["B"],
            "alpha": -share * w_a * log_n,
            "beta": -share * w_b * log_d,
            "P": q_over_l,
            "delta": np.where(has, pen * np.where(has, log_r, 0.0), 0.0),
            "kappa": np.where(has, pen * log_ratio, 0.0),
        }
