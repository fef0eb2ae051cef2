"""Simulated refits of a planned sweep: how wrong will the allocation at the target be, and what will it waste?

Before anyone trains, a team can ask what its sweep and its fit method will make of a
known truth. :func:`simulate_fits` takes a planned run list and a truth (a law with its
values, or each bootstrap draw of a fit in turn), and for each of ``n_sims`` simulations:

1. draws the runs' losses from the truth with log-normal noise, ``loss = L(N, D)·exp(σ·z)``
   (as :func:`tsbudget.sweeps.simulate.simulate_runs`; ``z`` from numpy's
   ``default_rng(seed)``, one row of the ``(n_sims, runs)`` normal array per simulation, the
   same row for every method: common random numbers, so methods are compared on the same data);
2. refits with each method asked for: ``huber`` (Approach 3: multistart L-BFGS on the Huber
   loss of log residuals, Hoffmann et al. 2022 App. D.2, :func:`tsbudget.fitting.fit.fit`),
   ``vpnls`` (variable projection, :mod:`tsbudget.fitting.vpnls`) or ``approach2`` (IsoFLOP
   parabolas and power laws, Hoffmann et al. 2022 §3.2, :mod:`tsbudget.fitting.approach2`);
3. reads the method's compute-optimal allocation at ``target_budget`` under ``C = 6·N·D``
   (Hoffmann et al. 2022 §3; Approach 2: ``N̂ = G_N·C^a``, ``D̂ = C/(6N̂)``) and scores it
   against the truth's: relative errors ``N̂/N* − 1`` and ``D̂/D* − 1``, and the deadweight
   compute ``DCL = C − C_eq`` of the allocation under the truth
   (:func:`tsbudget.uncertainty.wasted.deadweight_compute`), in FLOPs, percent of the target
   and GPU-hours.

Summaries per method: the median and the ``level`` percentile interval of each error over
simulations (the noise band of one sweep), the noise-free error (one more simulation with
``σ = 0`` under the point truth: the error of the design and the method themselves), and
two bias verdicts. ``biased`` is true when the median error lies outside the noise band
moved to zero, ``|median| > (upper − lower)/2``: the bias is larger than the noise spread
of a single sweep, so one real sweep would show it. ``bias_significant`` is true when the
95% interval of the median itself (distribution-free order statistics, David & Nagaraja
2003, *Order Statistics*, §7.1) excludes zero: the bias is real even if smaller than the
noise.

Starts of the Huber refits (``starts``): ``"local"`` (default) races a few starts in the
truth's region: every exponent (a parameter fitted on its own scale) at the truth's value
× (1 ± 0.2), the scales (E, A, B: fitted as logs, and linear in the loss once the exponents are
fixed, the observation behind variable projection) at the truth's value; 4 starts for the
Chinchilla form. That is far fewer than the 4,500-start grid of Hoffmann et al. (``"grid"``),
which took 0.24–0.58 s per fit here depending on the load of the 2 shared cores (48–116 s for
200 fits, over the 30 s target); 32 starts (two per parameter) took about 0.1 s per fit (21 s
for 200 at a load of 6, too close to the target); these 4 took 52 ms (10.5 s for 200,
``benchmarks/bench_sweep_simulate.py``). ``"truth"`` polishes from the truth alone (fastest; cannot find another minimum).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import attrs
import numpy as np
import polars as pl

from tsbudget.errors import FidelityWarning, InputError, SchemaError, TsbudgetError
from tsbudget.report import Report, fmt, jsonable
from tsbudget.sweeps.simulate import _plan_table
from tsbudget.sweeps.noise import NOISE_WITHOUT_FIT

__all__ = ["FitSimulation", "METHODS", "simulate_fits"]

METHODS = ("huber", "vpnls", "approach2")
STARTS = ("local", "truth", "grid")
K_DENSE = 6.0  # training FLOPs per parameter per token, C = 6·N·D (Hoffmann et al. 2022 §3)
LOCAL_SHIFT = 0.2  # exponent starts at truth × (1 ± this)
#: relative allocation error below which a bias is not called: the fits reach the optimum to about
#: 1e-7 in N_opt (bench_sweep_simulate.py: 1.5e-7 between tsbudget and a plain scipy loop)
RESOLUTION = 1e-6
MAX_GRID_LINES = 8  # budgets listed in the report (all are in options["grid"])
_Z95 = 1.959963984540054


def _truths(truth, per_draw: bool):
    """``(law, params, label)``: the truth's law and parameter arrays (one per truth), with a label."""
    from tsbudget.planning.closed_form import parameter_arrays
    from tsbudget.planning.request import resolve_law

    law, draws, label, _ = resolve_law(truth)
    if per_draw:
        if draws is None:
            raise InputError("each bootstrap draw as the truth (per_draw=True, --truth-draws) needs a bootstrapped "
                             f"fit (tsbudget fit --bootstrap N), not {label}")
        return law, parameter_arrays(law, draws), f"{label}, each bootstrap draw in turn"
    return law, {k: np.atleast_1d(np.asarray(v, float)) for k, v in law.values.items()}, label


