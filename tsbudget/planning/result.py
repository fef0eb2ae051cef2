"""The result of planning one allocation: :class:`Plan`."""

from __future__ import annotations

import attrs

from tsbudget.report import Report, fmt

__all__ = ["Plan", "deadweight_line"]


@attrs.frozen(repr=False)
class Plan(Report):
    """A planned allocation. ``N`` is the parameter count the law sees (active
    parameters for sparse models); ``D`` is data in ``unit``; ``positions`` is what the
    model processes; ``epochs`` is ``D / unique`` (1 when unique data is unlimited).

    ``loss_interval`` is the ``level`` percentile interval of this allocation's
    predicted loss across the law's bootstrap draws; ``intervals`` holds
    ``(median, lower, upper)`` of the per-draw *optimal* quantities where they were
    computed (closed form). ``binding`` names the bounds and constraints that bind;
    ``at_bound`` names the free variables whose optimum landed on a bound of their range (the
    law would move them further: the plan is a corner of the search, said in ``message``).
    ``served_units`` is the served load in ``unit``, ``served_positions`` the same in model positions.

    ``deadweight`` is the wasted compute of this plan if a bootstrap draw is the truth (the
    deadweight compute ``C − C_eq`` of Open-Athena's scaling-law analysis, per draw; see
    :func:`tsbudget.planning.draws.plan_deadweight`): ``(median, lower, upper)`` in ``flops``,
    ``percent`` of what the plan spends and ``gpu_hours``, with the draws used; empty without
    draws. ``extrapolation`` says how far the plan lies outside the runs its law was fitted on
    (:func:`tsbudget.planning.extrapolation.extrapolation`); empty when nothing is known.
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
    at_bound: tuple = ()
    served_units: float = 0.0
    deadweight: dict = attrs.field(factory=dict)
    extrapolation: dict = attrs.field(factory=dict)

    @property
    def total_flops(self) -> float:
        """FLOPs executed over the lifetime: training plus serving. With a roofline workload the
        budget counts serving by its GPU time instead (``diagnostics["lifetime_cost_flops"]``)."""
        return self.train_flops + self.inference_flops

    @property
    def data_per_param(self) -> float:
        """``D / N`` (tokens per parameter when the unit is tokens)."""
        return self.D / self.N

    def to_dict(self) -> dict:
        return {
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
            "served_units": self.served_units,
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
            "at_bound": list(self.at_bound),
            "diagnostics": dict(self.diagnostics),
            "deadweight": _jsonable(self.deadweight),
            "extrapolation": _jsonable(self.extrapolation),
        }

    def headline(self) -> str:
        """Success and message, then what was asked (budget or target) and of which law."""
        status = "success" if self.success else "FAILED"
        if self.mode == "budget":
            lb, ub = self.budget
            goal = f"budget {ub:.4g} FLOPs" if lb == ub else f"budget {lb:.4g}..{ub:.4g} FLOPs"
        else:
            goal = f"target loss {self.target_loss:.4g}"
            if self.budget:
                lb, ub = self.budget
                goal += f", lifetime FLOPs within [{lb:.4g}, {ub:.4g}]"
        text = (f"Plan: {status}: {self.message}\n"
                f"  {goal}; law {self.law}, cost model {self.cost_model}, unit {self.unit}")
        if self.deadweight:
            text += "\n  " + deadweight_line(self.deadweight)
        return text

    def estimate_lines(self) -> list[str]:
        lines = [
            f"N (law / active)   {self.N:.4g} / {self.active_params:.4g}   total params {self.total_params:.4g}",
            f"D                  {self.D:.4g} {self.unit}  ({self.positions:.4g} positions, "
            f"{self.data_per_param:.4g} per parameter)",
            f"epochs             {self.epochs:.4g}"
            + (f" over {self.unique:.4g} unique (effective data {self.effective_data:.4g})" if self.unique else ""),
        ]
        if self.variables:
            lines.append("variables          " + ", ".join(f"{k}={fmt(v)}" for k, v in self.variables.items()))
        loss = f"loss               {self.loss:.5g}"
        if self.loss_interval:
            loss += f"  [{self.loss_interval[0]:.5g}, {self.loss_interval[1]:.5g}] ({self.level:.0%} of draws)"
        lines.append(loss)
        lines.append(f"training FLOPs     {self.train_flops:.4g}  ({self.train_gpu_hours:.4g} GPU-hours, {self.hardware})")
        if self.served_positions:
            lines.append(
                f"serving FLOPs      {self.inference_flops:.4g}  ({self.serve_gpu_hours:.4g} GPU-hours; served "
                f"{self.served_units:.4g} {self.unit} = {self.served_positions:.4g} positions)"
            )
        lifetime = self.diagnostics.get("lifetime_cost_flops")
        if lifetime is not None:  # a roofline workload: the budget counts serving by its GPU time
            lines.append(f"lifetime cost      {lifetime:.4g} FLOPs of training time  (training + serving GPU time "
                         f"at the training throughput: what the budget or target counts)")
        for name, (med, lo, hi) in self.intervals.items():
            lines.append(f"{name:<18} median {med:.4g}  [{lo:.4g}, {hi:.4g}] over draws")
        return lines

    def diagnostic_lines(self) -> list[str]:
        """The solver's method, what binds, and the ``diagnostics`` numbers."""
        lines = [f"method             {self.method}", f"binding            {', '.join(self.binding) or 'nothing'}"]
        lines.extend(f"{k:<18} {fmt(v)}" for k, v in self.diagnostics.items())
        ratios = self.extrapolation.get("ratios")
        if ratios:
            names = {"budget": "training FLOPs", "n": "N", "d": "data"}
            lines.append("outside fit range " + ", ".join(f"{names[k]} {v:.3g}x" for k, v in ratios.items())
                         + f" (1x inside; warns past {self.extrapolation['factor']:g}x)")
        return lines


def deadweight_line(dw: dict) -> str:
    """One line for a plan's deadweight compute summary (see :attr:`Plan.deadweight`); waste below
    1e-10 of the spend (rounding) reads 0."""
    if "flops" not in dw:
        return f"wasted compute if a draw is the truth: not estimated ({dw.get('note', 'no draws')})"
    pcs = dw["percent"]
    zero = [abs(p) < 1e-8 for p in pcs]  # percent: 1e-10 of the spend

    def show(values):
        return ["0" if z else f"{v:.3g}" for v, z in zip(values, zero)]

    (f, flo, fhi), (pc, plo, phi) = show(dw["flops"]), show(pcs)
    hours = ""
    if "gpu_hours" in dw:
        h, hlo, hhi = show(dw["gpu_hours"])
        hours = f", {h} GPU-hours [{hlo}, {hhi}] on {dw.get('hardware', 'the hardware')}"
    failed = f", {dw['failed']} left out" if dw.get("failed") else ""
    own = dw.get("point_percent", 0.0)
    own = f"; {own:.3g}% under the point law itself (the plan is not its loss optimum)" if own > 1e-6 else ""
    return (f"wasted compute if a draw is the truth (DCL = C - C_eq): median {pc}% of the spend "
            f"[{plo}%, {phi}%] = {f} FLOPs [{flo}, {fhi}]{hours} "
            f"({dw['level']:.0%} of {dw['draws']} draws{failed}){own}")


def _jsonable(d: dict) -> dict:
    """``d`` with tuples as lists (numpy scalars as floats), for JSON."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out[k] = _jsonable(v)
        elif isinstance(v, (tuple, list)):
            out[k] = [float(x) if not isinstance(x, str) else x for x in v]
        else:
            out[k] = v
    return out
