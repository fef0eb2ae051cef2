"""Compute-optimal planning: the allocation that minimises predicted loss for a budget,
or the cheapest allocation (training + serving) that reaches a target loss.

Budget mode (Hoffmann et al. 2022 §3): minimise ``L(N, D, variables)`` subject to
``lb <= training FLOPs + serving FLOPs <= ub``. Target mode (Sardana & Frankle 2024,
"Beyond Chinchilla-Optimal", eq. 2-3): minimise lifetime FLOPs = training + inference
FLOPs over the served positions, subject to ``L = target``.

Where the Chinchilla closed form applies (a Chinchilla-form law, training FLOPs exactly
``k·N·D``, no repetition, no serving, every cost-model variable fixed) it is used
directly (:mod:`tsbudget.planning.closed_form`). Otherwise a general optimizer runs:

* the constraint is eliminated: costs are linear in positions, so for given ``N`` and
  variables the budget fixes ``D`` (or an interval of ``D`` when ``lb < ub``, searched by
  a fraction ``s``); in target mode ``D`` is the smallest data that reaches the target
  (first crossing on a log grid, then bisection);
* the continuous coordinates (``log N``, real variables on their natural scale, ``s``)
  and every integer variable are searched on one batched grid (integer variables on
  every value, or 33 values across a wide range followed by a dense search between the
  best value's grid neighbours); the best integer settings are polished by a projected
  Newton method with batched finite-difference derivatives (L-BFGS-B where the stencil
  meets infeasible points), which brings an interior optimum to ~1e-10 in its
  coordinates; and the integer optimum is confirmed by a ±1 neighbourhood search with
  a polish at each neighbour (this assumes the loss is unimodal in each integer
  variable between grid values).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import attrs
import numpy as np

from tsbudget.timeseries.effective_data import MUENNIGHOFF_R_D, effective_data
from tsbudget.errors import InfeasibleError, InputError, PluginTypeError, TsbudgetError
from tsbudget.hardware import get_hardware, gpu_hours
from tsbudget.law import Law
from tsbudget.planning.serving import as_serving

__all__ = ["Plan", "plan", "resolve_law", "DEFAULT_N_BOUNDS"]

#: Model sizes searched when ``n_bounds`` is not given: 100 parameters to 1e16.
DEFAULT_N_BOUNDS = (1e2, 1e16)
_D_FLOOR, _D_CEIL = 1e-6, 1e32  # data searched in target mode when d_bounds leave it open
_GRID_CAP = 300_000  # grid points evaluated in one batched stage
_LAW_DATA_INPUTS = ("N", "D", "U")


# ---------------------------------------------------------------------------- result
def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, (float, np.floating)):
        return f"{x:.4g}"
    return str(x)


@attrs.frozen(repr=False)
class Plan:
    """A planned allocation. ``N`` is the parameter count the law sees (active
    parameters for sparse models); ``D`` is data in ``unit``; ``positions`` is what the
    model processes; ``epochs`` is ``D / unique`` (1 when unique data is unlimited).

    ``loss_interval`` is the ``level`` percentile interval of this allocation's
    predicted loss across the law's bootstrap draws; ``intervals`` holds
    ``(median, lower, upper)`` of the per-draw *optimal* quantities where they were
    computed (closed form). ``binding`` names the bounds and constraints that bind.
    """

    success: bool
    message: str
    mode: str
    method: str
    N: float
    active_params: float
    total_params: float
    D: float
    unit: str
    positions: float
    unique: float | None
    epochs: float
    effective_data: float
    variables: dict
    loss: float
    train_flops: float
    inference_flops: float
    served_positions: float
    train_gpu_hours: float
    serve_gpu_hours: float
    hardware: str
    law: str
    cost_model: str
    budget: tuple | None = None
    target_loss: float | None = None
    serving_variables: dict = attrs.field(factory=dict)
    loss_interval: tuple | None = None
    level: float = 0.95
    intervals: dict = attrs.field(factory=dict)
    binding: tuple = ()
    diagnostics: dict = attrs.field(factory=dict)

    @property
    def total_flops(self) -> float:
        """Lifetime FLOPs: training plus serving."""
        return self.train_flops + self.inference_flops

    @property
    def data_per_param(self) -> float:
        """``D / N`` (tokens per parameter when the unit is tokens)."""
        return self.D / self.N

    def to_dict(self) -> dict:
        out = {
            "success": self.success,
            "message": self.message,
            "mode": self.mode,
            "method": self.method,
            "N": self.N,
            "active_params": self.active_params,
            "total_params": self.total_params,
            "D": self.D,
            "unit": self.unit,
            "positions": self.positions,
            "unique": self.unique,
            "epochs": self.epochs,
            "effective_data": self.effective_data,
            "data_per_param": self.data_per_param,
            "variables": dict(self.variables),
            "serving_variables": dict(self.serving_variables),
            "loss": self.loss,
            "loss_interval": list(self.loss_interval) if self.loss_interval else None,
            "level": self.level,
            "train_flops": self.train_flops,
            "inference_flops": self.inference_flops,
            "total_flops": self.total_flops,
            "served_positions": self.served_positions,
            "train_gpu_hours": self.train_gpu_hours,
            "serve_gpu_hours": self.serve_gpu_hours,
            "hardware": self.hardware,
            "law": self.law,
            "cost_model": self.cost_model,
            "budget": list(self.budget) if self.budget else None,
            "target_loss": self.target_loss,
            "intervals": {k: list(v) for k, v in self.intervals.items()},
            "binding": list(self.binding),
            "diagnostics": dict(self.diagnostics),
        }
        return out

    def __repr__(self) -> str:
        status = "success" if self.success else "FAILED"
        if self.mode == "budget":
            lb, ub = self.budget
            goal = f"budget {ub:.4g} FLOPs" if lb == ub else f"budget {lb:.4g}..{ub:.4g} FLOPs"
        else:
            goal = f"target loss {self.target_loss:.4g}"
            if self.budget:
                lb, ub = self.budget
                goal += f", lifetime FLOPs within [{lb:.4g}, {ub:.4g}]"
        lines = [
            f"Plan: {status}: {self.message}",
            f"  {goal}; law {self.law}, cost model {self.cost_model}, unit {self.unit}",
            "  estimates:",
            f"    N (law / active)   {self.N:.4g} / {self.active_params:.4g}   total params {self.total_params:.4g}",
            f"    D                  {self.D:.4g} {self.unit}  ({self.positions:.4g} positions, "
            f"{self.data_per_param:.4g} per parameter)",
            f"    epochs             {self.epochs:.4g}"
            + (f" over {self.unique:.4g} unique (effective data {self.effective_data:.4g})" if self.unique else ""),
        ]
        if self.variables:
            lines.append("    variables          " + ", ".join(f"{k}={_fmt(v)}" for k, v in self.variables.items()))
        loss = f"    loss               {self.loss:.5g}"
        if self.loss_interval:
            loss += f"  [{self.loss_interval[0]:.5g}, {self.loss_interval[1]:.5g}] ({self.level:.0%} of draws)"
        lines.append(loss)
        lines.append(f"    training FLOPs     {self.train_flops:.4g}  ({self.train_gpu_hours:.4g} GPU-hours, {self.hardware})")
        if self.served_positions:
            lines.append(
                f"    serving FLOPs      {self.inference_flops:.4g}  ({self.serve_gpu_hours:.4g} GPU-hours, "
                f"{self.served_positions:.4g} positions)"
            )
        for name, (med, lo, hi) in self.intervals.items():
            lines.append(f"    {name:<18} median {med:.4g}  [{lo:.4g}, {hi:.4g}] over draws")
        lines.append("  diagnostics:")
        lines.append(f"    method             {self.method}")
        lines.append(f"    binding            {', '.join(self.binding) or 'nothing'}")
        for k, v in self.diagnostics.items():
            lines.append(f"    {k:<18} {_fmt(v)}")
        return "\n".join(lines)


# ------------------------------------------------------------------------- resolving
def resolve_law(law):
    """``(Law instance, draws or None, label, fit options)`` from a preset name, a registered
    law name, a Law instance or a FitResult (duck-typed: ``.law`` and ``.draws``)."""
    if isinstance(law, Law):
        return law, None, law.name, {}
    if hasattr(law, "law") and isinstance(getattr(law, "law", None), Law) and hasattr(law, "draws"):
        inner = law.law
        return inner, law.draws, f"fit ({inner.name})", dict(getattr(law, "options", {}) or {})
    if isinstance(law, str):
        try:
            from tsbudget.laws.presets import PRESETS, get_preset
        except ImportError:  # presets not installed in this build
            PRESETS, get_preset = {}, None
        if law in PRESETS:
            inst = get_preset(law)
            # every shipped preset was fitted to language-model tokens, one position each
            return inst, None, f"{law} ({inst.name})", {"unit": "tokens"}
        from tsbudget.registry import laws

        try:
            inst = laws.resolve(law)
        except PluginTypeError as exc:
            raise InputError(f"law {law!r} needs parameter values; pass a preset, a Law instance or a fit ({exc})")
        return inst, None, inst.name, {}
    raise InputError(f"law must be a preset name, a law name, a Law or a FitResult, got {law!r}")


def _bounds(value, name, default) -> tuple[float, float]:
    if value is None:
        return default
    try:
        lo, hi = (math.inf if v is None and i else (0.0 if v is None else float(v)) for i, v in enumerate(value))
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a pair (lower, upper), got {value!r}") from None
    if not (lo >= 0 and hi > 0 and lo <= hi) or math.isnan(lo) or math.isnan(hi):
        raise InputError(f"{name} must satisfy 0 <= lower <= upper, upper > 0; got {value!r}")
    return lo, hi


def _positive(value, name) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise InputError(f"{name} must be finite and > 0, got {value!r}")
    return v


# --------------------------------------------------------------------------- problem
class _Problem:
    """Vectorized evaluation of loss and cost for candidate allocations."""

    def __init__(self, law, params, cost_model, unit, unique, serving, fixed, free, n_bounds, d_bounds, r_star,
                 law_ppu=None):
        self.law, self.params, self.cost_model, self.unit = law, params, cost_model, unit
        self.ppu = float(unit.positions_per_unit())
        # The law reads data in the unit it was fitted in; both units meet in model positions,
        # so one plan unit is ``law_scale`` law units (1 when the law's unit is unknown).
        self.law_scale = self.ppu / float(law_ppu) if law_ppu else 1.0
        self.unique, self.serving, self.fixed = unique, serving, fixed
        self.ints = [v for v in free if v.integer]
        self.reals = [v for v in free if not v.integer]
        self.n_bounds, self.d_bounds, self.r_star = n_bounds, d_bounds, r_star
        self.law_vars = [k for k in law.required_inputs if k not in _LAW_DATA_INPUTS]
        known = {v.name for v in cost_model.variables}
        missing = [k for k in self.law_vars if k not in known]
        if missing:
            raise InputError(
                f"law {law.name!r} needs input {missing[0]!r}, which cost model {cost_model.name!r} "
                f"does not declare (its variables: {sorted(known) or 'none'})"
            )
        self.evaluations = 0
        self.regimes, self.mix = None, "optimal"

    # variables as arrays broadcast to ``shape``
    def variables(self, ints, reals, shape) -> dict[str, np.ndarray]:
        out = {k: np.broadcast_to(np.asarray(v, float), shape) for k, v in self.fixed.items()}
        for j, var in enumerate(self.ints):
            out[var.name] = np.broadcast_to(ints[..., j], shape)
        for j, var in enumerate(self.reals):
            out[var.name] = np.broadcast_to(reals[..., j], shape)
        return out

    def law_data(self, D):
        """The law's data inputs for ``D`` units read: ``D`` (effective data under
        repetition, Muennighoff et al. 2023 eq. 5, when the law has no ``U`` input) and ``U``."""
        s = self.law_scale
        if "U" in self.law.required_inputs:
            return {"D": s * D, "U": s * np.broadcast_to(self.unique, np.shape(D)) if self.unique else s * D}
        if self.unique is None:
            return {"D": s * D}
        if self.regimes is not None:
            return {"D": s * self.regimes.effective(D, self.regime_mix(D))}
        return {"D": s * effective_data(D, self.unique, self.r_star)}

    def with_params(self, params: Mapping) -> "_Problem":
        """A shallow copy planning with other law parameter values (one bootstrap draw)."""
        import copy

        q = copy.copy(self)
        q.params = dict(params)
        return q

    def undiscounted(self, D) -> np.ndarray:
        """True where the law reads all ``D`` units at full value, so the closed form holds.

        Without unique data, or with a scalar ``unique``, that is ``D <= U`` or ``R* = inf``
        (Muennighoff et al. 2023 eq. 5 gives ``D' = D`` there). With regimes it is each
        regime's own condition on the data drawn from it, ``D·mix_r <= U_r`` or
        ``R*_r = inf``: under the natural or a given mix a small regime is already
        repeated while ``D <= ΣU`` (the optimal mix fills every regime before repeating any).
        """
        D = np.asarray(D, float)
        if self.unique is None:
            return np.ones(D.shape, bool)
        if self.regimes is not None:
            drawn = D[..., None] * np.asarray(self.regime_mix(D), float)
            fresh = (drawn <= self.regimes.unique * (1 + 1e-12)) | np.isinf(self.regimes.r_star)
            return np.all(fresh, axis=-1)
        return (D <= self.unique * (1 + 1e-12)) | (self.r_star == math.inf)

    def effective_data(self, N, D, variables, params=None) -> np.ndarray:
        """Effective data in the plan's unit: what the law's data term counts.

        Laws without a ``U`` input read Muennighoff et al. 2023 eq. 5 (per regime with
        :class:`~tsbudget.timeseries.regimes.RegimeData`) as computed by :meth:`law_data`. Laws that take
        ``U`` apply their own repetition model: a law with an ``effective(params, inputs)``
        method returning ``D_eff`` (the data-constrained law, eq. 5 with the law's own fitted
        ``R_D*``) reports that; any other (the repetition penalty law, whose data term is
        ``B/(U_D(1+R_D))^β = B/D^β`` and whose repeats cost through a separate penalty) counts
        every unit seen. Law units are converted back through model positions.
        """
        s = self.law_scale
        data = self.law_data(D)
        if "U" in self.law.required_inputs:
            eff = getattr(self.law, "effective", None)
            if callable(eff):
                inputs = {"N": N, **data, **{k: variables[k] for k in self.law_vars}}
                with np.errstate(all="ignore"):
                    out = eff(self.params if params is None else params, inputs)
                if isinstance(out, Mapping) and "D_eff" in out:
                    return np.asarray(out["D_eff"], float) / s
            return np.asarray(D, float) * np.ones(np.shape(data["D"]))
        return np.asarray(data["D"], float) / s

    def closed_form(self, params, k, flops=None, loss=None):
        """``(N, D)`` with ``D`` in the plan's unit from the Chinchilla closed form, solved in
        the law's unit: ``C = k·N·D = (k/s)·N·(s·D)`` with ``s`` law units per plan unit."""
        from tsbudget.planning.closed_form import closed_form_budget, closed_form_target

        if loss is None:
            N, d_law = closed_form_budget(params, flops, k / self.law_scale)
        else:
            N, d_law = closed_form_target(params, loss)
        return N, d_law / self.law_scale

    def regime_mix(self, D):
        """Sampling shares of the regimes: water-filling optimum, the corpus mix, or given."""
        if isinstance(self.mix, str):
            return self.regimes.optimal_mix(D) if self.mix == "optimal" else self.regimes.natural_mix
        return self.mix

    def loss(self, N, D, variables, params=None) -> np.ndarray:
        self.evaluations += int(np.size(N))
        inputs = {"N": N, **self.law_data(D), **{k: variables[k] for k in self.law_vars}}
        with np.errstate(all="ignore"):
            out = np.asarray(self.law.evaluate(self.params if params is None else params, inputs), float)
        return np.where(np.isfinite(out), out, np.inf)

    def flops_per_unit(self, N, variables) -> np.ndarray:
        return np.asarray(self.cost_model.train_flops_per_position(N, **variables), float) * self.ppu

    def serve_flops(self, N, variables) -> np.ndarray:
        if self.serving is None:
            return np.zeros(np.shape(N))
        return np.asarray(self.serving.inference_flops(self.cost_model, N, variables), float)


def _safe(fn, n: int):
    """Run ``fn(idx)`` over all ``n`` candidates; where a batch raises a TsbudgetError
    (a variable combination the cost model rejects), split it to isolate the bad ones (inf)."""

    def run(idx):
        try:
            return fn(idx)
        except TsbudgetError:
            if idx.size == 1:
                return np.full(1, np.inf)
            half = idx.size // 2
            return np.concatenate([run(idx[:half]), run(idx[half:])])

    return run(np.arange(n))


class _Objective:
    """Value of candidate points: ``z`` (continuous coordinates) and ``k`` (integers)."""

    def __init__(self, problem: _Problem, mode, lb, ub, target):
        self.p, self.mode, self.lb, self.ub, self.target = problem, mode, lb, ub, target
        self.has_s = mode == "budget" and lb < ub
        self.scale = 1.0
        # z[0] in [0, W], W = log(n_hi/n_lo): log N above the lower end of the feasible
        # interval of N (budget mode, :meth:`n_interval`; clipped at its upper end) or above
        # n_lo (target mode), at unit scale in log N so finite differences keep their accuracy.
        self.width = math.log(problem.n_bounds[1] / problem.n_bounds[0])
        lo = [0.0]
        hi = [self.width]
        for v in problem.reals:
            lo.append(math.log(v.lower) if v.log else v.lower)
            hi.append(math.log(v.upper) if v.log else v.upper)
        if self.has_s:
            lo.append(0.0)
            hi.append(1.0)
        self.lo, self.hi = np.array(lo), np.array(hi)

    def decode(self, z, k):
        """Candidate arrays ``(N, variables)`` from coordinates. In budget mode ``N`` is
        clipped to the feasible interval of its variables, whose ends are hit exactly, so a
        bound-active optimum (a data bound, the smallest model) is exact."""
        z = np.atleast_2d(z)
        m = z.shape[0]
        reals = np.empty((m, len(self.p.reals)))
        for j, v in enumerate(self.p.reals):
            reals[:, j] = np.clip(np.exp(z[:, 1 + j]) if v.log else z[:, 1 + j], v.lower, v.upper)
        variables = self.p.variables(np.atleast_2d(k), reals, (m,))
        lo, hi = self.bounds_of_n(variables, m)
        with np.errstate(all="ignore"):
            w = np.log(hi / lo)
            N = np.clip(lo * np.exp(z[:, 0]), lo, hi)
        N = np.where(z[:, 0] <= 0, lo, np.where(z[:, 0] >= w, hi, N))
        return N, variables

    def bounds_of_n(self, variables, m):
        """``(lo, hi)`` of N per candidate: the feasible interval in budget mode (an empty one
        becomes ``[n_lo, n_lo]``, which :meth:`data` rejects), n_bounds in target mode."""
        nlo, nhi = self.p.n_bounds
        if self.mode != "budget":
            return np.full(m, nlo), np.full(m, nhi)
        lo, hi = self.n_interval(variables, m)
        empty = ~(lo <= hi)
        return np.where(empty, nlo, lo), np.where(empty, nlo, hi)

    def project(self, z, k):
        """``z`` with its N coordinate moved inside the feasible interval (a polish start)."""
        z = np.array(z, float)
        if self.mode == "budget":
            _, variables = self.decode(z[None, :], np.atleast_2d(k))
            lo, hi = self.bounds_of_n(variables, 1)
            z[0] = min(z[0], float(np.log(hi[0] / lo[0])))
        return z

    def n_interval(self, variables, m):
        """``[N_lo, N_hi]`` per candidate: the model sizes that can spend a budget in
        ``[lb, ub]`` with data in ``d_bounds``, ``N_lo > N_hi`` where none can.

        Cost is ``c(N, D) = f(N)·D + s(N)`` (training FLOPs per unit ``f``, serving FLOPs
        ``s``), assumed non-decreasing in ``N``. Then ``N`` is feasible iff
        ``c(N, d_lo) <= ub`` and ``c(N, d_hi) >= lb``: ``N_hi`` solves ``c(N, d_lo) = ub`` and
        ``N_lo`` solves ``c(N, d_hi) = lb``, each clipped to ``n_bounds``. Where ``f`` and
        ``s`` are affine in ``N`` (every built-in cost model: checked at three sizes to 1e-9)
        the roots are solved exactly; otherwise by bisection in ``log N`` (100 halvings).
        """
        p = self.p
        nlo, nhi = p.n_bounds
        dlo, dhi = p.d_bounds
        sizes = np.array([nlo, math.sqrt(nlo * nhi), nhi])
        col = {k: np.asarray(v, float)[None, :] for k, v in variables.items()}
        f = np.broadcast_to(p.flops_per_unit(sizes[:, None] * np.ones((1, m)), col), (3, m))
        sv = np.broadcast_to(p.serve_flops(sizes[:, None] * np.ones((1, m)), col), (3, m))

        def affine(v):
            if nhi == nlo:
                return np.ones(m, bool)
            pred = v[0] + (v[2] - v[0]) * (sizes[1] - sizes[0]) / (sizes[2] - sizes[0])
            return np.abs(v[1] - pred) <= 1e-9 * np.max(np.abs(v), axis=0) + 1e-300

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
            hi = largest(dlo, self.ub)
            lo = smallest(dhi, self.lb) if math.isfinite(dhi) else np.where(f[0] > 0, nlo, np.nan)
            if self.lb <= 0:
                lo = np.full(m, nlo)
        if not lin.all():
            bad = np.flatnonzero(~lin)
            sub = {k: np.asarray(v, float)[bad] for k, v in variables.items()}
            hi[bad] = self._bisect(sub, bad.size, dlo, self.ub, largest=True)
            if self.lb > 0 and math.isfinite(dhi):
                lo[bad] = self._bisect(sub, bad.size, dhi, self.lb, largest=False)
        lo = np.where(np.isnan(lo), np.inf, lo)
        hi = np.where(np.isnan(hi), 0.0, hi)
        return lo, hi

    def _bisect(self, variables, m, d, limit, largest, steps=100):
        """Root of ``c(N, d) = limit`` in ``log N`` over n_bounds (see :meth:`n_interval`)."""
        p = self.p
        nlo, nhi = p.n_bounds

        def cost(n):
            return p.flops_per_unit(n, variables) * d + p.serve_flops(n, variables)

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

    def data(self, z, k, N, variables):
        """D for each candidate (nan where infeasible)."""
        p = self.p
        per_unit = p.flops_per_unit(N, variables)
        serve = p.serve_flops(N, variables)
        if self.mode == "budget":
            with np.errstate(all="ignore"):
                d_hi = np.minimum((self.ub - serve) / per_unit, p.d_bounds[1])
                d_lo = np.maximum((self.lb - serve) / per_unit, p.d_bounds[0])
            # rounding at an end of the N interval: within 1e-12 of a data bound is on it
            ok = (d_hi > 0) & (d_hi >= d_lo * (1 - 1e-12))
            d_hi = np.maximum(d_hi, p.d_bounds[0])
            d_lo = np.minimum(d_lo, d_hi)
            if self.has_s:
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
        lo = math.log(max(p.d_bounds[0], _D_FLOOR))
        hi = math.log(min(p.d_bounds[1], _D_CEIL))
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

    def __call__(self, z, k) -> np.ndarray:
        z = np.atleast_2d(z)
        k = np.broadcast_to(np.atleast_2d(k), (z.shape[0], len(self.p.ints)))

        def batch(idx):
            N, variables = self.decode(z[idx], k[idx])
            D = self.data(z[idx], k[idx], N, variables)
            good = np.isfinite(D) & (D > 0)
            Dsafe = np.where(good, D, 1.0)
            if self.mode == "budget":
                val = self.p.loss(N, Dsafe, variables)
            else:
                cost = self.p.flops_per_unit(N, variables) * Dsafe + self.p.serve_flops(N, variables)
                val = cost / self.scale
            return np.where(good & np.isfinite(val), val, np.inf)

        return _safe(batch, z.shape[0])


# ------------------------------------------------------------------------- optimizer
def _integer_candidates(var, limit=33) -> np.ndarray:
    lo, hi = int(var.lower), int(var.upper)
    if hi - lo + 1 <= limit:
        return np.arange(lo, hi + 1, dtype=float)
    if var.log and lo > 0:
        vals = np.geomspace(lo, hi, limit)
    else:
        vals = np.linspace(lo, hi, limit)
    return np.unique(np.round(vals))


def _grid_stage(obj: _Objective, n_ints: int, int_cands, n_grid=129):
    """Evaluate the full batched grid; returns (values, Z, K)."""
    dz = obj.lo.size
    combos = np.array(list(itertools.product(*int_cands)), float) if n_ints else np.zeros((1, 0))
    other = [7] * len(obj.p.reals) + ([5] if obj.has_s else [])
    per_combo = int(np.prod(other)) if other else 1
    cap = _GRID_CAP if obj.mode == "budget" else _GRID_CAP // 100
    while n_grid > 9 and n_grid * per_combo * len(combos) > cap:
        n_grid = (n_grid + 1) // 2
    axes = [np.linspace(obj.lo[i], obj.hi[i], n_grid if i == 0 else other[i - 1]) for i in range(dz)]
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


def _polish(obj, z0, k):
    """Newton polish from a grid point; L-BFGS-B (batched central-difference gradients)
    where the Newton stencil meets infeasible points."""
    z0 = obj.project(z0, k)
    f0 = obj(z0[None, :], k)[0]
    if not np.isfinite(f0):
        return z0, f0
    z, f, ok = _newton_polish(obj, z0.copy(), k, float(f0))
    if ok:
        return z, f
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


def _local_integer_stage(obj: _Objective, cands, axes, z, k, f):
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


def _optimize(obj: _Objective, top=3):
    """Grid, dense local integer search, polish of the best integer settings, then a ±1
    integer neighbourhood search with polish until no neighbour improves."""
    p = obj.p
    cands = [_integer_candidates(v) for v in p.ints]
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
        results[tuple(k0)] = _polish(obj, z0, k0)
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
                results[kk] = _polish(obj, z_best.copy(), np.array(kk, float))
                if results[kk][1] < f_best - 1e-15 * abs(f_best):
                    best_k, improved = kk, True
        if not improved:
            break
    z, f = results[best_k]
    return z, np.array(best_k, float), f, len(results)


# ----------------------------------------------------------------------------- plan
def plan(
    budget=None,
    *,
    law="epoch2024",
    cost_model=None,
    unit=None,
    unique=None,
    serving=None,
    fixed: Mapping[str, float] | None = None,
    free: Sequence[str] | str = (),
    target_loss: float | None = None,
    budget_bounds=None,
    n_bounds=None,
    d_bounds=None,
    hardware="h100-sxm",
    cost_settings: Mapping | None = None,
    unit_settings: Mapping | None = None,
    draws=None,
    level: float = 0.95,
    repetition_decay: float = MUENNIGHOFF_R_D,
    method: str = "auto",
    mix="optimal",
) -> Plan:
    """Plan a compute-optimal allocation.

    ``law``: a preset name (``epoch2024``, ...), a registered law name, a Law, or a
    FitResult whose bootstrap ``draws`` give intervals (``draws`` overrides them).
    ``cost_model``/``unit``: names or instances (``cost_settings``/``unit_settings`` are
    passed to the plugin); ``None`` (the default) takes a FitResult's own cost model and
    unit with their settings, else ``dense`` and ``tokens``.
    ``unique``: unique data in the unit (a number, a DataCount in the plan's unit, or a
    :class:`~tsbudget.timeseries.regimes.RegimeData` whose regimes repeat with their own decay, counted
    in the plan's unit or in ``"positions"``); repeated epochs are valued by effective data
    (Muennighoff et al. 2023 eq. 5, decay ``repetition_decay``) unless the law takes ``U``
    itself (``data_constrained``, ``repetition_penalty``: their own fitted repetition model;
    RegimeData is refused for them, since one ``U`` cannot carry per-regime decay). With
    regimes, ``mix`` is the sampling mix: ``"optimal"`` (water filling,
    :meth:`RegimeData.optimal_mix`), ``"natural"`` (the corpus's own shares) or an array of
    shares; the closed form is used only while no regime is repeated under that mix.
    ``Plan.effective_data`` is in the plan's unit. ``serving``: a :class:`~tsbudget.planning.serving.Serving`,
    a number of served positions, or a mapping of Serving fields. ``fixed`` pins cost-model
    variables; ``free`` names the ones to optimise (``"all"`` for every one); the rest
    stay at their defaults. ``budget`` (training + serving FLOPs) or ``budget_bounds=(lb,
    ub)``; with ``target_loss`` the plan minimises lifetime FLOPs, a ``budget`` or ``ub``
    caps them (error when the target costs more) and ``lb`` is a floor on spending: when
    the cheapest allocation reaching the target costs less than ``lb``, the plan is the
    budget-mode plan at ``lb`` (the lowest loss for that spend, below the target), with
    ``"budget lower limit"`` binding. ``n_bounds`` limit the law's ``N``; ``d_bounds``
    limit ``D`` in the unit, never below one model position (the default lower limit).
    ``method``: ``"auto"`` (closed form where it applies), ``"closed_form"`` (error if
    it does not) or ``"general"``.
    """
    setup = _setup(
        budget, law, cost_model, unit, unique, serving, fixed, free, target_loss, budget_bounds,
        n_bounds, d_bounds, hardware, cost_settings, unit_settings, draws, level, repetition_decay, method, mix,
    )
    return _solve(setup)


@attrs.define
class _Setup:
    problem: _Problem
    mode: str
    lb: float
    ub: float
    target: float | None
    draws: object
    label: str
    hardware: object
    level: float
    method: str
    budget_given: tuple | None


def _setup(budget, law, cost_model, unit, unique, serving, fixed, free, target_loss, budget_bounds,
           n_bounds, d_bounds, hardware, cost_settings, unit_settings, draws, level, repetition_decay, method,
           mix="optimal"):
    from tsbudget.planning.closed_form import parameter_arrays
    from tsbudget.registry import costmodels, units

    if method not in ("auto", "closed_form", "general"):
        raise InputError(f"method must be 'auto', 'closed_form' or 'general', got {method!r}")
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    law_obj, fit_draws, label, options = resolve_law(law)
    draws = fit_draws if draws is None else draws
    if draws is not None:
        parameter_arrays(law_obj, draws)  # validates the draws early
    if unit is None:
        unit = options.get("unit", "tokens")
        if not isinstance(unit, str):
            unit = "tokens"
        elif not unit_settings:
            unit_settings = options.get("unit_settings")  # the fit's tokenization
    if cost_model is None:  # the fit's cost model (and settings), else dense
        cost_model = options.get("cost_model") or "dense"
        if not isinstance(cost_model, str):
            cost_model = "dense"
        elif not cost_settings:
            cost_settings = options.get("cost_settings")
    cm = costmodels.resolve(cost_model, **dict(cost_settings or {}))
    un = units.resolve(unit, **dict(unit_settings or {}))

    # -- budget / target
    if target_loss is not None:
        mode = "target"
        target = float(target_loss)
        if not math.isfinite(target):
            raise InputError(f"target_loss must be finite, got {target_loss!r}")
        if budget is not None and budget_bounds is not None:
            raise InputError("give budget or budget_bounds, not both")
        lb, ub = (0.0, _positive(budget, "budget")) if budget is not None else _bounds(budget_bounds, "budget_bounds", (0.0, math.inf))
        budget_given = None if budget is None and budget_bounds is None else (lb, ub)
    else:
        mode, target = "budget", None
        if budget is None and budget_bounds is None:
            raise InputError("give a budget (FLOPs), budget_bounds=(lb, ub) or a target_loss")
        if budget is not None and budget_bounds is not None:
            raise InputError("give budget or budget_bounds, not both")
        if budget is not None:
            lb = ub = _positive(budget, "budget")
        else:
            lb, ub = _bounds(budget_bounds, "budget_bounds", None)
            if not math.isfinite(ub):
                raise InputError(f"budget_bounds needs a finite upper limit, got {budget_bounds!r}")
        budget_given = (lb, ub)

    # -- data
    regimes = None
    if hasattr(unique, "optimal_mix") and hasattr(unique, "effective"):  # RegimeData
        if "U" in law_obj.required_inputs:
            raise InputError(
                f"unique: regime data cannot be used with law {law_obj.name!r}, which models repetition "
                f"itself from one unique count with its own fitted decay; per-regime R* would be ignored. "
                f"Pass unique={float(unique.total_unique):.6g} (the regimes' total) to use the law's own "
                f"repetition model, or plan with a law without a U input (e.g. a Chinchilla-form law) "
                f"to use the regimes' R*"
            )
        regimes = _regimes_in_unit(unique, un)
        unique = float(regimes.total_unique)
        if isinstance(mix, str):
            if mix not in ("optimal", "natural"):
                raise InputError(f"mix must be 'optimal', 'natural' or an array of shares, got {mix!r}")
        else:
            mix = regimes.check_mix(mix)
    elif isinstance(getattr(unique, "unit", None), str) and hasattr(unique, "unique") and unique.unit != un.name:
        raise InputError(
            f"unique: the data count is in {unique.unit!r} but the plan's unit is {un.name!r}; "
            f"count the data in {un.name!r} or plan with unit={unique.unit!r}"
        )
    if unique is not None:
        unique = _positive(getattr(unique, "unique", unique), "unique")
    nb = _bounds(n_bounds, "n_bounds", DEFAULT_N_BOUNDS)
    if nb[0] <= 0:
        raise InputError(f"n_bounds lower limit must be > 0, got {n_bounds!r}")
    if not math.isfinite(nb[1]):
        nb = (nb[0], DEFAULT_N_BOUNDS[1])
    db = _bounds(d_bounds, "d_bounds", (0.0, math.inf))
    one_position = 1.0 / float(un.positions_per_unit())
    if db[1] < one_position * (1 - 1e-12):
        raise InputError(
            f"d_bounds upper limit {db[1]:.4g} {un.name} is less than one model position "
            f"({one_position:.4g} {un.name}); no run trains on less"
        )
    db = (max(db[0], one_position), db[1])  # a run trains on at least one position
    r_star = _positive(repetition_decay, "repetition_decay") if repetition_decay != math.inf else math.inf

    # -- variables
    known = {v.name: v for v in cm.variables}
    fixed = dict(fixed or {})
    if isinstance(free, str):
        free = tuple(known) if free == "all" else (free,)
    free = tuple(free)
    for name in list(fixed) + list(free):
        if name not in known:
            raise InputError(
                f"cost model {cm.name!r} has no variable {name!r}; its variables are {sorted(known) or 'none'}"
            )
    both = set(fixed) & set(free)
    if both:
        raise InputError(f"variable {sorted(both)[0]!r} is both fixed and free")
    fixed_values = {}
    free_vars = []
    for name, var in known.items():
        if name in free and var.lower < var.upper:
            free_vars.append(var)
        else:
            fixed_values[name] = float(var.check(fixed.get(name, var.default)))
    serving = as_serving(serving)
    if serving is not None:
        serving.serving_variables(cm)  # names checked now, not mid-optimisation
    law_unit = options.get("unit")
    law_ppu = None
    if isinstance(law_unit, str):
        law_ppu = units.resolve(law_unit, **dict(options.get("unit_settings") or {})).positions_per_unit()
    problem = _Problem(law_obj, law_obj.values, cm, un, unique, serving, fixed_values, free_vars, nb, db, r_star,
                       law_ppu=law_ppu)
    problem.regimes, problem.mix = regimes, mix
    hw = get_hardware(hardware)
    return _Setup(problem, mode, lb, ub, target, draws, label, hw, level, method, budget_given)


def _regimes_in_unit(regimes, unit):
    """``regimes`` counted in the plan's ``unit``.

    Counts in the plan's unit are used as they are; counts in model ``"positions"`` convert
    exactly through the unit's positions per unit (``RegimeData.scaled``: effective data is
    homogeneous of degree one in the counts). Any other unit (e.g. ``"windows"``, whose size
    in positions the plan cannot know) is refused rather than read as the plan's unit.
    """
    if regimes.unit == unit.name:
        return regimes
    if regimes.unit == "positions":
        return regimes.scaled(1.0 / float(unit.positions_per_unit()), unit.name)
    from tsbudget.registry import units

    other = f" or plan with unit={regimes.unit!r}" if regimes.unit in units else ""
    raise InputError(
        f"unique: RegimeData.unit is {regimes.unit!r} but the plan counts data in {unit.name!r}; "
        f"convert the counts first (RegimeData.scaled(factor, {unit.name!r}) with factor = {unit.name} per "
        f"one of {regimes.unit!r}, or count them in 'positions'){other}"
    )


def _closed_form_k(s: _Setup):
    """The cost coefficient ``k`` when the Chinchilla closed form applies, else None."""
    from tsbudget.planning.closed_form import is_chinchilla_form, linear_cost_coefficient

    p = s.problem
    if p.serving is not None or p.ints or p.reals or not is_chinchilla_form(p.law):
        return None
    return linear_cost_coefficient(p.cost_model, p.unit, p.fixed)


MAX_REPLANNED_DRAWS = 200  # bootstrap draws re-planned by the general optimizer in one plan


def _replan_draws(s, params, n_d, d_d, bad):
    """Re-plan the ``bad`` draws with the general optimizer; keep the first
    :data:`MAX_REPLANNED_DRAWS` draws when there are more (each is a full optimisation)."""
    used = n_d.size if not np.any(bad[MAX_REPLANNED_DRAWS:]) else min(n_d.size, MAX_REPLANNED_DRAWS)
    n_d, d_d = n_d[:used].copy(), d_d[:used].copy()
    params = {k: np.asarray(v)[:used] for k, v in params.items()}
    for i in np.flatnonzero(bad[:used]):
        problem = s.problem.with_params({k: float(v[i]) for k, v in params.items()})
        try:
            pl = _solve(attrs.evolve(s, problem=problem, draws=None, method="general"))
            n_d[i], d_d[i] = pl.N, pl.D
        except InfeasibleError:
            n_d[i] = d_d[i] = np.nan
    return n_d, d_d, params, used


def _solve(s: _Setup) -> Plan:
    planned = _solve_once(s)
    if s.mode == "target" and s.lb > 0 and planned.total_flops < s.lb * (1 - 1e-9):
        return _spend_lower_limit(s, planned)
    return planned


def _spend_lower_limit(s: _Setup, cheapest: Plan) -> Plan:
    """Target mode when the cheapest allocation reaching the target costs less than the
    budget lower limit ``lb``: spending must reach ``lb``, and every allocation that costs
    ``lb`` and reaches the target qualifies; the one with the lowest loss is the budget-mode
    plan at ``lb`` (its loss is below the target, since the cheaper allocation already
    reached it). Reported in target mode with ``"budget lower limit"`` binding."""
    at_lb = _solve_once(attrs.evolve(s, mode="budget", lb=s.lb, ub=s.lb, target=None))
    binding = ("budget lower limit",) + tuple(b for b in at_lb.binding if b != "budget")
    message = (
        f"the cheapest allocation reaching loss {s.target:.6g} costs {cheapest.total_flops:.4g} FLOPs, below the "
        f"budget lower limit {s.lb:.4g}; spending the lower limit, the best loss is {at_lb.loss:.6g} "
        f"(binding: {', '.join(binding)})"
    )
    diagnostics = {
        **at_lb.diagnostics,
        "cheapest_reaching_target_flops": cheapest.total_flops,
        "cheapest_reaching_target_N": cheapest.N,
    }
    return attrs.evolve(at_lb, message=message, mode="target", target_loss=s.target, budget=s.budget_given,
                        binding=binding, diagnostics=diagnostics)


def _solve_once(s: _Setup) -> Plan:

    p = s.problem
    _check_target(s)
    if s.method != "general":
        k = _closed_form_k(s)
        if k is not None:
            params = {kk: np.asarray(v) for kk, v in p.params.items()}
            N, D = p.closed_form(params, k, flops=s.ub if s.mode == "budget" else None, loss=s.target)
            N, D = float(N), float(D)
            inside = (
                p.n_bounds[0] <= N <= p.n_bounds[1]
                and p.d_bounds[0] <= D <= p.d_bounds[1]
                and bool(p.undiscounted(D))
                and (s.mode == "budget" or k * N * D <= s.ub)
            )
            if inside:
                return _assemble(s, N, D, {}, "closed form", {"flops_per_param_unit": k}, closed_k=k)
        if s.method == "closed_form":
            raise InputError(
                "the closed form does not apply here (it needs a Chinchilla-form law, training FLOPs "
                "exactly k·N·D, every variable fixed, no serving, no repetition and an optimum inside the bounds)"
            )
    obj = _Objective(p, s.mode, s.lb, s.ub, s.target)
    found = _optimize(obj)
    if found is None:
        _raise_infeasible(s, obj)
    z, kint, f, combos = found
    N, variables = obj.decode(z[None, :], kint[None, :])
    D = float(obj.data(z[None, :], kint[None, :], N, variables)[0])
    free_values = {v.name: float(kint[j]) for j, v in enumerate(p.ints)}
    free_values.update({v.name: float(variables[v.name][0]) for v in p.reals})
    diag = {"evaluations": p.evaluations, "integer_settings_polished": combos}
    planned = _assemble(s, float(N[0]), D, free_values, "general", diag)
    if s.mode == "target" and planned.total_flops > s.ub * (1 + 1e-9):
        raise InfeasibleError(
            f"the cheapest allocation reaching loss {s.target:.6g} costs {planned.total_flops:.4g} FLOPs, "
            f"above the budget upper limit {s.ub:.4g} by {planned.total_flops - s.ub:.4g} "
            f"(×{planned.total_flops / s.ub:.3g})"
        )
    return planned


def _check_target(s: _Setup):
    if s.mode != "target":
        return
    E = s.problem.params.get("E")
    if E is not None and s.target <= E:
        raise InfeasibleError(
            f"target loss {s.target:.6g} is at or below the law's irreducible loss E={float(E):.6g} "
            f"(by {float(E) - s.target:.4g}); no allocation reaches it"
        )


def _raise_infeasible(s: _Setup, obj: _Objective):
    p = s.problem
    nlo, nhi = p.n_bounds
    k = np.array([[v.lower for v in p.ints]]) if p.ints else np.zeros((1, 0))
    reals = np.array([[v.lower for v in p.reals]]) if p.reals else np.zeros((1, 0))
    if s.mode == "target":
        best, N, D, where = _lowest_reachable(p)
        raise InfeasibleError(
            f"target loss {s.target:.6g} is below the lowest loss reachable within the bounds, {best:.6g} "
            f"(at N={N:.4g}, D={D:.4g} {p.unit.name}{where}), by {best - s.target:.4g}"
        )
    variables = p.variables(k, reals, (1,))
    N = np.array([nlo])
    cheapest = float(p.serve_flops(N, variables)[0] + p.flops_per_unit(N, variables)[0] * p.d_bounds[0])
    if cheapest >= s.ub:
        floor = " = one position" if abs(p.d_bounds[0] * p.ppu - 1) < 1e-12 else ""
        raise InfeasibleError(
            f"budget {s.ub:.4g} FLOPs is below the smallest allowed model: the cheapest allowed allocation "
            f"(N={nlo:.4g}, D={p.d_bounds[0]:.4g} {p.unit.name}{floor}) costs {cheapest:.4g}"
            + (f" (serving {float(p.serve_flops(N, variables)[0]):.4g})" if p.serving is not None else "")
            + f", short by {cheapest - s.ub:.4g} (×{cheapest / s.ub:.3g})"
        )
    if math.isfinite(p.d_bounds[1]):
        N = np.array([nhi])
        dearest = float(p.serve_flops(N, variables)[0] + p.flops_per_unit(N, variables)[0] * p.d_bounds[1])
        if dearest < s.lb:
            raise InfeasibleError(
                f"budget lower limit {s.lb:.4g} FLOPs exceeds the most expensive allowed allocation "
                f"(N={nhi:.4g}, D={p.d_bounds[1]:.4g}, {dearest:.4g} FLOPs) by {s.lb - dearest:.4g}"
            )
    raise InfeasibleError(
        f"no allocation within n_bounds {p.n_bounds}, d_bounds {p.d_bounds} and the variables' bounds "
        f"spends a budget in [{s.lb:.4g}, {s.ub:.4g}] FLOPs"
    )


class _LossBox:
    """Predicted loss over the whole box: ``z = (log N, log D, real variables)`` within
    n_bounds, d_bounds (at most 1e32) and the variables' bounds; integers in ``k``."""

    mode = "box"

    def __init__(self, p: _Problem):
        self.p = p
        dlo, dhi = p.d_bounds[0], min(p.d_bounds[1], _D_CEIL)
        lo = [math.log(p.n_bounds[0]), math.log(dlo)]
        hi = [math.log(p.n_bounds[1]), math.log(max(dhi, dlo))]
        for v in p.reals:
            lo.append(math.log(v.lower) if v.log else v.lower)
            hi.append(math.log(v.upper) if v.log else v.upper)
        self.lo, self.hi = np.array(lo), np.array(hi)

    def decode(self, z, k):
        z = np.atleast_2d(z)
        m = z.shape[0]
        reals = np.empty((m, len(self.p.reals)))
        for j, v in enumerate(self.p.reals):
            reals[:, j] = np.clip(np.exp(z[:, 2 + j]) if v.log else z[:, 2 + j], v.lower, v.upper)
        N = np.clip(np.exp(z[:, 0]), *self.p.n_bounds)
        D = np.clip(np.exp(z[:, 1]), self.p.d_bounds[0], max(min(self.p.d_bounds[1], _D_CEIL), self.p.d_bounds[0]))
        return N, D, self.p.variables(np.atleast_2d(k), reals, (m,))

    def project(self, z, k):
        return np.array(z, float)

    def __call__(self, z, k):
        z = np.atleast_2d(z)
        k = np.broadcast_to(np.atleast_2d(k), (z.shape[0], len(self.p.ints)))

        def batch(idx):
            N, D, variables = self.decode(z[idx], k[idx])
            return self.p.loss(N, D, variables)

        return _safe(batch, z.shape[0])


def _lowest_reachable(p: _Problem, cap=200_000):
    """The lowest predicted loss over the box of allowed ``N``, ``D`` and variables, and where:
    a batched grid (log N × log D × real variables × integer candidates), then a polish of the
    best point. The loss need not be lowest at the largest model and data (the repetition
    penalty law rises with epochs), so the corner is not used. Returns ``(loss, N, D, text)``."""
    box = _LossBox(p)
    cands = [_integer_candidates(v) for v in p.ints]
    combos = np.array(list(itertools.product(*cands)), float) if p.ints else np.zeros((1, 0))
    other = [7] * len(p.reals)
    n = 97
    while n > 9 and n * n * int(np.prod(other or [1])) * len(combos) > cap:
        n = (n + 1) // 2
    axes = [np.linspace(box.lo[i], box.hi[i], n if i < 2 else other[i - 2]) for i in range(box.lo.size)]
    mesh = np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=1)
    Z = np.tile(mesh, (len(combos), 1))
    K = np.repeat(combos, len(mesh), axis=0)
    vals = box(Z, K)
    b = int(np.argmin(vals))
    z, f = _polish(box, Z[b].copy(), K[b])
    if not f <= vals[b]:
        z, f = Z[b], float(vals[b])
    N, D, variables = box.decode(z[None, :], K[b][None, :])
    free = [v.name for v in p.ints + p.reals]
    where = "".join(f", {name}={float(variables[name][0]):.4g}" for name in free)
    return float(f), float(N[0]), float(D[0]), where


