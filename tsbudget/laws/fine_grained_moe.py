"""The fine-grained MoE law of Krajewski et al. 2024: ``L = c + (g/G^γ + a)/N^α + b/D^β``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

import attrs
import numpy as np

from tsbudget.errors import InputError
from tsbudget.law import Law, Parameter, value_field
from tsbudget.laws.chinchilla import HOFFMANN_GRID, Chinchilla, chinchilla_optimum
from tsbudget.laws.logsumexp import float_params, input_logs, logsumexp_and_softmax

__all__ = ["FineGrainedMoE", "KRAJEWSKI_TABLE1"]

_NAMES = ("c", "a", "g", "gamma", "alpha", "b", "beta")

#: Krajewski et al. 2024, "Scaling Laws for Fine-Grained Mixture of Experts" (ICML), Table 1,
#: the MoE fit of eq. 9 (C4, expansion rate E = 64, N total non-embedding parameters, D
#: tokens, loss in nats). Read from two independent transcriptions of the table (GitHub
#: notes found with find_string ids 69633265547 and 52544215259; the PDF is not in the
#: search tools); both give the same seven numbers.
KRAJEWSKI_TABLE1 = {"c": 0.47, "a": 18.1, "g": 2.1, "gamma": 0.58, "alpha": 0.115, "b": 30.8, "beta": 0.147}


@attrs.frozen
class FineGrainedMoE(Law):
    """``L(N, D, G) = c + (g/G^γ + a)/N^α + b/D^β`` (Krajewski et al. 2024, eq. 9).

    ``G`` is the granularity (each expert split into ``G`` smaller ones, ``G`` of them used
    per token so the active parameters stay fixed), the ``moe`` cost model's variable
    ``granularity``; ``N`` the model's parameters and ``D`` its training tokens. Finer
    experts act on the parameter term only, and saturate at ``a`` (``G → ∞``); the data term
    does not depend on ``G`` (their Fig. 3c). At fixed ``G`` this is Chinchilla with
    ``E = c``, ``A = a + g/G^γ``, ``B = b`` (:meth:`at`), so the closed-form compute
    optimum applies. Defaults: the MoE row of their Table 1 (:data:`KRAJEWSKI_TABLE1`).

    Log form, four terms: ``log L = LSE(log c, log a − α log N, log g − γ log G − α log N,
    log b − β log D)``, with an analytic gradient from the term shares.
    """

    name: ClassVar[str] = "fine_grained_moe"
    description: ClassVar[str] = "c + (g/G^gamma + a)/N^alpha + b/D^beta (Krajewski et al. 2024)"
    citation: ClassVar[str] = (
        "Krajewski et al. 2024, Scaling Laws for Fine-Grained Mixture of Experts (ICML), eq. 9 and Table 1"
    )
    inputs: ClassVar[tuple[str, ...]] = ("N", "D", "granularity")
    has_closed_form: ClassVar[bool] = True

    c: float = value_field(KRAJEWSKI_TABLE1["c"])
    a: float = value_field(KRAJEWSKI_TABLE1["a"])
    g: float = value_field(KRAJEWSKI_TABLE1["g"])
    gamma: float = value_field(KRAJEWSKI_TABLE1["gamma"])
    alpha: float = value_field(KRAJEWSKI_TABLE1["alpha"])
    b: float = value_field(KRAJEWSKI_TABLE1["b"])
    beta: float = value_field(KRAJEWSKI_TABLE1["beta"])

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        # The Hoffmann grid for the Chinchilla-like parts (c as E, a and g as A, b as B),
        # two starts for the granularity exponent.
        return (
            Parameter("c", log=True, grid=HOFFMANN_GRID["E"], lower=0.0, description="irreducible loss"),
            Parameter("a", log=True, grid=HOFFMANN_GRID["A"], lower=0.0, description="parameter scale at G -> inf"),
            Parameter("g", log=True, grid=(0.0, 5.0), lower=0.0, description="granularity gain scale"),
            Parameter("gamma", grid=(0.25, 1.0), description="granularity exponent"),
            Parameter("alpha", grid=HOFFMANN_GRID["alpha"], description="parameter exponent"),
            Parameter("b", log=True, grid=HOFFMANN_GRID["B"], lower=0.0, description="data scale"),
            Parameter("beta", grid=HOFFMANN_GRID["beta"], description="data exponent"),
        )

    def evaluate(self, params, inputs) -> np.ndarray:
        p = float_params(params, _NAMES)
        n, d, gr = (np.asarray(inputs[k], dtype=float) for k in ("N", "D", "granularity"))
        return p["c"] + (p["g"] * gr ** -p["gamma"] + p["a"]) * n ** -p["alpha"] + p["b"] * d ** -p["beta"]

    def _terms(self, p, inputs):
        log_n, log_d, log_g = input_logs(inputs, "N", "D", "granularity")
        with np.errstate(divide="ignore", invalid="ignore"):
            return log_n, log_d, log_g, (
                np.log(p["c"]),
                np.log(p["a"]) - p["alpha"] * log_n,
                np.log(p["g"]) - p["gamma"] * log_g - p["alpha"] * log_n,
                np.log(p["b"]) - p["beta"] * log_d,
            )

    def log_evaluate(self, params, inputs) -> np.ndarray:
        return self.log_value_and_gradient(params, inputs)[0]

    def log_value_and_gradient(self, params, inputs, *, workspace=None):
        """``(log L, d log L / d value)``; with term shares ``w``: ``∂/∂c = w_c/c``, ``∂/∂a = w_a/a``,
        ``∂/∂g = w_g/g``, ``∂/∂γ = −w_g log G``, ``∂/∂α = −(w_a + w_g) log N``, ``∂/∂b = w_b/b``,
        ``∂/∂β = −w_b log D``."""
        p = float_params(params, _NAMES)
        log_n, log_d, log_g, terms = self._terms(p, inputs)
        lse, (w_c, w_a, w_g, w_b) = logsumexp_and_softmax(*terms)
        return lse, {
            "c": w_c / p["c"],
            "a": w_a / p["a"],
            "g": w_g / p["g"],
            "gamma": -w_g * log_g,
            "alpha": -(w_a + w_g) * log_n,
            "b": w_b / p["b"],
            "beta": -w_b * log_d,
        }

    # -- fixed granularity ---------------------------------------------------------------------
    def params_at(self, params: Mapping[str, np.ndarray], /, **variables) -> dict[str, np.ndarray]:
        """The Chinchilla parameters at a fixed (scalar) ``granularity``: ``E = c``,
        ``A = a + g/G^γ``, ``B = b`` (arrays broadcast). Other names are ignored."""
        if "granularity" not in variables:
            raise InputError("law 'fine_grained_moe' needs a value for variable 'granularity'; pass variables={...}")
        gr = float(variables["granularity"])
        if not (math.isfinite(gr) and gr > 0):
            raise InputError(f"FineGrainedMoE: granularity must be finite and > 0, got {variables['granularity']!r}")
        p = float_params(params, _NAMES)
        return {"E": p["c"], "A": p["a"] + p["g"] * gr ** -p["gamma"], "B": p["b"], "alpha": p["alpha"], "beta": p["beta"]}

    def at(self, **variables) -> Chinchilla:
        """The Chinchilla law this one equals at a fixed granularity (see :meth:`params_at`)."""
        unknown = set(variables) - {"granularity"}
        if unknown:
            raise InputError(f"FineGrainedMoE.at takes only 'granularity'; unknown {sorted(unknown)}")
        return Chinchilla(**{k: float(v) for k, v in self.params_at(self.values, **variables).items()})

    def optimal_allocation(self, flops, flops_per_param_position=6.0, *, params=None, **variables):
        """Compute-optimal ``(N_opt, D_opt)`` at a fixed granularity under ``C = k·N·D``: the
        closed form of Hoffmann et al. 2022 App. D.2 on :meth:`params_at`."""
        q = self.params_at({**self.values, **(params or {})}, **variables)
        return chinchilla_optimum(q["E"], q["A"], q["B"], q["alpha"], q["beta"], flops=flops,
                                  k=flops_per_param_position)
