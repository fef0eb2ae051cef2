"""The routing law of Clark et al. 2022: ``log L = a log N + b log Ê + c log N log Ê + d``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

import attrs
import numpy as np

from tsbudget.errors import InputError
from tsbudget.law import Law, Parameter, value_field
from tsbudget.laws.logsumexp import float_params, input_logs

__all__ = ["Routing", "CLARK_TABLE3", "saturating_experts", "routing_cutoff"]

_NAMES = ("a", "b", "c", "d", "E_start", "E_max")
_LN10 = math.log(10.0)

#: Clark et al. 2022, Table 3 ("solutions to eq. 1"), logs base 10, N the dense parameter
#: count a token sees, E the expert count, at their fixed 130B training tokens. Read from
#: transcriptions of the table (not from the PDF, which the search tools do not hold): the
#: notes in the GitHub file with find_string id 69633265547 quote all three rows; the
#: values are consistent with the shipped runs (our refit, tests/golden/test_routing_law_clark2022.py)
#: and with the paper's cut-offs (10^(-b/c) = 1.0e12 from the rounded S-Base row, the paper's
#: 937B from unrounded values).
CLARK_TABLE3: dict[str, dict[str, float]] = {
    "S-Base": {"a": -0.082, "b": -0.108, "c": 0.009, "d": 1.104, "E_start": 1.847, "E_max": 314.478},
    "RL-R": {"a": -0.083, "b": -0.126, "c": 0.012, "d": 1.111, "E_start": 1.880, "E_max": 469.982},
    "Hash": {"a": -0.087, "b": -0.136, "c": 0.012, "d": 1.157, "E_start": 4.175, "E_max": 477.741},
}


def _shift(e_start, e_max):
    """``s = (1/E_start − 1/E_max)^-1`` (NaN where ``E_start >= E_max``: no saturating curve)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / e_start - 1.0 / e_max
        return np.where(inv > 0, 1.0 / inv, np.nan)


def saturating_experts(experts, e_start, e_max) -> np.ndarray:
    """Clark et al. 2022's saturating transformation of the expert count (§3, eq. 1):
    ``1/Ê = 1/(E − 1 + (1/E_start − 1/E_max)^-1) + 1/E_max``. ``Ê(1) = E_start`` (a dense
    model), ``Ê ≈ E`` for ``E_start ≪ E ≪ E_max``, and ``Ê → E_max`` as ``E → ∞``: routing
    gains flatten at few experts and at very many. Broadcasts."""
    e = np.asarray(experts, dtype=float)
    e_start, e_max = np.asarray(e_start, dtype=float), np.asarray(e_max, dtype=float)
    u = e - 1.0 + _shift(e_start, e_max)
    with np.errstate(divide="ignore", invalid="ignore"):
        return u * e_max / (u + e_max)


