"""The Kaplan et al. 2020 joint law ``L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D``, and
Kaplan et al.'s compute-efficient frontier as its optional closed-form allocation.

The frontier (Kaplan et al. 2020, eq. 6.1 and App. A Table 6):
``N_opt = N_e·C_min^p_N`` with ``N_e = 1.3·10^9`` parameters, ``p_N = 0.73`` and ``C_min`` in
PF-days (``1 PF-day = 10^15·24·3600 = 8.64·10^19`` FLOPs, §1.3). ``C_min`` is the compute a
run would need at a batch size far below the critical one (eq. 5.5); training at the critical
batch size, as compute-efficient training does, costs ``C = 2·C_min`` (§6.3, above eq. 6.7).
A training budget of ``C`` FLOPs therefore sits at ``C_min = C/2``:
``N_opt = 1.3·10^9·(C / (2·8.64·10^19))^0.73``, and the data is what the budget leaves,
``D = C/(k·N_opt)`` (eq. 6.7 with ``k = 6``). At ``C = 10^21`` this gives 4.68·10^9
parameters, the figure Hoffmann et al. 2022 (App. D.4) take "from Kaplan et al. (2020)" for
their head-to-head run at 10^21 FLOPs; reading ``C_min = C`` instead gives 7.8·10^9.
"""

from __future__ import annotations

import math
from typing import ClassVar

import attrs
import numpy as np

from tsbudget.errors import InputError
from tsbudget.law import Law, Parameter, value_field
from tsbudget.laws.logsumexp import float_params, input_logs, logsumexp, logsumexp_and_softmax

__all__ = ["KAPLAN_FRONTIER", "PF_DAY", "Kaplan", "kaplan_frontier"]

_NAMES = ("alpha_N", "alpha_D", "N_c", "D_c")

#: FLOPs in one PF-day, ``10^15·24·3600`` (Kaplan et al. 2020, §1.3).
PF_DAY = 8.64e19
#: Kaplan et al. 2020, App. A Table 6 (compute-efficient values): ``N_opt = N_e·C_min^p_N``,
#: ``C_min`` in PF-days; and ``C = 2·C_min`` when training at the critical batch size (§6.3).
KAPLAN_FRONTIER = {"N_e": 1.3e9, "p_N": 0.73, "compute_per_c_min": 2.0}

ALLOCATIONS = ("minimum_loss", "compute_efficient")


def kaplan_frontier(flops, flops_per_param_position=6.0) -> tuple[np.ndarray, np.ndarray]:
    """``(N_opt, D)`` on Kaplan et al.'s compute-efficient frontier for training budgets
    ``flops`` (module docstring): ``N_opt = 1.3·10^9·(C/(2·8.64·10^19))^0.73`` (Table 6, with
    ``C = 2·C_min``, §6.3) and ``D = C/(k·N_opt)``. Broadcasts over ``flops``."""
    c = np.asarray(flops, dtype=float)
    c_min_pf_days = c / (KAPLAN_FRONTIER["compute_per_c_min"] * PF_DAY)
    n = KAPLAN_FRONTIER["N_e"] * c_min_pf_days ** KAPLAN_FRONTIER["p_N"]
    return n, c / (float(flops_per_param_position) * n)


@attrs.frozen
class Kaplan(Law):
    """``L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D`` (Kaplan et al. 2020, eq. 1.5 / 4.1).

    ``N`` counts non-embedding parameters, ``D`` tokens, the loss is in nats; there is no
    irreducible term. Defaults: the joint fit of Table 2, α_N 0.076, α_D 0.103,
    N_c 6.4e13, D_c 1.8e13. (The often quoted α_D 0.095, N_c 8.8e13, D_c 5.4e13 are the
    separate one-variable fits of eq. 1.1 and 1.2, not the constants of this law.)

    Log form: ``log L = α_D · LSE((α_N/α_D)(log N_c − log N), log D_c − log D)``.

    ``allocation`` says how a planner spends a budget with this law:
    ``"minimum_loss"`` (default) minimises ``L(N, D)`` under the budget (the general
    optimizer; 6.23·10^9 parameters at 10^21 FLOPs with the Table 2 values);
    ``"compute_efficient"`` declares a closed form (:attr:`has_closed_form`), Kaplan et al.'s
    empirical compute-efficient frontier (:func:`kaplan_frontier`, App. A Table 6; 4.68·10^9 at
    10^21 FLOPs), which does not depend on the parameter values (the ``kaplan2020`` preset uses it;
    a law fitted to other runs should keep ``"minimum_loss"``, since Table 6 describes Kaplan's runs).
    """

    name: ClassVar[str] = "kaplan"
    description: ClassVar[str] = "[(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D (Kaplan et al. 2020)"
    citation: ClassVar[str] = "Kaplan et al. 2020, Scaling Laws for Neural Language Models, eq. 1.5, Table 2"
    inputs: ClassVar[tuple[str, ...]] = ("N", "D")

    alpha_N: float = value_field(0.076)
    alpha_D: float = value_field(0.103)
    N_c: float = value_field(6.4e13)
    D_c: float = value_field(1.8e13)
    allocation: str = attrs.field(default="minimum_loss", kw_only=True, validator=attrs.validators.in_(ALLOCATIONS))

    @property
    def has_closed_form(self) -> bool:  # type: ignore[override]
        """True with ``allocation="compute_efficient"`` (Kaplan et al.'s frontier)."""
        return self.allocation == "compute_efficient"

    def optimal_allocation(self, flops, flops_per_param_position=6.0, *, params=None, **variables):
        """``(N_opt, D)`` on Kaplan et al.'s compute-efficient frontier (:func:`kaplan_frontier`),
        broadcast against ``params`` arrays (the frontier does not depend on them: one value per
        draw). Only with ``allocation="compute_efficient"``; otherwise an InputError."""
        if not self.has_closed_form:
            raise InputError(f"law {self.name!r} with allocation={self.allocation!r} has no closed-form "
                             "allocation; use allocation='compute_efficient' or tsbudget.plan")
        if variables:
            raise InputError(f"law {self.name!r} takes no variables; got {sorted(variables)}")
        n, d = kaplan_frontier(flops, flops_per_param_position)
        if params:
            shape = np.broadcast_shapes(np.shape(n), *(np.shape(v) for v in params.values()))
            n, d = np.broadcast_to(n, shape).copy(), np.broadcast_to(d, shape).copy()
        return n, d

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
