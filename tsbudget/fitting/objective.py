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
        self._cache["log_free"] = np.array([p.log for p in self.free], dtype=bool)
        # equal run weights (1, or 1/n for the mean reduction): the fused kernels sum unweighted
        # and scale once, so that the sum and the mean are the same function up to that factor
        w = self.weights
        self._cache["uniform"] = float(w[0]) if w.ndim == 1 and w.size and bool(np.all(w == w[0])) else None
        # a law's fused Huber value and gradient (one pass), and value, gradient and Hessian
        # (e.g. Chinchilla's), in the law's FIT_COORDINATES: usable when those are the free
        # parameters' fit coordinates and the coefficients are the plain weights (no penalty)
        coords = dict(getattr(self.law, "FIT_COORDINATES", ()) or ())
        names = list(coords)
        usable = self.overprediction_penalty == 1.0 and all(
            p.name in coords and coords[p.name] == p.log for p in self.free)
        idx = np.array([names.index(p.name) for p in self.free]) if usable else None
        for key, attr in (("fused", "huber_value_and_grad"), ("hessian", "huber_value_grad_hess")):
            fn = getattr(self.law, attr, None)
            self._cache[key] = (fn, idx) if usable and callable(fn) else None
        # the fused pass called with the fit coordinates as they are, when the free parameters
        # are the law's FIT_COORDINATES in order (nothing fixed) and the weights equal: no
        # name -> column mappings per call (the race makes ~200 calls on a few rows)
        direct = getattr(self.law, "huber_value_and_grad_at", None)
        in_order = usable and [p.name for p in self.free] == names
        self._cache["direct"] = direct if in_order and callable(direct) and self._cache["uniform"] is not None else None
        terms = getattr(self.law, "exponent_terms_at", None)  # shared exponentials of many rows' value pass
        self._cache["terms"] = terms if self._cache["direct"] is not None and callable(terms) else None
        self._cache["rows"] = max(1, self.block_elements // max(1, self.log_loss.shape[0]))

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
        """The objective at each start: shape (starts,), or a float for one point (the law's
        fused value pass in cache-sized row blocks when it has one)."""
        theta = np.asarray(theta, dtype=float)
        t2 = np.atleast_2d(theta)
        cache = self._cache
        if cache["direct"] is not None and t2.flags.c_contiguous:
            f = self._direct(t2, gradient=False)
            if f is not None:
                return float(f[0]) if theta.ndim == 1 else f
        if self._cache["fused"] is None:
            f = self._reduce(self.residuals(t2))
        else:
            k = t2.shape[0]
            rows = max(1, self.block_elements // max(1, self.log_loss.shape[0]))
            f = np.empty(k)
            w2 = np.ndim(self.weights) == 2
            for i in range(0, k, rows):
                f[i : i + rows] = self._fused(t2[i : i + rows], self.weights[i : i + rows] if w2 else self.weights,
                                              self._cache["uniform"], gradient=False)[0]
            with np.errstate(invalid="ignore"):
                f[~np.isfinite(f)] = np.inf
        return float(f[0]) if theta.ndim == 1 else f

    def _direct(self, theta, gradient=True):
        """The law's ``huber_value_and_grad_at`` on ``theta`` (C-contiguous) in cache-sized row
        blocks, equal weights: ``f`` (value alone) or ``(f, g)`` with non-finite rows marked (see
        :func:`_finite`), or None where the law declines on a block (then the general path runs)."""
        cache = self._cache
        direct, rows, uniform = cache["direct"], cache["rows"], cache["uniform"]
        work, inputs, log_loss, delta = self._workspace(), cache["inputs"], self.log_loss, self.delta
        k = theta.shape[0]
        if k <= rows:
            out = direct(theta, inputs, log_loss, None, delta, workspace=work, gradient=gradient)
            if out is None:
                return None
            f, g = out
        else:
            f = np.empty(k)
            g = np.empty((k, self.n_free)) if gradient else None
            # values alone over several blocks (a start grid's screen): the law's exponentials of
            # the distinct rows, once (blocks of one row keep their own: BLAS rounds those apart)
            terms = (cache["terms"](theta, inputs, workspace=work, max_elements=8 * self.block_elements)
                     if not gradient and rows > 1 and cache["terms"] else None)
            for i in range(0, k, rows):
                if terms is not None and min(rows, k - i) > 1:
                    part = (terms[0], terms[1][i : i + rows], terms[2], terms[3][i : i + rows])
                    out = direct(theta[i : i + rows], inputs, log_loss, None, delta, workspace=work, gradient=False,
                                 terms=part)
                else:
                    out = direct(theta[i : i + rows], inputs, log_loss, None, delta, workspace=work, gradient=gradient)
                if out is None:
                    return None
                f[i : i + rows] = out[0]
                if gradient:
                    g[i : i + rows] = out[1]
        if uniform != 1.0:
            f = f * uniform
            if gradient:
                g *= uniform
        if not gradient:
            with np.errstate(invalid="ignore"):
                f[~np.isfinite(f)] = np.inf
            return f
        return _finite(f, g)

    def _fused(self, theta, weights, uniform, gradient=True):
        """The law's fused Huber pass on one block of rows: ``(f, g)`` in fit coordinates
        (``g`` None without ``gradient``), or None where the law declines (then the
        general path runs)."""
        # values of the free parameters in one array (log ones exponentiated), their
        # logs passed along so the law need not take them again
        with np.errstate(over="ignore"):
            exp_theta = np.exp(theta)
        params = {p.name: (exp_theta if p.log else theta)[:, j : j + 1] for j, p in enumerate(self.free)}
        logs = {p.name: theta[:, j : j + 1] for j, p in enumerate(self.free) if p.log}
        params.update({name: float(v) for name, v in self.fixed.items()})
        fused, idx = self._cache["fused"]
        out = fused(params, self._run_inputs, self.log_loss, None if uniform is not None else weights, self.delta,
                    workspace=self._workspace(), logs=logs, gradient=gradient)
        if out is None:
            if gradient:
                return None
            with np.errstate(all="ignore"):
                r = self._log_pred(theta) - self.log_loss
                return np.sum(self._coef_w(r, weights) * huber(r, self.delta), axis=-1), None
        f, g = out
        g = g[:, idx] if gradient else None
        if uniform is not None and uniform != 1.0:
            f = f * uniform
            if g is not None:
                g *= uniform
        return f, g

    def value_and_grad(self, theta, weights=None):
        """Objective and its gradient in fit coordinates: (starts,), (starts, free).

        A law's fused ``huber_value_and_grad`` (value and gradient of the Huber sum in one
        pass, e.g. :meth:`tsbudget.laws.chinchilla.Chinchilla.huber_value_and_grad`) is used
        when it has one; else its ``log_value_and_gradient`` (d log L̂ / d value, for laws
        with a ``log_gradient`` hook), times the value for log parameters (chain rule,
        applied after summing over runs); otherwise central finite differences of
        ``log_evaluate`` in fit coordinates. Large batches run in blocks of rows small
        enough for the CPU cache (the work is memory-bound elementwise numpy).
        ``weights`` replaces the run weights for this call: (runs,), or one row per start
        (a bootstrap's draws, each its run multiplicities).
        """
        theta = np.asarray(theta, dtype=float)
        single = theta.ndim == 1
        t2 = theta if theta.ndim == 2 else np.atleast_2d(theta)
        if weights is None and self._cache["direct"] is not None and t2.flags.c_contiguous:
            out = self._direct(t2)
            if out is not None:
                return (float(out[0][0]), out[1][0]) if single else out
        k = t2.shape[0]
        if weights is None:
            weights, uniform = self.weights, self._cache["uniform"]
        else:
            weights, uniform = np.asarray(weights, dtype=float), None
        rows = max(1, self.block_elements // max(1, self.log_loss.shape[0]))
        if k <= rows:
            f, g = self._value_and_grad(t2, weights, uniform)
        else:
            f, g = np.empty(k), np.empty((k, self.n_free))
            w2 = np.ndim(weights) == 2
            for i in range(0, k, rows):
                f[i : i + rows], g[i : i + rows] = self._value_and_grad(
                    t2[i : i + rows], weights[i : i + rows] if w2 else weights, uniform)
        if single:
            return float(f[0]), g[0]
        return f, g

    def _value_and_grad(self, theta: np.ndarray, weights: np.ndarray, uniform: float | None = None):
        k = theta.shape[0]
        n = self.log_loss.shape[0]
        if self._cache["fused"] is not None:
            out = self._fused(theta, weights, uniform)
            if out is not None:
                return _finite(*out)
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
        return _finite(f, g)

    @property
    def has_hessian(self) -> bool:
        """Whether :meth:`value_grad_hess` is available (the law has an analytic Hessian of
        this objective in these fit coordinates)."""
        return self._cache["hessian"] is not None

    def value_grad_hess(self, theta, weights=None):
        """Objective, gradient and Hessian in fit coordinates: (starts,), (starts, free),
        (starts, free, free), from the law's fused ``huber_value_grad_hess`` in cache-sized
        row blocks; ``weights`` as in :meth:`value_and_grad`. Rows whose value or derivatives
        are not finite get value inf. Raises ValueError when :attr:`has_hessian` is False."""
        if self._cache["hessian"] is None:
            raise ValueError(f"law {self.law.name!r} has no analytic Hessian of this objective")
        hess, idx = self._cache["hessian"]
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        k, m = theta.shape[0], self.n_free
        scale = None
        if weights is None:
            scale = self._cache["uniform"]
            weights = None if scale is not None else self.weights
        else:
            weights = np.asarray(weights, dtype=float)
        w2 = weights is not None and weights.ndim == 2
        n = self.log_loss.shape[0]
        rows = max(8, self.block_elements // max(1, 3 * n))
        f, g, H = np.empty(k), np.empty((k, m)), np.empty((k, m, m))
        log_free = self._cache["log_free"]
        for i in range(0, k, rows):
            t = theta[i : i + rows]
            values = t.copy()
            with np.errstate(over="ignore"):
                np.exp(t, out=values, where=log_free)
            params = {p.name: values[:, j : j + 1] for j, p in enumerate(self.free)}
            logs = {p.name: t[:, j : j + 1] for j, p in enumerate(self.free) if p.log}
            params.update({name: float(v) for name, v in self.fixed.items()})
            out = hess(params, self._run_inputs, self.log_loss, weights[i : i + rows] if w2 else weights,
                       self.delta, logs=logs)
            if out is None:  # outside the float range: value and gradient by the general path
                fb, gb = self.value_and_grad(t, self.weights if weights is None else
                                             weights[i : i + rows] if w2 else weights)
                f[i : i + rows], g[i : i + rows], H[i : i + rows] = fb, gb, np.nan
                continue
            c = 1.0 if scale is None else scale  # equal weights: summed unweighted, scaled once
            f[i : i + rows] = out[0] * c
            g[i : i + rows] = out[1][:, idx] * c
            H[i : i + rows] = out[2][:, idx[:, None], idx[None, :]] * c
        with np.errstate(invalid="ignore", over="ignore"):
            if not np.isfinite(np.add.reduce(f) + np.add.reduce(g, axis=None) + np.add.reduce(H, axis=None)):
                bad = ~np.isfinite(f) | ~np.all(np.isfinite(g), axis=1) | ~np.all(np.isfinite(H), axis=(1, 2))
                f[bad] = np.inf
        return f, g, H

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


def _finite(f: np.ndarray, g: np.ndarray):
    """``(f, g)`` with every row whose value or gradient is not finite marked infeasible
    (value inf, gradient NaN)."""
    # every entry finite (counted: np.isfinite never warns, and no errstate is needed)
    if np.count_nonzero(np.isfinite(f)) == f.size and np.count_nonzero(np.isfinite(g)) == g.size:
        return f, g
    bad = ~np.isfinite(f) | ~np.all(np.isfinite(g), axis=-1)
    if np.any(bad):
        f = np.where(bad, np.inf, f)
        g[bad] = np.nan
    return f, g


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
