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

__all__ = ["Chinchilla", "chinchilla_optimum", "chinchilla_parameters", "HOFFMANN_GRID", "HOFFMANN_E", "HOFFMANN_A",
           "HOFFMANN_B", "HOFFMANN_ALPHA", "HOFFMANN_BETA"]

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

try:  # the clip ufunc itself: min(max(r, lo), hi) element by element (NaN kept), in one SIMD pass where
    # np.maximum and np.minimum with a scalar bound take two slower ones (31 -> 7.5 µs on 136 x 240)
    from numpy._core.umath import clip as _clip
except ImportError:  # pragma: no cover - other numpy layouts: the same values through np.clip
    _clip = np.clip


def _hessian_tables():
    """Where each gradient and Hessian entry of :meth:`Chinchilla.huber_value_grad_hess` sits
    in its (rows of P) × (1, ln N, ln D, ln²N, ln N·ln D, ln²D) sums, flattened (row·6 + column;
    60 is a zero), and its sign. Coordinates (log E, log A, log B, α, β); P's rows are
    κ s_E s_E, κ s_E s_A, κ s_E s_B, κ s_A s_A, κ s_A s_B, κ s_B s_B, w c s_E, w c s_A, w c s_B, w·Huber."""
    grad = [(6, 0, 1), (7, 0, 1), (8, 0, 1), (7, 1, -1), (8, 2, -1)]
    # J = (s_E, s_A, s_B, −s_A ln N, −s_B ln D): the (i, j) entry of Σ κ J Jᵀ
    jj = {(0, 0): (0, 0, 1), (0, 1): (1, 0, 1), (0, 2): (2, 0, 1), (0, 3): (1, 1, -1), (0, 4): (2, 2, -1),
          (1, 1): (3, 0, 1), (1, 2): (4, 0, 1), (1, 3): (3, 1, -1), (1, 4): (4, 2, -1),
          (2, 2): (5, 0, 1), (2, 3): (4, 1, -1), (2, 4): (5, 2, -1),
          (3, 3): (3, 3, 1), (3, 4): (4, 4, 1), (4, 4): (5, 5, 1)}
    # Σ w c Mᵀ diag(s) M: the diagonal shares, −s_A ln N against log A and α, s_A ln²N (same for B, β)
    curv = {(0, 0): (6, 0, 1), (1, 1): (7, 0, 1), (2, 2): (8, 0, 1), (1, 3): (7, 1, -1), (2, 4): (8, 2, -1),
            (3, 3): (7, 3, 1), (4, 4): (8, 5, 1)}
    hi, hs, ci, cs = [], [], [], []
    for i in range(5):
        for j in range(5):
            a, b, sign = jj[(min(i, j), max(i, j))]
            hi.append(a * 6 + b)
            hs.append(sign)
            a, b, sign = curv.get((min(i, j), max(i, j)), (10, 0, 0))
            ci.append(a * 6 + b if sign else 60)
            cs.append(sign)
    as_arrays = (np.array([a * 6 + b for a, b, _ in grad]), np.array([float(s) for *_, s in grad]),
                 np.array(hi), np.array(hs, dtype=float), np.array(ci), np.array(cs, dtype=float))
    return as_arrays


