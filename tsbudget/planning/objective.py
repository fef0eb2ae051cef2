"""The search space of the general planner and the objective over it.

The budget constraint is eliminated: costs are linear in positions, so for given ``N`` and
variables the budget fixes ``D`` (or an interval of ``D`` when ``lb < ub``, searched by a
fraction ``s``); in target mode ``D`` is the smallest data that reaches the target (first
crossing on a log grid, then bisection). The coordinates ``z`` are ``log N`` above the lower
end of its feasible interval, the real variables on their natural scale, and ``s``.

One objective can also hold a batch of budget-mode problems that differ only in their budget
limits and law parameters (the budgets of a frontier, its bootstrap draws): ``lb``/``ub``
(and each of ``params``) are then arrays over the batch and every evaluation names the
problem of each candidate (``rows``), so that one batched optimisation solves them all
(:func:`~tsbudget.planning.optimizer.optimize_batch`).
"""

from __future__ import annotations

import math

import numpy as np

from tsbudget.planning.problem import Problem, evaluate_safely

__all__ = ["D_CEIL", "D_FLOOR", "Objective"]

#: Data searched in target mode when d_bounds leave it open.
D_FLOOR, D_CEIL = 1e-6, 1e32


class Objective:
    """Value of candidate points: ``z`` (continuous coordinates) and ``k`` (integers).

    Budget mode: the predicted loss, with ``D`` spending the budget (:meth:`data`). Target
    mode: lifetime FLOPs (divided by ``scale``), with ``D`` the smallest data reaching the
    target (:meth:`solve_target`). Infeasible candidates are ``inf``.
    """

    def __init__(self, problem: Problem, mode, lb, ub, target, params=None):
        self.p, self.mode, self.lb, self.ub, self.target = problem, mode, lb, ub, target
        # a batch: budget limits (and law parameters) per problem, indexed by ``rows``
        self.batch = None
        if np.ndim(lb) or np.ndim(ub) or params is not None:
            if mode != "budget":
                raise ValueError("a batched objective is for budget mode only")
            self.lb, self.ub = (np.asarray(x, float) for x in np.broadcast_arrays(lb, ub))
            sizes = {self.lb.size} | {np.size(v) for v in (params or {}).values()}
            self.batch = max(sizes)
            self.lb, self.ub = np.broadcast_to(self.lb, (self.batch,)), np.broadcast_to(self.ub, (self.batch,))
        self.params = None if params is None else {k: np.broadcast_to(np.asarray(v, float), (self.batch,))
                                                   for k, v in params.items()}
        self.has_s = mode == "budget" and bool(np.any(np.asarray(self.lb) < np.asarray(self.ub)))
        self._same_limits = mode == "budget" and bool(np.array_equal(self.lb, self.ub))
        self.scale = 1.0
        # z[0] in [0, W], W = log(n_hi/n_lo): log N above the lower end of the feasible
        # interval of N (budget mode, :meth:`n_interval`; clipped at its upper end) or above
        # n_lo (target mode), at unit scale in log N so finite differences keep their accuracy.
        self.width = math.log(problem.n_bounds[1] / problem.n_bounds[0])
        real_lo, real_hi = problem.real_box()
        lo = [0.0, *real_lo]
        hi = [self.width, *real_hi]
        if self.has_s:
            lo.append(0.0)
            hi.append(1.0)
        self.lo, self.hi = np.array(lo), np.array(hi)
        # a roofline serving cost is not affine in N: each interval is a bisection of ~100
        # roofline evaluations, remembered per variable setting (the polish revisits them)
        self._intervals = {} if problem.serving is not None and problem.serving.roofline else None
        self._row_interval = None  # a batch without free variables: (lo, hi, log(hi/lo)) per problem
        self._fixed_vars = None  # (m, the fixed variables of m candidates)

    def subset(self, rows) -> "Objective":
        """The problems ``rows`` of a batch, as a batch of their own."""
        params = None if self.params is None else {k: v[rows] for k, v in self.params.items()}
        return Objective(self.p, self.mode, self.lb[rows], self.ub[rows], self.target, params)

    def limits(self, rows):
        """``(lb, ub)`` of the candidates' problems: scalars, or arrays over ``rows`` in a batch."""
        if self.batch is None:
            return self.lb, self.ub
        return self.lb[rows], self.ub[rows]

    def law_params(self, rows):
        """The law parameters of the candidates' problems (None: the problem's own)."""
        return None if self.params is None else {k: v[rows] for k, v in self.params.items()}

    def decode(self, z, k, rows=None):
        """Candidate arrays ``(N, variables)`` from coordinates. In budget mode ``N`` is
        clipped to the feasible interval of its variables, whose ends are hit exactly, so a
        bound-active optimum (a data bound, the smallest model) is exact."""
        z = np.atleast_2d(z)
        m = z.shape[0]
        if self._fixed_batch():
            variables = self._fixed_variables(m)
            lo, hi, w = self._row_bounds()[:, rows]
            with np.errstate(all="ignore"):
                N = np.minimum(np.maximum(lo * np.exp(z[:, 0]), lo), hi)  # np.clip, without its overhead
        else:
            reals = self.p.decode_reals(z, 1)
            variables = self.p.variables(np.atleast_2d(k), reals, (m,))
            lo, hi = self.bounds_of_n(variables, m, rows)
            with np.errstate(all="ignore"):
                w = np.log(hi / lo)
                N = np.clip(lo * np.exp(z[:, 0]), lo, hi)
        N = np.where(z[:, 0] <= 0, lo, np.where(z[:, 0] >= w, hi, N))
        return N, variables

    def _fixed_batch(self) -> bool:
        """A budget-mode batch without free variables: each problem's N interval is fixed."""
        return self.batch is not None and self.mode == "budget" and not (self.p.ints or self.p.reals)

    def _fixed_variables(self, m):
        """:meth:`Problem.variables` of ``m`` candidates without free variables (read-only
        views of the fixed values), kept for the last ``m``."""
        if self._fixed_vars is None or self._fixed_vars[0] != m:
            self._fixed_vars = (m, self.p.variables(np.zeros((m, 0)), np.zeros((m, 0)), (m,)))
        return self._fixed_vars[1]

    def _row_bounds(self):
        """``(lo, hi, log(hi/lo))`` of N per problem of a batch without free variables, as
        :meth:`bounds_of_n` gives them (solved once for the batch)."""
        if self._row_interval is None:
            fixed = self.p.variables(np.zeros((1, 0)), np.zeros((1, 0)), (self.batch,))
            lo, hi = self.n_interval(fixed, self.batch, self.lb, self.ub)
            empty = ~(lo <= hi)
            lo, hi = np.where(empty, self.p.n_bounds[0], lo), np.where(empty, self.p.n_bounds[0], hi)
            with np.errstate(all="ignore"):
                self._row_interval = np.stack([lo, hi, np.log(hi / lo)])
        return self._row_interval

    def bounds_of_n(self, variables, m, rows=None):
        """``(lo, hi)`` of N per candidate: the feasible interval in budget mode (an empty one
        becomes ``[n_lo, n_lo]``, which :meth:`data` rejects), n_bounds in target mode."""
        nlo, nhi = self.p.n_bounds
        if self.mode != "budget":
            return np.full(m, nlo), np.full(m, nhi)
        if self.batch is not None and not (self.p.ints or self.p.reals):
            # no free variable: each problem's interval is fixed, solved once for the batch
            lo, hi, _ = self._row_bounds()[:, rows]
            return lo, hi
        if self._intervals is None:
            lo, hi = self.n_interval(variables, m, *self.limits(rows))
        else:
            lo, hi = self._cached_interval(variables, m, rows)
        empty = ~(lo <= hi)
        return np.where(empty, nlo, lo), np.where(empty, nlo, hi)

    def project(self, z, k, rows=None):
        """``z`` (one point, or one per problem of ``rows`` in a batch) with its N coordinate
        moved inside the feasible interval (a polish start)."""
        z = np.array(z, float)
        if self.mode == "budget":
            Z = np.atleast_2d(z)
            _, variables = self.decode(Z, np.atleast_2d(k), rows)
            lo, hi = self.bounds_of_n(variables, Z.shape[0], rows)
            Z[:, 0] = np.minimum(Z[:, 0], np.log(hi / lo))
        return z

    def _cached_interval(self, variables, m, rows=None):
        """:meth:`n_interval`, solved once per distinct variable setting (rows of ``variables``)
        and budget limits."""
        names = sorted(variables)
        table = [np.broadcast_to(np.asarray(variables[k], float), (m,)) for k in names]
        if self.batch is not None:
            table += list(np.broadcast_arrays(*self.limits(rows)))
        rows_ = np.stack(table, axis=1) if table else np.zeros((m, 0))
        keys = [r.tobytes() for r in rows_]
        first = {}
        for i, key in enumerate(keys):
            if key not in self._intervals:
                first.setdefault(key, i)
        if first:
            idx = np.array(list(first.values()))
            sub = {k: rows_[idx, j] for j, k in enumerate(names)}
            limits = (self.lb, self.ub) if self.batch is None else (rows_[idx, -2], rows_[idx, -1])
            lo, hi = self.n_interval(sub, idx.size, *limits)
            for j, key in enumerate(first):
                self._intervals[key] = (lo[j], hi[j])
        got = [self._intervals[key] for key in keys]
        return np.array([g[0] for g in got], float), np.array([g[1] for g in got], float)

    def n_interval(self, variables, m, lb=None, ub=None):
        """``[N_lo, N_hi]`` per candidate: the model sizes that can spend a budget in
        ``[lb, ub]`` (the objective's own limits by default; arrays over the candidates in a
        batch) with data in ``d_bounds``, ``N_lo > N_hi`` where none can.

        Cost is ``c(N, D) = f(N)·D + s(N)`` (training FLOPs per unit ``f``, serving cost
        ``s``: :meth:`~tsbudget.planning.problem.Problem.serve_cost`, ``inf`` for a model
        whose roofline serving misses its latency target), assumed non-decreasing in ``N``. Then ``N`` is feasible iff
        ``c(N, d_lo) <= ub`` and ``c(N, d_hi) >= lb``: ``N_hi`` solves ``c(N, d_lo) = ub`` and
        ``N_lo`` solves ``c(N, d_hi) = lb``, each clipped to ``n_bounds``. Where ``f`` and
        ``s`` are affine in ``N`` (every built-in cost model: checked at three sizes to 1e-9)
        the roots are solved exactly; otherwise by bisection in ``log N`` (100 halvings).
        """
        p = self.p
        lb = self.lb if lb is None else lb
        ub = self.ub if ub is None else ub
        nlo, nhi = p.n_bounds
        dlo, dhi = p.d_bounds
        sizes = np.array([nlo, math.sqrt(nlo * nhi), nhi])
        col = {k: np.asarray(v, float)[None, :] for k, v in variables.items()}
        f = np.broadcast_to(p.flops_per_unit(sizes[:, None] * np.ones((1, m)), col), (3, m))
        sv = np.broadcast_to(p.serve_cost(sizes[:, None] * np.ones((1, m)), col), (3, m))

        def affine(v):
            if nhi == nlo:
                return np.ones(m, bool)
            with np.errstate(invalid="ignore"):  # inf - inf where serving rules sizes out
                pred = v[0] + (v[2] - v[0]) * (sizes[1] - sizes[0]) / (sizes[2] - sizes[0])
                close = np.abs(v[1] - pred) <= 1e-9 * np.max(np.abs(v), axis=0) + 1e-300
            return close & np.all(np.isfinite(v), axis=0)  # an inf cost (a serving limit) is not affine

        lin = affine(f) & affine(sv)
        span = max(nhi - nlo, 1e-300)

        def largest(d, limit):
            """Largest N in n_bounds with c(N, d) <= limit (nan where none)."""
            c0, c1 = f[0] * d + sv[0], f[2] * d + sv[2]
            slope = (c1 - c0) / span
            with np.errstate(all="ignore"):
                root = nlo + (limit - c0) / slope
            out = np.where(c1 <= limit, nhi, np.clip(root, nlo, nhi))
            return np.where(c0 <= limit, out, np.nan)

        def smallest(d, limit):
            """Smallest N in n_bounds with c(N, d) >= limit (nan where none)."""
            c0, c1 = f[0] * d + sv[0], f[2] * d + sv[2]
            slope = (c1 - c0) / span
            with np.errstate(all="ignore"):
                root = nlo + (limit - c0) / slope
            out = np.where(c0 >= limit, nlo, np.clip(root, nlo, nhi))
            return np.where(c1 >= limit, out, np.nan)

        with np.errstate(all="ignore"):
            hi = np.broadcast_to(largest(dlo, ub), (m,)).copy()
            lo = smallest(dhi, lb) if math.isfinite(dhi) else np.where(f[0] > 0, nlo, np.nan)
            lo = np.broadcast_to(np.where(lb <= 0, nlo, lo), (m,)).copy()
        if not lin.all():
            bad = np.flatnonzero(~lin)
            sub = {k: np.asarray(v, float)[bad] for k, v in variables.items()}
            lb_b = lb[bad] if np.ndim(lb) else lb
            ub_b = ub[bad] if np.ndim(ub) else ub
            # 64 halvings of log N over at most 37 nats leave 2e-18: machine precision, which
            # matters where each cost is a roofline (~100 times dearer than an affine cost)
            steps = 100 if self._intervals is None else 64
            hi[bad] = self._bisect(sub, bad.size, dlo, ub_b, largest=True, steps=steps)
            if np.any(lb_b > 0) and math.isfinite(dhi):
                pos = np.flatnonzero(np.broadcast_to(lb_b > 0, bad.shape))
                sub = {k: v[pos] for k, v in sub.items()}
                lo[bad[pos]] = self._bisect(sub, pos.size, dhi, lb_b[pos] if np.ndim(lb_b) else lb_b,
                                            largest=False, steps=steps)
        lo = np.where(np.isnan(lo), np.inf, lo)
        hi = np.where(np.isnan(hi), 0.0, hi)
        return lo, hi

    def _bisect(self, variables, m, d, limit, largest, steps=100):
        """Root of ``c(N, d) = limit`` in ``log N`` over n_bounds (see :meth:`n_interval`)."""
        p = self.p
        nlo, nhi = p.n_bounds

        def cost(n):
            return p.flops_per_unit(n, variables) * d + p.serve_cost(n, variables)

        a, b = np.full(m, math.log(nlo)), np.full(m, math.log(nhi))
        c_lo, c_hi = cost(np.full(m, nlo)), cost(np.full(m, nhi))
        for _ in range(steps):
            mid = 0.5 * (a + b)
            c = cost(np.exp(mid))
            lower_side = c <= limit if largest else c < limit  # mid is below the root
            a, b = np.where(lower_side, mid, a), np.where(lower_side, b, mid)
        if largest:
            out = np.where(c_hi <= limit, nhi, np.exp(a))
            return np.where(c_lo <= limit, out, np.nan)
        out = np.where(c_lo >= limit, nlo, np.exp(b))
        return np.where(c_hi >= limit, out, np.nan)

    def data(self, z, k, N, variables, rows=None):
        """D for each candidate (nan where infeasible)."""
        p = self.p
        per_unit = p.flops_per_unit(N, variables)
        if self.mode == "budget":
            # without serving its cost is 0 and ``x - 0`` is ``x``: skipped
            serve = None if p.serving is None else p.serve_cost(N, variables)
            with np.errstate(all="ignore"):
                if self._same_limits:  # lb == ub: one spend per problem
                    spend = self.ub if self.batch is None else self.ub[rows]
                    spend = spend / per_unit if serve is None else (spend - serve) / per_unit
                    d_hi, d_lo = np.minimum(spend, p.d_bounds[1]), np.maximum(spend, p.d_bounds[0])
                else:
                    lb, ub = self.limits(rows)
                    if serve is not None:
                        lb, ub = lb - serve, ub - serve
                    d_hi = np.minimum(ub / per_unit, p.d_bounds[1])
                    d_lo = np.maximum(lb / per_unit, p.d_bounds[0])
            # rounding at an end of the N interval: within 1e-12 of a data bound is on it
            ok = (d_hi > 0) & (d_hi >= d_lo * (1 - 1e-12))
            d_hi = np.maximum(d_hi, p.d_bounds[0])
            if self.has_s:
                d_lo = np.minimum(d_lo, d_hi)
                s = np.atleast_2d(z)[:, -1]
                d_lo = np.maximum(d_lo, d_hi * 1e-9)
                with np.errstate(all="ignore"):
                    D = np.exp((1 - s) * np.log(d_lo) + s * np.log(d_hi))
                D = np.where(s <= 0, d_lo, np.where(s >= 1, d_hi, D))
            else:
                D = d_hi
            return np.where(ok, D, np.nan)
        return self.solve_target(N, variables)

    def solve_target(self, N, variables, grid=97, steps=60):
        """Smallest D with loss(N, D) <= target: first crossing on a log grid, then bisection."""
        p = self.p
        lo = math.log(max(p.d_bounds[0], D_FLOOR))
        hi = math.log(min(p.d_bounds[1], D_CEIL))
        g = np.linspace(lo, hi, grid)
        col = {k: np.asarray(v)[:, None] for k, v in variables.items()}
        L = p.loss(N[:, None], np.exp(g)[None, :], col)
        reach = L <= self.target
        first = np.argmax(reach, axis=1)
        found = reach.any(axis=1)
        a = g[np.maximum(first - 1, 0)]
        b = g[first]
        at_floor = first == 0
        for _ in range(steps):
            m = 0.5 * (a + b)
            below = p.loss(N, np.exp(m), variables) <= self.target
            b = np.where(below, m, b)
            a = np.where(below, a, m)
        D = np.where(at_floor, math.exp(lo), np.exp(b))
        return np.where(found, D, np.nan)

    def __call__(self, z, k, rows=None) -> np.ndarray:
        """Values of candidates ``z`` with integers ``k``; in a batch, ``rows`` names each
        candidate's problem."""
        z = np.atleast_2d(z)
        k = np.atleast_2d(k)
        if k.shape != (z.shape[0], len(self.p.ints)):
            k = np.broadcast_to(k, (z.shape[0], len(self.p.ints)))
        if self.batch is not None and rows is None:
            raise ValueError("a batched objective needs the problem (rows) of each candidate")

        def batch(idx):
            r = None if rows is None else rows[idx]
            N, variables = self.decode(z[idx], k[idx], r)
            D = self.data(z[idx], k[idx], N, variables, r)
            good = np.isfinite(D) & (D > 0)
            Dsafe = np.where(good, D, 1.0)
            if self.mode == "budget":  # the loss is finite or inf already
                val = self.p.loss(N, Dsafe, variables, params=self.law_params(r), valid_data=True)
                return np.where(good, val, np.inf)
            cost = self.p.flops_per_unit(N, variables) * Dsafe + self.p.serve_cost(N, variables)
            val = cost / self.scale
            return np.where(good & np.isfinite(val), val, np.inf)

        return evaluate_safely(batch, z.shape[0])

