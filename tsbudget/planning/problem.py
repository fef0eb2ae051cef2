"""The planning problem: loss and cost of candidate allocations, evaluated in batches.

A :class:`Problem` holds what a plan is about (law and parameter values, cost model and
variables, data unit, unique data and its regimes, serving, bounds) and evaluates, for
arrays of candidates, the predicted loss (with effective data under repetition, Muennighoff
et al. 2023 eq. 5), training FLOPs per unit of data and the serving cost (:meth:`Problem.serve_cost`).
Costs are in the budget's unit, FLOPs: a roofline serving workload's GPU time counts as the
FLOPs the training hardware would do in that time. The optimiser, the
closed form and the result assembly all read it; :meth:`Problem.with_params` re-plans one
bootstrap draw.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping

import numpy as np

from tsbudget.errors import InputError, PluginError, TsbudgetError
from tsbudget.planning.closed_form import closed_form_budget, closed_form_target, is_chinchilla_form
from tsbudget.timeseries.effective_data import effective_data, effective_data_of_valid

__all__ = ["LAW_DATA_INPUTS", "Problem", "evaluate_safely"]

#: Law inputs that are data or model size; every other law input is a cost-model variable.
LAW_DATA_INPUTS = ("N", "D", "U")


class Problem:
    """Vectorized evaluation of loss and cost for candidate allocations: the law with its
    parameter values, the cost model with its fixed and free variables, the data unit, the
    unique data (with its regimes and sampling mix), serving, and the bounds of ``N`` and ``D``.
    Counts the law evaluations it makes (``evaluations``)."""

    def __init__(self, law, params, cost_model, unit, unique, serving, fixed, free, n_bounds, d_bounds, r_star,
                 law_ppu=None, regimes=None, mix="optimal", hardware=None):
        self.law, self.params, self.cost_model, self.unit = law, params, cost_model, unit
        self.ppu = float(unit.positions_per_unit())
        # The law reads data in the unit it was fitted in; both units meet in model positions,
        # so one plan unit is ``law_scale`` law units (1 when the law's unit is unknown).
        self.law_scale = self.ppu / float(law_ppu) if law_ppu else 1.0
        self.unique, self.serving, self.fixed = unique, serving, fixed
        self.ints = [v for v in free if v.integer]
        self.reals = [v for v in free if not v.integer]
        self.n_bounds, self.d_bounds, self.r_star = n_bounds, d_bounds, r_star
        self.law_vars = [k for k in law.required_inputs if k not in LAW_DATA_INPUTS]
        known = {v.name for v in cost_model.variables}
        missing = [k for k in self.law_vars if k not in known]
        if missing:
            raise InputError(
                f"law {law.name!r} needs input {missing[0]!r}, which cost model {cost_model.name!r} "
                f"does not declare (its variables: {sorted(known) or 'none'})"
            )
        self.evaluations = 0
        self.regimes, self.mix = regimes, mix
        self.hardware = hardware
        self.price_ratio = 1.0
        if serving is not None and serving.roofline:
            if hardware is None:
                raise InputError("a roofline serving workload needs the hardware it is served on")
            self.price_ratio = serving.price_ratio(hardware)  # refuses two devices without prices

    # variables as arrays broadcast to ``shape``
    def variables(self, ints, reals, shape) -> dict[str, np.ndarray]:
        out = {k: np.broadcast_to(np.asarray(v, float), shape) for k, v in self.fixed.items()}
        for j, var in enumerate(self.ints):
            out[var.name] = np.broadcast_to(ints[..., j], shape)
        for j, var in enumerate(self.reals):
            out[var.name] = np.broadcast_to(reals[..., j], shape)
        return out

    # the free real variables in optimiser coordinates (log scale where the variable is)
    def real_box(self) -> tuple[list[float], list[float]]:
        """Lower and upper ends of the free real variables' coordinates."""
        lo = [math.log(v.lower) if v.log else v.lower for v in self.reals]
        hi = [math.log(v.upper) if v.log else v.upper for v in self.reals]
        return lo, hi

    def decode_reals(self, z, start: int) -> np.ndarray:
        """The free real variables ``(m, len(reals))`` from coordinates ``z[:, start:]``,
        clipped to their bounds."""
        reals = np.empty((z.shape[0], len(self.reals)))
        for j, v in enumerate(self.reals):
            reals[:, j] = np.clip(np.exp(z[:, start + j]) if v.log else z[:, start + j], v.lower, v.upper)
        return reals

    def law_data(self, D, valid=False):
        """The law's data inputs for ``D`` units read: ``D`` (effective data under
        repetition, Muennighoff et al. 2023 eq. 5, when the law has no ``U`` input) and ``U``.
        ``valid``: ``D`` is a float array, finite and > 0 (the optimiser's candidates), so only
        the unique data and decay are checked, once per problem."""
        s = self.law_scale
        if "U" in self.law.required_inputs:
            return {"D": s * D, "U": s * np.broadcast_to(self.unique, np.shape(D)) if self.unique else s * D}
        if self.unique is None:
            return {"D": s * D}
        if self.regimes is not None:
            return {"D": s * self.regimes.effective(D, self.regime_mix(D))}
        if valid:
            return {"D": s * effective_data_of_valid(D, *self._repetition())}
        return {"D": s * effective_data(D, self.unique, self.r_star)}

    def _repetition(self):
        """``(unique, r_star)`` as float arrays, checked as :func:`effective_data` checks them
        (raising as it does), once per problem."""
        got = self.__dict__.get("_checked_repetition")
        if got is None or got[0] is not self.unique or got[1] is not self.r_star:
            effective_data(1.0, self.unique, self.r_star)
            got = (self.unique, self.r_star, np.asarray(self.unique, float), np.asarray(self.r_star, float))
            self._checked_repetition = got
        return got[2], got[3]

    def with_params(self, params: Mapping) -> "Problem":
        """A shallow copy planning with other law parameter values (one bootstrap draw)."""
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
        ``U`` apply their own repetition model and report it through :meth:`Law.effective`
        (the data-constrained law: eq. 5 with the law's own fitted ``R_D*``; the default, as for
        the repetition penalty law, whose data term is ``B/(U_D(1+R_D))^β = B/D^β`` and whose
        repeats cost through a separate penalty, counts every unit seen). Law units are converted back through model positions.
        """
        s = self.law_scale
        data = self.law_data(D)
        if "U" in self.law.required_inputs:
            inputs = {"N": N, **data, **{k: variables[k] for k in self.law_vars}}
            with np.errstate(all="ignore"):
                out = self.law.effective(self.params if params is None else params, inputs)
            return np.asarray(out["D_eff"], float) / s * np.ones(np.shape(data["D"]))
        return np.asarray(data["D"], float) / s

    def closed_form(self, params, k, flops=None, loss=None):
        """``(N, D)`` with ``D`` in the plan's unit from the Chinchilla closed form, solved in
        the law's unit: ``C = k·N·D = (k/s)·N·(s·D)`` with ``s`` law units per plan unit."""
        if not is_chinchilla_form(self.law):  # the law's own closed form (e.g. Kaplan's frontier), budgets only
            if loss is not None:
                return np.full(np.shape(loss), np.nan), np.full(np.shape(loss), np.nan)  # not valid: general path
            N, d_law = self.law.optimal_allocation(flops, k / self.law_scale, params=params)
        elif loss is None:
            N, d_law = closed_form_budget(params, flops, k / self.law_scale)
        else:
            N, d_law = closed_form_target(params, loss)
        return N, d_law / self.law_scale

    def regime_mix(self, D):
        """Sampling shares of the regimes: water-filling optimum, the corpus mix, or given."""
        if isinstance(self.mix, str):
            return self.regimes.optimal_mix(D) if self.mix == "optimal" else self.regimes.natural_mix
        return self.mix

    def loss(self, N, D, variables, params=None, valid_data=False) -> np.ndarray:
        """Predicted loss (``inf`` where the law is not finite), under ``params`` when given;
        ``valid_data`` as :meth:`law_data`'s ``valid``."""
        self.evaluations += int(np.size(N))
        inputs = {"N": N, **self.law_data(D, valid_data), **{k: variables[k] for k in self.law_vars}}
        with np.errstate(all="ignore"):
            out = self.law.predict(self.params if params is None else params, inputs)
        return np.where(np.isfinite(out), out, np.inf)

    def flops_per_unit(self, N, variables) -> np.ndarray:
        """Training FLOPs per unit of data: the cost model's FLOPs per position × positions per unit."""
        return np.asarray(self.cost_model.train_flops_per_position(N, **variables), float) * self.ppu

    def serve_flops(self, N, variables) -> np.ndarray:
        """Lifetime inference FLOPs over the served positions (Sardana & Frankle 2024); 0 without serving."""
        if self.serving is None:
            return np.zeros(np.shape(N))
        return np.asarray(self.serving.inference_flops(self.cost_model, N, variables), float)

    @property
    def flops_per_gpu_second(self) -> float:
        """Training FLOPs one GPU-second buys: peak FLOP/s × training utilisation of the hardware.
        The exchange rate between GPU time and the budget's FLOPs (GPU-hours = FLOPs / (peak ·
        utilisation · 3600), Chowdhery et al. 2022 App. B, read backwards)."""
        return float(self.hardware.peak_flops) * float(self.hardware.train_utilization)

    def serve_seconds(self, N, variables) -> np.ndarray:
        """GPU-seconds of a roofline workload (``inf`` where latency or capacity rule it out)."""
        return np.asarray(self.serving.gpu_seconds(self.cost_model, N, self.hardware, variables), float)

    def serve_cost(self, N, variables) -> np.ndarray:
        """Serving cost in the budget's unit (FLOPs); 0 without serving.

        FLOPs-only serving costs its inference FLOPs (Sardana & Frankle 2024, eq. 2-3: lifetime
        FLOPs = training + inference FLOPs), exactly :meth:`serve_flops`. A roofline workload
        costs its GPU time converted at the training throughput, ``GPU-seconds ×
        peak × training utilisation`` (:attr:`flops_per_gpu_second`), so the budget and the
        target-mode objective stay ``training FLOPs + serving``, now a GPU-time budget in
        training-FLOPs units: training GPU-hours + serving GPU-hours = cost / (peak ·
        training utilisation · 3600). With unbounded memory bandwidth, prefill and decode
        are compute-bound and this equals the inference FLOPs × (training / serving
        utilisation) × (peak / peak at the serving precision): the FLOPs-only cost when the
        two utilisations are equal and the precision is the profile's dense peak (bf16).
        Served on other hardware at another price, a serving GPU-second counts as
        ``price_ratio`` (serving / training price) training GPU-seconds.
        """
        if self.serving is None:
            return np.zeros(np.shape(N))
        if not self.serving.roofline:
            return self.serve_flops(N, variables)
        return self.serve_seconds(N, variables) * (self.price_ratio * self.flops_per_gpu_second)


def evaluate_safely(fn, n: int):
    """Run ``fn(idx)`` over all ``n`` candidates (``idx`` a slice of all of them first, index
    arrays after a failure); where a batch raises a TsbudgetError (a variable combination the
    cost model rejects), split it to isolate the bad ones (inf)."""

    def run(idx):
        try:
            return fn(idx)
        except PluginError:  # a plugin returning NaN is its fault, not the candidates'
            raise
        except TsbudgetError:
            if idx.size == 1:
                return np.full(1, np.inf)
            half = idx.size // 2
            return np.concatenate([run(idx[:half]), run(idx[half:])])

    try:  # all at once, indexed by a slice (views, not copies): the common case
        return fn(slice(None))
    except PluginError:
        raise
    except TsbudgetError:
        return run(np.arange(n))

