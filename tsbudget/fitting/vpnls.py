"""Variable projection for the Chinchilla form: search the exponents, solve the rest by NNLS.

``L(N, D) = E + A·N^-α + B·D^-β`` is linear in ``(E, A, B)`` once ``(α, β)`` are fixed.
Variable projection (Golub & Pereyra 1973, "The differentiation of pseudo-inverses and
nonlinear least squares problems whose variables separate", SIAM J. Numer. Anal. 10(2))
eliminates the linear parameters: for each ``(α, β)`` the best ``(E, A, B) ≥ 0`` is a
non-negative least-squares solve (Lawson & Hanson 1974, ch. 23; ``scipy.optimize.nnls``),
and only the two exponents are searched. This is the "VPNLS" method of Open-Athena's
scaling-law analysis (repository Open-Athena/scaling-law-analysis,
``src/scaling_law_analysis/chinchilla.py``, ``fit_surface``): a 32 × 32 grid of
``α, β ∈ [0.05, 0.95]``, then Nelder-Mead from the best grid point (``xatol=1e-10``,
``fatol=1e-15``), minimising the residual sum of squares in *linear* loss space,
``Σ_i w_i (L̂_i − L_i)²``. Its experiment 8 (``exp8_conditioning.py``) measures the
conditioning as the ratio of the largest to the smallest eigenvalue of the Hessian of that
sum: of the full 5-parameter problem, and of the projected 2-parameter one.

That objective is not the Huber loss on log residuals of Hoffmann et al. 2022 App. D.2
that the multistart fit minimises, so the two methods reach different optima on real
runs; :func:`vpnls_solve` reports both its own objective and the two condition numbers.
Fixed parameters are honoured: a fixed linear parameter moves its term to the left-hand
side, a fixed exponent leaves a one- (or zero-) dimensional search.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import attrs
import numpy as np

from tsbudget.errors import InputError

__all__ = ["EXPONENT_GRID", "LINEAR", "EXPONENTS", "VpnlsSolution", "vpnls_solve", "check_vpnls_law"]

#: Open-Athena's default exponent grid (``DEFAULT_ALPHA_GRID``/``DEFAULT_BETA_GRID``):
#: 32 values from 0.05 to 0.95 for each exponent.
EXPONENT_GRID = tuple(float(x) for x in np.linspace(0.05, 0.95, 32))
#: Open-Athena's Nelder-Mead tolerances (``NELDER_MEAD_OPTIONS``).
NELDER_MEAD = {"xatol": 1e-10, "fatol": 1e-15, "maxiter": 10000}
LINEAR = ("E", "A", "B")
EXPONENTS = ("alpha", "beta")


def check_vpnls_law(law) -> None:
    """Variable projection needs the Chinchilla form ``E + A/N^α + B/D^β`` (exactly its five
    parameters and inputs N and D); any other law is an :class:`InputError`."""
    names = tuple(sorted(p.name for p in law.parameters))
    if names != tuple(sorted(LINEAR + EXPONENTS)) or tuple(law.required_inputs) != ("N", "D") \
            or not getattr(law, "has_closed_form", False):
        raise InputError(f"method 'vpnls' fits the Chinchilla form E + A/N^alpha + B/D^beta; law {law.name!r} "
                         f"(parameters {', '.join(p.name for p in law.parameters)}) is not it: use method 'huber'")


@attrs.frozen
class VpnlsSolution:
    """The variable-projection optimum: every parameter value, the weighted residual sum of
    squares in linear loss space, the number of NNLS solves, the condition numbers of the
    Hessian of that sum (projected over the free exponents; full over every free parameter),
    the free exponents at the edge of the search box, and the refinement's message."""

    values: dict
    rss: float
    n_grid: int
    n_solves: int
    condition_projected: float
    condition_full: float
    at_edge: tuple
    message: str


