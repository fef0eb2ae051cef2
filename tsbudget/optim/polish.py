"""The polish of one point: scipy's L-BFGS-B, then damped Gauss-Newton steps.

The batched BFGS finds the basin; the polish makes the optimum exact. ``objective`` is any
object with ``__call__(theta)``, ``value_and_grad(theta)`` and ``gauss_newton(theta)``
(:class:`tsbudget.fitting.objective.Objective`).
"""

from __future__ import annotations

import math
import threading

import numpy as np

__all__ = ["POLISH_OPTIONS", "levenberg_marquardt", "polish"]

# L-BFGS-B polish on the objective divided by its value at the start: scipy's ftol is
# relative to max(|f|, 1), i.e. absolute for objectives ~1e-3; scaled, it is relative.
POLISH_OPTIONS = {"ftol": 1e-13, "gtol": 1e-12, "maxiter": 5000, "maxls": 50}


class _OneBlasThread:
    """Limit BLAS to one thread while any polish runs. scipy's L-BFGS-B makes many tiny
    BLAS calls; with OpenBLAS's threads on a loaded 2-core machine each hand-off costs more
    than the call (a warm-started refit went from 10 ms to 0.3-1.1 s). The limit is
    process-wide (threadpoolctl), so concurrent polishes share one: the first in sets it,
    the last out restores the previous setting."""

    def __init__(self):
        self._lock = threading.Lock()
        self._active = 0
        self._controller = None
        self._limit = None

    def __enter__(self):
        with self._lock:
            if self._active == 0:
                if self._controller is None:
                    from threadpoolctl import ThreadpoolController

                    self._controller = ThreadpoolController()
                self._limit = self._controller.limit(limits=1, user_api="blas")
            self._active += 1
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._active -= 1
            if self._active == 0 and self._limit is not None:
                self._limit.restore_original_limits()
                self._limit = None
        return False


_ONE_BLAS_THREAD = _OneBlasThread()

# a relative decrease below this is rounding, not progress: a sum over runs carries an error of a
# few ulps per term (Higham 2002, Accuracy and Stability of Numerical Algorithms, §4.2)
_NOISE = 64 * np.finfo(float).eps


def polish(objective, theta0, bounds):
    """scipy L-BFGS-B from ``theta0`` on ``objective / objective(theta0)``, then
    :func:`levenberg_marquardt` when it lowers the objective; ``fun`` of the returned
    ``OptimizeResult`` is unscaled. A result that does not lower the objective by more than its
    rounding (64 ulps relative) returns ``theta0`` itself. ``bounds``: scipy's ``(low, high)`` pairs, ``None`` for open.
    BLAS runs on one thread meanwhile (see :class:`_OneBlasThread`)."""
    with _ONE_BLAS_THREAD:
        f0 = float(objective(theta0))
        scale = 1.0 / f0 if math.isfinite(f0) and f0 > 0 else 1.0

        def scaled(theta):
            f, g = objective.value_and_grad(theta)
            return f * scale, g * scale

        from scipy.optimize import minimize  # here, not at import: scipy.optimize costs ~0.3 s to import

        res = minimize(scaled, theta0, jac=True, method="L-BFGS-B", bounds=bounds, options=POLISH_OPTIONS)
        res.fun = float(res.fun) / scale
        x, fun, nfev = levenberg_marquardt(objective, res.x, float(res.fun), bounds)
        if fun < res.fun:
            res.x, res.fun, res.nfev = x, fun, int(res.nfev) + nfev
        if math.isfinite(f0) and not res.fun < f0 - _NOISE * abs(f0):
            # no decrease beyond the objective's rounding: theta0 was already the optimum (a
            # warm start at an optimum stays there instead of drifting along a flat valley)
            res.x, res.fun = np.array(theta0, dtype=float), f0
        return res


def levenberg_marquardt(objective, theta, f, bounds, max_iter: int = 100):
    """Damped Gauss-Newton steps on the Huber objective after L-BFGS-B.

    In the quadratic Huber region the objective is a weighted least-squares sum, so the
    Gauss-Newton matrix Jᵀ·diag(c·1{|r| ≤ δ})·J (Nocedal & Wright 2006, §10.3) is its
    Hessian up to second-order residual terms. L-BFGS stalls in the narrow valleys of
    nearly collinear parameters (a small A/N^α term against E); these steps do not, and
    converge quadratically on noiseless runs. Steps are projected onto the bounds and kept
    only when they lower the objective (Levenberg 1944; Marquardt 1963 damping).
    Returns ``(theta, f, evaluations)``.
    """
    lo = np.array([-np.inf if a is None else a for a, _ in bounds])
    hi = np.array([np.inf if b is None else b for _, b in bounds])
    theta = np.asarray(theta, dtype=float).copy()
    lam, nfev = 1e-3, 0
    for _ in range(max_iter):
        grad, hess = objective.gauss_newton(theta)
        if not (np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))):
            break
        diag = np.maximum(np.diag(hess), 1e-300)
        improved = False
        while lam < 1e12:
            try:
                step = np.linalg.solve(hess + lam * np.diag(diag), -grad)
            except np.linalg.LinAlgError:
                lam *= 10.0
                continue
            trial = np.clip(theta + step, lo, hi)
            ft = objective(trial)
            nfev += 1
            if math.isfinite(ft) and ft < f:
                improved = True
                small_step = np.all(np.abs(trial - theta) <= 1e-12 * np.maximum(1.0, np.abs(theta)))
                converged = f - ft <= 1e-15 * f or small_step
                theta, f, lam = trial, ft, max(lam / 10.0, 1e-12)
                break
            lam *= 10.0
        if not improved or converged or f == 0.0:
            break
    return theta, f, nfev
