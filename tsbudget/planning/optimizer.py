"""The general planner's optimiser over an :class:`~tsbudget.planning.objective.Objective`.

The continuous coordinates and every integer variable are searched on one batched grid
(integer variables on every value, or 33 values across a wide range followed by a dense
search between the best value's grid neighbours); the best integer settings are polished
by a projected Newton method with batched finite-difference derivatives (L-BFGS-B where
the stencil meets infeasible points), which brings an interior optimum to ~1e-10 in its
coordinates; and the integer optimum is confirmed by a ±1 neighbourhood search with a
polish at each neighbour (this assumes the loss is unimodal in each integer variable
between grid values).

:func:`~tsbudget.planning.optimizer_batch.optimize_batch` takes the same steps for many
budget-mode problems at once.
"""

from __future__ import annotations

import itertools

import numpy as np

from tsbudget.planning.objective import Objective

__all__ = ["integer_candidates", "optimize", "polish"]

_GRID_CAP = 300_000  # grid points evaluated in one batched stage


def integer_candidates(var, limit=33) -> np.ndarray:
    """Values of an integer variable searched on the grid: every value when there are at most
    ``limit``, else ``limit`` values spread across its bounds (log-spaced for a log variable)."""
    lo, hi = int(var.lower), int(var.upper)
    if hi - lo + 1 <= limit:
        return np.arange(lo, hi + 1, dtype=float)
    if var.log and lo > 0:
        vals = np.geomspace(lo, hi, limit)
    else:
        vals = np.linspace(lo, hi, limit)
    return np.unique(np.round(vals))


def _grid_axes(obj: Objective, n_combos: int, n_grid=129) -> list[np.ndarray]:
    """The grid's axes for one problem with ``n_combos`` integer settings: ``n_grid`` values of
    the N coordinate (halved until the grid fits its cap), 7 of each real variable, 5 of ``s``."""
    dz = obj.lo.size
    other = [7] * len(obj.p.reals) + ([5] if obj.has_s else [])
    per_combo = int(np.prod(other)) if other else 1
    # target mode solves D per point and a roofline serving workload searches batches per point:
    # both cost ~100 evaluations a point, so their grids are 100 times smaller
    roofline = obj.p.serving is not None and obj.p.serving.roofline
    cap = _GRID_CAP if obj.mode == "budget" and not roofline else _GRID_CAP // 100
    while n_grid > 9 and n_grid * per_combo * n_combos > cap:
        n_grid = (n_grid + 1) // 2
    return [np.linspace(obj.lo[i], obj.hi[i], n_grid if i == 0 else other[i - 1]) for i in range(dz)]


def _grid_stage(obj: Objective, n_ints: int, int_cands, n_grid=129):
    """Evaluate the full batched grid; returns (values, Z, K)."""
    combos = np.array(list(itertools.product(*int_cands)), float) if n_ints else np.zeros((1, 0))
    axes = _grid_axes(obj, len(combos), n_grid)
    mesh = np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=1)
    # combos contiguous, so that _safe isolates a rejected integer setting in few splits
    Z = np.tile(mesh, (len(combos), 1))
    K = np.repeat(combos, len(mesh), axis=0)
    return obj(Z, K), Z, K, axes, len(combos)


def _gradient(obj, z, k, h=1e-5):
    """Value and central-difference gradient in one batched evaluation (clipped at bounds)."""
    d = z.size
    plus = np.minimum(z + h * np.eye(d), obj.hi)
    minus = np.maximum(z - h * np.eye(d), obj.lo)
    vals = obj(np.vstack([z[None, :], plus, minus]), k)
    f0, fp, fm = vals[0], vals[1 : d + 1], vals[d + 1 :]
    step = np.diag(plus) - np.diag(minus)
    g = np.zeros(d)
    both = np.isfinite(fp) & np.isfinite(fm)
    g[both] = (fp[both] - fm[both]) / step[both]
    fwd = np.isfinite(fp) & ~np.isfinite(fm)
    g[fwd] = (fp[fwd] - f0) / (np.diag(plus)[fwd] - z[fwd])
    bwd = ~np.isfinite(fp) & np.isfinite(fm)
    g[bwd] = (f0 - fm[bwd]) / (z[bwd] - np.diag(minus)[bwd])
    return f0, g


