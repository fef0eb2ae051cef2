"""The fitting objective: Huber loss on log-space residuals, batched over many starts.

Hoffmann et al. 2022, App. D.2 (eq. 3): the law's parameters minimise

    Σ_i Huber_δ( log L̂(N_i, D_i) − log L_i ),    δ = 1e-3,

summed over runs (not averaged: Besiroglu et al. 2024 §3 note that averaging made
Hoffmann's L-BFGS stop early, because scipy's tolerances are absolute). Here the sum
carries optional per-run weights ``w_i``, a factor ``p`` on runs the law over-predicts
(``log L̂ > log L``, the asymmetric choice of e.g. Takano's ``chinchilla`` package) and
an optional mean reduction (``Σ w_i h_i / Σ w_i``).

Parameters are optimised in *fit coordinates*: the natural log of ``Parameter.log``
parameters (``A = exp(a)``), the value otherwise. Every method takes ``theta`` of shape
``(starts, free)`` (or ``(free,)`` for one point) so a whole grid of starts is one call.
"""

from __future__ import annotations

from collections.abc import Mapping

import inspect
import threading

import attrs
import numpy as np

from tsbudget.law import Law, Parameter, scratch_array as _scratch

__all__ = ["huber", "huber_derivative", "Objective", "RunInputs"]


def huber(r, delta: float) -> np.ndarray:
    """Huber loss (Huber 1964): ``r²/2`` for ``|r| ≤ δ``, ``δ(|r| − δ/2)`` beyond."""
    r = np.asarray(r, dtype=float)
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def huber_derivative(r, delta: float) -> np.ndarray:
    """d Huber_δ(r)/dr = clip(r, −δ, δ)."""
    return np.clip(np.asarray(r, dtype=float), -delta, delta)


