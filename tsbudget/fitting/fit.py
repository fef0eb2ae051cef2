"""Fitting a law to training runs: multi-start L-BFGS on Huber loss of log residuals.

The method of Hoffmann et al. 2022 (App. D.2) as replicated by Besiroglu et al. 2024:
minimise ``Σ_i Huber_δ(log L̂_i − log L_i)`` (δ = 1e-3, summed) over the law's free
parameters in fit coordinates (logs of scale parameters), with L-BFGS from every start
of a grid (Chinchilla's: 4,500 starts). The grid runs batched
(:func:`tsbudget.optim.multistart.minimize_batched`) and, by default, raced: successive
halving keeps the most promising starts and runs only those to convergence. The best
start is then polished (:func:`tsbudget.optim.polish.polish`: scipy's L-BFGS-B and damped
Gauss-Newton steps) so the optimum is exact. ``method="reference"`` runs one scipy
L-BFGS-B call per start instead, the plain loop the batched path is tested against.

Options the literature disagrees on are keywords: δ, sum or mean, dropping the k
highest-loss runs (Besiroglu et al. drop 5), a fit region, per-run weights, a factor on
over-predicted runs, fixed parameters, a custom grid, and a warm start ``init`` (no
grid: one polish from one point, as a bootstrap refit does).
"""


from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from tsbudget.errors import FidelityWarning, FitError, InputError, SchemaError
from tsbudget.fitting.identifiability import collinear_parameters, design_notes
from tsbudget.fitting.objective import Objective
from tsbudget.fitting.result import AT_BEST_RTOL, FitResult
from tsbudget.fitting.runs import (check_fixed, distinct_points, fit_plugins, is_prepared, plugin_name, plugin_settings,
                                   prepare_runs, region_bounds, resolve_law, select_runs)
from tsbudget.law import Law
from tsbudget.optim.bfgs import projected_gradient
from tsbudget.optim.multistart import RACE, minimize_batched, start_grid
from tsbudget.optim.polish import polish
from tsbudget.tables import as_table
from tsbudget.variables import positive_number

__all__ = ["METHODS", "fit", "fit_objective", "refit", "stationarity_tolerance"]

#: The fit methods: ``batched`` (the Huber multistart, raced), ``reference`` (one scipy
#: L-BFGS-B per start) and ``vpnls`` (variable projection, :mod:`tsbudget.fitting.vpnls`).
METHODS = ("batched", "reference", "vpnls")


def stationarity_tolerance(n_runs: int, delta: float, weight_sum: float | None = None) -> float:
    """Largest projected-gradient entry at which a fit counts as stationary.

    ``1e-7·max(1, n·δ)`` for the summed objective over ``n`` unit-weight runs (each run
    contributes at most ``δ`` per unit of log residual to a gradient entry), scaled by
    ``Σw / n`` so the test means the same for weighted runs and for the mean reduction
    (whose gradient is ``n`` times smaller).
    """
    scale = 1.0 if weight_sum is None else weight_sum / max(1, n_runs)
    return 1e-7 * max(1.0, n_runs * delta) * scale