def _derivatives(obj, z, k, h):
    """Value, gradient and Hessian by central differences, in one batched evaluation of
    ``1 + 2d + 2d(d−1)`` points (each stencil clipped inside the bounds)."""
    d = z.size
    lo, hi = obj.lo + h, obj.hi - h
    zc = np.where(obj.hi - obj.lo > 2 * h, np.clip(z, lo, hi), z)  # room for the stencil
    pts = [zc]
    for i in range(d):
        for sgn in (1, -1):
            q = zc.copy()
            q[i] += sgn * h
            pts.append(q)
    pairs = list(itertools.combinations(range(d), 2))
    for a, b in pairs:
        for sa, sb in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            q = zc.copy()
            q[a] += sa * h
            q[b] += sb * h
            pts.append(q)
    v = obj(np.array(pts), k)
    if not np.all(np.isfinite(v)):
        # the stencil met infeasible points (inf): no derivatives (no inf − inf arithmetic);
        # the caller falls back to L-BFGS-B with one-sided differences
        return np.zeros(d), np.zeros((d, d)), False
    f0 = v[0]
    fp, fm = v[1 : 2 * d + 1 : 2], v[2 : 2 * d + 1 : 2]
    g = (fp - fm) / (2 * h)
    H = np.diag((fp - 2 * f0 + fm) / h**2)
    for idx, (a, b) in enumerate(pairs):
        pp, pm, mp, mm = v[1 + 2 * d + 4 * idx : 5 + 2 * d + 4 * idx]
        H[a, b] = H[b, a] = (pp - pm - mp + mm) / (4 * h * h)
    # the stencil's value is at zc; move the gradient back to z (first order)
    g = g + H @ (z - zc)
    return g, H, True


_STEPS = 0.5 ** np.arange(13)  # trial step lengths, evaluated in one batch


def _newton_polish(obj, z, k, f, h=1e-4, iterations=40):
    """Projected Newton with finite-difference derivatives and a batched backtracking line
    search. Coordinates at a bound whose gradient points outward are held (active set);
    a Hessian that is not positive definite is shifted until it is. Stops when the step
    falls below 1e-11 in the coordinates or no trial step lowers the value."""
    for _ in range(iterations):
        g, H, ok = _derivatives(obj, z, k, h)
        if not ok:
            return z, f, False
        held = ((z - obj.lo <= 1e-12) & (g > 0)) | ((obj.hi - z <= 1e-12) & (g < 0))
        free = np.flatnonzero(~held)
        if free.size == 0:
            break
        Hf, gf = H[np.ix_(free, free)], g[free]
        eig = np.linalg.eigvalsh(Hf)
        if eig[0] <= 1e-12 * max(1.0, abs(eig[-1])):
            Hf = Hf + (abs(eig[0]) + 1e-6 * max(1.0, abs(eig[-1]))) * np.eye(free.size)
        step = np.zeros_like(z)
        step[free] = -np.linalg.solve(Hf, gf)
        trials = np.clip(z[None, :] + _STEPS[:, None] * step[None, :], obj.lo, obj.hi)
        vals = obj(trials, k)
        j = int(np.argmin(vals))
        if not vals[j] <= f:
            break
        moved = np.max(np.abs(trials[j] - z))
        z, f = trials[j], float(vals[j])
        if moved < 1e-11:
            break
    return z, f, True


def polish(obj, z0, k):
    """Newton polish from a grid point; L-BFGS-B (batched central-difference gradients)
    where the Newton stencil meets infeasible points."""
    z0 = obj.project(z0, k)
    f0 = obj(z0[None, :], k)[0]
    if not np.isfinite(f0):
        return z0, f0
    z, f, ok = _newton_polish(obj, z0.copy(), k, float(f0))
    if ok:
        return z, f
    return _lbfgs_polish(obj, z, k, f)


def _lbfgs_polish(obj, z, k, f):
    """L-BFGS-B from ``z`` (value ``f``) with central-difference gradients; ``z, f`` if it does not improve."""
    from scipy.optimize import minimize

    res = minimize(
        lambda x: _gradient(obj, x, k),
        z,
        jac=True,
        method="L-BFGS-B",
        bounds=list(zip(obj.lo, obj.hi)),
        options={"ftol": 1e-15, "gtol": 1e-13, "maxiter": 300},
    )
    if np.isfinite(res.fun) and res.fun <= f:
        return np.asarray(res.x, float), float(res.fun)
    return z, f


