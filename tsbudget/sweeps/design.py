"""Design the next IsoFLOP sweep: which small runs to train so the next fit is sharper.

For each budget ``C`` (log-spaced or given) and each setting of the swept cost-model
variables, ``per_budget`` model sizes are spread evenly in ``log N`` over
``[N_opt/spread, N_opt·spread]`` around the predicted compute-optimal ``N_opt``
(Hoffmann et al. 2022 §3.2, Approach 2: IsoFLOP profiles around the valley). Each run's
data follows from the cost model so that it spends its budget:
``positions = C / train_flops_per_position(N, variables)``, ``D = positions / positions_per_unit``;
its predicted loss, FLOPs and GPU-hours (``FLOPs / (peak · utilisation · 3600)``) are
listed, and how far it extrapolates from what was already fitted: ``flops_ratio`` is the
budget over the largest fitted budget, ``n_ratio`` the size over the largest fitted size,
and ``extrapolates`` is true outside either fitted range.

Units. ``D`` is counted in the sweep's unit (by default the fit's, with the fit's
tokenization settings); the law is evaluated in the unit it was fitted in. Both meet in
model positions, so one sweep unit is ``s = ppu_sweep / ppu_law`` law units and the law
reads ``s·D`` (as :func:`tsbudget.planning.plan.plan` does). The cost model likewise defaults to the
fit's, rebuilt with its saved settings.

Choosing runs (``target_budget``, optionally ``sweep_budget``). With bootstrap draws of the
law, the design is a greedy, linearised Bayesian one that uses the draws as the current
uncertainty: over draws ``d`` take ``q_d = log N_opt(C_target)`` and, for every candidate
run ``j``, ``y_dj = log L_d(run j)``. Treating (q, y) as jointly Gaussian with the draws'
covariance ``Σ`` and observing run ``j`` with log-loss noise ``σ²`` reduces the variance of
``q`` by ``Σ_qj² / (Σ_jj + σ²)``, after which ``Σ ← Σ − Σ_·j Σ_j· / (Σ_jj + σ²)`` (the
Kalman update with the ensemble covariance standing in for the prior, as in the ensemble
Kalman filter of Evensen 2003, "The Ensemble Kalman Filter: theoretical formulation and
practical implementation", Ocean Dynamics 53). Runs are added greedily by variance
reduction per FLOP while they fit in the remaining ``sweep_budget``.

The noise is what makes the predicted spread a standard deviation rather than a score:
``σ`` is the residual scale of the fit (:func:`tsbudget.sweeps.noise.noise_from_fit`), inflated for the Huber
loss the refit will use (:func:`huber_noise`: a Huber fit with δ = 1e-3 on 0.5% noise is
about as efficient as least squares with 1.19× the noise). Measured on synthetic sweeps
(Chinchilla law, 24 fitted runs at 1e18–1e20, candidates at 1e20–1e21, target 1e21, 30
bootstrap draws): the predicted sd of ``log N_opt`` after the selected runs averaged 0.98×
(noise 0.5%) and 1.03× (noise 1%) the sd of refits over 80 simulated sweeps, 0.64×–1.33× for
single data sets, because it inherits the error of the bootstrap sd it starts from
(0.08–0.17 against a true 0.098). It is a linearised prediction: read it as the expected
size of the interval after refitting, and refit once the runs are done.

When to stop (``criterion``, :mod:`tsbudget.sweeps.criteria`). ``"dcl"`` (the default) prices
the uncertainty in compute: the expected deadweight compute of the plan at the target (the
point plan's ``DCL = C − C_eq`` under each bootstrap draw taken as the truth, averaged), and
takes runs in the order above only while each is expected to save more compute at the target
than it costs. It is the default because that is the decision a sweep serves (how many small
runs are worth training for this target), because it selects a prefix of the variance order
(never a different run), and because the variance criterion spends the whole sweep budget even
where that costs more than the error it removes: on the synthetic sweeps above with a 1e23
target and a 3e21 sweep budget, the variance criterion's 12 runs (2.55e21 FLOPs) cut the mean
waste of the refitted plan from about 1.0e21 to 0.6e21 FLOPs, while the DCL criterion stopped
after 7 runs costing 3.4e20 FLOPs. The predicted waste inherits the bootstrap's spread (here
3.9e21 predicted now against 1.0e21 realised over 24 simulated data sets) and the linearised
gain of cheap runs is optimistic (a 33% cut predicted for those 7 runs, about 1% realised; from 300
bootstrap draws instead of 30, 36% predicted against 8%), because the bootstrap overstates the
current spread (0.28 in log N_opt against 0.17 over the simulated data sets): check
a design with :func:`tsbudget.sweeps.simulated_fits.simulate_fits`. ``"variance"`` keeps the
behaviour above: runs while they reduce the variance and fit in the sweep budget.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from pathlib import Path

import attrs
import numpy as np
import polars as pl

from tsbudget.errors import InputError
from tsbudget.io import write_table
from tsbudget.percentiles import percentile_interval
from tsbudget.report import Report, fmt, jsonable
from tsbudget.sweeps.criteria import CRITERIA, expected_waste, greedy
from tsbudget.sweeps.noise import DEFAULT_DELTA, NOISE_WITHOUT_FIT, huber_noise
from tsbudget.sweeps.noise import noise_from_fit as _noise_from_fit
from tsbudget.variables import as_positive_array, positive_number

__all__ = ["Sweep", "huber_noise", "sweep"]


@attrs.frozen(eq=False, repr=False)
class Sweep(Report):
    """A designed sweep: ``table`` (one row per run; write it with :meth:`write`),
    ``totals`` (runs, FLOPs and GPU-hours, all and selected) and ``design`` (the target
    optimum and how much the selected runs are predicted to shrink its uncertainty)."""

    table: pl.DataFrame
    totals: dict
    design: dict
    options: dict

    def write(self, path, selected_only: bool = False) -> Path:
        """Write the run list as CSV (``.csv``) or Parquet (``.parquet``/``.pq``), atomically."""
        df = self.table.filter(pl.col("selected")) if selected_only and "selected" in self.table.columns else self.table
        return write_table(df, path, "sweep output")

    def to_dict(self) -> dict:
        return jsonable({"runs": self.table.to_dicts(), "totals": self.totals, "design": self.design,
                         "options": self.options})

    def headline(self) -> str:
        t, o = self.totals, self.options
        return (f"Sweep: {t['runs']} runs over {len(o['budgets'])} budgets ({o['per_budget']} sizes per budget, "
                f"spread ×{o['spread']:g} in N); law {o['law']}, cost model {o['cost_model']}, unit {o['unit']}")

    def estimate_lines(self) -> list[str]:
        t = self.totals
        lines = [f"total {t['flops']:.4g} FLOPs, {t['gpu_hours']:.4g} GPU-hours ({self.options['hardware']})"]
        if self.design:
            d = self.design
            lines.append(f"target {d['target_budget']:.4g} FLOPs: N_opt {d['N_opt']:.4g}; sd of log N_opt "
                         f"{d['sd_log_n_before']:.3g} now (bootstrap), {d['sd_log_n_after']:.3g} predicted after "
                         f"the {t['selected_runs']} selected runs ({t['selected_flops']:.4g} FLOPs, "
                         f"{t['selected_gpu_hours']:.4g} GPU-hours; linearised, refit to confirm)")
            if d.get("expected_dcl_before") is not None:
                after = d["expected_dcl_after"]
                lines.append(f"expected wasted compute (DCL) at the target {d['expected_dcl_before']:.4g} FLOPs "
                             f"({100 * d['expected_dcl_before'] / d['target_budget']:.3g}% of it, "
                             f"{d['expected_dcl_before_gpu_hours']:.4g} GPU-hours) now, "
                             + (f"{after:.4g} FLOPs ({d['expected_dcl_after_gpu_hours']:.4g} GPU-hours) predicted "
                                "after the selected runs" if after is not None else
                                "no prediction after (the draws do not spread)"))
            lines.append(f"run noise {d['noise']:.3g} in log loss ({d['noise_source']}), "
                         f"{d['noise_effective']:.3g} effective under the Huber loss")
            if d.get("note"):
                lines.append(d["note"])
        if self.options.get("budget_note"):
            lines.append(self.options["budget_note"])
        return lines

    def diagnostic_lines(self) -> list[str]:
        """The run list, one row per run."""
        cols = ["budget", "N", "D", "predicted_loss", "gpu_hours", "flops_ratio", "extrapolates"]
        if "selected" in self.table.columns:
            cols.append("selected")
        cols += [c for c in self.options.get("cost_variables", self.options.get("variables", []))
                 if c in self.table.columns]
        lines = ["runs:", "  " + "  ".join(f"{c[:12]:>12}" for c in cols)]
        for row in self.table.select(cols).iter_rows():
            lines.append("  " + "  ".join(f"{fmt(v):>12}" for v in row))
        return lines


#: Most runs one sweep may design (budgets × per_budget × variable combinations). Measured here
#: (2 shared cores): ``tsbudget sweep --per-budget P`` over 5 budgets took 3.4 s for 500 runs,
#: 5.4 s for 5,000 and 42 s for 50,000; 10,000 training runs are far beyond any real sweep.
MAX_SWEEP_RUNS = 10_000
def _combos(cm, variables: Mapping | None) -> list[dict]:
    known = {v.name: v for v in cm.variables}
    grid = {}
    for name, values in dict(variables or {}).items():
        if name not in known:
            raise InputError(f"cost model {cm.name!r} has no variable {name!r}; its variables are {sorted(known) or 'none'}")
        vals = np.atleast_1d(np.asarray(values, dtype=float)).ravel()
        known[name].check(vals)
        grid[name] = vals
    if not grid:
        return [{}]
    return [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]


def sweep(
    law="chinchilla2022",
    budgets=None,
    *,
    per_budget: int = 5,
    spread: float = 4.0,
    cost_model=None,
    unit=None,
    variables: Mapping | None = None,
    hardware="h100-sxm",
    draws=None,
    target_budget: float | None = None,
    sweep_budget: float | None = None,
    noise: float | None = None,
    level: float = 0.95,
    cost_settings: Mapping | None = None,
    unit_settings: Mapping | None = None,
    criterion: str = "dcl",
) -> Sweep:
    """Design an IsoFLOP sweep (see the module docstring).

    ``law``: a preset name, a Law, or a FitResult (its bootstrap draws and fitted ranges
    are used). ``budgets``: FLOPs (array, or ``"LOW:HIGH:COUNT"``/``"C1,C2"``); default: five
    log-spaced budgets from the largest fitted budget to 100× it (1e18..1e20 without a
    fit); with a ``sweep_budget`` that grid ends at half the sweep budget when it would
    otherwise start above it (so at least two runs of each budget fit in it; the shift is
    noted in ``options["budget_note"]``). ``cost_model``/``unit``: names or instances; by default the fit's own, rebuilt with
    the fit's saved ``cost_settings``/``unit_settings`` (dense and tokens without a fit).
    ``D`` is counted in the sweep's unit; the law is evaluated in the unit it was fitted in,
    the two meeting in model positions (as in :func:`tsbudget.planning.plan.plan`).
    ``variables``: cost-model variables to sweep (name -> value or list of values;
    every combination is planned; the others stay at their defaults, and every variable
    gets a column so the run list can be executed as written). ``target_budget``: the
    budget whose optimum the design should pin down (needs draws; with several variable
    combinations, the optimum at the first one, named in ``design["variables"]``);
    ``sweep_budget``: total FLOPs the selected runs may spend (needs ``target_budget``).
    When no run is selected, ``design["note"]`` says why (no candidate fits the sweep
    budget, naming the cheapest; or no candidate reduces the spread of log N_opt).
    ``criterion`` (:mod:`tsbudget.sweeps.criteria`): ``"dcl"`` (default) takes runs in order of
    variance reduction per FLOP while each saves more expected deadweight compute at the
    target than it costs, and reports the expected waste before and after; ``"variance"``
    takes them while they reduce the variance of log N_opt and fit in the sweep budget.
    """
    from tsbudget.planning.frontier import frontier, parse_budgets
    from tsbudget.hardware import get_hardware
    from tsbudget.planning.request import resolve_law
    from tsbudget.registry import costmodels, units

    if criterion not in CRITERIA:
        raise InputError(f"criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    law_obj, fit_draws, label, options = resolve_law(law)
    fit_result = law if hasattr(law, "runs") and hasattr(law, "law") else None
    draws = fit_draws if draws is None else draws
    if sweep_budget is not None:
        sweep_budget = positive_number(sweep_budget, "sweep_budget")
        if target_budget is None:
            raise InputError(f"sweep_budget={sweep_budget:g} needs target_budget: the sweep budget limits the runs "
                             "chosen to pin down the optimum at the target budget")
    if noise is not None:
        noise = positive_number(noise, "noise")
        if target_budget is None:
            raise InputError(f"noise={noise:g} needs target_budget: it is the run-to-run noise the design of "
                             "the runs that pin down the optimum assumes")
    # Unit and cost model default to the fit's own, with the settings it was fitted under
    # (a patch length or an attention shape changes positions and FLOPs per run).
    fit_unit, fit_cm = options.get("unit"), options.get("cost_model")
    if unit is None:
        unit = fit_unit if isinstance(fit_unit, str) else "tokens"
        if unit_settings is None and isinstance(fit_unit, str):
            unit_settings = options.get("unit_settings")
    if cost_model is None:
        cost_model = fit_cm if isinstance(fit_cm, str) else "dense"
        if cost_settings is None and isinstance(fit_cm, str):
            cost_settings = options.get("cost_settings")
    cm = costmodels.resolve(cost_model, **dict(cost_settings or {}))
    un = units.resolve(unit, **dict(unit_settings or {}))
    # The law reads D in the unit it was fitted in; one sweep unit is ``law_scale`` law
    # units (both meet in model positions; 1 when the law's unit is unknown), as in plan.py.
    law_ppu = None
    if isinstance(fit_unit, str):
        law_ppu = float(units.resolve(fit_unit, **dict(options.get("unit_settings") or {})).positions_per_unit())
    law_scale = float(un.positions_per_unit()) / law_ppu if law_ppu else 1.0
    # frontier() gets the fit itself (without draws: only the point optimum is needed here)
    # so it converts units the same way.
    with_draws = getattr(law, "with_draws", None)
    law_for_frontier = with_draws(None) if fit_result is not None and callable(with_draws) else law
    hw = get_hardware(hardware)
    if not isinstance(per_budget, (int, np.integer)) or per_budget < 1:
        raise InputError(f"per_budget must be an integer >= 1, got {per_budget!r}")
    if not (isinstance(spread, (int, float)) and math.isfinite(spread) and spread >= 1):
        raise InputError(f"spread must be a number >= 1 (N_opt/spread .. N_opt*spread), got {spread!r}")
    if "U" in law_obj.required_inputs:
        raise InputError(f"law {law_obj.name!r} needs unique data U; sweep designs runs on fresh data only")

    fitted = None
    if fit_result is not None:
        r = fit_result.runs
        fitted = (float(r["flops"].min()), float(r["flops"].max()), float(r["N"].min()), float(r["N"].max()))
    budget_note = ""
    if budgets is None:
        budgets = np.geomspace(fitted[1], 100 * fitted[1], 5) if fitted else np.geomspace(1e18, 1e20, 5)
        if sweep_budget is not None and budgets[0] > sweep_budget / 2:
            top = sweep_budget / 2
            budget_note = (f"default budgets {budgets[0]:.3g}..{budgets[-1]:.3g} start above half the sweep budget "
                           f"{sweep_budget:.3g}; shifted to {top / 100:.3g}..{top:.3g} so runs fit in it")
            budgets = np.geomspace(top / 100, top, 5)
    elif isinstance(budgets, str):
        budgets = parse_budgets(budgets)
    budgets = np.unique(as_positive_array(np.atleast_1d(np.asarray(budgets, dtype=float)), "budgets").ravel())

    combos = _combos(cm, variables)
    if budgets.size * per_budget * len(combos) > MAX_SWEEP_RUNS:
        raise InputError(f"a sweep of {budgets.size} budgets × per_budget {per_budget} × {len(combos)} variable "
                         f"combinations is {budgets.size * per_budget * len(combos)} runs, more than the limit of "
                         f"{MAX_SWEEP_RUNS}; give fewer budgets, a smaller per_budget or fewer variable values")
    law_vars = [k for k in law_obj.required_inputs if k not in ("N", "D")]
    known = {v.name: v for v in cm.variables}
    rows = []
    offsets = np.linspace(-1.0, 1.0, per_budget) if per_budget > 1 else np.zeros(1)
    for combo in combos:
        fixed = {**{k: known[k].default for k in law_vars if k in known and k not in combo}, **combo}
        missing = [k for k in law_vars if k not in fixed]
        if missing:
            raise InputError(f"law {law_obj.name!r} needs input {missing[0]!r}, which cost model {cm.name!r} "
                             "does not declare")
        ds = frontier(budgets, law=law_for_frontier, cost_model=cm, unit=un, fixed=fixed or None, hardware=hw)
        for b, n_opt in zip(budgets, ds["N"].values):
            for off in offsets:
                N = float(np.round(n_opt * spread**off)) if n_opt * spread**off >= 10 else float(n_opt * spread**off)
                rows.append((float(b), N, float(n_opt), fixed))
    B = np.array([r[0] for r in rows])
    N = np.array([r[1] for r in rows])
    var_arrays = {k: np.array([r[3].get(k, known[k].default) for r in rows], float) for k in known}
    per_pos = np.asarray(cm.train_flops_per_position(N, **var_arrays), float)
    D = np.asarray(un.from_positions(B / per_pos), float)
    flops = np.asarray(cm.train_flops(N, un.to_positions(D), **var_arrays), float)
    inputs = {"N": N, "D": law_scale * D, **{k: var_arrays[k] for k in law_vars}}
    loss = np.asarray(law_obj.evaluate(law_obj.values, inputs), float)
    table = {
        "run": np.arange(len(rows)),
        "budget": B,
        "N": N,
        "D": D,
        "positions": np.asarray(un.to_positions(D), float),
        "flops": flops,
        "flops_error": flops / B - 1.0,
        "N_opt": np.array([r[2] for r in rows]),
        "predicted_loss": loss,
        "gpu_hours": np.asarray(hw.train_hours(flops), float),
        "total_params": np.asarray(cm.total_params(N, **var_arrays), float),
    }
    for k in known:  # every variable, swept or at its default, so the list runs as written
        table[k] = var_arrays[k]

    params = None
    if draws is not None:
        from tsbudget.planning.closed_form import parameter_arrays

        raw = {n: np.asarray(draws[n], float).ravel() for n in law_obj.values if n in getattr(draws, "data_vars", draws)}
        ok = np.all([np.isfinite(v) for v in raw.values()], axis=0) if raw else None
        params = parameter_arrays(law_obj, {n: v[ok] for n, v in raw.items()} if ok is not None else draws)
        col = {n: v[:, None] for n, v in params.items()}
        with np.errstate(all="ignore"):
            Ld = np.asarray(law_obj.evaluate(col, {k: v[None, :] for k, v in inputs.items()}), float)
        table["loss_lower"], table["loss_upper"] = percentile_interval(Ld, level, axis=0)
    if fitted:
        table["flops_ratio"] = B / fitted[1]
        table["n_ratio"] = N / fitted[3]
        table["extrapolates"] = (B > fitted[1] * (1 + 1e-9)) | (B < fitted[0] * (1 - 1e-9)) | (N > fitted[3]) | (
            N < fitted[2])
    else:
        table["flops_ratio"] = np.full(B.size, np.nan)
        table["n_ratio"] = np.full(B.size, np.nan)
        table["extrapolates"] = np.zeros(B.size, dtype=bool)

    design = {}
    if target_budget is not None:
        target = positive_number(target_budget, "target_budget")
        if params is None:
            raise InputError("target_budget needs bootstrap draws of the law: pass a bootstrapped fit or draws=")
        if noise is not None:
            sigma, noise_source = noise, "given"
        else:
            sigma = _noise_from_fit(fit_result) if fit_result is not None else None
            noise_source = "fit residuals"
            if sigma is None:
                sigma, noise_source = NOISE_WITHOUT_FIT, "default (no fitted runs)"
        # the refit will be a Huber fit with the fit's delta, less efficient than least squares
        delta = float(options.get("delta") or DEFAULT_DELTA)
        sigma_eff = float(huber_noise(sigma, delta))
        first = combos[0]
        fixed = {**{k: known[k].default for k in law_vars if k in known and k not in first}, **first}
        ds = frontier([target], law=law_for_frontier, cost_model=cm, unit=un, fixed=fixed or None, draws=params,
                      max_draws=next(iter(params.values())).size)
        q = np.log(ds["N_draw"].values[:, 0])
        Y = np.log(np.clip(Ld, 1e-300, None))
        good = np.isfinite(q) & np.all(np.isfinite(Y), axis=1)
        waste, value = None, None
        if criterion == "dcl":
            n_plan, d_plan = float(ds["N"].values[0]), float(ds["D"].values[0]) * law_scale
            waste_unit = units.resolve(fit_unit, **dict(options.get("unit_settings") or {})) if law_ppu else un
            waste = expected_waste(law_obj, {k: v[good] for k, v in params.items()}, q[good], n_plan, d_plan,
                                   target, cost_model=cm, unit=waste_unit, variables=fixed)
            value = waste["kappa"]
        order, sd_after, by_value = greedy(q[good], Y[good], flops, sigma_eff, sweep_budget, value)
        note = ""
        if by_value:
            note = (f"stopped after {len(order)} runs: every run left costs more compute than the waste at the "
                    "target it is expected to save")
        elif not order:
            cheapest = float(np.min(flops))
            note = (f"no run selected: the cheapest candidate costs {cheapest:.4g} FLOPs, above the sweep budget "
                    f"{sweep_budget:.4g}; give budgets below it or raise it"
                    if sweep_budget is not None and cheapest > sweep_budget * (1 + 1e-12) else
                    "no run selected: no candidate reduces the bootstrap spread of log N_opt at the target")
        if not order and by_value:
            note = ("no run selected: every candidate costs more compute than the waste at the target it is "
                    f"expected to save (expected waste now {waste['mean']:.4g} FLOPs); the current fit is good "
                    "enough for this budget")
        rank = np.full(B.size, -1)
        rank[order] = np.arange(len(order))
        table["selected"] = rank >= 0
        table["order"] = rank
        n_lower, n_upper = np.exp(percentile_interval(q[good], level))
        design = {"target_budget": target, "N_opt": float(ds["N"].values[0]),
                  "N_opt_lower": float(n_lower), "N_opt_upper": float(n_upper),
                  "sd_log_n_before": float(np.std(q[good], ddof=1)), "sd_log_n_after": sd_after,
                  "noise": sigma, "noise_effective": sigma_eff, "noise_source": noise_source,
                  "sweep_budget": sweep_budget, "n_draws": int(good.sum()), "note": note,
                  # with several combinations the target is N_opt at the first one (named here)
                  "variables": {k: float(v) for k, v in first.items()},
                  "criterion": criterion,
                  "method": "greedy ensemble-Kalman variance reduction of log N_opt per FLOP "
                            "(linearised; sd after is a prediction, refit to confirm)"
                            + ("; runs taken while each saves more expected deadweight compute at the target "
                               "than it costs" if criterion == "dcl" else "")}
        if waste is not None:
            before = waste["mean"]
            after = None if value is None else value * sd_after**2
            design.update({"expected_dcl_before": before, "expected_dcl_after": after,
                           "dcl_median_before": waste["median"], "dcl_per_log_error2": value,
                           "expected_dcl_before_gpu_hours": float(hw.train_hours(before)),
                           "expected_dcl_after_gpu_hours": None if after is None else float(hw.train_hours(after))})
    df = pl.DataFrame(table)
    sel = df.filter(pl.col("selected")) if "selected" in df.columns else df
    totals = {"runs": df.height, "flops": float(df["flops"].sum()), "gpu_hours": float(df["gpu_hours"].sum()),
              "selected_runs": sel.height, "selected_flops": float(sel["flops"].sum()),
              "selected_gpu_hours": float(sel["gpu_hours"].sum())}
    from tsbudget.fitting.runs import plugin_settings

    opts = {"law": label, "cost_model": cm.name, "cost_settings": plugin_settings(cm), "unit": un.name,
            "unit_settings": plugin_settings(un), "law_unit_scale": law_scale, "hardware": hw.name,
            "budgets": budgets.tolist(), "per_budget": int(per_budget), "spread": float(spread),
            "variables": list(variables or {}), "cost_variables": list(known), "level": float(level),
            "budget_note": budget_note}
    return Sweep(df, totals, design, opts)