def fit(
    runs,
    law="chinchilla",
    *,
    columns: Mapping[str, str] | None = None,
    cost_model="dense",
    unit="tokens",
    fixed: Mapping[str, float] | None = None,
    delta: float = 1e-3,
    reduction: str = "sum",
    drop_highest_loss: int = 0,
    region: Mapping[str, tuple[float | None, float | None]] | None = None,
    weights=None,
    overprediction_penalty: float = 1.0,
    grid: Mapping[str, Sequence[float]] | None = None,
    init: Law | Mapping[str, float] | None = None,
    method: str = "batched",
    race: bool = True,
) -> FitResult:
    """Fit ``law`` to ``runs`` by multi-start L-BFGS on summed Huber loss of log residuals.

    Hoffmann et al. 2022, App. D.2; Besiroglu et al. 2024. ``runs`` is a table (polars,
    pandas or dict of lists) with one row per training run; ``columns`` maps canonical
    names (``N``, ``D``, ``U``, variables, ``loss``, ``flops``, ``weight``) to its columns.
    ``weights`` is a column name or one number per run. ``grid`` overrides the start
    values of some parameters (fit coordinates: the log for log-scale parameters); the
    starts are the Cartesian product. ``init`` (a law or a name -> value mapping)
    replaces the grid by one start, polished directly (a bootstrap refit).
    ``method="reference"`` runs one scipy L-BFGS-B call per start (``"huber"`` is another name of
    the default ``"batched"``); ``method="vpnls"`` fits
    the Chinchilla form by variable projection (:mod:`tsbudget.fitting.vpnls`: exponents
    searched, ``E, A, B`` by NNLS, squared residuals of the loss; ``delta`` and the
    over-prediction factor do not apply, ``init`` is ignored: the method has no starts to warm).
    ``overprediction_penalty`` ``p`` multiplies the Huber loss of runs the law over-predicts,
    the asymmetric loss of OLMo-core's ladder fits (``overestimate_penalty``; see
    :class:`~tsbudget.fitting.objective.Objective`).
    ``race`` (batched method): successive halving over the starts (Jamieson & Talwalkar
    2016): after 1, 3, 7, 15, ... iterations only the best tenth of the active starts (at
    least 16) go on, so only those are run to convergence and counted in ``n_at_best``;
    ``race=False`` runs every start to convergence (≈ 30× slower on the Hoffmann grid).

    Raises :class:`~tsbudget.errors.SchemaError` for a missing column or a bad cell
    (naming column and row), :class:`~tsbudget.errors.InputError` for a bad option, and
    :class:`~tsbudget.errors.FitError` for too few runs or no start with a finite objective.
    """
    law = resolve_law(law)
    df = as_table(runs, name="runs")
    cols = dict(columns or {})
    if weights is not None and not isinstance(weights, str):
        w = np.asarray(weights, dtype=float).reshape(-1)
        if w.shape[0] != df.height:
            raise InputError(f"weights: expected one per run ({df.height}), got {w.shape[0]}")
        df = df.with_columns(pl.Series("weight", w))
        weights = "weight"
    if isinstance(weights, str):
        if weights not in df.columns:
            raise SchemaError(f"weights column {weights!r} not in runs; columns present: {df.columns}")
        cols["weight"] = weights
    options = {
        "columns": dict(columns) if columns else None,
        "cost_model": plugin_name(cost_model),
        "unit": plugin_name(unit),
        "unit_settings": plugin_settings(unit),
        "cost_settings": plugin_settings(cost_model),
        "fixed": check_fixed(fixed),
        "delta": positive_number(delta, "delta"),
        "reduction": reduction,
        "drop_highest_loss": int(drop_highest_loss),
        "region": region_bounds(region),
        "weights": weights,
        "overprediction_penalty": positive_number(overprediction_penalty, "overprediction_penalty"),
        "grid": {k: [float(x) for x in np.atleast_1d(v)] for k, v in grid.items()} if grid else None,
        "method": "batched" if method == "huber" else method,  # "huber": the CLI's name of the multistart
        "race": bool(race),
    }
    prepared = prepare_runs(df, law, cols, cost_model, unit)
    given = prepared.height
    prepared = select_runs(prepared, region, drop_highest_loss)
    return _fit(prepared, law, options, init, given)


def refit(result: FitResult, runs, init: Law | Mapping[str, float] | None = None) -> FitResult:
    """Repeat ``result``'s fit (same law, options, fixed parameters) on other ``runs``.

    A table in the prepared form of :attr:`FitResult.runs` (it has ``run`` and the
    canonical columns, e.g. a bootstrap resample of ``result.runs``) is fitted as it is;
    a raw table goes through the column mapping, region and dropping of the original fit.
    ``init`` warm-starts from one point (no grid), e.g. ``init=result.law``.
    """
    o = result.options
    law = result.law
    df = as_table(runs, name="runs")
    if is_prepared(df, law):
        prepared = df
        if o.get("weights") and "weight" not in df.columns:
            raise SchemaError(f"runs lack the weight column the fit used; columns present: {df.columns}")
    else:
        cols = dict(o.get("columns") or {})
        if o.get("weights"):
            cols["weight"] = o["weights"]
        prepared = prepare_runs(df, law, cols, *fit_plugins(o))
    given = prepared.height
    if not is_prepared(df, law):
        prepared = select_runs(prepared, o.get("region"), o.get("drop_highest_loss", 0))
    return _fit(prepared, law, dict(o), init, given)