def _check(law, df: pl.DataFrame, methods, starts, n_sims, noise, seed, level):
    if not getattr(law, "has_closed_form", False) or set(law.required_inputs) != {"N", "D"}:
        raise InputError(f"simulated refits need a truth of N and D with a closed-form optimum (the Chinchilla "
                         f"form); law {law.name!r} reads {list(law.required_inputs)}")
    for col in ("N", "D"):
        if col not in df.columns:
            raise SchemaError(f"sweep plan lacks column {col!r}; columns present: {', '.join(df.columns)}")
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {bad[0] if bad else 'none'!r}")
    if starts not in STARTS:
        raise InputError(f"starts must be one of {', '.join(STARTS)}, got {starts!r}")
    if isinstance(n_sims, bool) or not isinstance(n_sims, (int, np.integer)) or n_sims < 3:
        raise InputError(f"n_sims must be an integer >= 3 (an interval needs three simulations), got {n_sims!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not (math.isfinite(noise) and noise >= 0):
        raise InputError(f"noise must be a finite number >= 0 (sd of log loss), got {noise!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise InputError(f"level must be a number in (0, 1), got {level!r}")
    return methods


def _local_grid(law) -> dict:
    """Starts around the truth in fit coordinates (module docstring): each parameter fitted on
    its own scale (the exponents) at the truth's value × (1 ± 0.2), the log-scale ones (the
    scales E, A, B, linear in the loss once the exponents are fixed) at the truth's value."""
    grid = {}
    for p in law.parameters:
        v = float(getattr(law, p.name))
        grid[p.name] = (float(p.to_fit(v)),) if p.log else (v * (1 - LOCAL_SHIFT), v * (1 + LOCAL_SHIFT))
    return grid


def _refit(method, runs: pl.DataFrame, truth_law, target: float, starts: str, fit_options: dict):
    """``(N̂, D̂)`` at ``target`` from one method on one simulated data set."""
    if method == "approach2":
        from tsbudget.fitting.approach2 import isoflop_profiles

        r = isoflop_profiles(runs, **fit_options)
        n = float(r.n_opt(target))
        return n, target / (K_DENSE * n)
    from tsbudget.fitting.fit import fit

    opts = dict(fit_options)
    if method == "vpnls":
        opts["method"] = "vpnls"
    elif starts == "truth":
        opts["init"] = truth_law
    elif starts == "local":
        opts["grid"] = _local_grid(truth_law)
    f = fit(runs, truth_law.name, **opts)
    if not f.success:
        raise TsbudgetError(f"fit did not converge: {f.message}")
    n, d = f.law.optimal_allocation(target, K_DENSE)
    return float(n), float(d)


def _median_band(values: np.ndarray) -> tuple[float, float]:
    """95% distribution-free interval of the median (order statistics, David & Nagaraja 2003 §7.1)."""
    v = np.sort(values)
    n = v.size
    half = _Z95 * math.sqrt(n * 0.25)
    lo, hi = max(0, int(math.floor(n / 2 - half)) - 1), min(n - 1, int(math.ceil(n / 2 + half)))
    return float(v[lo]), float(v[hi])


def _summary(values: np.ndarray, noise_free: float, level: float) -> dict:
    from tsbudget.percentiles import percentile_interval

    v = values[np.isfinite(values)]
    if v.size < 3:
        return {"median": None, "lower": None, "upper": None, "noise_free": noise_free, "biased": None,
                "bias_significant": None, "median_lower": None, "median_upper": None, "n": int(v.size)}
    lo, hi = (float(x) for x in percentile_interval(v, level))
    med = float(np.median(v))
    m_lo, m_hi = _median_band(v)
    real = abs(med) > RESOLUTION  # below it, an error is the fits' numerical precision
    return {"median": med, "lower": lo, "upper": hi, "noise_free": noise_free,
            "biased": bool(real and abs(med) > (hi - lo) / 2),
            "bias_significant": bool(real and (m_lo > RESOLUTION or m_hi < -RESOLUTION)),
            "median_lower": m_lo, "median_upper": m_hi, "mean": float(np.mean(v)), "n": int(v.size)}


@attrs.frozen(eq=False, repr=False)
class FitSimulation(Report):
    """Simulated refits of a sweep: ``table`` (one row per simulation and method: the truth
    draw, ``N_hat``, ``D_hat``, ``N_error``, ``D_error``, ``dcl`` in FLOPs, ``dcl_fraction``,
    ``dcl_gpu_hours``, ``failed``), ``summary`` (per method: error and DCL summaries, see the
    module docstring) and ``options``."""

    table: pl.DataFrame
    summary: dict
    options: dict

    def title(self) -> str:
        return "Simulated refits (synthetic)"

    def headline(self) -> str:
        o = self.options
        return (f"{self.title()}: {o['n_sims']} simulations of {o['runs']} runs from {o['truth']}, noise sd "
                f"{fmt(o['noise'])} in log loss, seed {o['seed']}; allocation at {o['target_budget']:.4g} FLOPs")

    def estimate_lines(self) -> list[str]:
        pct = round(100 * self.options["level"])
        lines = []
        for method, s in self.summary.items():
            n, d = s["N_error"], s["dcl_fraction"]
            if n["median"] is None:
                why = max(s["failures"], key=s["failures"].get) if s["failures"] else "no finite allocation"
                lines.append(f"{method}: fewer than 3 refits succeeded ({s['n_failed']} failed; most often: {why})")
                continue
            verdict = ("BIASED: the median error is outside the noise band of one sweep" if n["biased"] else
                       "biased beyond Monte Carlo error, within the noise of one sweep" if n["bias_significant"]
                       else "no bias detected (median within noise)")
            lines.append(f"{method}: N_opt error median {_pct(n['median'])} ({pct}% of sweeps {_pct(n['lower'])} .. "
                         f"{_pct(n['upper'])}), noise-free {_pct(n['noise_free'])}; {verdict}")
            lines.append(f"  {method}: D_opt error median {_pct(s['D_error']['median'])}; wasted compute (DCL) median "
                         f"{_share(d['median'])} of the budget ({pct}% of sweeps up to {_share(d['upper'])}; mean "
                         f"{_share(d['mean'])}, {fmt(s['dcl_gpu_hours_median'])} GPU-hours median)"
                         + (f"; {s['n_failed']} refits failed" if s["n_failed"] else ""))
        return lines

    def diagnostic_lines(self) -> list[str]:
        o = self.options
        lines = [f"methods: {', '.join(o['methods'])}; Huber starts: {o['starts']}; C = 6·N·D at the target"]
        grid = o.get("grid", [])
        shown = grid if len(grid) <= MAX_GRID_LINES else [g for g in grid if not g["inside"]][:MAX_GRID_LINES]
        if len(shown) < len(grid):
            lines.append(f"{len(grid)} planned budgets, the truth's N_opt outside the planned sizes at "
                         f"{sum(not g['inside'] for g in grid)}; the first {len(shown)} of those:")
        for g in shown:
            where = "inside" if g["inside"] else "OUTSIDE"
            lines.append(f"budget {g['budget']:.4g}: the truth's N_opt {g['N_opt']:.4g} is {g['centre_ratio']:.3g}× the "
                         f"planned sizes' centre ({where} {g['N_min']:.4g} .. {g['N_max']:.4g})")
        lines.append(f"elapsed {o['elapsed_s']:.3g} s ({o['fits']} fits)")
        return lines

    def to_dict(self) -> dict:
        return jsonable({"synthetic": True, "summary": self.summary, "options": self.options,
                         "simulations": self.table.to_dicts()})

    def write(self, path) -> Path:
        """Write the per-simulation table as CSV or Parquet, atomically."""
        from tsbudget.io import write_table

        return write_table(self.table, path, "simulated refits output")


def _pct(x) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{100 * x:+.3g}%"


def _share(x) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{100 * x:.3g}%"


def simulate_fits(plan, truth="chinchilla2022", *, target_budget: float, methods=("huber", "approach2"),
                  n_sims: int = 200, noise: float = NOISE_WITHOUT_FIT, seed: int = 0, per_draw: bool = False,
                  starts: str = "local", level: float = 0.95, hardware="h100-sxm",
                  fit_options: dict | None = None, approach2_options: dict | None = None) -> FitSimulation:
    """Simulate the runs of ``plan`` from ``truth`` ``n_sims`` times, refit each with every
    method of ``methods``, and score the allocation at ``target_budget`` (module docstring).

    ``plan``: a Sweep, its table (columns ``N`` and ``D``) or a run-list path. ``truth``: a
    preset name, a Law instance (e.g. ``Chinchilla(E=1.69, A=406.4, B=410.7, alpha=0.2,
    beta=0.4)``) or a FitResult (its point estimate; with ``per_draw=True`` simulation ``i``
    takes bootstrap draw ``i mod draws`` as the truth). ``noise``: sd of log loss;
    ``starts``: Huber starts (``local``, ``truth`` or ``grid``); ``fit_options`` and
    ``approach2_options``: keywords for :func:`tsbudget.fitting.fit.fit` and
    :func:`tsbudget.fitting.approach2.isoflop_profiles`.
    """
    import time

    from tsbudget.hardware import get_hardware
    from tsbudget.uncertainty.wasted import deadweight_compute
    from tsbudget.variables import positive_number

    t0 = time.perf_counter()
    target = positive_number(target_budget, "target_budget")
    cost_model = getattr(plan, "options", {}).get("cost_model", "dense")
    if cost_model != "dense":  # every allocation here is scored at C = 6·N·D
        raise InputError(f"simulating a sweep scores allocations at C = 6·N·D (a dense model); this sweep's cost model "
                         f"is {cost_model!r}: simulate the dense sweep of the same law instead")
    law, params, label = _truths(truth, per_draw)
    df = _plan_table(plan)
    if df.height == 0:
        raise SchemaError("sweep plan has no runs")
    methods = _check(law, df, methods, starts, n_sims, noise, seed, level)
    hw = get_hardware(hardware)
    N = df["N"].cast(pl.Float64).to_numpy()
    D = df["D"].cast(pl.Float64).to_numpy()
    if not np.all(np.isfinite(N) & (N > 0) & np.isfinite(D) & (D > 0)):
        raise SchemaError("sweep plan: N and D must be finite and > 0 in every run")
    flops = df["flops"].cast(pl.Float64).to_numpy() if "flops" in df.columns else K_DENSE * N * D
    n_truths = next(iter(params.values())).size
    which = np.arange(n_sims) % n_truths
    sim_params = {k: v[which] for k, v in params.items()}
    n_true, d_true = (np.asarray(x, float) for x in law.optimal_allocation(target, K_DENSE, params=sim_params))
    clean = np.asarray(law.evaluate({k: v[:, None] for k, v in sim_params.items()}, {"N": N, "D": D}), float)
    if not np.all(np.isfinite(clean) & (clean > 0)):
        raise InputError(f"the truth gives a non-finite or non-positive loss at some planned run; check {label}")
    z = np.random.default_rng(int(seed)).standard_normal((n_sims, N.size))
    losses = clean * np.exp(float(noise) * z)
    point_law = law.replace(**{k: float(v[0]) for k, v in params.items()}) if not per_draw else law
    point_clean = np.asarray(point_law.evaluate(point_law.values, {"N": N, "D": D}), float)
    point_n, point_d = (float(x) for x in point_law.optimal_allocation(target, K_DENSE))
    options_by = {m: dict(approach2_options or {}) if m == "approach2" else dict(fit_options or {}) for m in methods}
    planned = df["budget"].cast(pl.Float64).fill_null(np.nan).to_numpy() if "budget" in df.columns else None
    if "approach2" in methods and planned is not None and np.all(np.isfinite(planned)) \
            and not {"budgets", "tolerance"} & set(options_by["approach2"]):
        # group the runs by the budgets the sweep planned: their FLOPs differ from them in the last
        # digits (sizes are rounded), which the automatic grouping would split into separate budgets
        options_by["approach2"]["budgets"] = np.unique(df["budget"].cast(pl.Float64).to_numpy()).tolist()

    rows, summary, fits = [], {}, 0
    for method in methods:
        est = np.full((n_sims, 2), np.nan)
        reasons: dict[str, int] = {}
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", FidelityWarning)
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow at far starts: those starts lose the race
            for i in range(n_sims):
                runs = pl.DataFrame({"N": N, "D": D, "flops": flops, "loss": losses[i]})
                truth_i = law.replace(**{k: float(v[i]) for k, v in sim_params.items()})
                try:
                    est[i] = _refit(method, runs, truth_i, target, starts, options_by[method])
                except TsbudgetError as exc:
                    key = str(exc).split(";")[0][:120]
                    reasons[key] = reasons.get(key, 0) + 1
                fits += 1
            try:
                nf_n, nf_d = _refit(method, pl.DataFrame({"N": N, "D": D, "flops": flops, "loss": point_clean}),
                                    point_law, target, starts, options_by[method])
                noise_free = (nf_n / point_n - 1, nf_d / point_d - 1)
            except TsbudgetError:
                noise_free = (math.nan, math.nan)
        ok = np.all(np.isfinite(est) & (est > 0), axis=1)
        n_hat = np.where(ok, est[:, 0], np.nan)
        d_hat = np.where(ok, est[:, 1], np.nan)
        dcl = np.full(n_sims, np.nan)
        if ok.any():
            safe_n, safe_d = np.where(ok, n_hat, point_n), np.where(ok, d_hat, point_d)
            if n_truths == 1:
                value = deadweight_compute(law, params, safe_n, safe_d, target)
                dcl = np.asarray(value, float).reshape(-1)
            else:
                value = np.asarray(deadweight_compute(law, sim_params, safe_n, safe_d, target), float)
                dcl = np.diagonal(value).copy()
            dcl = np.where(ok, dcl, np.nan)
        frac = dcl / target
        n_err, d_err = n_hat / n_true - 1, d_hat / d_true - 1
        gpu = np.asarray(hw.train_hours(np.where(np.isfinite(dcl), dcl, 0.0)), float)
        gpu = np.where(np.isfinite(dcl), gpu, np.nan)
        summary[method] = {
            "N_error": _summary(n_err, noise_free[0], level),
            "D_error": _summary(d_err, noise_free[1], level),
            "dcl_fraction": _summary(frac, math.nan, level),
            "dcl_flops_median": float(np.nanmedian(dcl)) if ok.any() else None,
            "dcl_gpu_hours_median": float(np.nanmedian(gpu)) if ok.any() else None,
            "n_failed": int((~ok).sum()), "failures": reasons,
        }
        rows.append(pl.DataFrame({
            "simulation": np.arange(n_sims), "method": [method] * n_sims, "truth_draw": which,
            "N_true": n_true, "D_true": d_true, "N_hat": n_hat, "D_hat": d_hat, "N_error": n_err, "D_error": d_err,
            "dcl": dcl, "dcl_fraction": frac, "dcl_gpu_hours": gpu, "failed": ~ok,
        }))
    grid = []
    if planned is not None:  # where the truth's optimum sits in the planned sizes of each planned budget
        for b in np.unique(planned[np.isfinite(planned)]):
            sizes = N[planned == b]
            if sizes.size < 3:  # not an IsoFLOP profile
                continue
            n_star = float(point_law.optimal_allocation(float(b), K_DENSE)[0])
            grid.append({"budget": float(b), "N_opt": n_star, "N_min": float(sizes.min()), "N_max": float(sizes.max()),
                         "centre_ratio": n_star / float(np.exp(np.mean(np.log(sizes)))),
                         "inside": bool(sizes.min() <= n_star <= sizes.max())})
    options = {"grid": grid, "truth": label, "truth_parameters": {k: v.tolist() if v.size > 1 else float(v[0])
                                                    for k, v in params.items()},
               "per_draw": bool(per_draw), "n_truths": int(n_truths), "n_sims": int(n_sims), "noise": float(noise),
               "seed": int(seed), "level": float(level), "target_budget": target, "methods": list(methods),
               "starts": starts, "runs": int(N.size), "hardware": hw.name, "fits": fits,
               "true_N_opt": point_n, "true_D_opt": point_d,
               "noise_model": "loss = truth · exp(noise · z), z ~ N(0, 1), numpy default_rng(seed), one row per simulation",
               "elapsed_s": time.perf_counter() - t0}
    return FitSimulation(pl.concat(rows), summary, options)
