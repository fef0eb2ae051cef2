"""The general planner's optimiser for many budget-mode problems at once.

:func:`optimize_batch` solves problems that differ only in their budgets and law parameters
(a frontier's budgets, its bootstrap draws: a batched
:class:`~tsbudget.planning.objective.Objective`) by the steps
:func:`~tsbudget.planning.optimizer.optimize` takes for each alone, batched across them: one
grid evaluated for all problems; the dense local integer search around each problem's best
grid point in one evaluation per variable and pass; the polish of every start (each problem's
best integer settings) by one Newton run stepping all of them at once (each iteration one
stencil and one line search evaluated over all unfinished starts); and the ±1 integer
neighbourhood search, each neighbour position of a round polished for every problem together. Each
problem follows the same grid, starts and iterates as alone, so the optima are the
per-problem ones; the cost is that of a few large numpy evaluations rather than many small
ones per problem.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from tsbudget.planning.objective import Objective
from tsbudget.planning.optimizer import (
    _GRID_CAP,
    _STEPS,
    _grid_axes,
    _lbfgs_polish,
    integer_candidates,
)

__all__ = ["optimize_batch"]

_VALUES_CAP = 4_000_000  # grid values held at once (problems × grid points per problem): 32 MB


@functools.lru_cache(maxsize=None)
def _stencil(d: int) -> np.ndarray:
    """Offsets, in steps ``h``, of the central-difference stencil of :func:`_derivatives`, in
    its order: the centre, ``±e_i`` for each coordinate, then ``(±e_a, ±e_b)`` for each pair."""
    pts = [np.zeros(d)]
    for i in range(d):
        for sgn in (1, -1):
            q = np.zeros(d)
            q[i] = sgn
            pts.append(q)
    for a, b in itertools.combinations(range(d), 2):
        for sa, sb in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            q = np.zeros(d)
            q[a], q[b] = sa, sb
            pts.append(q)
    out = np.array(pts)
    out.flags.writeable = False
    return out


def _batch_derivatives(obj, Z, K, rows, h):
    """:func:`_derivatives` for one point per problem of a batch: ``(g, H, ok)`` with
    ``g (m, d)``, ``H (m, d, d)`` and ``ok (m,)`` false where a stencil met infeasible points,
    every stencil in one evaluation."""
    m, d = Z.shape
    zc = np.where(obj.hi - obj.lo > 2 * h, np.clip(Z, obj.lo + h, obj.hi - h), Z)
    offsets = _stencil(d)
    P = offsets.shape[0]
    pts = zc[:, None, :] + h * offsets[None, :, :]
    v = obj(pts.reshape(-1, d), np.repeat(K, P, axis=0), np.repeat(rows, P)).reshape(m, P)
    ok = np.all(np.isfinite(v), axis=1)
    v = np.where(ok[:, None], v, 0.0)
    f0, fp, fm = v[:, 0], v[:, 1 : 2 * d + 1 : 2], v[:, 2 : 2 * d + 1 : 2]
    g = (fp - fm) / (2 * h)
    H = np.zeros((m, d, d))
    i = np.arange(d)
    H[:, i, i] = (fp - 2 * f0[:, None] + fm) / h**2
    for idx, (a, b) in enumerate(itertools.combinations(range(d), 2)):
        pp, pm, mp, mm = (v[:, 1 + 2 * d + 4 * idx + j] for j in range(4))
        H[:, a, b] = H[:, b, a] = (pp - pm - mp + mm) / (4 * h * h)
    g = g + (H[:, 0, :] * (Z - zc) if d == 1 else np.einsum("mij,mj->mi", H, Z - zc))
    return g, H, ok


def _newton_step(g, H, held):
    """The Newton steps of :func:`_newton_polish` for rows of gradients ``g (m, d)`` and Hessians
    ``H (m, d, d)``: zero in the held coordinates, ``−H_f⁻¹ g_f`` in the free ones, with ``H_f``
    shifted where it is not positive definite (grouped by held pattern)."""
    step = np.zeros_like(g)
    if g.shape[1] == 1:  # one coordinate (no held row reaches here): H is its own eigenvalue
        h = H[:, 0, 0]
        top = np.maximum(1.0, np.abs(h))
        h = h + np.where(h <= 1e-12 * top, np.abs(h) + 1e-6 * top, 0.0)
        step[:, 0] = -(g[:, 0] / h)
        return step
    for pattern in (np.unique(held, axis=0) if held.any() else held[:1]):
        sel = np.flatnonzero(np.all(held == pattern, axis=1))
        free = np.flatnonzero(~pattern)
        Hf = H[sel][:, free][:, :, free]
        eig = np.linalg.eigvalsh(Hf)
        top = np.maximum(1.0, np.abs(eig[:, -1]))
        shift = np.where(eig[:, 0] <= 1e-12 * top, np.abs(eig[:, 0]) + 1e-6 * top, 0.0)
        Hf = Hf + shift[:, None, None] * np.eye(free.size)
        step[np.ix_(sel, free)] = -np.linalg.solve(Hf, g[sel][:, free][:, :, None])[:, :, 0]
    return step


def _newton_steps(obj, Z, F, rows, K, h=1e-4, iterations=40):
    """:func:`_newton_polish` for one point per problem of a batch, every unfinished problem
    stepped at once: the same derivatives, active set, Hessian shift, line search and stopping
    rule per problem (``K`` the integer settings, ``rows`` the problems). Updates ``Z`` and ``F`` in place; returns where the stencil met infeasible
    points (those problems stop there, for :func:`_lbfgs_polish`).

    At its minimum the value is flat to roundoff, and a problem can step back and forth
    between two points of equal value (``z_{t+1} = z_{t-1}``); each step depends on ``z``
    alone, so it would alternate until the iteration limit: the problem stops at once, at the
    point of the two where the alternation would have ended."""
    m, d = Z.shape
    if d == 1:
        return _newton_steps_1d(obj, Z, F, rows, K, h, iterations)
    active = np.isfinite(F)
    failed = np.zeros(m, bool)
    prev = np.full_like(Z, np.nan)  # each problem's point before its last step
    for it in range(iterations):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        z, k, r = Z[idx], K[idx], rows[idx]
        g, H, ok = _batch_derivatives(obj, z, k, r, h)
        held = ((z - obj.lo <= 1e-12) & (g > 0)) | ((obj.hi - z <= 1e-12) & (g < 0))
        done = ~ok | held.all(axis=1)
        if done.any():  # (filtering only then: each step's bookkeeping is on small arrays)
            failed[idx[~ok]] = True
            active[idx[done]] = False
            keep = ~done
            idx, z, g, H, held, k, r = idx[keep], z[keep], g[keep], H[keep], held[keep], k[keep], r[keep]
            if idx.size == 0:
                break
        step = _newton_step(g, H, held)
        trials = np.clip(z[:, None, :] + _STEPS[None, :, None] * step[:, None, :], obj.lo, obj.hi)
        n = _STEPS.size
        vals = obj(trials.reshape(-1, d), np.repeat(k, n, axis=0), np.repeat(r, n)).reshape(idx.size, n)
        j = np.argmin(vals, axis=1)
        at = np.arange(idx.size)
        best = vals[at, j]
        better = best <= F[idx]
        new = trials[at, j]
        moved = np.max(np.abs(new - z), axis=1)
        going = better & (moved >= 1e-11)
        cycle = going & np.all(new == prev[idx], axis=1)
        if better.all():
            prev[idx], Z[idx], F[idx] = z, new, best
        else:
            prev[idx[better]] = z[better]
            Z[idx[better]] = new[better]
            F[idx[better]] = best[better]
        if (iterations - 1 - it) % 2 and cycle.any():  # an odd number of steps left: the alternation ends on z
            Z[idx[cycle]] = z[cycle]
        stop = ~going | cycle
        if stop.any():
            active[idx[stop]] = False
    return failed


def _newton_steps_1d(obj, Z, F, rows, K, h, iterations):
    """:func:`_newton_steps` with one coordinate, on flat arrays: the same arithmetic (the
    stencil and steps of :func:`_batch_derivatives` and :func:`_newton_step` with ``d = 1``),
    step for step, with fewer array operations per iteration."""
    m = Z.shape[0]
    lo, hi = obj.lo[0], obj.hi[0]
    inner = hi - lo > 2 * h  # the stencil fits between the bounds: centred inside them
    c_lo, c_hi = lo + h, hi - h
    offsets = h * _stencil(1)[:, 0]  # 0, +h, -h
    n = _STEPS.size
    z_all = Z[:, 0]  # a view: steps taken here land in Z
    active = np.isfinite(F)
    failed = np.zeros(m, bool)
    prev = np.full(m, np.nan)  # each problem's point before its last step
    for it in range(iterations):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        z, k, r = z_all[idx], K[idx], rows[idx]
        zc = np.minimum(np.maximum(z, c_lo), c_hi) if inner else z
        v = obj((zc[:, None] + offsets[None, :]).reshape(-1, 1), np.repeat(k, 3, axis=0), np.repeat(r, 3))
        v = v.reshape(idx.size, 3)
        ok = np.isfinite(v).all(axis=1)
        if not ok.all():
            v = np.where(ok[:, None], v, 0.0)
        f0, fp, fm = v[:, 0], v[:, 1], v[:, 2]
        curv = (fp - 2 * f0 + fm) / h**2
        g = (fp - fm) / (2 * h) + curv * (z - zc)
        done = ~ok | ((z - lo <= 1e-12) & (g > 0)) | ((hi - z <= 1e-12) & (g < 0))  # failed or held
        if done.any():
            failed[idx[~ok]] = True
            active[idx[done]] = False
            keep = ~done
            idx, z, g, curv, k, r = idx[keep], z[keep], g[keep], curv[keep], k[keep], r[keep]
            if idx.size == 0:
                break
        top = np.maximum(1.0, np.abs(curv))
        curv = curv + np.where(curv <= 1e-12 * top, np.abs(curv) + 1e-6 * top, 0.0)
        step = -(g / curv)
        trials = np.minimum(np.maximum(z[:, None] + _STEPS[None, :] * step[:, None], lo), hi)
        vals = obj(trials.reshape(-1, 1), np.repeat(k, n, axis=0), np.repeat(r, n)).reshape(idx.size, n)
        j = np.argmin(vals, axis=1)
        at = np.arange(idx.size)
        best, new = vals[at, j], trials[at, j]
        better = best <= F[idx]
        going = better & (np.abs(new - z) >= 1e-11)
        cycle = going & (new == prev[idx])
        if better.all():
            prev[idx], z_all[idx], F[idx] = z, new, best
        else:
            prev[idx[better]] = z[better]
            z_all[idx[better]] = new[better]
            F[idx[better]] = best[better]
        if (iterations - 1 - it) % 2 and cycle.any():  # an odd number of steps left: the alternation ends on z
            z_all[idx[cycle]] = z[cycle]
        stop = ~going | cycle
        if stop.any():
            active[idx[stop]] = False
    return failed


class _Row:
    """One problem of a batched objective, seen as a problem of its own (for the scalar steps)."""

    def __init__(self, obj, row):
        self.obj, self.row, self.lo, self.hi, self.p = obj, row, obj.lo, obj.hi, obj.p

    def __call__(self, z, k):
        z = np.atleast_2d(z)
        return self.obj(z, k, np.full(z.shape[0], self.row))


def _grid_values(obj, Zg, Kg):
    """Every problem's values on the grid ``(Zg, Kg)``: ``(batch, len(Zg))``, in chunks of
    problems holding at most the grid cap of points."""
    B, n = obj.batch, len(Zg)
    vals = np.empty((B, n))
    chunk = max(1, _GRID_CAP // n)
    for start in range(0, B, chunk):
        r = np.arange(start, min(B, start + chunk))
        vals[r] = obj(np.tile(Zg, (r.size, 1)), np.tile(Kg, (r.size, 1)), np.repeat(r, n)).reshape(r.size, n)
    return vals


def _polish_many(obj, Z0, K0, rows):
    """:func:`~tsbudget.planning.optimizer.polish` of many starts ``(Z0, K0)`` of problems
    ``rows`` at once: ``(Z, F)``."""
    Z = obj.project(Z0, K0, rows)
    F = obj(Z, K0, rows)
    failed = _newton_steps(obj, Z, F, rows, K0)
    for i in np.flatnonzero(failed):
        Z[i], F[i] = _lbfgs_polish(_Row(obj, rows[i]), Z[i], K0[i], F[i])
    return Z, F


def optimize_batch(obj: Objective, top=3):
    """The optimum of every problem of a batched budget-mode objective (``obj.batch``
    problems): ``(Z, K, F, settings)``, coordinates ``(batch, d)``, integer settings
    ``(batch, n_ints)``, values (inf where a problem has no feasible grid point) and the number
    of integer settings polished per problem, as :func:`~tsbudget.planning.optimizer.optimize`
    finds them for each problem alone."""
    if obj.batch is None:
        raise ValueError("optimize_batch needs a batched objective (budget limits per problem)")
    p = obj.p
    combos = int(np.prod([integer_candidates(v).size for v in p.ints])) if p.ints else 1
    per_problem = combos * len(_mesh(_grid_axes(obj, combos)))
    step = max(1, _VALUES_CAP // per_problem)
    if obj.batch > step:  # the grid's values of every problem are held at once: in parts
        parts = [optimize_batch(obj.subset(np.arange(i, min(obj.batch, i + step))), top)
                 for i in range(0, obj.batch, step)]
        return tuple(np.concatenate(x) for x in zip(*parts))
    if p.ints:
        return _optimize_integers(obj, top)
    B = obj.batch
    mesh = _mesh(_grid_axes(obj, 1))
    vals = _grid_values(obj, mesh, np.zeros((len(mesh), 0)))
    first = np.argmin(vals, axis=1)
    rows = np.arange(B)
    K = np.zeros((B, 0))
    Z = obj.project(mesh[first], K, rows)
    F = np.where(np.isfinite(vals[rows, first]), vals[rows, first], np.inf)
    moved = np.flatnonzero(np.isfinite(F) & np.any(Z != mesh[first], axis=1))  # the rest keep their grid value
    if moved.size:
        F[moved] = obj(Z[moved], K[moved], moved)
    failed = _newton_steps(obj, Z, F, rows, K)
    for r in np.flatnonzero(failed):
        Z[r], F[r] = _lbfgs_polish(_Row(obj, r), Z[r], np.zeros(0), F[r])
    return Z, K, F, np.where(np.isfinite(F), 1, 0)


def _mesh(axes):
    return np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=1)


def _optimize_integers(obj, top):
    """:func:`optimize_batch` with integer variables: the steps of
    :func:`~tsbudget.planning.optimizer.optimize` per problem, each stage batched."""
    p = obj.p
    B, n_ints = obj.batch, len(p.ints)
    cands = [integer_candidates(v) for v in p.ints]
    combos = np.array(list(itertools.product(*cands)), float)
    C = len(combos)
    axes = _grid_axes(obj, C)
    mesh = _mesh(axes)
    G = len(mesh)
    Zg, Kg = np.tile(mesh, (C, 1)), np.repeat(combos, G, axis=0)  # integer settings in contiguous blocks
    vals = _grid_values(obj, Zg, Kg)
    live = np.flatnonzero(np.isfinite(vals).any(axis=1))
    # each problem's integer settings ordered by their best grid point
    firsts = np.argmin(vals.reshape(B, C, G), axis=2) + np.arange(C) * G
    order = np.take_along_axis(firsts, np.argsort(np.take_along_axis(vals, firsts, 1), axis=1, kind="stable"), 1)
    b = order[:, 0]
    z, k, f = Zg[b].copy(), Kg[b].copy(), vals[np.arange(B), b].copy()
    _local_integer_batch(obj, cands, axes, z, k, f, live)
    starts = []  # (problem, z0, k0), each problem's in the order optimize() polishes them
    for r in live:
        seen = {tuple(k[r])}
        starts.append((r, z[r], k[r]))
        for i in order[r]:
            if not np.isfinite(vals[r, i]) or len(seen) >= top:
                break
            if tuple(Kg[i]) not in seen:
                seen.add(tuple(Kg[i]))
                starts.append((r, Zg[i], Kg[i]))
    results = [{} for _ in range(B)]
    _polish_into(obj, starts, results)
    best = {r: min(results[r], key=lambda kk, r=r: results[r][kk][1]) for r in live}
    going = list(live)
    for _ in range(100):
        # one round: each neighbour of the current best setting in turn (the best moves within
        # the round, as in optimize()), polished from the round's starting point; each
        # neighbour position is one batched polish over the problems
        z_best = {r: results[r][best[r]][0] for r in going}
        f_best = {r: results[r][best[r]][1] for r in going}
        improved = set()
        for j, var in enumerate(p.ints):
            for step in (-1, 1):
                wave = []
                for r in going:
                    kk = list(best[r])
                    kk[j] += step
                    kk = tuple(kk)
                    if var.lower <= kk[j] <= var.upper and kk not in results[r]:
                        wave.append((r, z_best[r], kk))
                _polish_into(obj, [(r, z0, np.array(kk, float)) for r, z0, kk in wave], results)
                for r, _, kk in wave:
                    if results[r][kk][1] < f_best[r] - 1e-15 * abs(f_best[r]):
                        best[r] = kk
                        improved.add(r)
        going = [r for r in going if r in improved]
        if not going:
            break
    Z, K = np.zeros((B, obj.lo.size)), np.zeros((B, n_ints))
    F, settings = np.full(B, np.inf), np.zeros(B, int)
    for r in live:
        Z[r], F[r] = results[r][best[r]]
        K[r], settings[r] = best[r], len(results[r])
    return Z, K, F, settings


def _polish_into(obj, starts, results):
    """Polish every ``(problem, z0, k0)`` of ``starts`` at once, recording ``(z, f)`` in
    ``results[problem][tuple(k0)]`` in the order given."""
    if not starts:
        return
    rows = np.array([r for r, _, _ in starts])
    Z, F = _polish_many(obj, np.array([z0 for _, z0, _ in starts], float), np.array([k0 for _, _, k0 in starts],
                                                                                     float), rows)
    for i, (r, _, k0) in enumerate(starts):
        results[r][tuple(float(x) for x in k0)] = (Z[i].copy(), float(F[i]))


def _local_integer_batch(obj, cands, axes, z, k, f, live):
    """:func:`~tsbudget.planning.optimizer._local_integer_stage` for the problems ``live``,
    each variable's dense search of every problem in one evaluation; updates ``z``, ``k``,
    ``f`` in place."""
    p = obj.p
    half = np.array([(a[1] - a[0]) if a.size > 1 else 0.0 for a in axes])
    going = list(live)
    for _ in range(2):
        moved = set()
        for j, var in enumerate(p.ints):
            c = cands[j]
            if c.size == int(var.upper) - int(var.lower) + 1:
                continue  # every value was on the grid
            blocks = []
            for r in going:
                i = int(np.searchsorted(c, k[r, j]))
                lo, hi = c[max(i - 1, 0)], c[min(i + 1, c.size - 1)]
                values = np.unique(np.round(np.linspace(lo, hi, min(int(hi - lo) + 1, 257))))
                m = [17] + [5] * (z.shape[1] - 1)
                while np.prod(m) * values.size > 100_000 and max(m) > 3:
                    m = [max(3, x - 2) for x in m]
                local = [np.clip(z[r, d] + np.linspace(-half[d], half[d], m[d]), obj.lo[d], obj.hi[d])
                         for d in range(z.shape[1])]
                mesh = _mesh(local)
                Zr = np.tile(mesh, (values.size, 1))
                Kr = np.repeat(np.tile(k[r], (values.size, 1)), len(mesh), axis=0)
                Kr[:, j] = np.repeat(values, len(mesh))
                blocks.append((r, Zr, Kr))
            if not blocks:
                continue
            v = obj(np.concatenate([b[1] for b in blocks]), np.concatenate([b[2] for b in blocks]),
                    np.concatenate([np.full(len(b[1]), b[0]) for b in blocks]))
            at = 0
            for r, Zr, Kr in blocks:
                vr = v[at : at + len(Zr)]
                at += len(Zr)
                i = int(np.argmin(vr))
                if vr[i] < f[r]:
                    if Kr[i, j] != k[r, j]:
                        moved.add(r)
                    z[r], k[r], f[r] = Zr[i], Kr[i], vr[i]
        going = [r for r in going if r in moved]
        if not going:
            break