def fit_objective(df: pl.DataFrame, law: Law, options: Mapping, fixed: Mapping, weights) -> Objective:
    """The objective a fit minimises on prepared runs ``df``: its free parameters, inputs,
    log losses, Huber δ and over-prediction factor, with run ``weights`` (one row per
    draw for a batched bootstrap) normalised per row for the mean reduction."""
    w = np.asarray(weights, dtype=float)
    if options.get("reduction", "sum") == "mean":
        w = w / w.sum(axis=-1, keepdims=True)
    return Objective(
        law=law,
        free=tuple(p for p in law.parameters if p.name not in fixed),
        fixed=dict(fixed),
        inputs={k: df[k].to_numpy() for k in law.required_inputs},
        log_loss=np.log(df["loss"].to_numpy()),
        weights=w,
        delta=float(options.get("delta", 1e-3)),
        overprediction_penalty=float(options.get("overprediction_penalty", 1.0)),
    )


def _fit(df: pl.DataFrame, law: Law, options: dict, init, given: int | None = None) -> FitResult:
    t0 = time.perf_counter()
    if options["reduction"] not in ("sum", "mean"):
        raise InputError(f"reduction must be 'sum' or 'mean', got {options['reduction']!r}")
    if options["method"] not in METHODS:
        raise InputError(f"method must be one of {', '.join(map(repr, METHODS))}, got {options['method']!r}")
    fixed = options["fixed"]
    params = {p.name: p for p in law.parameters}
    for k, v in fixed.items():
        if k not in params:
            raise InputError(f"fixed: law {law.name!r} has no parameter {k!r}; it has {list(params)}")
        if not math.isfinite(v) or (params[k].log and v <= 0):
            raise InputError(f"fixed: {k}={v!r} must be finite{' and > 0' if params[k].log else ''}")
    free = tuple(p for p in law.parameters if p.name not in fixed)
    if not free:
        raise InputError(f"fixed: every parameter of {law.name!r} is fixed; nothing to fit")
    n = df.height
    n_distinct = distinct_points(df, law)
    if n_distinct < len(free):
        raise FitError(
            f"{n} runs at {n_distinct} distinct design points cannot determine {len(free)} free "
            f"parameters ({', '.join(p.name for p in free)}); give more runs or fix some parameters"
        )
    if "weight" in df.columns:
        w = df["weight"].to_numpy().astype(float)
        bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
        if bad.size:
            raise SchemaError(f"runs column 'weight', row {int(df['run'][int(bad[0])])}: value {w[bad[0]]!r} "
                              "is not a finite number >= 0")
        if not np.any(w > 0):
            raise InputError("weights: every weight is 0")
    else:
        w = np.ones(n)
    objective = fit_objective(df, law, options, fixed, w)
    if options["method"] == "vpnls":
        from tsbudget.fitting.vpnls_fit import fit_vpnls

        return fit_vpnls(df, law, options, objective, given, t0)
    lo, hi = objective.bounds()
    scipy_bounds = [(None if not math.isfinite(a) else a, None if not math.isfinite(b) else b) for a, b in zip(lo, hi)]
    diagnostics: dict[str, Any] = {}

    if init is not None:
        start = dict(law.values)
        start.update(init.values if isinstance(init, Law) else {k: float(v) for k, v in init.items()})
        theta0 = np.clip(objective.to_theta(start), lo, hi)
        if not math.isfinite(objective(theta0)):
            raise FitError(f"the objective is not finite at init {start}")
        res = polish(objective, theta0, scipy_bounds)
        theta, best, n_starts, n_at_best = res.x, float(res.fun), 1, 1
        head = "polished from init"
        diagnostics.update(method="init", polish=str(res.message), n_evaluations=int(res.nfev))
    else:
        starts = start_grid(free, options.get("grid"), n_runs=n)
        if options["method"] == "reference":
            theta, best, n_starts, n_at_best, res, diag = _reference(objective, starts, scipy_bounds)
        else:
            theta, best, n_starts, n_at_best, res, diag = _batched(
                objective, starts, lo, hi, scipy_bounds, options.get("race", False))
        diagnostics.update(diag)
        pruned = diag.get("n_pruned", 0)
        if pruned:
            head = (f"{n_at_best} of the {n_starts - pruned} starts raced to convergence reached the best "
                    f"objective ({pruned} of {n_starts} pruned by successive halving)")
        else:
            head = f"{n_at_best} of {n_starts} starts reached the best objective"

    f_final, g_final = objective.value_and_grad(theta)
    pg = projected_gradient(theta, g_final, lo, hi)
    gmax = float(np.max(np.abs(pg)))
    stationary = gmax <= stationarity_tolerance(n, options["delta"], float(np.sum(objective.weights)))
    success = bool(math.isfinite(best) and (res.success or stationary))
    notes = []
    if not success:
        notes.append(f"optimizer did not converge ({res.message}; max gradient {gmax:.2g})")
    if init is None and n_at_best == 1 and n_starts > 1:
        notes.append("only one start reached the best: the grid may have missed the global optimum")
    at_bound = [p.name for p, t, a, b in zip(free, theta, lo, hi) if t <= a or t >= b]
    if at_bound:
        notes.append(f"at a bound: {', '.join(at_bound)}")
    smallest, inseparable = collinear_parameters(objective, theta)
    if inseparable:
        why = "; ".join(design_notes(df)) or "the runs' design is collinear for this law"
        note = (f"NOT IDENTIFIABLE: the runs cannot separate {', '.join(inseparable)} ({why}; smallest scaled "
                f"singular value of the Jacobian {smallest:.2g}); fix some of them or add runs that vary them")
        notes.append(note)
        warnings.warn(f"fit of {law.name!r} on {n} runs: {note}", FidelityWarning, stacklevel=3)
    message = ("converged; " if success else "") + head + ("; " + "; ".join(notes) if notes else "")
    values = objective.to_values(theta)
    diagnostics.update(gradient_max=gmax, polish=str(res.message), elapsed_s=time.perf_counter() - t0,
                       distinct_points=n_distinct, identifiable=not inseparable, jacobian_min_singular=smallest,
                       n_runs_given=n if given is None else int(given))
    return FitResult(
        law=law.replace(**values),
        success=success,
        message=message,
        objective=best,
        n_runs=n,
        n_starts=n_starts,
        n_at_best=n_at_best,
        free=tuple(p.name for p in free),
        fixed=dict(fixed),
        options=options,
        runs=df,
        diagnostics=diagnostics,
    )