_GRAD_INDEX, _GRAD_SIGN, _HESS_INDEX, _HESS_SIGN, _CURV_INDEX, _CURV_SIGN = _hessian_tables()


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
        bad = [f"{name}={float(np.min(v)):.4g}" for name, v in (("A", A), ("B", B), ("alpha", alpha), ("beta", beta))
               if np.any(v <= 0)]
        raise InputError(f"the closed-form optimum needs A, B, alpha, beta > 0; got {', '.join(bad)}"
                         + (" (the smallest over the draws)" if max(np.size(A), np.size(alpha)) > 1 else ""))
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

    def _fused_kernels_apply(self) -> bool:
        """The fused Huber kernels hard-code this form: a subclass that changes how the loss or its
        gradient is computed gets the generic path instead."""
        cls = type(self)
        return (cls.log_evaluate is Chinchilla.log_evaluate and cls._lse is Chinchilla._lse
                and cls.log_value_and_gradient is Chinchilla.log_value_and_gradient
                and cls.log_gradient is Law.log_gradient)

    def huber_value_and_grad(self, params, inputs, log_loss, weights, delta: float, *, workspace=None, logs=None,
                             gradient: bool = True):
        """The fit's objective ``Σ_i w_i·Huber_δ(log L̂_i − log L_i)`` per row and its gradient in
        the fit coordinates :attr:`FIT_COORDINATES` (log E, log A, log B, α, β), fused:
        ``(f (k,), g (k, 5))``, or None where the plain sum would leave the float range (then
        the caller takes the general path) or a subclass changed the formula.

        One pass over the (rows, runs) block into scratch arrays: ``t_A = log A − α log N``,
        ``t_B = log B − β log D``, ``L̂ = E + e^{t_A} + e^{t_B}`` (Hoffmann et al. 2022 App. D.2
        in log-sum-exp form), residual ``r = log L̂ − log L``, ``c = clip(r, −δ, δ)``; Huber's
        value is ``c·(r − c/2)`` and its derivative ``c`` (Huber 1964). With ``q = w·c/L̂``:
        ``∂f/∂log E = E·Σ q``, ``∂f/∂log A = Σ q·e^{t_A}``, ``∂f/∂α = −Σ q·e^{t_A}·log N`` (the
        same for B, β, D). The sums over runs are one matrix product of the rows
        (Huber, q, q·e^{t_A}, q·e^{t_B}) with (1, log N, log D). ``params`` hold (rows, 1)
        columns or scalars; ``weights`` are (runs,), (rows, runs), or None for all ones;
        ``logs`` may carry ``log A``, ``log B`` already taken (fit coordinates). With
        ``gradient=False`` only ``(f, None)``, at about half the cost.
        """
        if not self._fused_kernels_apply():
            return None
        p = {k: np.asarray(params[k], dtype=float) for k in _NAMES}
        logs = logs or {}
        log_n, log_d = input_logs(inputs, "N", "D")
        k = max(np.shape(v)[0] if np.ndim(v) == 2 else 1 for v in p.values())
        n = log_n.shape[-1]
        if log_n.ndim != 1 or log_d.shape != (n,) or np.shape(log_loss) != (n,) or k == 0 or n == 0:
            return None
        coef = np.empty((2, k, 2))
        coef[0, :, 0] = (logs["A"] if "A" in logs else np.log(p["A"])).reshape(-1)
        coef[0, :, 1] = p["alpha"].reshape(-1)
        coef[1, :, 0] = (logs["B"] if "B" in logs else np.log(p["B"])).reshape(-1)
        coef[1, :, 1] = p["beta"].reshape(-1)
        with np.errstate(all="ignore"):
            return self._huber_pass(coef, p["E"], log_n, log_d, log_loss, weights, delta, workspace,
                                    np.empty((k, 5)) if gradient else None)

    def huber_value_and_grad_at(self, theta, inputs, log_loss, weights, delta: float, *, workspace=None,
                                gradient: bool = True, terms=None):
        """:meth:`huber_value_and_grad` at points given in the fit coordinates themselves:
        ``theta`` (k, 5), C-contiguous, columns (log E, log A, log B, α, β) as in
        :attr:`FIT_COORDINATES`; the same arithmetic, without the name -> column mappings (the
        multistart fit calls it hundreds of times on a few rows, where building those cost
        about as much as the pass). ``g`` is filled column by column (Fortran order).
        ``terms``: ``e^{t_A}``, ``e^{t_B}`` of these rows (at least two) from
        :meth:`exponent_terms_at`, each table with the rows' indices into it."""
        if not self._fused_kernels_apply():
            return None
        log_n, log_d = _run_logs(inputs)
        k = theta.shape[0]
        n = log_n.shape[-1]
        if (theta.ndim != 2 or theta.shape[1] != 5 or log_n.ndim != 1 or log_d.shape != (n,)
                or log_loss.shape != (n,) or k == 0 or n == 0):
            return None
        coef = np.empty((2, k, 2))
        coef[0] = theta[:, 1::2]  # (log A, α)
        coef[1] = theta[:, 2::2]  # (log B, β)
        with np.errstate(all="ignore"):
            e = np.exp(theta)[:, 0:1]  # E, exponentiated with its row (the same values as column by column)
            return self._huber_pass(coef, e, log_n, log_d, log_loss, weights, delta, workspace,
                                    np.empty((5, k)).T if gradient else None, terms)

    def exponent_terms_at(self, theta, inputs, *, workspace=None, max_elements: int = 1 << 18):
        """``e^{t_A}`` of each distinct (log A, α) among the rows of ``theta`` (k, 5, fit
        coordinates) and ``e^{t_B}`` of each distinct (log B, β), each with every row's index
        into it: ``(e_a, rows_a, e_b, rows_b)``, the ``terms`` of :meth:`huber_value_and_grad_at`;
        None for rows that are not all finite, or when the two tables would hold more than
        ``max_elements`` (distinct pairs × runs) or the pairs hardly repeat (more than k/2).
        A grid of starts repeats each pair: Hoffmann's 4,500 have 30 of each, so a value pass
        over them takes 60 rows of exponentials, not 9,000. The distinct rows go through the
        same matrix product (at least two rows at a time: BLAS's one-row path rounds
        differently) and exp as a block's rows, so the values are the same bit for bit."""
        if theta.ndim != 2 or theta.shape[1] != 5 or not self._fused_kernels_apply() or not np.isfinite(theta).all():
            return None
        log_n, log_d = _run_logs(inputs)
        found = []
        for cols in (slice(1, None, 2), slice(2, None, 2)):  # (log A, α), (log B, β)
            pairs = np.ascontiguousarray(theta[:, cols])
            _, first, inverse = np.unique(pairs.view(np.complex128)[:, 0], return_index=True, return_inverse=True)
            found.append((pairs[np.repeat(first, 2) if first.size == 1 else first], inverse.reshape(-1)))
        distinct = found[0][0].shape[0] + found[1][0].shape[0]
        if distinct > theta.shape[0] / 2 or distinct * log_n.shape[0] > max_elements:
            return None
        m, _ = _run_constants(workspace, log_n, log_d)
        with np.errstate(all="ignore"):
            return np.exp(found[0][0] @ m[0]), found[0][1], np.exp(found[1][0] @ m[1]), found[1][1]

    def _huber_pass(self, coef, e, log_n, log_d, log_loss, weights, delta, work, g, terms=None):
        """The pass of :meth:`huber_value_and_grad` (see there) from ``coef`` (2, k, 2): rows
        (log A, α) and (log B, β), and ``e``: E as (k, 1) or a scalar; the gradient goes into
        ``g`` (k, 5) (None: the value alone). Called inside ``np.errstate(all="ignore")``."""
        k = coef.shape[1]
        n = log_n.shape[0]
        m, phi = _run_constants(work, log_n, log_d)
        # one scratch block: Huber, q, q·e^{t_A}, q·e^{t_B} (contiguous, summed by one product),
        # then e^{t_A}, e^{t_B} (one stacked product, one exp; or gathered from ``terms``), L̂ and r
        block = scratch_array(work, "chinchilla_huber", (8, k, n))
        z = block[:4]
        if terms is None:
            e_ab = np.matmul(coef, m, out=block[4:6])
            np.exp(e_ab, out=e_ab)
        else:
            e_ab = block[4:6]
            np.take(terms[0], terms[1], axis=0, out=e_ab[0], mode="clip")  # valid indices; "raise" buffers
            np.take(terms[2], terms[3], axis=0, out=e_ab[1], mode="clip")
        e_a, e_b = e_ab
        total = np.add(e_a, e_b, out=block[6])
        total += e
        r = np.log(total, out=block[7])
        if not (np.minimum.reduce(r, axis=None) >= LSE_LO and np.maximum.reduce(r, axis=None) < EXP_HI):
            return None  # beyond the float range (or not finite): the shifted general path
        r -= _rows_of(work, log_loss, k)
        c = _clip(r, -delta, delta, out=z[1])
        # Huber c·(r − c/2), built in z[0]; then q = w·c/L̂ in z[1]
        h = np.multiply(c, -0.5, out=z[0])
        h += r
        h *= c
        if weights is not None:
            weights = np.asarray(weights, dtype=float)
            h *= weights
        # the value by the same row sum with or without the gradient (bit-identical values)
        f = np.add.reduce(h, axis=1)
        if g is None:
            return f, None
        c /= total
        if weights is not None:
            c *= weights
        np.multiply(c, e_ab, out=z[2:])  # q·e^{t_A}, q·e^{t_B}
        sums = np.matmul(z.reshape(4 * k, n), phi).reshape(4, k, 3)
        np.multiply(sums[1, :, 0], e[:, 0] if np.ndim(e) == 2 and e.shape[0] == k else np.broadcast_to(e, (k, 1))[:, 0],
                    out=g[:, 0])
        g[:, 1:3] = sums[2:4, :, 0].T
        np.negative(sums[2, :, 1], out=g[:, 3])
        np.negative(sums[3, :, 2], out=g[:, 4])
        return f, g

    #: the coordinates of :meth:`huber_value_and_grad` and :meth:`huber_value_grad_hess`: log E,
    #: log A, log B, α, β (name, whether in log), those of the fit
    FIT_COORDINATES: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("E", True), ("A", True), ("B", True), ("alpha", False), ("beta", False))

    def huber_value_grad_hess(self, params, inputs, log_loss, weights, delta: float, *, logs=None):
        """The fit's objective ``Σ_i w_i·Huber_δ(log L̂_i − log L_i)`` per row with its gradient
        and Hessian in the fit coordinates θ = (log E, log A, log B, α, β):
        ``(f (k,), g (k, 5), H (k, 5, 5))``, or None where the plain sum would leave the float
        range or a subclass changed the formula.

        ``log L̂ = LSE(u)`` with ``u = (log E, log A − α log N, log B − β log D)`` linear in θ
        (Hoffmann et al. 2022 App. D.2), ``u = M·θ`` per run. With the shares
        ``s = softmax(u)``, ``J = ∂ log L̂/∂θ = Mᵀs`` and ``∂² log L̂/∂θ² = Mᵀ(diag s − s sᵀ)M``
        (the Hessian of log-sum-exp, e.g. Boyd & Vandenberghe 2004 §3.1.5). Huber's
        ``ψ = c = clip(r, −δ, δ)`` and ``ψ' = 1{|r| ≤ δ}`` (Huber 1964) give
        ``g = Σ w c J`` and ``H = Σ w [(ψ' − c) J Jᵀ + c Mᵀ diag(s) M]``; the second term only
        touches (log E, log E), (log A, log A), (log A, α), (α, α) and the same for B, β.
        ``params`` hold (rows, 1) columns or scalars; ``weights`` (runs,), (rows, runs) or
        None for all ones; ``logs`` may carry ``log E``, ``log A``, ``log B`` already taken.
        """
        if not self._fused_kernels_apply():
            return None
        p = {k: np.asarray(params[k], dtype=float) for k in _NAMES}
        logs = logs or {}
        log_n, log_d = input_logs(inputs, "N", "D")
        shape = np.broadcast_shapes(*(v.shape for v in p.values()), log_n.shape, log_d.shape, np.shape(log_loss))
        if len(shape) != 2 or 0 in shape:
            return None
        k, n = shape
        with np.errstate(all="ignore"):
            s_a = np.multiply(p["alpha"], log_n, out=np.empty(shape))
            np.subtract(logs["A"] if "A" in logs else np.log(p["A"]), s_a, out=s_a)
            np.exp(s_a, out=s_a)
            s_b = np.multiply(p["beta"], log_d, out=np.empty(shape))
            np.subtract(logs["B"] if "B" in logs else np.log(p["B"]), s_b, out=s_b)
            np.exp(s_b, out=s_b)
            s_e = np.add(s_a, s_b)
            s_e += p["E"]
            r = np.log(s_e)
            if not (np.minimum.reduce(r, axis=None) >= LSE_LO and np.maximum.reduce(r, axis=None) < EXP_HI):
                return None
            r -= log_loss
            # the shares s = (E, e^{t_A}, e^{t_B}) / L̂
            np.reciprocal(s_e, out=s_e)
            s_a *= s_e
            s_b *= s_e
            s_e *= p["E"]
            # rows of P, each summed over runs against (1, ln N, ln D, ln²N, ln N·ln D, ln²D) by one
            # matrix product: κ s_x s_y (κ = w(ψ' − c)), w c s_x (the gradient), w·Huber
            P = np.empty((k, 10, n))
            c = np.minimum(np.maximum(r, -delta), delta)
            kappa = np.equal(c, r).astype(float)  # ψ' = 1 where |r| ≤ δ
            kappa -= c
            h = np.multiply(c, 0.5, out=P[:, 9])
            np.subtract(r, h, out=h)
            h *= c
            if weights is not None:
                weights = np.asarray(weights, dtype=float)
                h *= weights
                kappa *= weights
                c *= weights
            for row, share in ((6, s_e), (7, s_a), (8, s_b)):
                np.multiply(c, share, out=P[:, row])
            for row, (x, y) in enumerate(((s_e, s_e), (s_e, s_a), (s_e, s_b), (s_a, s_a), (s_a, s_b), (s_b, s_b))):
                np.multiply(x, kappa, out=P[:, row])
                P[:, row] *= y
            phi = np.stack([np.ones(n), log_n, log_d, log_n * log_n, log_n * log_d, log_d * log_d], axis=1)
            sums = np.matmul(P.reshape(k * 10, n), phi).reshape(k, 60)
            sums = np.concatenate([sums, np.zeros((k, 1))], axis=1)
            f = sums[:, 9 * 6]
            g = sums[:, _GRAD_INDEX] * _GRAD_SIGN
            hess = (sums[:, _HESS_INDEX] * _HESS_SIGN + sums[:, _CURV_INDEX] * _CURV_SIGN).reshape(k, 5, 5)
        return f, g, hess

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