class _Problem:
    """The weighted separable least-squares problem with some parameters fixed."""

    def __init__(self, n, d, loss, weights, fixed: Mapping[str, float]):
        self.log_n, self.log_d = np.log(n), np.log(d)
        self.loss = np.asarray(loss, dtype=float)
        self.sw = np.sqrt(np.asarray(weights, dtype=float))
        self.w = np.asarray(weights, dtype=float)
        self.fixed = dict(fixed)
        self.free_lin = [k for k in LINEAR if k not in fixed]
        self.free_exp = [k for k in EXPONENTS if k not in fixed]
        self.n_solves = 0

    def exponents(self, x) -> dict:
        out = {k: float(self.fixed[k]) for k in EXPONENTS if k in self.fixed}
        out.update({k: float(v) for k, v in zip(self.free_exp, np.atleast_1d(x))})
        return out

    def basis(self, ex: dict) -> dict:
        return {"E": np.ones_like(self.loss), "A": np.exp(-ex["alpha"] * self.log_n),
                "B": np.exp(-ex["beta"] * self.log_d)}

    def solve(self, x) -> tuple[float, dict]:
        """``(Σ w r², values)`` with the free linear parameters from NNLS at exponents ``x``."""
        from scipy.optimize import nnls

        self.n_solves += 1
        ex = self.exponents(x)
        cols = self.basis(ex)
        y = self.loss - sum(self.fixed[k] * cols[k] for k in LINEAR if k in self.fixed)
        values = {**ex, **{k: float(self.fixed[k]) for k in LINEAR if k in self.fixed}}
        if self.free_lin:
            design = np.column_stack([cols[k] for k in self.free_lin]) * self.sw[:, None]
            coef, rnorm = nnls(design, y * self.sw)
            values.update({k: float(c) for k, c in zip(self.free_lin, coef)})
            rss = float(rnorm) ** 2
        else:
            rss = float(np.sum(self.w * y * y))
        return rss, values

    def rss(self, x) -> float:
        return self.solve(x)[0]

    def full_hessian(self, v: dict) -> np.ndarray:
        """Hessian of ``Σ w (f − L)²`` over the free parameters in natural coordinates:
        ``2 Σ w (∇f ∇fᵀ + r ∇²f)`` with ``f = E + A x + B y``, ``x = N^-α``, ``y = D^-β``."""
        x, y = np.exp(-v["alpha"] * self.log_n), np.exp(-v["beta"] * self.log_d)
        r = v["E"] + v["A"] * x + v["B"] * y - self.loss
        grad = {"E": np.ones_like(x), "A": x, "B": y, "alpha": -v["A"] * x * self.log_n,
                "beta": -v["B"] * y * self.log_d}
        second = {("A", "alpha"): -x * self.log_n, ("alpha", "alpha"): v["A"] * x * self.log_n ** 2,
                  ("B", "beta"): -y * self.log_d, ("beta", "beta"): v["B"] * y * self.log_d ** 2}
        names = [k for k in (*LINEAR, *EXPONENTS) if k not in self.fixed]
        h = np.empty((len(names), len(names)))
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                s = second.get((a, b), second.get((b, a)))
                h[i, j] = 2 * np.sum(self.w * (grad[a] * grad[b] + (r * s if s is not None else 0.0)))
        return h

    def projected_hessian(self, x) -> np.ndarray:
        """Central second differences of the projected sum over the free exponents (step 1e-4)."""
        x = np.atleast_1d(np.asarray(x, dtype=float))
        k, h = x.size, 1e-4
        out = np.empty((k, k))
        f0 = self.rss(x)
        for i in range(k):
            for j in range(i, k):
                ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
                if i == j:
                    out[i, i] = (self.rss(x + ei) - 2 * f0 + self.rss(x - ei)) / h ** 2
                else:
                    out[i, j] = out[j, i] = (self.rss(x + ei + ej) - self.rss(x + ei - ej) - self.rss(x - ei + ej)
                                             + self.rss(x - ei - ej)) / (4 * h * h)
        return out


def _condition(h: np.ndarray) -> float:
    """``|λ|_max / |λ|_min`` of a symmetric matrix (inf when singular, 1 for an empty one)."""
    if h.size == 0:
        return 1.0
    if not np.all(np.isfinite(h)):
        return math.inf
    ev = np.abs(np.linalg.eigvalsh((h + h.T) / 2))
    return float(ev.max() / ev.min()) if ev.min() > 0 else math.inf


def vpnls_solve(n, d, loss, weights, fixed: Mapping[str, float] | None = None,
                grid: Mapping[str, Sequence[float]] | None = None) -> VpnlsSolution:
    """Fit ``E + A/N^α + B/D^β`` by variable projection (see the module docstring).

    ``weights`` multiply the squared residuals; ``fixed`` holds parameters not fitted;
    ``grid`` may replace the exponent grid (``{"alpha": [...], "beta": [...]}``; default
    :data:`EXPONENT_GRID`). The refinement is Nelder-Mead bounded to the grid's span (one-dimensional
    when one exponent is fixed); an optimum on that span's edge is listed in ``at_edge``.
    """
    from scipy.optimize import minimize

    fixed = dict(fixed or {})
    prob = _Problem(n, d, loss, weights, fixed)
    grids = []
    for k in prob.free_exp:
        g = np.asarray((grid or {}).get(k, EXPONENT_GRID), dtype=float).reshape(-1)
        if g.size == 0 or np.any(~np.isfinite(g) | (g <= 0)):
            raise InputError(f"grid[{k!r}] for vpnls must be positive exponents, got {g.tolist()!r}")
        grids.append(np.sort(g))
    if not prob.free_exp:
        rss, values = prob.solve(np.empty(0))
        return VpnlsSolution(values, rss, 1, prob.n_solves, 1.0,
                             _condition(prob.full_hessian(values)), (), "exponents fixed: one NNLS solve")
    mesh = np.stack([m.ravel() for m in np.meshgrid(*grids, indexing="ij")], axis=1)
    scores = np.array([prob.rss(x) for x in mesh])
    x0 = mesh[int(np.argmin(scores))]
    bounds = [(float(g[0]), float(g[-1])) for g in grids]
    res = minimize(prob.rss, x0, method="Nelder-Mead", bounds=bounds, options=NELDER_MEAD)
    x = res.x if res.fun <= scores.min() else x0
    rss, values = prob.solve(x)
    edge = tuple(k for k, v, (lo, hi) in zip(prob.free_exp, np.atleast_1d(x), bounds)
                 if v - lo < 1e-6 or hi - v < 1e-6)
    return VpnlsSolution(
        values=values,
        rss=rss,
        n_grid=int(mesh.shape[0]),
        n_solves=prob.n_solves,
        condition_projected=_condition(prob.projected_hessian(x)),
        condition_full=_condition(prob.full_hessian(values)),
        at_edge=edge,
        message=f"Nelder-Mead: {res.message}",
    )
