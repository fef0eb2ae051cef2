"""The Kaplan et al. 2020 joint law ``L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D``."""

from __future__ import annotations

import math
from typing import ClassVar

import attrs
import numpy as np

from tsbudget.law import Law, Parameter, value_field
from tsbudget.laws.logsumexp import float_params, input_logs, logsumexp, logsumexp_and_softmax

__all__ = ["Kaplan"]

_NAMES = ("alpha_N", "alpha_D", "N_c", "D_c")


@attrs.frozen
class Kaplan(Law):
    """``L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D`` (Kaplan et al. 2020, eq. 1.5 / 4.1).

    ``N`` counts non-embedding parameters, ``D`` tokens, the loss is in nats; there is no
    irreducible term. Defaults: the joint fit of Table 2, α_N 0.076, α_D 0.103,
    N_c 6.4e13, D_c 1.8e13. (The often quoted α_D 0.095, N_c 8.8e13, D_c 5.4e13 are the
    separate one-variable fits of eq. 1.1 and 1.2, not the constants of this law.)

    Log form: ``log L = α_D · LSE((α_N/α_D)(log N_c − log N), log D_c − log D)``.
    """

    name: ClassVar[str] = "kaplan"
    description: ClassVar[str] = "[(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D (Kaplan et al. 2020)"
    citation: ClassVar[str] = "Kaplan et al. 2020, Scaling Laws for Neural Language Models, eq. 1.5, Table 2"
    inputs: ClassVar[tuple[str, ...]] = ("N", "D")

    alpha_N: float = value_field(0.076)
    alpha_D: float = value_field(0.103)
    N_c: float = value_field(6.4e13)
    D_c: float = value_field(1.8e13)

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        # Starts bracket the published values by about an order of magnitude each way.
        scales = tuple(math.log(x) for x in (1e11, 1e13, 1e15))
        return (
            Parameter("alpha_N", grid=(0.03, 0.076, 0.15), description="parameter exponent"),
            Parameter("alpha_D", grid=(0.05, 0.1, 0.2), description="data exponent"),
            Parameter("N_c", log=True, grid=scales, lower=0.0, description="parameter scale"),
            Parameter("D_c", log=True, grid=scales, lower=0.0, description="data scale"),
        )

    def evaluate(self, params, inputs) -> np.ndarray:
        p = float_params(params, _NAMES)
        n, d = np.asarray(inputs["N"], dtype=float), np.asarray(inputs["D"], dtype=float)
        return ((p["N_c"] / n) ** (p["alpha_N"] / p["alpha_D"]) + p["D_c"] / d) ** p["alpha_D"]

    def _terms(self, params, inputs):
        p = float_params(params, _NAMES)
        log_n, log_d = input_logs(inputs, "N", "D")
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.log(p["N_c"]) - log_n
            u = (p["alpha_N"] / p["alpha_D"]) * x
            v = np.log(p["D_c"]) - log_d
        return p, x, u, v

    def log_evaluate(self, params, inputs) -> np.ndarray:
        p, _, u, v = self._terms(params, inputs)
        return p["alpha_D"] * logsumexp(u, v)

    def log_value_and_gradient(self, params, inputs, *, workspace=None):
        """``(log L, d log L / d value)`` from one log-sum-exp pass. With ``S = LSE(u, v)``,
        shares ``w_u, w_v`` and ``x = log N_c − log N``: ``log L = α_D S``,
        ``∂/∂α_N = w_u x``, ``∂/∂α_D = S − w_u u``, ``∂/∂N_c = w_u α_N/N_c``,
        ``∂/∂D_c = α_D w_v/D_c``."""
        p, x, u, v = self._terms(params, inputs)
        s, (w_u, w_v) = logsumexp_and_softmax(u, v)
        return p["alpha_D"] * s, {
            "alpha_N": w_u * x,
            "alpha_D": s - w_u * u,
            "N_c": w_u * p["alpha_N"] / p["N_c"],
            "D_c": p["alpha_D"] * w_v / p["D_c"],
        }