def routing_cutoff(b, c) -> np.ndarray:
    """The dense size ``N`` beyond which adding experts stops helping, from eq. 1: the
    slope ``∂log L/∂log Ê = b + c·log10 N`` is zero at ``N_cut = 10^(−b/c)`` (Clark et al.
    2022, §5, their "N_cutoff"); ``inf`` where ``c <= 0`` (the gain never vanishes)."""
    b, c = np.asarray(b, dtype=float), np.asarray(c, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(c > 0, 10.0 ** (-b / c), np.inf)


@attrs.frozen
class Routing(Law):
    """``log10 L = a·log10 N + b·log10 Ê + c·log10 N·log10 Ê + d`` (Clark et al. 2022,
    "Unified Scaling Laws for Routed Language Models", eq. 1), with ``Ê`` the saturating
    transformation of the expert count (:func:`saturating_experts`, parameters ``E_start``
    and ``E_max``).

    Inputs: ``N``, the dense parameter count a token passes through (Clark's N; the
    ``moe`` cost model's law N), and ``experts``, the expert count E (the ``moe`` cost
    model's variable of that name; experts per routed slot, ``num_experts / k``). A dense
    model is ``experts = 1``. ``c > 0`` makes the gain from experts shrink as ``N`` grows:
    it vanishes at :meth:`cutoff` ``= 10^(−b/c)``.

    This is a law at *fixed training data*: every run of Clark et al. saw the same 130B
    tokens, and the law has no data term. It compares routers and sizes at that data
    (``compare(..., frontier="fixed_data")``); it cannot allocate compute between N and D
    (use the Krajewski et al. 2024 law, ``fine_grained_moe``, for that).

    :meth:`effective_params` is their effective parameter count ``N̄`` (§5, eq. 11): the dense
    size with the same loss, ``N̄ = N^(α(Ê)/α(E_start)) · (Ê/E_start)^(b/α(E_start))`` with
    ``α(x) = a + c·log10 x``. Defaults: the S-Base row of their Table 3 (:data:`CLARK_TABLE3`).
    Fitted in natural-log space (``log L = ln 10 · (...)``) with an analytic gradient.
    """

    name: ClassVar[str] = "routing"
    description: ClassVar[str] = (
        "log L = a log N + b log E^ + c log N log E^ + d, E^ saturating in experts (Clark et al. 2022)"
    )
    citation: ClassVar[str] = (
        "Clark et al. 2022, Unified Scaling Laws for Routed Language Models (ICML), eq. 1 and Table 3"
    )
    inputs: ClassVar[tuple[str, ...]] = ("N", "experts")

    a: float = value_field(CLARK_TABLE3["S-Base"]["a"])
    b: float = value_field(CLARK_TABLE3["S-Base"]["b"])
    c: float = value_field(CLARK_TABLE3["S-Base"]["c"])
    d: float = value_field(CLARK_TABLE3["S-Base"]["d"])
    E_start: float = value_field(CLARK_TABLE3["S-Base"]["E_start"])
    E_max: float = value_field(CLARK_TABLE3["S-Base"]["E_max"])

    def __attrs_post_init__(self):
        if not 0 < self.E_start < self.E_max:
            raise InputError(f"Routing: needs 0 < E_start < E_max, got E_start={self.E_start}, E_max={self.E_max}")

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        # Starts: the N exponent around Kaplan et al. 2020's α_N ≈ 0.076 (a ≈ −α_N in log10
        # form, both signs of the interaction c, a few saturation points (logs of E_start, E_max).
        return (
            Parameter("a", grid=(-0.1, -0.05), description="log10 L slope in log10 N at E^ = 1"),
            Parameter("b", grid=(-0.15, -0.05), description="log10 L slope in log10 E^ at N = 1"),
            Parameter("c", grid=(0.0, 0.01), description="interaction of log10 N and log10 E^"),
            Parameter("d", grid=(1.0, 1.2), description="log10 L at N = 1, E^ = 1"),
            Parameter("E_start", log=True, grid=(math.log(1.5), math.log(4.0)), lower=0.0,
                      description="saturation start (E^ of a dense model)"),
            Parameter("E_max", log=True, grid=(math.log(100.0), math.log(1000.0)), lower=0.0,
                      description="saturation ceiling of E^"),
        )

    # -- numerics ----------------------------------------------------------------------------
    def _parts(self, params, inputs):
        p = float_params(params, _NAMES)
        (log_n,) = input_logs(inputs, "N")
        n10 = log_n / _LN10
        e_hat = saturating_experts(inputs["experts"], p["E_start"], p["E_max"])
        with np.errstate(divide="ignore", invalid="ignore"):
            h10 = np.log(e_hat) / _LN10
        return p, n10, e_hat, h10

    def log10_loss(self, params: Mapping, inputs: Mapping) -> np.ndarray:
        """``log10 L`` of eq. 1, broadcast."""
        p, n10, _, h10 = self._parts(params, inputs)
        return p["a"] * n10 + p["b"] * h10 + p["c"] * n10 * h10 + p["d"]

    def evaluate(self, params, inputs) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return 10.0 ** self.log10_loss(params, inputs)

    def log_evaluate(self, params, inputs) -> np.ndarray:
        return _LN10 * self.log10_loss(params, inputs)

    def log_value_and_gradient(self, params, inputs, *, workspace=None):
        """``(ln L, d ln L / d value)``. With ``n = log10 N``, ``h = log10 Ê``: ``∂/∂a = ln10·n``,
        ``∂/∂b = ln10·h``, ``∂/∂c = ln10·n·h``, ``∂/∂d = ln10``; the saturation parameters act
        through ``ln Ê`` with slope ``(b + c·n)``: writing ``s = (1/E_start − 1/E_max)^-1``,
        ``u = E − 1 + s``, ``ln Ê = ln u + ln E_max − ln(u + E_max)``, so
        ``∂ln Ê/∂u = E_max/(u(u + E_max))``, ``∂s/∂E_start = s²/E_start²``,
        ``∂s/∂E_max = −s²/E_max²`` and ``∂ln Ê/∂E_max = u/(E_max(u + E_max)) + ∂ln Ê/∂u·∂s/∂E_max``."""
        p, n10, e_hat, h10 = self._parts(params, inputs)
        value = _LN10 * (p["a"] * n10 + p["b"] * h10 + p["c"] * n10 * h10 + p["d"])
        e = np.asarray(inputs["experts"], dtype=float)
        s = _shift(p["E_start"], p["E_max"])
        u = e - 1.0 + s
        slope = p["b"] + p["c"] * n10  # d ln L / d ln Ê
        with np.errstate(divide="ignore", invalid="ignore"):
            du = p["E_max"] / (u * (u + p["E_max"]))
            d_start = slope * du * s * s / (p["E_start"] * p["E_start"])
            d_max = slope * (u / (p["E_max"] * (u + p["E_max"])) - du * s * s / (p["E_max"] * p["E_max"]))
        grad = {
            "a": _LN10 * n10,
            "b": _LN10 * h10,
            "c": _LN10 * n10 * h10,
            "d": np.full(np.shape(value), _LN10),
            "E_start": d_start,
            "E_max": d_max,
        }
        return value, grad

    # -- derived quantities --------------------------------------------------------------------
    def effective_params(self, N, experts, params: Mapping | None = None) -> np.ndarray:
        """Clark et al.'s effective parameter count ``N̄(N, E)`` (§5, eq. 11): the dense size whose
        loss equals this routed model's, ``N̄ = N^(α(Ê)/α(E_start)) · (Ê/E_start)^(b/α(E_start))``,
        ``α(x) = a + c·log10 x``. ``params`` replaces this law's values (arrays broadcast)."""
        p = float_params({**self.values, **(params or {})}, _NAMES)
        e_hat = saturating_experts(experts, p["E_start"], p["E_max"])
        alpha_1 = p["a"] + p["c"] * np.log10(p["E_start"])
        alpha_e = p["a"] + p["c"] * np.log10(e_hat)
        n = np.asarray(N, dtype=float)
        return n ** (alpha_e / alpha_1) * (e_hat / p["E_start"]) ** (p["b"] / alpha_1)

    def effective(self, params, inputs) -> dict[str, np.ndarray]:
        """``N_eff`` = the effective parameter count :meth:`effective_params`, ``E_hat`` = Ê, and
        ``D_eff`` = ``D`` as given when the inputs carry it (the law has no data term)."""
        p = float_params(params, _NAMES)
        out = {
            "N_eff": self.effective_params(inputs["N"], inputs["experts"], params=p),
            "E_hat": saturating_experts(inputs["experts"], p["E_start"], p["E_max"]),
        }
        if "D" in inputs:
            out["D_eff"] = np.asarray(inputs["D"], dtype=float)
        return out

    def cutoff(self, params: Mapping | None = None) -> np.ndarray:
        """The dense size at which routing stops helping, ``10^(−b/c)`` (:func:`routing_cutoff`)."""
        p = {**self.values, **(params or {})}
        return routing_cutoff(p["b"], p["c"])

    def at(self, **variables) -> Law:
        """No closed form at fixed experts is offered: a loss of ``N`` alone at fixed data is a
        pure power law with no data term, which no compute-allocation closed form covers."""
        raise InputError(
            f"law 'routing' cannot be reduced to a law of N and D at fixed {sorted(variables) or 'experts'}: "
            "it is a law at fixed training data (Clark et al. 2022); evaluate it with experts as an input"
        )
