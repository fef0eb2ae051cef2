"""A batched quasi-Newton minimiser: every start of a grid advances in one array operation.

Hoffmann et al. 2022 (App. D.2) run L-BFGS from each of 4,500 starts; one scipy call per
start spends nearly all its time in Python overhead. Here all starts are rows of one
``(starts, free)`` array and each iteration is one batched objective-and-gradient call:

* direction ``d = −H·g`` with a dense inverse-Hessian ``H`` per start (the free
  parameters are few, so full BFGS costs less than L-BFGS bookkeeping); BFGS update of
  Nocedal & Wright 2006, eq. 6.17, with the initial scaling of eq. 6.20;
* backtracking Armijo line search per start (step halves until
  ``f(x + t·d) ≤ f(x) + c₁·t·gᵀd``), evaluating only the starts still searching;
* bounds by projection onto the box (the step is clipped, the model is reset when a
  clipped step is not a descent step);
* pruning: a start leaves the active set once it converges (relative decrease or
  gradient below tolerance) or stalls, and starts whose points round to the same cell
  of size ``merge_tol`` (in fit coordinates) as another active start or as an already
  finished one are merged into it, with a count of how many starts each survivor stands for.

The result keeps, for every survivor, its final point, objective and count, so the
caller can report how many of the original starts reached the best objective.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import attrs
import numpy as np

from tsbudget.errors import InputError

__all__ = ["BatchResult", "minimize_batched"]


@attrs.frozen(eq=False)
class BatchResult:
    """Final points of the surviving starts of :func:`minimize_batched`.

    ``x`` (survivors, free), ``fun`` (survivors,), ``count`` (survivors,): the number of
    original starts each survivor stands for (it sums to ``n_starts``), ``converged``:
    whether it met a tolerance (else it stalled or hit ``max_iter``).
    """

    x: np.ndarray
    fun: np.ndarray
    count: np.ndarray
    converged: np.ndarray
    n_starts: int
    n_iterations: int
    n_evaluations: int  # objective evaluations summed over starts
    active: tuple[int, ...] = ()  # active starts at each iteration (pruning at work)
    iterations: np.ndarray | None = None  # iteration at which each survivor finished
    pruned: np.ndarray | None = None  # retired by the race before converging

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


def projected_gradient(x, g, lo, hi) -> np.ndarray:
    """``g`` with the entries zeroed that push ``x`` out through an active bound (the
    gradient that measures stationarity in a box, Nocedal & Wright 2006, §16.7)."""
    return np.where(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)), 0.0, g)


def _project(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


def minimize_batched(
    value_and_grad: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    x0,
    lower=None,
    upper=None,
    *,
    max_iter: int = 400,
    ftol: float = 1e-12,
    gtol: float = 1e-12,
    merge_tol: float = 1e-7,
    c1: float = 1e-4,
    max_backtracks: int = 40,
    first_step: float = 0.1,
    keep_fraction: float = 1.0,
    min_keep: int = 16,
    first_round: int = 2,
    workers: int | None = None,
) -> BatchResult:
    """Minimise ``f`` from every row of ``x0`` at once.

    ``value_and_grad(x)`` maps ``(k, p)`` points to ``(k,)`` values and ``(k, p)``
    gradients; a non-finite value marks a point as infeasible. ``ftol`` is the relative
    decrease per iteration below which a start counts as converged (scipy's ``factr``
    criterion), ``gtol`` the projected-gradient max-norm. ``first_step`` is the length
    (max-norm, fit coordinates) of each start's first, steepest-descent step.
    ``keep_fraction < 1`` races the starts (successive halving, Jamieson & Talwalkar
    2016): after rounds of ``first_round``, 2·``first_round``, 4·``first_round``, ...
    iterations only the best ``keep_fraction`` of the active starts (at least
    ``min_keep``) go on; the others retire as ``pruned``, unconverged.
    ``workers`` threads split large batches (numpy releases the GIL inside its loops);
    default: the number of CPUs, at most 4.
    """
    workers = min(os.cpu_count() or 1, 4) if workers is None else max(1, int(workers))
    with ThreadPoolExecutor(workers) if workers > 1 else nullcontext() as pool:
        race = (keep_fraction, min_keep, first_round)
        return _minimize(_chunked(value_and_grad, pool, workers), x0, lower, upper, max_iter, ftol, gtol,
                         merge_tol, c1, max_backtracks, first_step, race)


def _chunked(value_and_grad, pool, workers, min_rows: int = 256):
    """``value_and_grad`` evaluated in ``workers`` row blocks on ``pool`` when the batch is large."""
    if pool is None:
        return value_and_grad

    def wrapped(x):
        if x.shape[0] < workers * min_rows:
            return value_and_grad(x)
        parts = list(pool.map(value_and_grad, np.array_split(x, workers)))
        return np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts])

    return wrapped


def _minimize(value_and_grad, x0, lower, upper, max_iter, ftol, gtol, merge_tol, c1, max_backtracks, first_step,
              race=(1.0, 1, 1)):
    keep_fraction, min_keep, first_round = race
    if not 0.0 < keep_fraction <= 1.0:
        raise InputError(f"keep_fraction must be in (0, 1], got {keep_fraction!r}")
    for name, value in (("min_keep", min_keep), ("first_round", first_round)):
        if int(value) != value or value < 1:
            raise InputError(f"{name} must be an integer >= 1, got {value!r}")
    checkpoint, round_len = int(first_round), int(first_round)
    x0 = np.atleast_2d(np.asarray(x0, dtype=float))
    n_starts, p = x0.shape
    lo = np.full(p, -np.inf) if lower is None else np.asarray(lower, dtype=float)
    hi = np.full(p, np.inf) if upper is None else np.asarray(upper, dtype=float)

    x = _project(x0, lo, hi)
    f, g = value_and_grad(x)
    n_eval = n_starts
    count = np.ones(n_starts, dtype=np.int64)
    eye = np.eye(p)
    H = np.broadcast_to(eye, (n_starts, p, p)).copy()
    fresh = np.ones(n_starts, dtype=bool)  # H is still the (unscaled) identity

    done_x, done_f, done_n, done_ok, done_it, done_pruned = [], [], [], [], [], []
    done_keys: dict[int, int] = {}  # hashed cell of a finished start -> its index
    salt = np.random.default_rng(12345).integers(1, 2**62, size=p)

    def retire(mask, ok, pruned=False):
        idx = np.flatnonzero(mask)
        oks = np.broadcast_to(np.asarray(ok, dtype=bool), mask.shape)[idx]
        # a pruned start stopped short of its optimum: nothing may merge into it
        cells = _cells(x[idx], merge_tol, salt) if merge_tol > 0 and not pruned else None
        for j, i in enumerate(idx):
            done_pruned.append(pruned)
            done_x.append(x[i].copy())
            done_f.append(f[i])
            done_n.append(count[i])
            done_ok.append(bool(oks[j]))
            done_it.append(it)
            if cells is not None:
                done_keys.setdefault(int(cells[j]), len(done_x) - 1)

    it = 0
    # starts where the objective is not finite cannot move: drop them as infeasible
    bad = ~np.isfinite(f) | ~np.all(np.isfinite(g), axis=1)
    if np.any(bad):
        retire(bad, False)
        keep = ~bad
        x, f, g, H, count, fresh = x[keep], f[keep], g[keep], H[keep], count[keep], fresh[keep]

    history = []
    while x.shape[0] and it < max_iter:
        it += 1
        k = x.shape[0]
        history.append(k)
        d = -np.einsum("kij,kj->ki", H, g)
        gd = np.einsum("ki,ki->k", g, d)
        # not a descent direction (or a fresh model): steepest descent, scaled
        reset = ~(gd < 0) | fresh
        if np.any(reset):
            gn = np.max(np.abs(g[reset]), axis=1)
            scale = np.where(gn > 0, first_step / np.where(gn > 0, gn, 1.0), 0.0)
            d[reset] = -g[reset] * scale[:, None]
            H[reset] = eye
            gd = np.einsum("ki,ki->k", g, d)

        # backtracking Armijo line search, batched over the starts still searching
        t = np.ones(k)
        x_new = _project(x + d, lo, hi)
        f_new = np.full(k, np.inf)
        g_new = np.full((k, p), np.nan)
        searching = np.ones(k, dtype=bool)
        for _ in range(max_backtracks):
            idx = np.flatnonzero(searching)
            if idx.size == 0:
                break
            xt = _project(x[idx] + t[idx, None] * d[idx], lo, hi)
            ft, gt = value_and_grad(xt)
            n_eval += idx.size
            decrease = np.einsum("ki,ki->k", g[idx], xt - x[idx])
            ok = np.isfinite(ft) & (ft <= f[idx] + c1 * np.minimum(decrease, 0.0)) & (decrease < 0)
            acc = idx[ok]
            x_new[acc], f_new[acc], g_new[acc] = xt[ok], ft[ok], gt[ok]
            searching[acc] = False
            t[idx[~ok]] *= 0.5
        stalled = searching  # no acceptable step: converged as far as this model can tell

        s = x_new - x
        y = g_new - g
        sy = np.einsum("ki,ki->k", s, y)
        yy = np.einsum("ki,ki->k", y, y)
        upd = ~stalled & (sy > 1e-12 * np.sqrt(np.einsum("ki,ki->k", s, s) * yy))
        if np.any(upd):
            Hu = H[upd]
            first = fresh[upd]
            # Nocedal & Wright eq. 6.20: scale the identity before the first update
            Hu[first] = eye * (sy[upd][first] / yy[upd][first])[:, None, None]
            su, yu, rho = s[upd], y[upd], 1.0 / sy[upd]
            Hy = np.einsum("kij,kj->ki", Hu, yu)
            yHy = np.einsum("ki,ki->k", yu, Hy)
            Hu = (
                Hu
                + ((1.0 + rho * yHy) * rho)[:, None, None] * np.einsum("ki,kj->kij", su, su)
                - rho[:, None, None] * (np.einsum("ki,kj->kij", Hy, su) + np.einsum("ki,kj->kij", su, Hy))
            )
            H[upd] = Hu
            fresh[upd] = False

        moved = ~stalled
        f_old = f
        x = np.where(moved[:, None], x_new, x)
        f = np.where(moved, f_new, f)
        g = np.where(moved[:, None], g_new, g)

        rel = (f_old - f) <= ftol * np.maximum(np.abs(f), np.finfo(float).tiny)
        pg = projected_gradient(x, g, lo, hi)
        small_g = np.max(np.abs(pg), axis=1) <= gtol
        converged = moved & (rel | small_g)
        finished = converged | stalled
        if np.any(finished):
            retire(finished, converged | (stalled & small_g))

        active = ~finished
        x, f, g, H, count, fresh = x[active], f[active], g[active], H[active], count[active], fresh[active]
        if x.shape[0] and merge_tol > 0:
            x, f, g, H, count, fresh = _merge(x, f, g, H, count, fresh, merge_tol, salt, done_keys, done_n)
        if keep_fraction < 1.0 and it == checkpoint:
            round_len *= 2
            checkpoint += round_len
            n_keep = max(int(min_keep), int(np.ceil(keep_fraction * x.shape[0])))
            if x.shape[0] > n_keep:
                ranked = np.argsort(f, kind="stable")
                drop = np.zeros(x.shape[0], dtype=bool)
                drop[ranked[n_keep:]] = True
                retire(drop, False, pruned=True)
                x, f, g, H, count, fresh = x[~drop], f[~drop], g[~drop], H[~drop], count[~drop], fresh[~drop]

    if x.shape[0]:  # max_iter reached
        retire(np.ones(x.shape[0], dtype=bool), False)

    return BatchResult(
        x=np.array(done_x).reshape(-1, p),
        fun=np.array(done_f, dtype=float),
        count=np.array(done_n, dtype=np.int64),
        converged=np.array(done_ok, dtype=bool),
        n_starts=n_starts,
        n_iterations=it,
        n_evaluations=n_eval,
        active=tuple(history),
        iterations=np.array(done_it, dtype=np.int64),
        pruned=np.array(done_pruned, dtype=bool),
    )


def _cells(x, tol, salt) -> np.ndarray:
    """One int64 hash per row of the rounded cell ``round(x / tol)`` (wrapping arithmetic;
    a collision between distinct cells has probability ~2^-64 per pair)."""
    with np.errstate(over="ignore"):
        cells = np.round(np.asarray(x) / tol)
        cells = np.where(np.isfinite(cells), np.clip(cells, -(2.0**62), 2.0**62), 0.0).astype(np.int64)
        return (cells * salt).sum(axis=1)


def _merge(x, f, g, H, count, fresh, tol, salt, done_keys, done_n):
    """Fold starts that share a rounded cell into their best member, and starts that
    reached the cell of a finished start into that start (adding to its count)."""
    cells = _cells(x, tol, salt)
    order = np.argsort(f, kind="stable")  # keep the lowest objective of each cell
    _, first, inverse = np.unique(cells[order], return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    keep = order[first]
    if keep.size < x.shape[0]:
        merged = np.zeros(keep.size, dtype=np.int64)
        np.add.at(merged, inverse, count[order])
        x, f, g, H, fresh, cells = x[keep], f[keep], g[keep], H[keep], fresh[keep], cells[keep]
        count = merged
    if done_keys:
        hit = np.isin(cells, np.fromiter(done_keys, dtype=np.int64, count=len(done_keys)))
        if np.any(hit):
            for i in np.flatnonzero(hit):
                done_n[done_keys[int(cells[i])]] += count[i]
            alive = ~hit
            x, f, g, H, count, fresh = x[alive], f[alive], g[alive], H[alive], count[alive], fresh[alive]
    return x, f, g, H, count, fresh