def _batched(objective: Objective, starts, lo, hi, scipy_bounds, race: bool = False):
    batch = minimize_batched(objective.value_and_grad, starts, lo, hi, **(RACE if race else {}))
    finite = np.isfinite(batch.fun)
    if not np.any(finite):
        objective.law.predict(objective.to_values(starts[0]), objective.inputs)  # a NaN law names itself
        raise FitError(f"no start of {batch.n_starts} gave a finite objective")
    b = batch.best()
    res = polish(objective, batch.x[b], scipy_bounds)
    theta, best = (res.x, float(res.fun)) if res.fun <= batch.fun[b] else (batch.x[b], float(batch.fun[b]))
    n_at_best = max(batch.n_within(best, AT_BEST_RTOL), int(batch.count[b]))
    diag = {
        "method": "batched",
        "n_iterations": batch.n_iterations,
        "n_evaluations": batch.n_evaluations + int(res.nfev),
        "n_converged": int(batch.count[batch.converged].sum()),
        "n_pruned": batch.n_pruned,
    }
    return theta, best, batch.n_starts, n_at_best, res, diag


def _reference(objective: Objective, starts, scipy_bounds):
    fun = np.full(len(starts), np.inf)
    xs, results = [None] * len(starts), [None] * len(starts)
    nfev = 0
    for i, x0 in enumerate(starts):
        if not math.isfinite(objective(x0)):
            continue
        # the same stopping rules as the batched path and the polish, so both are comparable
        r = polish(objective, x0, scipy_bounds)
        nfev += int(r.nfev)
        if math.isfinite(r.fun):
            fun[i], xs[i], results[i] = r.fun, r.x, r
    if not np.any(np.isfinite(fun)):
        objective.law.predict(objective.to_values(starts[0]), objective.inputs)  # a NaN law names itself
        raise FitError(f"no start of {len(starts)} gave a finite objective")
    b = int(np.argmin(fun))
    best = float(fun[b])
    n_at_best = int(np.sum(fun <= best + AT_BEST_RTOL * abs(best)))
    diag = {"method": "reference", "n_evaluations": nfev}
    return xs[b], best, len(starts), n_at_best, results[b], diag
