"""One batched damped Newton: every row of a ``(rows, free)`` array advances in one array operation.

For objectives with an analytic Hessian (the Chinchilla fit's Huber objective,
:meth:`tsbudget.fitting.objective.Objective.value_grad_hess`). Warm-started near its optimum (a
bootstrap draw refitted from the point estimate) Newton's method converges in a handful of
iterations where a quasi-Newton method needs dozens (Nocedal & Wright 2006, §3.3 and §6.4):
on the golden Chinchilla data, 200 resampled draws took 8.7 Newton iterations on average
against 70.7 objective evaluations of scipy's L-BFGS-B from the same start.

Each iteration solves ``(H + λ·diag(|H_ii|)) d = −g`` per row (Levenberg 1944; Marquardt 1963
damping, which also makes an indefinite ``H`` usable) in the coordinates not held at a bound by
the gradient (projected Newton, Bertsekas 1982), projects ``x + d`` onto the bounds and
accepts it when the objective decreases (then ``λ ← λ/10``); otherwise ``λ ← 10λ`` and the row
tries again, up to ``max_tries`` times in the iteration (only the rows still trying are
evaluated). A row no trial improves has stalled. When a row stops is decided by a
:class:`~tsbudget.optim.stopping.Stopping` rule, as for :func:`tsbudget.optim.bfgs.minimize_rows`.
Every step is per row, so a row's result does not depend on which rows share its batch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tsbudget.optim.bfgs import Batch, BatchResult, project, projected_gradient

__all__ = ["minimize_newton"]

_LAMBDA_MIN, _LAMBDA_MAX = 1e-12, 1e12


class _NewtonBatch(Batch):
    """A :class:`Batch` whose ``H`` holds each row's Hessian (not an inverse) and ``lam`` its damping."""

    def __init__(self, x, f, g, hess, damping):
        super().__init__(x, f, g)
        self.H = hess
        self.lam = np.full(x.shape[0], float(damping))

    def keep(self, mask) -> None:
        super().keep(mask)
        self.lam = self.lam[mask]


def minimize_newton(
    value_grad_hess: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]],
    x0,
    lower,
    upper,
    stopping,
    *,
    max_iter: int = 200,
    max_tries: int = 12,
    damping: float = 1e-3,
) -> BatchResult:
    """Minimise from every row of ``x0`` at once until ``stopping`` retires every row.

    ``value_grad_hess(x, rows)`` maps ``(k, p)`` points of the rows ``rows`` of ``x0`` to
    ``(k,)`` values, ``(k, p)`` gradients and ``(k, p, p)`` Hessians; a non-finite value marks a
    point as infeasible. ``damping`` is every row's first ``λ``.
    """
    x0 = np.atleast_2d(np.asarray(x0, dtype=float))
    n_starts, p = x0.shape
    lo = np.full(p, -np.inf) if lower is None else np.asarray(lower, dtype=float)
    hi = np.full(p, np.inf) if upper is None else np.asarray(upper, dtype=float)
    x = project(x0, lo, hi)
    batch = _NewtonBatch(x, *value_grad_hess(x, np.arange(n_starts)), damping)
    n_eval = n_starts
    stopping.retire(batch, ~np.isfinite(batch.f) | ~np.all(np.isfinite(batch.g), axis=1), "stall", False)
    stopping.start(batch)
    history = []
    while batch.size and batch.iteration < max_iter:
        batch.iteration += 1
        history.append(batch.size)
        f_old = batch.f
        stalled, n = _step(batch, value_grad_hess, lo, hi, max_tries)
        n_eval += n
        stopping.update(batch, f_old, stalled, projected_gradient(batch.x, batch.g, lo, hi))
    if batch.size:
        stopping.retire(batch, np.ones(batch.size, dtype=bool), "max_iter", False)
    return batch.result(n_starts, n_eval, history)


def _step(batch: _NewtonBatch, fgh, lo, hi, max_tries) -> tuple[np.ndarray, int]:
    """One damped Newton step of every active row, in place. Returns the rows no trial
    improved (``stalled``) and the number of evaluations."""
    x, f, g, H, lam = batch.x, batch.f, batch.g, batch.H, batch.lam
    k, p = x.shape
    eye = np.eye(p)
    # projected Newton (Bertsekas 1982): coordinates held at a bound by the gradient take no
    # step; the system is solved in the others
    active = ((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0))
    if active.any():
        free = (~active).astype(float)
        H = H * free[:, :, None] * free[:, None, :] + eye * active[:, :, None]
        g = g * free
    scale = np.maximum(np.abs(np.diagonal(H, axis1=1, axis2=2)), 1e-300)
    x_new, f_new, g_new, H_new = x.copy(), f.copy(), batch.g.copy(), batch.H.copy()
    trying = np.ones(k, dtype=bool)
    moved = np.zeros(k, dtype=bool)
    n_eval = 0
    for _ in range(max_tries):
        idx = np.flatnonzero(trying)
        if idx.size == 0:
            break
        system = H[idx] + (lam[idx, None] * scale[idx])[:, :, None] * eye
        try:
            d = np.linalg.solve(system, -g[idx][:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:  # a singular system somewhere: damp those rows harder
            d = np.full((idx.size, p), np.nan)
            for j, a in enumerate(system):
                try:
                    d[j] = np.linalg.solve(a, -g[idx[j]])
                except np.linalg.LinAlgError:
                    continue  # the row stays NaN: no descent step, so its damping grows
        xt = project(x[idx] + d, lo, hi)
        step = xt - x[idx]
        descent = np.all(np.isfinite(step), axis=1) & (np.einsum("ki,ki->k", batch.g[idx], step) < 0)
        ok = np.zeros(idx.size, dtype=bool)
        if descent.any():
            ev = np.flatnonzero(descent)
            ft, gt, Ht = fgh(xt[ev], batch.ids[idx[ev]])
            n_eval += ev.size
            better = np.isfinite(ft) & (ft < f[idx[ev]])
            acc = idx[ev[better]]
            x_new[acc], f_new[acc], g_new[acc], H_new[acc] = xt[ev[better]], ft[better], gt[better], Ht[better]
            ok[ev[better]] = True
        acc = idx[ok]
        trying[acc] = False
        moved[acc] = True
        lam[acc] = np.maximum(lam[acc] / 10.0, _LAMBDA_MIN)
        rej = idx[~ok]
        lam[rej] = lam[rej] * 10.0
        trying[rej[lam[rej] > _LAMBDA_MAX]] = False
    stalled = ~moved
    batch.x, batch.f, batch.g, batch.H = x_new, f_new, g_new, H_new
    return stalled, n_eval