def _run_logs(inputs):
    """``ln N``, ``ln D`` of the runs: precomputed in ``inputs.logs`` when a fit passes them."""
    cached = getattr(inputs, "logs", None)
    if cached is not None and "N" in cached and "D" in cached:
        return cached["N"], cached["D"]
    return input_logs(inputs, "N", "D")


def _run_constants(work, log_n, log_d):
    """Per-run constants of the fused pass, kept with the scratch arrays: m (2, 2, n) for the exponents
    t_A, t_B ((log A, α) times (1, −ln N), the same for B), phi (n, 3) = (1, ln N, ln D) for the sums."""
    const = work.get("chinchilla_runs") if work is not None else None
    if const is None or const[0] is not log_n or const[1] is not log_d:
        ones = np.ones(log_n.shape[0])
        const = (log_n, log_d, np.stack([np.stack([ones, -log_n]), np.stack([ones, -log_d])]),
                 np.stack([ones, log_n, log_d], axis=1))
        if work is not None:
            work["chinchilla_runs"] = const
    return const[2], const[3]


def _rows_of(work, log_loss, k: int):
    """``log_loss`` on ``k`` rows, kept with the scratch arrays (a (k, n) subtraction is one SIMD pass, a
    broadcast row one short pass per row: 12.6 -> 8.1 µs on 136 × 240); without a workspace, the row."""
    if work is None:
        return log_loss
    rows = work.get("chinchilla_log_loss")
    if rows is None or rows[0] is not log_loss or rows[1].shape[0] < k:
        rows = work["chinchilla_log_loss"] = (log_loss, np.tile(log_loss, (k, 1)))
    return rows[1][:k]


def chinchilla_parameters() -> tuple[Parameter, ...]:
    """The five parameters of the Chinchilla form with the Hoffmann grid as starts."""
    return (
        Parameter("E", log=True, grid=HOFFMANN_GRID["E"], lower=0.0, description="irreducible loss"),
        Parameter("A", log=True, grid=HOFFMANN_GRID["A"], lower=0.0, description="parameter-term scale"),
        Parameter("B", log=True, grid=HOFFMANN_GRID["B"], lower=0.0, description="data-term scale"),
        Parameter("alpha", grid=HOFFMANN_GRID["alpha"], description="parameter exponent"),
        Parameter("beta", grid=HOFFMANN_GRID["beta"], description="data exponent"),
    )

