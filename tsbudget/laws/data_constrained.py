"""The data-constrained law of Muennighoff et al. 2023: Chinchilla on effective data and parameters."""

from __future__ import annotations

import math
from typing import ClassVar

import attrs
import numpy as np

from tsbudget.law import Law, Parameter, value_field
from tsbudget.laws.chinchilla import chinchilla_parameters
from tsbudget.laws.logsumexp import float_params, logsumexp, logsumexp_and_softmax
from tsbudget.timeseries.effective_data import MUENNIGHOFF_R_D, MUENNIGHOFF_R_N, effective_data

__all__ = ["DataConstrained", "MUENNIGHOFF_C4"]

_NAMES = ("E", "A", "B", "alpha", "beta", "R_D_star", "R_N_star")
# The C4 fit of Muennighoff et al. 2023 (eq. 17, App. A) at the precision of the repository
# huggingface/datablations (README, "Parametric Fit": a, b, e are logs; α = β): eq. 17
# prints it as 521/N'^0.35 + 1488/D'^0.35 + 1.87. The law's defaults and the preset.
MUENNIGHOFF_C4 = {
    "E": math.exp(0.6254804),
    "A": math.exp(6.255414),
    "B": math.exp(7.3049974),
    "alpha": 0.3526596,
    "beta": 0.3526596,
    "R_D_star": MUENNIGHOFF_R_D,
    "R_N_star": MUENNIGHOFF_R_N,
}
# Smallest decay constant used: keeps exp(fit coordinate) underflow from reaching 0.
_TINY = 1e-300