def _quantiles(x, level):
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]  # draws the planner could not solve are left out
    if x.size == 0:
        return math.nan, math.nan, math.nan
    a = (1 - level) / 2
    return float(np.median(x)), float(np.quantile(x, a)), float(np.quantile(x, 1 - a))


def _assemble(s: _Setup, N, D, free_values, method, diagnostics, closed_k=None) -> Plan:
    from tsbudget.planning.closed_form import parameter_arrays

    p = s.problem
    merged = {**p.fixed, **free_values}
    variables = {v.name: merged[v.name] for v in p.cost_model.variables}  # declaration order
    arr = {k: np.asarray(v, float) for k, v in variables.items()}
    Na, Da = np.asarray(N, float), np.asarray(D, float)
    loss = float(p.loss(Na, Da, arr))
    positions = D * p.ppu
    train = float(p.flops_per_unit(Na, arr) * D)
    served = p.serving.served_positions if p.serving is not None else 0.0
    serve = float(p.serve_flops(Na, arr)) if p.serving is not None else 0.0
    serve_vars = {k: float(v) for k, v in p.serving.serving_variables(p.cost_model).items()} if p.serving else {}
    util = (p.serving.utilization if p.serving is not None else None) or s.hardware.serve_utilization
    effective = float(np.asarray(p.effective_data(Na, Da, arr)))
    if p.law_scale != 1.0:  # the law reads another unit: keep what it sees as a diagnostic
        diagnostics = {**diagnostics, "effective_data_law_unit": effective * p.law_scale}
    epochs = D / p.unique if p.unique else 1.0

    loss_interval, intervals = None, {}
    if s.draws is not None:
        params = parameter_arrays(p.law, s.draws)
        losses = p.loss(Na, Da, arr, params=params)
        _, lo, hi = _quantiles(losses, s.level)
        loss_interval = (lo, hi)
        if closed_k is not None:
            n_d, d_d = p.closed_form(params, closed_k, flops=s.ub if s.mode == "budget" else None, loss=s.target)
            n_d, d_d = np.asarray(n_d, float), np.asarray(d_d, float)
            bad = ~((n_d >= p.n_bounds[0]) & (n_d <= p.n_bounds[1]) & (d_d >= p.d_bounds[0])
                    & (d_d <= p.d_bounds[1]) & p.undiscounted(d_d))
            if s.mode == "target":
                bad |= closed_k * n_d * d_d > s.ub
            if np.any(bad):
                # draws whose closed-form optimum repeats data or leaves the bounds: the
                # general optimizer plans them (the first MAX_REPLANNED_DRAWS draws only)
                n_d, d_d, params, used = _replan_draws(s, params, n_d, d_d, bad)
                diagnostics = {**diagnostics, "draws_used": used, "draws_replanned": int(bad[:used].sum())}
            opt_loss = p.loss(n_d, d_d, arr, params=params)
            intervals = {
                "N_opt": _quantiles(n_d, s.level),
                "D_opt": _quantiles(d_d, s.level),
                "data_per_param": _quantiles(d_d / n_d, s.level),
                "loss_opt": _quantiles(opt_loss, s.level),
            }

    if p.regimes is not None:
        shares = np.asarray(p.regime_mix(Da), float).reshape(-1)
        diagnostics = {**diagnostics, **{f"mix[{r}]": float(x) for r, x in zip(p.regimes.regimes, shares)}}
        diagnostics.update({f"epochs[{r}]": float(x) for r, x in zip(p.regimes.regimes, D * shares / p.regimes.unique)})
    binding = _binding(s, N, D, free_values, train + serve)
    message = "compute-optimal allocation found" if s.mode == "budget" else "cheapest allocation reaching the target"
    if binding:
        message += f" (binding: {', '.join(binding)})"
    return Plan(
        success=True,
        message=message,
        mode=s.mode,
        method=method,
        N=float(N),
        active_params=float(np.asarray(p.cost_model.active_params(Na, **arr))),
        total_params=float(np.asarray(p.cost_model.total_params(Na, **arr))),
        D=float(D),
        unit=p.unit.name,
        positions=float(positions),
        unique=p.unique,
        epochs=float(epochs),
        effective_data=effective,
        variables={k: (int(v) if _is_int(p, k) else float(v)) for k, v in variables.items()},
        loss=loss,
        train_flops=train,
        inference_flops=serve,
        served_positions=float(served),
        train_gpu_hours=float(s.hardware.train_hours(train)),
        serve_gpu_hours=float(gpu_hours(serve, s.hardware.peak_flops, util)),
        hardware=s.hardware.name,
        law=s.label,
        cost_model=p.cost_model.name,
        budget=s.budget_given,
        target_loss=s.target,
        serving_variables=serve_vars,
        loss_interval=loss_interval,
        level=s.level,
        intervals=intervals,
        binding=tuple(binding),
        diagnostics=diagnostics,
    )