def _local_integer_stage(obj: Objective, cands, axes, z, k, f):
    """Dense search of an integer variable between its grid neighbours (all integers
    there, up to 257), around the best continuous point, one variable at a time."""
    p = obj.p
    half = np.array([(a[1] - a[0]) if a.size > 1 else 0.0 for a in axes])
    for _ in range(2):
        moved = False
        for j, var in enumerate(p.ints):
            c = cands[j]
            if c.size == int(var.upper) - int(var.lower) + 1:
                continue  # every value was on the grid
            i = int(np.searchsorted(c, k[j]))
            lo, hi = c[max(i - 1, 0)], c[min(i + 1, c.size - 1)]
            values = np.unique(np.round(np.linspace(lo, hi, min(int(hi - lo) + 1, 257))))
            m = [17] + [5] * (z.size - 1)
            while np.prod(m) * values.size > 100_000 and max(m) > 3:
                m = [max(3, x - 2) for x in m]
            local = [np.clip(z[d] + np.linspace(-half[d], half[d], m[d]), obj.lo[d], obj.hi[d]) for d in range(z.size)]
            mesh = np.stack([g.ravel() for g in np.meshgrid(*local, indexing="ij")], axis=1)
            Z = np.tile(mesh, (values.size, 1))
            K = np.repeat(np.tile(k, (values.size, 1)), len(mesh), axis=0)
            K[:, j] = np.repeat(values, len(mesh))
            v = obj(Z, K)
            b = int(np.argmin(v))
            if v[b] < f:
                moved = moved or K[b, j] != k[j]
                z, k, f = Z[b].copy(), K[b].copy(), float(v[b])
        if not moved:
            break
    return z, k, f


def optimize(obj: Objective, top=3):
    """Grid, dense local integer search, polish of the best integer settings, then a ±1
    integer neighbourhood search with polish until no neighbour improves."""
    p = obj.p
    cands = [integer_candidates(v) for v in p.ints]
    vals, Z, K, axes, n_combos = _grid_stage(obj, len(p.ints), cands)
    if not np.any(np.isfinite(vals)):
        return None
    if obj.mode == "target":
        # costs rescaled to ~1 so that finite differences see relative roundoff only
        obj.scale = float(np.min(vals[np.isfinite(vals)]))
        vals = vals / obj.scale
    # the best grid point of each integer setting (settings are contiguous blocks)
    blocks = vals.reshape(n_combos, -1)
    first = np.argmin(blocks, axis=1) + np.arange(blocks.shape[0]) * blocks.shape[1]
    order = first[np.argsort(vals[first], kind="stable")]
    starts, seen = [], set()
    if p.ints:
        b = order[0]
        zl, kl, _ = _local_integer_stage(obj, cands, axes, Z[b].copy(), K[b].copy(), float(vals[b]))
        starts.append((zl, kl))
        seen.add(tuple(kl))
    for i in order:
        if not np.isfinite(vals[i]) or len(starts) >= top:
            break
        key = tuple(K[i])
        if key not in seen:
            seen.add(key)
            starts.append((Z[i].copy(), K[i].copy()))
    results = {}
    for z0, k0 in starts:
        results[tuple(k0)] = polish(obj, z0, k0)
    best_k = min(results, key=lambda kk: results[kk][1])
    for _ in range(100 if p.ints else 0):
        z_best, f_best = results[best_k]
        improved = False
        for j, var in enumerate(p.ints):
            for step in (-1, 1):
                kk = list(best_k)
                kk[j] += step
                kk = tuple(kk)
                if not var.lower <= kk[j] <= var.upper or kk in results:
                    continue
                results[kk] = polish(obj, z_best.copy(), np.array(kk, float))
                if results[kk][1] < f_best - 1e-15 * abs(f_best):
                    best_k, improved = kk, True
        if not improved:
            break
    z, f = results[best_k]
    return z, np.array(best_k, float), f, len(results)

