"""One batched projected BFGS: every row of a ``(rows, free)`` array advances in one array operation.

Hoffmann et al. 2022 (App. D.2) run L-BFGS from each of 4,500 starts, and a bootstrap refits
one law per draw; one scipy call per start or per draw spends nearly all its time in Python
overhead. Here all rows advance together, each iteration one batched objective-and-gradient
call:

* direction ``d = −H·g`` with a dense inverse-Hessian ``H`` per row (the free parameters are
  few, so full BFGS costs less than L-BFGS bookkeeping); BFGS update of Nocedal & Wright 2006,
  eq. 6.17, with the identity scaled by eq. 6.20 before the first update of every fresh
  model (at the start and after each reset to steepest descent);
* backtracking Armijo line search per row (step halves until ``f(x + t·d) ≤ f(x) + c₁·t·gᵀd``),
  evaluating only the rows still searching;
* bounds by projection onto the box (the step is clipped; the model is reset when it does
  not give a descent direction).

When a row stops is not decided here: a :class:`~tsbudget.optim.stopping.Stopping` rule looks
at the batch after every iteration and retires rows (racing of starts with merging for the
multistart fit, per-row convergence for bootstrap draws).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import attrs
import numpy as np

try:  # np.einsum without ``optimize`` calls this directly; calling it skips a Python-level wrapper
    from numpy._core.multiarray import c_einsum as _einsum
except ImportError:  # pragma: no cover - other numpy layouts
    _einsum = np.einsum

__all__ = ["Batch", "BatchResult", "minimize_rows", "project", "projected_gradient"]

@attrs.frozen(eq=False)
class BatchResult:
    """Final points of the rows a batched minimisation retired, in the order they retired.

    ``x`` (survivors, free), ``fun`` and ``grad`` at ``x``, ``count`` (survivors,): the number
    of original rows each survivor stands for (it sums to ``n_starts``; rows merge only under
    a racing rule), ``converged``: whether it met a tolerance, ``reason``: what stopped it
    (one of ``ftol``, ``gtol``, ``settled``, ``stall``, ``no_progress``, ``pruned``, ``max_iter``),
    ``start``: the row of ``x0`` each survivor began at.
    """

    x: np.ndarray
    fun: np.ndarray
    count: np.ndarray
    converged: np.ndarray
    n_starts: int
    n_iterations: int
    n_evaluations: int  # objective evaluations summed over rows
    active: tuple[int, ...] = ()  # active rows at each iteration (pruning at work)
    iterations: np.ndarray | None = None  # iteration at which each survivor finished
    pruned: np.ndarray | None = None  # retired by the race before converging
    grad: np.ndarray | None = None
    reason: np.ndarray | None = None
    start: np.ndarray | None = None

    @property
    def n_pruned(self) -> int:
        """Original starts retired by the race (successive halving) before converging."""
        return 0 if self.pruned is None else int(self.count[self.pruned].sum())

    def best(self) -> int:
        return int(np.argmin(self.fun))

    def n_within(self, value: float, rtol: float = 1e-6) -> int:
        """How many original starts ended within ``rtol`` (relative) of ``value``."""
        ok = self.fun <= value + rtol * abs(value)
        return int(self.count[ok].sum())

    def by_start(self) -> BatchResult:
        """The survivors ordered by the row of ``x0`` they began at (one per row when nothing merged)."""
        order = np.argsort(self.start, kind="stable")
        fields = ("x", "fun", "count", "converged", "iterations", "pruned", "grad", "reason", "start")
        return attrs.evolve(self, **{k: getattr(self, k)[order] for k in fields})


def projected_gradient(x, g, lo, hi) -> np.ndarray:
    """``g`` with the entries zeroed that push ``x`` out through an active bound (the
    gradient that measures stationarity in a box, Nocedal & Wright 2006, §16.7)."""
    return np.where(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)), 0.0, g)


def project(x, lo, hi) -> np.ndarray:
    """``x`` clipped onto the box ``[lo, hi]``."""
    return np.minimum(np.maximum(x, lo), hi)


class Batch:
    """The active rows of a batched BFGS (``ids``: their rows of ``x0``; ``x``, ``f``, ``g``,
    inverse Hessians ``H``, ``fresh``: H is an unscaled identity; ``count``: rows of ``x0``
    each stands for) and the record of the rows already retired."""

    def __init__(self, x, f, g):
        k, p = x.shape
        self.ids = np.arange(k)
        self.x, self.f, self.g = x, f, g
        self.H = np.broadcast_to(np.eye(p), (k, p, p)).copy()
        self.fresh = np.ones(k, dtype=bool)
        self.count = np.ones(k, dtype=np.int64)
        self.iteration = 0
        self._done: list[tuple] = []  # blocks of retired rows
        self._n_done = 0
        self._extra: dict[int, int] = {}  # survivor -> rows merged into it after it retired

    @property
    def size(self) -> int:
        return self.x.shape[0]

    def keep(self, mask) -> None:
        """Drop the active rows outside ``mask``."""
        for name in ("ids", "x", "f", "g", "H", "fresh", "count"):
            setattr(self, name, getattr(self, name)[mask])

    def retire(self, mask, reason, converged, pruned: bool = False) -> np.ndarray:
        """Record the rows in ``mask`` as finished (``reason``, ``converged``: per active row or
        one value) and drop them; return the survivor index each one got."""
        idx = np.flatnonzero(mask)

        def pick(value):  # one value per active row, or one for all
            return np.broadcast_to(np.asarray(value), mask.shape)[idx]

        if np.ndim(reason) == 0:  # one reason for all (e.g. the screen's thousands of pruned starts):
            reasons = np.empty(idx.size, dtype=object)  # one shared str, not a str made per row
            reasons.fill(str(reason))
        else:
            reasons = pick(reason).astype(object)
        self._done.append((self.x[idx], self.f[idx], self.g[idx], self.count[idx], pick(converged).astype(bool),
                           np.full(idx.size, self.iteration), np.full(idx.size, pruned), reasons, self.ids[idx]))
        survivors = np.arange(self._n_done, self._n_done + idx.size)
        self._n_done += idx.size
        self.keep(~np.asarray(mask, dtype=bool))
        return survivors

    def merge_into_retired(self, survivor: int, count: int) -> None:
        """Count ``count`` more rows for the retired ``survivor`` (an active row reached it)."""
        self._extra[survivor] = self._extra.get(survivor, 0) + int(count)

    def result(self, n_starts: int, n_evaluations: int, history) -> BatchResult:
        p = self.x.shape[1]
        cols = list(zip(*self._done)) if self._done else [[]] * 9
        cat = [np.concatenate(c) if len(c) else np.array([]) for c in cols]
        count = cat[3].astype(np.int64)
        for i, extra in self._extra.items():
            count[i] += extra
        return BatchResult(
            x=cat[0].reshape(-1, p), fun=cat[1].astype(float), count=count, converged=cat[4].astype(bool),
            n_starts=n_starts, n_iterations=self.iteration, n_evaluations=n_evaluations, active=tuple(history),
            iterations=cat[5].astype(np.int64), pruned=cat[6].astype(bool), grad=cat[2].reshape(-1, p),
            reason=cat[7].astype(object), start=cat[8].astype(np.int64),
        )


def minimize_rows(
    value_and_grad: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    x0,
    lower,
    upper,
    stopping,
    *,
    max_iter: int = 400,
    c1: float = 1e-4,
    max_backtracks: int = 40,
    first_step: float = 0.1,
    workers: int | None = 1,
    value: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> BatchResult:
    """Minimise from every row of ``x0`` at once until ``stopping`` retires every row.

    ``value_and_grad(x, rows)`` maps ``(k, p)`` points of the rows ``rows`` of ``x0`` to
    ``(k,)`` values and ``(k, p)`` gradients (rows matter when each row has its own
    objective, e.g. the run weights of a bootstrap draw); a non-finite value marks a point as
    infeasible. ``first_step`` is the length (max-norm) of a fresh model's steepest-descent
    step. ``workers`` threads split large batches (numpy releases the GIL inside its loops);
    ``None``: the number of CPUs, at most 4. ``value(x, rows)``, the objective alone, lets a
    rule that screens the starts (:meth:`Stopping.start`) rank them by value before any
    gradient is computed: only the rows it keeps are then evaluated with their gradients
    (the others retire with a NaN gradient).
    """
    workers = min(os.cpu_count() or 1, 4) if workers is None else max(1, int(workers))
    with ThreadPoolExecutor(workers) if workers > 1 else nullcontext() as pool:
        fg = _chunked(value_and_grad, pool, workers)
        x0 = np.atleast_2d(np.asarray(x0, dtype=float))
        n_starts, p = x0.shape
        lo = np.full(p, -np.inf) if lower is None else np.asarray(lower, dtype=float)
        hi = np.full(p, np.inf) if upper is None else np.asarray(upper, dtype=float)
        x = project(x0, lo, hi)
        boxed = bool(np.isfinite(lo).any() or np.isfinite(hi).any())  # else no projection is needed
        if value is not None and stopping.screens:
            batch = Batch(x, np.asarray(value(x, np.arange(n_starts)), dtype=float), np.full((n_starts, p), np.nan))
            stopping.retire(batch, ~np.isfinite(batch.f), "stall", False)
            stopping.start(batch)  # keeps the most promising starts
            if batch.size:
                batch.f, batch.g = fg(batch.x, batch.ids)
            n_eval = n_starts + batch.size
        else:
            batch = Batch(x, *fg(x, np.arange(n_starts)))
            n_eval = n_starts
        # rows where the objective is not finite cannot move
        stopping.retire(batch, ~np.isfinite(batch.f) | ~np.all(np.isfinite(batch.g), axis=1), "stall", False)
        if value is None or not stopping.screens:
            stopping.start(batch)
        history = []
        while batch.size and batch.iteration < max_iter:
            batch.iteration += 1
            history.append(batch.size)
            f_old = batch.f
            stalled, n = _iterate(batch, fg, lo, hi, c1, max_backtracks, first_step, boxed)
            n_eval += n
            stopping.update(batch, f_old, stalled, projected_gradient(batch.x, batch.g, lo, hi) if boxed else batch.g)
        if batch.size:
            stopping.retire(batch, np.ones(batch.size, dtype=bool), "max_iter", False)
        return batch.result(n_starts, n_eval, history)


def _chunked(value_and_grad, pool, workers, min_rows: int = 256):
    """``value_and_grad`` evaluated in ``workers`` row blocks on ``pool`` when the batch is large."""
    if pool is None:
        return value_and_grad

    def wrapped(x, rows):
        if x.shape[0] < workers * min_rows:
            return value_and_grad(x, rows)
        parts = list(pool.map(value_and_grad, np.array_split(x, workers), np.array_split(rows, workers)))
        return np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts])

    return wrapped


_EYE: dict[int, np.ndarray] = {}  # identity matrices by size, read-only

# how many entries of a boolean array are True: the tests "any" and "all" below, without the
# Python-level wrappers of ndarray.any/all (a few µs per call on the race's ~16-row batches)
_count = np.count_nonzero


def _iterate(batch: Batch, fg, lo, hi, c1, max_backtracks, first_step, boxed=True) -> tuple[np.ndarray, int]:
    """One BFGS iteration of every active row, in place. Returns the rows for which no step
    decreased f (``stalled``: they did not move) and the number of evaluations.

    Written for small batches as much as large ones (the race's finalists iterate hundreds of
    times on 16 rows): when every row takes its full step, or every row updates its model, no
    row subsets are gathered or scattered."""
    x, f, g, H, fresh = batch.x, batch.f, batch.g, batch.H, batch.fresh
    k, p = x.shape
    eye = _EYE.get(p)
    if eye is None:
        eye = _EYE[p] = np.eye(p)
        eye.setflags(write=False)
    d = _einsum("kij,kj->ki", H, g)
    np.negative(d, out=d)
    gd = _einsum("ki,ki->k", g, d)
    # not a descent direction (or a fresh model): steepest descent, scaled; the model restarts
    reset = ~(gd < 0) | fresh
    if _count(reset):
        gn = np.max(np.abs(g[reset]), axis=1)
        d[reset] = -g[reset] * np.where(gn > 0, first_step / np.where(gn > 0, gn, 1.0), 0.0)[:, None]
        H[reset] = eye
        fresh |= reset

    # backtracking Armijo line search, batched over the rows still searching; the first trial
    # (the full step) is every row's
    xt = np.add(x, d)
    if boxed:
        np.minimum(np.maximum(xt, lo, out=xt), hi, out=xt)
    ft, gt = fg(xt, batch.ids)
    n_eval = k
    decrease = _einsum("ki,ki->k", g, xt - x)
    ok = (decrease < 0) & (ft <= f + c1 * decrease)  # False for a NaN or infinite ft
    if _count(ok) == k:
        x_new, f_new, g_new = xt, ft, gt
        stalled, stalled_any = ~ok, False
    else:
        x_new, f_new, g_new = x.copy(), f.copy(), g.copy()
        rows_ok = ok[:, None]
        np.copyto(x_new, xt, where=rows_ok)
        np.copyto(f_new, ft, where=ok)
        np.copyto(g_new, gt, where=rows_ok)
        searching = ~ok
        idx = searching.nonzero()[0]  # the rows still searching, their data gathered once
        ti = np.empty(idx.size)
        ti.fill(0.5)
        xi, di, gi, fi = x[idx], d[idx], g[idx], f[idx]
        for _ in range(max_backtracks - 1):
            xt = xi + ti[:, None] * di
            if boxed:
                np.minimum(np.maximum(xt, lo, out=xt), hi, out=xt)
            ft, gt = fg(xt, batch.ids[idx])
            n_eval += idx.size
            decrease = _einsum("ki,ki->k", gi, xt - xi)
            ok = (decrease < 0) & (ft <= fi + c1 * decrease)
            n_ok = _count(ok)
            if not n_ok:
                ti *= 0.5
                continue
            if n_ok == ok.size:  # every row still searching accepts: no subsets to gather
                x_new[idx], f_new[idx], g_new[idx] = xt, ft, gt
                searching[idx] = False
                break
            acc = idx[ok]
            x_new[acc], f_new[acc], g_new[acc] = xt[ok], ft[ok], gt[ok]
            searching[acc] = False
            keep = ~ok
            idx, xi, di, gi, fi, ti = idx[keep], xi[keep], di[keep], gi[keep], fi[keep], ti[keep] * 0.5
        stalled, stalled_any = searching, True  # no acceptable step: converged as far as this model can tell

    s, y = x_new - x, g_new - g
    sy, yy = _einsum("ki,ki->k", s, y), _einsum("ki,ki->k", y, y)
    upd = sy > 1e-12 * np.sqrt(_einsum("ki,ki->k", s, s) * yy)
    if stalled_any:
        upd &= ~stalled
    n_upd = _count(upd)
    if n_upd == k:
        _bfgs_update(H, fresh, s, y, sy, yy, eye)
        fresh[:] = False
    elif n_upd:
        Hu, first = H[upd], fresh[upd]
        _bfgs_update(Hu, first, s[upd], y[upd], sy[upd], yy[upd], eye)
        H[upd] = Hu
        fresh[upd] = False
    batch.x, batch.f, batch.g = x_new, f_new, g_new
    return stalled, n_eval


def _bfgs_update(H, first, s, y, sy, yy, eye) -> None:
    """The BFGS update of the inverse Hessians ``H`` in place (Nocedal & Wright 2006, eq. 6.17),
    the rows ``first`` (fresh models) first set to the identity scaled by eq. 6.20."""
    if _count(first):
        H[first] = eye * (sy[first] / yy[first])[:, None, None]
    rho = 1.0 / sy
    Hy = _einsum("kij,kj->ki", H, y)
    yHy = _einsum("ki,ki->k", y, Hy)
    # H ← H + (1 + ρ yᵀHy) ρ s sᵀ − ρ (Hy sᵀ + s (Hy)ᵀ), outer products by broadcasting
    rho_col = rho[:, None]
    a = ((1.0 + rho * yHy) * rho)[:, None] * s - rho_col * Hy
    H += _einsum("ki,kj->kij", a, s)  # each entry one product, as broadcasting would give
    H -= _einsum("ki,kj->kij", rho_col * s, Hy)