def _is_int(p: _Problem, name: str) -> bool:
    return any(v.name == name and v.integer for v in p.cost_model.variables)


def _binding(s: _Setup, N, D, free_values, cost) -> list[str]:
    p, out = s.problem, []
    near = lambda a, b: abs(a - b) <= 1e-6 * max(abs(b), 1e-300)  # noqa: E731
    if s.mode == "budget":
        if s.lb == s.ub:
            out.append("budget")
        else:
            if near(cost, s.ub):
                out.append("budget upper limit")
            if near(cost, s.lb):
                out.append("budget lower limit")
    else:
        out.append("target loss")
        if math.isfinite(s.ub) and near(cost, s.ub):
            out.append("budget upper limit")
    for name, (lo, hi), x in (("N", p.n_bounds, N), ("D", p.d_bounds, D)):
        if lo > 0 and near(x, lo):
            out.append(f"{name} lower bound")
        if math.isfinite(hi) and near(x, hi):
            out.append(f"{name} upper bound")
    for v in p.ints + p.reals:
        x = free_values[v.name]
        if near(x, v.lower):
            out.append(f"{v.name} lower bound")
        elif near(x, v.upper):
            out.append(f"{v.name} upper bound")
    if p.unique is not None and D > p.unique:
        out.append(f"unique data ({D / p.unique:.3g} epochs)")
    return out
