"""Why a plan is infeasible: the messages of :class:`~tsbudget.errors.InfeasibleError`.

When the general optimiser finds no allocation, :func:`raise_infeasible` names the
constraint that cannot be met and by how much; for a target loss it finds the lowest loss
reachable within the bounds (:func:`lowest_reachable`, over the :class:`LossBox`).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from tsbudget.errors import InfeasibleError
from tsbudget.planning.objective import D_CEIL
from tsbudget.planning.optimizer import integer_candidates, polish
from tsbudget.planning.problem import Problem, evaluate_safely
from tsbudget.planning.quantities import serving_quantities
from tsbudget.planning.request import PlanRequest

__all__ = ["LossBox", "lowest_reachable", "raise_infeasible"]


def raise_infeasible(s: PlanRequest):
    """Raise an InfeasibleError that says why no allocation satisfies ``s``: the target is
    below the lowest reachable loss, the budget is below the smallest allowed allocation or
    its lower limit above the largest, or no allocation spends the budget within the bounds."""
    p = s.problem
    nlo, nhi = p.n_bounds
    serving_limit = _serving_infeasibility(p)
    k = np.array([[v.lower for v in p.ints]]) if p.ints else np.zeros((1, 0))
    reals = np.array([[v.lower for v in p.reals]]) if p.reals else np.zeros((1, 0))
    if s.mode == "target":
        serving = p.serving is not None and p.serving.roofline
        best, N, D, where = lowest_reachable(p, serving_feasible=serving)
        if not np.isfinite(best):
            raise InfeasibleError(serving_limit or "no allocation within the bounds has a finite predicted loss")
        meeting = " by models that meet the serving latency target" if serving else ""
        raise InfeasibleError(
            f"target loss {s.target:.6g} is below the lowest loss reachable within the bounds{meeting}, {best:.6g} "
            f"(at N={N:.4g}, D={D:.4g} {p.unit.name}{where}), by {best - s.target:.4g}"
            + (f"; {serving_limit}" if serving_limit else "")
        )
    if serving_limit:
        raise InfeasibleError(serving_limit)
    variables = p.variables(k, reals, (1,))
    N = np.array([nlo])
    cheapest = float(p.serve_cost(N, variables)[0] + p.flops_per_unit(N, variables)[0] * p.d_bounds[0])
    if cheapest >= s.ub:
        floor = " = one position" if abs(p.d_bounds[0] * p.ppu - 1) < 1e-12 else ""
        raise InfeasibleError(
            f"budget {s.ub:.4g} FLOPs is below the smallest allowed model: the cheapest allowed allocation "
            f"(N={nlo:.4g}, D={p.d_bounds[0]:.4g} {p.unit.name}{floor}) costs {cheapest:.4g}"
            + (f" (serving {float(p.serve_cost(N, variables)[0]):.4g})" if p.serving is not None else "")
            + f", short by {cheapest - s.ub:.4g} (×{cheapest / s.ub:.3g})"
        )
    if math.isfinite(p.d_bounds[1]):
        N = np.array([nhi])
        dearest = float(p.serve_cost(N, variables)[0] + p.flops_per_unit(N, variables)[0] * p.d_bounds[1])
        if dearest < s.lb:
            raise InfeasibleError(
                f"budget lower limit {s.lb:.4g} FLOPs exceeds the most expensive allowed allocation "
                f"(N={nhi:.4g}, D={p.d_bounds[1]:.4g}, {dearest:.4g} FLOPs) by {s.lb - dearest:.4g}"
            )
    raise InfeasibleError(
        f"no allocation within n_bounds {p.n_bounds}, d_bounds {p.d_bounds} and the variables' bounds "
        f"spends a budget in [{s.lb:.4g}, {s.ub:.4g}] FLOPs"
    )


def _serving_infeasibility(p: Problem) -> str | None:
    """Why a roofline serving workload rules models out, or None when it does not matter.

    Over a grid of allowed models (97 sizes across n_bounds × the integer candidates × 7
    values of each real variable): None when every model meets the latency target; else the
    sentence naming what binds (bandwidth, compute; capacity sets the devices per replica)
    and by how much (the roofline's ``shortfall`` at batch 1) for the model closest to
    meeting it, and whether any allowed model meets it at all.
    """
    if p.serving is None or not p.serving.roofline:
        return None
    cands = [integer_candidates(v) for v in p.ints]
    cands += [np.geomspace(v.lower, v.upper, 7) if v.log and v.lower > 0 else np.linspace(v.lower, v.upper, 7)
              for v in p.reals]
    sizes = np.geomspace(p.n_bounds[0], p.n_bounds[1], 97)
    combos = np.array(list(itertools.product(sizes, *cands)), float)
    names = [v.name for v in p.ints + p.reals]
    variables = {**{k: np.full(len(combos), float(v)) for k, v in p.fixed.items()},
                 **{name: combos[:, j + 1] for j, name in enumerate(names)}}
    q = serving_quantities(p, combos[:, 0], variables)
    feasible = np.broadcast_to(np.asarray(q["feasible"], bool), (len(combos),))
    if feasible.all():
        return None
    shortfall = np.broadcast_to(np.asarray(q["shortfall"], float), (len(combos),))
    i = int(np.argmin(np.where(feasible, np.inf, shortfall)))
    pick = {k: np.broadcast_to(np.asarray(v), (len(combos),))[i] for k, v in q.items()}
    sv = p.serving
    targets = " and ".join(t for t in (
        f"{sv.latency_ms:g} ms per generated position" if sv.latency_ms is not None else "",
        f"{sv.request_latency_ms:g} ms per request" if sv.request_latency_ms is not None else "") if t)
    where = "".join(f", {name}={combos[i, j + 1]:.4g}" for j, name in enumerate(names))
    limit = str(pick["latency_limit"])
    scope = "no allowed model meets" if not feasible.any() else "larger models miss"
    return (
        f"serving latency target {targets}: {scope} it; {'the closest' if not feasible.any() else 'the first to miss'}"
        f" (N={combos[i, 0]:.4g}{where}) misses it by ×{float(pick['shortfall']):.4g} at batch 1, bound by "
        f"{limit} (decode {float(pick['decode_latency_ms']):.4g} ms per position on "
        f"{int(pick['devices_per_replica'])} device(s) of {p.hardware.name} per replica, the count capacity sets, "
        f"at {sv.precision or 'bf16'})"
    )


class LossBox:
    """Predicted loss over the whole box: ``z = (log N, log D, real variables)`` within
    n_bounds, d_bounds (at most 1e32) and the variables' bounds; integers in ``k``.
    With ``serving_feasible``, a model whose roofline serving misses the latency target
    (serving cost ``inf``) has loss ``inf``."""

    mode = "box"

    def __init__(self, p: Problem, serving_feasible: bool = False):
        self.p, self.serving_feasible = p, serving_feasible
        dlo, dhi = p.d_bounds[0], min(p.d_bounds[1], D_CEIL)
        real_lo, real_hi = p.real_box()
        self.lo = np.array([math.log(p.n_bounds[0]), math.log(dlo), *real_lo])
        self.hi = np.array([math.log(p.n_bounds[1]), math.log(max(dhi, dlo)), *real_hi])

    def decode(self, z, k):
        z = np.atleast_2d(z)
        m = z.shape[0]
        reals = self.p.decode_reals(z, 2)
        N = np.clip(np.exp(z[:, 0]), *self.p.n_bounds)
        D = np.clip(np.exp(z[:, 1]), self.p.d_bounds[0], max(min(self.p.d_bounds[1], D_CEIL), self.p.d_bounds[0]))
        return N, D, self.p.variables(np.atleast_2d(k), reals, (m,))

    def project(self, z, k):
        return np.array(z, float)

    def __call__(self, z, k):
        z = np.atleast_2d(z)
        k = np.broadcast_to(np.atleast_2d(k), (z.shape[0], len(self.p.ints)))

        def batch(idx):
            N, D, variables = self.decode(z[idx], k[idx])
            loss = self.p.loss(N, D, variables)
            if self.serving_feasible:
                loss = np.where(np.isfinite(self.p.serve_cost(N, variables)), loss, np.inf)
            return loss

        return evaluate_safely(batch, z.shape[0])


def lowest_reachable(p: Problem, cap=200_000, serving_feasible: bool = False):
    """The lowest predicted loss over the box of allowed ``N``, ``D`` and variables, and where:
    a batched grid (log N × log D × real variables × integer candidates), then a polish of the
    best point. The loss need not be lowest at the largest model and data (the repetition
    penalty law rises with epochs), so the corner is not used. Returns ``(loss, N, D, text)``."""
    box = LossBox(p, serving_feasible)
    cands = [integer_candidates(v) for v in p.ints]
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
    z, f = polish(box, Z[b].copy(), K[b])
    if not f <= vals[b]:
        z, f = Z[b], float(vals[b])
    N, D, variables = box.decode(z[None, :], K[b][None, :])
    free = [v.name for v in p.ints + p.reals]
    where = "".join(f", {name}={float(variables[name][0]):.4g}" for name in free)
    return float(f), float(N[0]), float(D[0]), where