@attrs.frozen
class DataConstrained(Law):
    """``L = E + A/N'^α + B/D'^β`` with effective data and parameters
    (Muennighoff et al. 2023, Scaling Data-Constrained Language Models, eq. 5–7).

    Inputs: ``N`` parameters, ``D`` training data (tokens seen), ``U`` unique data.

    - ``U_D = min(U, D)``, ``R_D = D/U_D − 1`` repetitions,
      ``D' = U_D + U_D·R_D*·(1 − exp(−R_D/R_D*))`` (eq. 5, :func:`tsbudget.timeseries.effective_data`).
    - ``U_N = min(N_opt(U_D), N)``, the compute-optimal parameter count for the unique data
      or N if smaller, ``R_N = N/U_N − 1`` excess parameters,
      ``N' = U_N + U_N·R_N*·(1 − exp(−R_N/R_N*))`` (eq. 6). ``N_opt(U_D)`` inverts the
      Chinchilla optimum with this law's own A, B, α, β: ``N_opt = G·(G·U_D)^(β/α)``,
      ``G = (αA/(βB))^(1/(α+β))`` (as in the repository huggingface/datablations, README
      "Parametric Fit"); in logs ``log N_opt = [log(αA/(βB)) + β log U_D]/α``.

    R_D* and R_N* are parameters: fit them or hold them fixed. Defaults: the C4 fit of
    eq. 17 / App. A at the repository's precision, E = e^0.6254804 (1.869),
    A = e^6.255414 (520.8), B = e^7.3049974 (1487.7), α = β = 0.3526596,
    R_D* 15.387756, R_N* 5.309743. When ``N ≤ N_opt(U_D)`` and ``D ≤ U`` it is Chinchilla;
    as R_D* → ∞ repeated data counts fully (``D' = D``). ``N'`` is C¹ across the kink
    ``N = N_opt(U_D)`` (its slope in U_N vanishes there), so gradients stay continuous.
    """

    name: ClassVar[str] = "data_constrained"
    description: ClassVar[str] = (
        "Chinchilla on effective data and parameters under repetition (Muennighoff et al. 2023)"
    )
    citation: ClassVar[str] = (
        "Muennighoff et al. 2023, Scaling Data-Constrained Language Models, eq. 5-7 and 17, App. A"
    )
    inputs: ClassVar[tuple[str, ...]] = ("N", "D", "U")

    E: float = value_field(MUENNIGHOFF_C4["E"])
    A: float = value_field(MUENNIGHOFF_C4["A"])
    B: float = value_field(MUENNIGHOFF_C4["B"])
    alpha: float = value_field(MUENNIGHOFF_C4["alpha"])
    beta: float = value_field(MUENNIGHOFF_C4["beta"])
    R_D_star: float = value_field(MUENNIGHOFF_C4["R_D_star"])
    R_N_star: float = value_field(MUENNIGHOFF_C4["R_N_star"])

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        # Decay constants start at 10 (between the C4 fit's 5.3 and 15.4): with the Hoffmann
        # grid on the rest, 4,500 starts. One start sufficed to recover R_D* 4 and R_N* 25
        # from noiseless runs; pass a grid (e.g. Muennighoff's 4, 8, ..., 20) for more.
        stars = (math.log(10.0),)
        return chinchilla_parameters() + (
            Parameter("R_D_star", log=True, grid=stars, lower=0.0, description="decay constant of repeated data"),
            Parameter("R_N_star", log=True, grid=stars, lower=0.0, description="decay constant of excess parameters"),
        )

    def effective(self, params, inputs) -> dict[str, np.ndarray]:
        """``N'``, ``D'`` and the intermediate quantities (``U_D``, ``U_N``, ...), broadcast."""
        p = float_params(params, _NAMES)
        n = np.asarray(inputs["N"], dtype=float)
        d = np.asarray(inputs["D"], dtype=float)
        u_d = np.minimum(np.asarray(inputs["U"], dtype=float), d)
        # A NaN decay constant (a diverged optimizer step) gives NaN losses, not an error.
        bad = np.isnan(p["R_D_star"]) | np.isnan(p["R_N_star"])
        r_d_star = np.where(np.isnan(p["R_D_star"]), 1.0, np.maximum(p["R_D_star"], _TINY))
        r_n_star = np.where(np.isnan(p["R_N_star"]), 1.0, np.maximum(p["R_N_star"], _TINY))
        d_eff = effective_data(d, u_d, r_d_star)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            k = np.log(p["alpha"] * p["A"] / (p["beta"] * p["B"])) + p["beta"] * np.log(u_d)
            n_opt = np.exp(k / p["alpha"])
        # Where N_opt is undefined or 0 (α or β at 0, as at the edge of the Hoffmann grid) no
        # parameter counts as excess: at α = 0 the term A/N'^α = A whatever N' is.
        n_opt = np.where(n_opt > 0, n_opt, np.inf)
        u_n = np.minimum(n, n_opt)
        n_eff = effective_data(n, u_n, r_n_star)
        return {"N_eff": n_eff, "D_eff": d_eff, "U_D": u_d, "U_N": u_n, "N_opt": n_opt, "K": k,
                "N": n, "D": d, "R_D_star": r_d_star, "R_N_star": r_n_star, "bad": bad}

    def evaluate(self, params, inputs) -> np.ndarray:
        p = float_params(params, _NAMES)
        eff = self.effective(params, inputs)
        out = p["E"] + p["A"] * eff["N_eff"] ** -p["alpha"] + p["B"] * eff["D_eff"] ** -p["beta"]
        return np.where(eff["bad"], np.nan, out)

    def _log_terms(self, p, eff):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (
                np.log(p["E"]),
                np.log(p["A"]) - p["alpha"] * np.log(eff["N_eff"]),
                np.log(p["B"]) - p["beta"] * np.log(eff["D_eff"]),
            )

    def log_evaluate(self, params, inputs) -> np.ndarray:
        p = float_params(params, _NAMES)
        eff = self.effective(params, inputs)
        return np.where(eff["bad"], np.nan, logsumexp(*self._log_terms(p, eff)))

    def log_value_and_gradient(self, params, inputs, *, workspace=None):
        """``(log L, d log L / d value)`` from one log-sum-exp pass. With shares ``w`` of the three terms:
        direct terms as in Chinchilla on (N', D'), plus the chain through ``N'``:
        ``∂ log L/∂N' = −α w_A/N'``; where ``N > N_opt``, ``∂N'/∂N_opt = 1 + R_N*(1 − e^−y)
        − (N/N_opt)e^−y`` with ``y = R_N/R_N*``, and ``∂ log N_opt`` is ``1/(αA)``,
        ``−1/(αB)``, ``(1 − K)/α²``, ``(log U_D − 1/β)/α`` for A, B, α, β;
        ``∂N'/∂R_N* = U_N[(1 − e^−y) − y e^−y]`` and likewise ``∂D'/∂R_D*`` with ``x = R_D/R_D*``.
        """
        p = float_params(params, _NAMES)
        eff = self.effective(params, inputs)
        lse, (w_e, w_a, w_b) = logsumexp_and_softmax(*self._log_terms(p, eff))
        n, d, u_d, u_n = eff["N"], eff["D"], eff["U_D"], eff["U_N"]
        n_eff, d_eff = eff["N_eff"], eff["D_eff"]
        alpha, beta = p["alpha"], p["beta"]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            dlog_dneff = -alpha * w_a / n_eff
            dlog_ddeff = -beta * w_b / d_eff
            # Excess parameters: N' depends on N_opt (and so on A, B, α, β) only where N > N_opt.
            excess = n > eff["N_opt"]
            y = np.where(excess, (n / u_n - 1.0) / eff["R_N_star"], 0.0)
            ey = np.exp(-y)
            dneff_dnopt = np.where(excess, 1.0 + eff["R_N_star"] * (1.0 - ey) - (n / u_n) * ey, 0.0)
            via_nopt = dlog_dneff * dneff_dnopt * u_n  # times d log N_opt / d θ, where N > N_opt
            dneff_drn = np.where(excess, u_n * (-np.expm1(-y) - y * ey), 0.0)
            repeated = d > u_d
            x = np.where(repeated, (d / u_d - 1.0) / eff["R_D_star"], 0.0)
            ex = np.exp(-x)
            ddeff_drd = np.where(repeated, u_d * (-np.expm1(-x) - x * ex), 0.0)
            def chain(factor):
                return np.where(excess, via_nopt * factor, 0.0)

            grad = {
                "E": w_e / p["E"],
                "A": w_a / p["A"] + chain(1.0 / (alpha * p["A"])),
                "B": w_b / p["B"] - chain(1.0 / (alpha * p["B"])),
                "alpha": -w_a * np.log(n_eff) + chain((1.0 - eff["K"]) / alpha**2),
                "beta": -w_b * np.log(d_eff) + chain((np.log(u_d) - 1.0 / beta) / alpha),
                "R_D_star": np.where(repeated, dlog_ddeff * ddeff_drd, 0.0),
                "R_N_star": np.where(excess, dlog_dneff * dneff_drn, 0.0),
            }
        bad = eff["bad"]
        return np.where(bad, np.nan, lse), {k: np.where(bad, np.nan, v) for k, v in grad.items()}