@attrs.frozen(eq=False)
class Objective:
    """Σ_i c_i·Huber_δ(log L̂_i − log L_i) over the free parameters of ``law``.

    ``c_i = w_i·(p if the residual is positive else 1)``, with ``w`` already divided by
    ``Σ w`` for the mean reduction. ``fixed`` holds the values of the parameters that are
    not fitted. ``inputs`` are the law's inputs per run, ``log_loss`` the observed log loss.
    """

    law: Law
    free: tuple[Parameter, ...]
    fixed: Mapping[str, float]
    inputs: Mapping[str, np.ndarray]
    log_loss: np.ndarray
    weights: np.ndarray
    delta: float = 1e-3
    overprediction_penalty: float = 1.0
    fd_step: float = 1e-6  # relative central-difference step in fit coordinates
    block_elements: int = 1 << 15  # rows x runs per block of value_and_grad (fits the L2 cache)
    _cache: dict = attrs.field(init=False, factory=dict, repr=False)

    def __attrs_post_init__(self):
        # contiguous float arrays and the inputs' logs, once per objective
        object.__setattr__(self, "log_loss", np.ascontiguousarray(self.log_loss, dtype=float))
        object.__setattr__(self, "weights", np.ascontiguousarray(self.weights, dtype=float))
        inputs = {k: np.ascontiguousarray(v, dtype=float) for k, v in self.inputs.items()}
        self._cache["inputs"] = RunInputs(inputs)
        self._cache["local"] = threading.local()
        hook = self.law.log_value_and_gradient
        try:
            self._cache["workspace"] = hook is not None and "workspace" in inspect.signature(hook).parameters
        except (TypeError, ValueError):
            self._cache["workspace"] = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.free)

    @property
    def n_free(self) -> int:
        return len(self.free)

    # -- coordinates ---------------------------------------------------------------
    def to_theta(self, values: Mapping[str, float]) -> np.ndarray:
        """Parameter values (name -> value) -> fit coordinates of the free parameters."""
        return np.array([float(p.to_fit(values[p.name])) for p in self.free])

    def to_values(self, theta) -> dict[str, float]:
        """One point in fit coordinates -> name -> value of every parameter (free and fixed)."""
        theta = np.asarray(theta, dtype=float).reshape(-1)
        out = {p.name: float(p.from_fit(t)) for p, t in zip(self.free, theta)}
        out.update({k: float(v) for k, v in self.fixed.items()})
        return out

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the free parameters in fit coordinates."""
        lo, hi = [], []
        for p in self.free:
            if p.log:
                lo.append(np.log(p.lower) if p.lower > 0 else -np.inf)
                hi.append(np.log(p.upper) if p.upper > 0 else -np.inf)
            else:
                lo.append(p.lower)
                hi.append(p.upper)
        return np.array(lo, dtype=float), np.array(hi, dtype=float)

    def _params(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        # (S, 1) per free parameter so they broadcast against (runs,) inputs
        params = {p.name: p.from_fit(theta[:, j : j + 1]) for j, p in enumerate(self.free)}
        params.update({k: float(v) for k, v in self.fixed.items()})
        return params

    @property
    def _run_inputs(self) -> "RunInputs":
        return self._cache["inputs"]

    # -- values --------------------------------------------------------------------
    def _log_pred(self, theta: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = self.law.log_evaluate(self._params(theta), self._run_inputs)
        return np.broadcast_to(out, (theta.shape[0], self.log_loss.shape[0]))

    def residuals(self, theta) -> np.ndarray:
        """log L̂ − log L, shape (starts, runs) (or (runs,) for one point)."""
        theta = np.asarray(theta, dtype=float)
        t2 = np.atleast_2d(theta)
        r = self._log_pred(t2) - self.log_loss
        return r[0] if theta.ndim == 1 else r

    def _reduce(self, r: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            f = np.sum(self._coef_w(r, self.weights) * huber(r, self.delta), axis=-1)
        return np.where(np.isfinite(f), f, np.inf)

    def __call__(self, theta) -> np.ndarray | float:
        """The objective at each start: shape (starts,), or a float for one point."""
        theta = np.asarray(theta, dtype=float)
        f = self._reduce(self.residuals(np.atleast_2d(theta)))
        return float(f[0]) if theta.ndim == 1 else f

    def value_and_grad(self, theta):
        """Objective and its gradient in fit coordinates: (starts,), (starts, free).

        Uses the law's ``log_value_and_gradient`` (d log L̂ / d value, for laws with a
        ``log_gradient`` hook), times the value for log parameters (chain rule, applied
        after summing over runs); otherwise central finite differences of
        ``log_evaluate`` in fit coordinates. Large batches run in blocks of rows small
        enough for the CPU cache (the work is memory-bound elementwise numpy).
        """
        theta = np.asarray(theta, dtype=float)
        single = theta.ndim == 1
        t2 = np.atleast_2d(theta)
        k = t2.shape[0]
        rows = max(8, self.block_elements // max(1, self.log_loss.shape[0]))
        if k <= rows:
            f, g = self._value_and_grad(t2, self.weights)
        else:
            f, g = np.empty(k), np.empty((k, self.n_free))
            w2 = np.ndim(self.weights) == 2
            for i in range(0, k, rows):
                f[i : i + rows], g[i : i + rows] = self._value_and_grad(
                    t2[i : i + rows], self.weights[i : i + rows] if w2 else self.weights)
        if single:
            return float(f[0]), g[0]
        return f, g

    def _value_and_grad(self, theta: np.ndarray, weights: np.ndarray):
        k = theta.shape[0]
        n = self.log_loss.shape[0]
        with np.errstate(all="ignore"):
            if not self.law.has_analytic_gradient:
                r = self._log_pred(theta) - self.log_loss
                jac = self.log_jacobian(theta)
                c = np.clip(r, -self.delta, self.delta)
                coef = self._coef_w(r, weights)
                h = c * (r - 0.5 * c)
                f = _rowdot(h, coef)
                psi = c * coef
                g = np.stack([_rowdot(psi, np.broadcast_to(d, (k, n))) for d in jac], axis=-1)
            else:
                params = self._params(theta)
                work = self._workspace()
                log_pred, grads = self._hook(params, work)
                r = np.subtract(_full(log_pred, k, n), self.log_loss, out=_scratch(work, "r", (k, n)))
                # Huber value and derivative from c = clip(r, −δ, δ): ψ = c and
                # c·(r − c/2) is r²/2 inside δ and δ(|r| − δ/2) outside
                c = np.clip(r, -self.delta, self.delta, out=_scratch(work, "c", (k, n)))
                coef = self._coef_w(r, weights)
                h = np.multiply(c, -0.5, out=_scratch(work, "h", (k, n)))
                h += r
                h *= c
                f = _rowdot(h, coef)
                psi = np.multiply(c, coef, out=c)
                g = np.empty((k, self.n_free))
                for j, p in enumerate(self.free):
                    g[:, j] = _rowdot(psi, _full(grads[p.name], k, n))
                    if p.log:  # d/d log v = v · d/dv
                        g[:, j] *= params[p.name][:, 0]
            bad = ~np.isfinite(f) | ~np.all(np.isfinite(g), axis=-1)
        if np.any(bad):
            f = np.where(bad, np.inf, f)
            g[bad] = np.nan
        return f, g

    def gauss_newton(self, theta) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and Gauss-Newton matrix at one point in fit coordinates.

        With J the run-by-parameter Jacobian of log L̂ and c the run coefficients:
        gradient Jᵀ(c·ψ(r)), matrix Jᵀ·diag(c·1{|r| ≤ δ})·J, the Hessian of the Huber sum
        without its second-order residual terms (Nocedal & Wright 2006, §10.3).
        """
        theta = np.asarray(theta, dtype=float).reshape(1, -1)
        r = self.residuals(theta)[0]
        jac = np.stack([np.broadcast_to(d, (1, r.size))[0] for d in self.log_jacobian(theta)], axis=1)
        coef = self._coef_w(r, self.weights)
        grad = jac.T @ (coef * np.clip(r, -self.delta, self.delta))
        hess = jac.T @ ((coef * (np.abs(r) <= self.delta))[:, None] * jac)
        return grad, hess

    def _workspace(self) -> dict:
        """Scratch arrays reused between calls, one set per thread (row blocks may run in
        threads)."""
        local = self._cache["local"]
        work = getattr(local, "work", None)
        if work is None:
            work = local.work = {}
        return work

    def _hook(self, params, work):
        if self._cache["workspace"]:
            return self.law.log_value_and_gradient(params, self._run_inputs, workspace=work)
        return self.law.log_value_and_gradient(params, self._run_inputs)  # an override without it

    def _coef_w(self, r: np.ndarray, weights: np.ndarray) -> np.ndarray:
        if self.overprediction_penalty == 1.0:
            return weights
        return weights * np.where(r > 0, self.overprediction_penalty, 1.0)

    def log_jacobian(self, theta: np.ndarray) -> list[np.ndarray]:
        """d log L̂ / d theta_j for each free parameter, each broadcastable to (starts, runs)."""
        hook = self.law.log_gradient if self.law.has_analytic_gradient else None
        if hook is not None:
            params = self._params(theta)
            grads = hook(params, self._run_inputs)
            out = []
            for p in self.free:
                d = np.asarray(grads[p.name], dtype=float)
                out.append(d * params[p.name] if p.log else d)
            return out
        out = []
        for j in range(theta.shape[1]):
            h = self.fd_step * np.maximum(1.0, np.abs(theta[:, j : j + 1]))
            up, dn = theta.copy(), theta.copy()
            up[:, j : j + 1] += h
            dn[:, j : j + 1] -= h
            out.append((self._log_pred(up) - self._log_pred(dn)) / (2.0 * h))
        return out


def _full(a, k: int, n: int) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a if a.shape == (k, n) else np.broadcast_to(a, (k, n))


def _rowdot(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Σ_runs a·w per row: a matrix-vector product for shared weights (runs,), else a row-wise dot."""
    if w.ndim == 1:
        return a @ w
    return np.einsum("kr,kr->k", a, w)


class RunInputs(dict):
    """The law's inputs per run (name -> array) with their natural logs in ``logs``,
    computed once per objective; laws may read ``inputs.logs`` instead of taking logs
    on every call (plain dict access is unchanged)."""

    logs: dict[str, np.ndarray]

    def __init__(self, inputs: Mapping[str, np.ndarray]):
        super().__init__(inputs)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.logs = {k: np.log(v) for k, v in self.items() if np.issubdtype(np.asarray(v).dtype, np.number)}
