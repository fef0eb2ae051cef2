"""Bootstrap uncertainty of a fitted law: resample runs, refit, collect the draws.

Each draw resamples the fit's runs with replacement (or whole clusters of runs, e.g.
IsoFLOP budgets grouped within a tolerance, or model sizes, when ``cluster`` names a
column), refits warm-started
from the point estimate (:func:`tsbudget.fitting.fit.refit` with ``init=result.law``), and keeps
every parameter plus, for laws with a closed-form optimum (the Chinchilla form,
Hoffmann et al. 2022 App. D.2 eq. 4), N_opt, D_opt, tokens per parameter and the
optimal loss at the given budgets, and the allocation exponents
``a = β/(α+β)``, ``b = α/(α+β)`` (:mod:`tsbudget.uncertainty.derived`). Standard errors are
the draws' standard deviation; intervals are percentile intervals (Efron & Tibshirani 1993,
ch. 13), as in Besiroglu et al. 2024 §4 (:mod:`tsbudget.percentiles`, tables in
:mod:`tsbudget.uncertainty.intervals`).

Draws are reproducible: draw ``i`` uses ``numpy.random.SeedSequence(seed).spawn(n)[i]``
(:mod:`tsbudget.resampling`), and the resampling indices are made before any
refit, so the result does not depend on how chunks of draws are spread over an executor.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, as_completed

import attrs
import numpy as np
import xarray as xr

from tsbudget.errors import FidelityWarning, FitError, InputError
from tsbudget.fitting import fit as fit_module  # the module: refit is looked up at call time
from tsbudget.fitting.fit import fit_objective, stationarity_tolerance
from tsbudget.fitting.result import FitResult
from tsbudget.optim.bfgs import minimize_rows, projected_gradient
from tsbudget.optim.newton import minimize_newton
from tsbudget.optim.stopping import RowConvergence
from tsbudget.resampling import resample_indices
from tsbudget.uncertainty.clustering import cluster_attrs, clusters
from tsbudget.uncertainty.derived import DERIVED_UNITS, derived_quantities

__all__ = ["DEFAULT_BUDGETS", "bootstrap", "check_draw_options", "failure_summary"]

# Budgets for the derived quantities when none are given: 1e18 to 1e25 FLOPs in decades,
# plus 5.88e23, Chinchilla's training compute (Hoffmann et al. 2022 Table 3), the budget
# the replication literature quotes.
DEFAULT_BUDGETS = (1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 5.88e23, 1e24, 1e25)


def check_draw_options(n_draws, level, budgets, default_budgets) -> np.ndarray:
    """Validate the options shared by :func:`bootstrap` and :func:`tsbudget.comparisons.compare.compare`;
    return the budgets as a float vector (``default_budgets`` when ``None``)."""
    if not isinstance(n_draws, (int, np.integer)) or n_draws < 2:
        raise InputError(f"n_draws must be an integer >= 2, got {n_draws!r}")
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    budgets = np.asarray(default_budgets if budgets is None else budgets, dtype=float).reshape(-1)
    if budgets.size == 0 or np.any(~np.isfinite(budgets) | (budgets <= 0)):
        raise InputError(f"budgets must be finite and > 0, got {budgets.tolist()!r}")
    return budgets


def _refit_chunk(result, chunk: Sequence[np.ndarray]) -> list[tuple]:
    """Refit one chunk of draws with :func:`tsbudget.fitting.fit.refit`, one scipy polish each;
    module level so process and dask executors can ship it.

    Returns per draw ``(values or None, success, objective, message, evaluations)``; an exception in
    one draw marks that draw failed and the chunk goes on.
    """
    runs = result.runs
    out = []
    for idx in chunk:
        try:
            with warnings.catch_warnings():  # the point fit already said it; one refit's repeat is noise
                warnings.simplefilter("ignore", FidelityWarning)
                r = fit_module.refit(result, runs[np.asarray(idx)], init=result.law)
        except Exception as exc:  # one bad draw must not lose the others; counted below
            out.append((None, False, math.nan, f"{type(exc).__name__}: {exc}", 0))
            continue
        out.append((r.law.values, bool(r.success), float(r.objective), str(r.message),
                    int(r.diagnostics.get("n_evaluations", 0))))
    return out


def _objective(result, counts: np.ndarray):
    """The fit's objective with one row of run weights per draw: resampling run ``i``
    ``m_i`` times adds ``m_i`` copies of its Huber term, i.e. weight ``m_i`` (the same sum
    :func:`tsbudget.fitting.fit.refit` minimises on the resampled table)."""
    runs = result.runs
    base = runs["weight"].to_numpy().astype(float) if "weight" in runs.columns else np.ones(runs.height)
    return fit_objective(runs, result.law, result.options, dict(result.fixed or {}), counts * base)


def _batched_chunk(result, chunk: Sequence[np.ndarray]) -> list[tuple]:
    """Refit one chunk of draws as one batched solve over draws (damped Newton when the
    objective has an analytic Hessian, else BFGS), warm-started from the point estimate, minimising the same objective as :func:`_refit_chunk` (run
    multiplicities as weights). Same output format."""
    n = result.runs.height
    counts = np.stack([np.bincount(np.asarray(idx), minlength=n) for idx in chunk]).astype(float)
    obj = _objective(result, counts)
    n_free = len(obj.free)
    distinct = (counts > 0).sum(axis=1)

    lo, hi = obj.bounds()
    theta0 = np.broadcast_to(obj.to_theta(result.law.values), (len(chunk), n_free))
    delta = float(result.options.get("delta", 1e-3))
    # tsbudget.fitting.fit's stationarity threshold, per draw (its weights sum to its run count, or 1)
    tol = np.array([stationarity_tolerance(n, delta, float(ws)) for ws in obj.weights.sum(axis=1)])
    gstop = float(tol.min())
    stopping = RowConvergence(len(chunk), gstop=gstop)
    solver = "Newton" if obj.has_hessian else "BFGS"
    if obj.has_hessian:
        # an analytic Hessian (the Chinchilla form): damped Newton from the point estimate,
        # ~9 iterations per draw where BFGS needs ~70 evaluations
        rows = minimize_newton(lambda theta, r: obj.value_grad_hess(theta, weights=obj.weights[r]),
                               theta0, lo, hi, stopping).by_start()
    else:
        rows = minimize_rows(lambda theta, r: obj.value_and_grad(theta, weights=obj.weights[r]),
                             theta0, lo, hi, stopping, max_iter=500, max_backtracks=50).by_start()
    theta, f, g, reason = rows.x, rows.fun, rows.grad, rows.reason
    # the same stationarity test as tsbudget.fitting.fit: projected gradient small for the data size
    pg = projected_gradient(theta, g, lo, hi)
    gmax = np.max(np.abs(pg), axis=1)
    out = []
    for i in range(len(chunk)):
        evaluations = rows.n_evaluations if i == 0 else 0  # the chunk's batched evaluations, on its first draw
        if distinct[i] < n_free:
            out.append((None, False, math.nan,
                        f"FitError: {distinct[i]} distinct runs cannot determine {n_free} free parameters", evaluations))
            continue
        if not np.isfinite(f[i]):
            out.append((None, False, math.nan, "FitError: the objective is not finite", evaluations))
            continue
        stationary = gmax[i] <= tol[i]
        ok = reason[i] in ("ftol", "gtol") or stationary
        values = obj.to_values(theta[i])
        if not ok:
            # the batched model gave up (a Huber kink): finish with scipy's L-BFGS-B from here
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FidelityWarning)
                    r = fit_module.refit(result, result.runs[np.asarray(chunk[i])], init=values)
            except Exception as exc:  # counted as a failed draw by the caller
                out.append((None, False, math.nan, f"{type(exc).__name__}: {exc}", evaluations))
                continue
            evaluations += int(r.diagnostics.get("n_evaluations", 0))
            if r.objective <= f[i]:
                out.append((r.law.values, bool(r.success), float(r.objective),
                            f"batched {solver} stopped by {reason[i]}; finished by refit: {r.message}", evaluations))
                continue
        msg = f"batched {solver} stopped by {reason[i]}; max projected gradient {gmax[i]:.2g}"
        out.append((values, bool(ok), float(f[i]), msg, evaluations))
    return out


def _run(work, result, indices, chunk_size, executor, progress) -> list[tuple]:
    """Refit the draws ``indices`` in chunks of ``chunk_size`` (in this process or on
    ``executor``); one row per draw, in order."""
    chunks = [indices[i : i + chunk_size] for i in range(0, len(indices), chunk_size)]
    outputs: list[list[tuple] | None] = [None] * len(chunks)
    if executor is None:
        for i, chunk in enumerate(chunks):
            outputs[i] = work(result, chunk)
            if progress is not None:
                progress(len(chunk))
    else:
        futures = {executor.submit(work, result, chunk): i for i, chunk in enumerate(chunks)}
        for fut in as_completed(futures):
            i = futures[fut]
            outputs[i] = fut.result()
            if progress is not None:
                progress(len(chunks[i]))
    return [row for chunk in outputs for row in chunk]


def _domain_failures(law, values: dict[str, np.ndarray]) -> list[str]:
    """Per draw, why its estimate is outside the law's parameter domain ('' when inside):
    a non-finite value, a log-scale parameter that is not > 0 (its term vanished or blew
    up), or a value past a bound."""
    n = len(next(iter(values.values())))
    out = [""] * n
    for p in law.parameters:
        v = values[p.name]
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(v) | (v < p.lower) | (v > p.upper) | ((v <= 0) if p.log else False)
        for i in np.flatnonzero(bad):
            if out[i]:
                continue
            if not math.isfinite(v[i]):
                out[i] = f"{p.name} = {v[i]} is not finite"
            else:
                lower = "> 0" if p.log else f">= {p.lower:g}"
                out[i] = (f"{p.name} = {v[i]:.3g} is outside its domain ({lower}"
                          + (f", <= {p.upper:g}" if math.isfinite(p.upper) else "") + ")"
                          + ("; its term vanished from the refit (the resampled runs cannot determine it)"
                             if p.log and v[i] <= 0 else ""))
    return out


def _reason_key(message: str) -> str:
    """A failure message without its numbers, so equal causes are counted together."""
    if " is outside its domain" in message:
        name = message.split(" = ", 1)[0]
        return f"{name} outside its domain" + message[message.index(" ("):]
    if message.endswith(" is not finite"):
        return message.split(" = ", 1)[0] + " is not finite"
    if "cannot determine" in message:  # "k distinct runs" / "n runs at k distinct design points"
        return "too few distinct runs in the resample to determine" + message.split("cannot determine", 1)[1].split(" (")[0]
    return message.split("; max projected gradient")[0]


def failure_summary(draws) -> str:
    """One line saying how many draws failed and why ('' when none did), from
    ``draws.attrs["failure_reasons"]``: e.g. ``"3 of 50 draws failed: 2 × B outside its
    domain (> 0) ...; 1 × FitError: ..."``."""
    n_failed = int(draws.attrs.get("n_failed", 0))
    if not n_failed:
        return ""
    reasons = json.loads(draws.attrs.get("failure_reasons", "{}") or "{}")
    if not reasons:  # draws made before reasons were recorded
        reasons = {m: 1 for m in json.loads(draws.attrs.get("failure_messages", "[]") or "[]")}
    why = "; ".join(f"{c} × {r}" for r, c in list(reasons.items())[:3]) or "no reason recorded"
    more = len(reasons) - 3
    return (f"{n_failed} of {int(draws.attrs.get('n_draws', 0))} draws failed: {why}"
            + (f"; and {more} other reasons" if more > 0 else ""))


def _worst_mc_error(result, rows: list[tuple], level: float) -> float:
    """The largest Monte Carlo error of a free parameter's standard error or interval end,
    relative to its standard error, over the draws ``rows`` (``inf`` when too few finite)."""
    from tsbudget.percentiles import MIN_VALID_DRAWS, monte_carlo_errors

    worst = 0.0
    fixed = set(result.fixed or {})
    for p in result.law.parameters:
        if p.name in fixed:
            continue
        v = np.array([r[0][p.name] for r in rows if r[0] is not None], dtype=float)
        v = v[np.isfinite(v)]
        if v.size < max(MIN_VALID_DRAWS, 10):
            return math.inf
        sd = float(v.std(ddof=1))
        if sd == 0:
            continue
        worst = max(worst, *(e / sd for e in monte_carlo_errors(v, level)))
    return worst


def bootstrap(
    result,
    n_draws: int = 1000,
    *,
    seed: int = 0,
    cluster=None,
    executor: Executor | None = None,
    level: float = 0.95,
    budgets=None,
    chunk_size: int | None = None,
    flops_per_param_position: float = 6.0,
    progress: Callable[[int], None] | None = None,
    method: str = "batched",
    indices: Sequence[np.ndarray] | None = None,
    mc_target: float | None = None,
    max_draws: int = 20_000,
):
    """``result`` with ``draws``: a bootstrap of its fit (see the module docstring).

    ``cluster``: a column of the fitted runs (``"flops"`` for IsoFLOP budgets, grouped
    within a tolerance by :func:`~tsbudget.fitting.budgets.auto_budget_groups`; ``"N"``
    for model sizes, exact values) or one label per run; whole clusters are resampled
    (Davison & Hinkley 1997 §3.8), and ``draws.attrs["n_clusters"]`` records how many
    there were. A :class:`~tsbudget.errors.BootstrapWarning` says when every cluster is a
    single run (then it is a plain bootstrap) or there is only one. ``executor``: any
    :class:`concurrent.futures.Executor` (a ``ProcessPoolExecutor``, or a dask
    ``Client.get_executor()``); chunks of ``chunk_size`` draws go in one task; ``None``
    runs in this process. ``budgets``: FLOPs at which derived quantities are computed
    (default :data:`DEFAULT_BUDGETS`), under ``C = k·N·D`` with
    ``k = flops_per_param_position``. ``progress`` is called with the number of draws
    finished after each chunk.

    ``method="batched"`` (default) refits all draws of a chunk as one batched solve over
    draws (damped Newton for laws with an analytic Hessian of the objective, the Chinchilla
    form; else BFGS), from the point estimate, on the fit's objective with each run weighted by how
    often the draw picked it (identical to refitting the resampled table);
    ``method="refit"`` calls :func:`tsbudget.fitting.fit.refit` (one scipy L-BFGS-B polish) per
    draw. Both reach the same optimum to ~1e-6 (tested; 200 draws of the golden Chinchilla fit
    agreed to 1.3e-14) and the batched one was 41× faster there.
    ``chunk_size`` defaults to a quarter of the draws in this process (fewer, larger batched
    solves; ``progress`` is called four times) and to a sixteenth on an executor.

    ``indices``: the resampling itself, one array of row indices into ``result.runs`` per
    draw (``n_draws`` of them), made by the caller; ``seed`` and ``cluster`` then only
    label the result. :func:`tsbudget.comparisons.compare.compare` uses it to pair the draws of
    several systems on a shared key.

    Draws whose refit raised are *failed*: NaN in ``draws``, flagged in ``failed``,
    counted in ``draws.attrs["n_failed"]`` and left out of the statistics. Draws whose
    refit ran but reported ``success=False`` are kept and counted in ``n_unconverged``.
    Draws whose estimate lies outside a parameter's domain (non-finite, a log-scale
    parameter such as ``B`` at 0 because its term vanished, a value past a bound) are failed
    too. Every failed draw's reason is kept: ``draws.attrs["failure_reasons"]`` (JSON, reason
    -> count) and :func:`failure_summary` say why draws failed.
    Raises :class:`FitError` when every draw fails.

    ``mc_target`` (e.g. 0.05): draw in batches of ``n_draws`` until the Monte Carlo error
    of every standard error and interval end of :func:`~tsbudget.uncertainty.intervals.intervals`
    is at most ``mc_target`` times that quantity's standard error
    (:func:`tsbudget.percentiles.monte_carlo_errors`), or ``max_draws`` draws are made.
    Draw ``i`` is the same draw whatever the batch, so the result equals one bootstrap of
    the final size. ``draws.attrs["mc_batches"]`` counts the batches.
    """
    if not isinstance(result, FitResult):
        raise InputError(f"result must be a FitResult (from tsbudget.fit), got {type(result).__name__}")
    budgets = check_draw_options(n_draws, level, budgets, DEFAULT_BUDGETS)
    if mc_target is not None:
        if not (isinstance(mc_target, (int, float)) and math.isfinite(mc_target) and mc_target > 0):
            raise InputError(f"mc_target must be a number > 0, got {mc_target!r}")
        if indices is not None:
            raise InputError("mc_target draws more batches itself; it cannot be combined with given indices")
        if not isinstance(max_draws, (int, np.integer)) or max_draws < n_draws:
            raise InputError(f"max_draws must be an integer >= n_draws ({n_draws}), got {max_draws!r}")
    if method not in ("batched", "refit"):
        raise InputError(f"method must be 'batched' or 'refit', got {method!r}")
    if method == "batched" and result.options.get("method") == "vpnls":
        method = "refit"  # the batched solve minimises the Huber objective; a vpnls fit refits its own way
    work = _batched_chunk if method == "batched" else _refit_chunk
    given = indices is not None
    labels = None
    if not given:
        labels = clusters(result, cluster)
        indices = resample_indices(result.runs.height, int(n_draws), seed, labels)
    else:
        indices = [np.asarray(i) for i in indices]
        n_runs = result.runs.height
        if len(indices) != n_draws:
            raise InputError(f"indices: need one array per draw ({n_draws}), got {len(indices)}")
        for j, idx in enumerate(indices):
            if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer) \
                    or idx.min() < 0 or idx.max() >= n_runs:
                raise InputError(f"indices[{j}]: must be a non-empty 1-d array of run indices in [0, {n_runs})")
    if chunk_size is None:
        chunk_size = max(1, math.ceil(n_draws / (4 if executor is None else 16)))
    rows = _run(work, result, indices, chunk_size, executor, progress)
    batches = 1
    if mc_target is not None:
        total = int(n_draws)
        while True:
            worst = _worst_mc_error(result, rows, level)
            if worst <= mc_target or total >= max_draws:
                break
            step = min(int(n_draws), int(max_draws) - total)
            more = resample_indices(result.runs.height, total + step, seed, labels)[total:]
            rows += _run(work, result, more, chunk_size, executor, progress)
            indices = list(indices) + list(more)
            total += step
            batches += 1
        n_draws = total

    names = [p.name for p in result.law.parameters]
    failed = np.array([r[0] is None for r in rows])
    if failed.all():
        raise FitError(f"every one of {n_draws} bootstrap draws failed; first: {rows[0][3]}")
    values = {n: np.array([math.nan if r[0] is None else r[0][n] for r in rows]) for n in names}
    messages = [r[3] if r[0] is None else "" for r in rows]
    # an estimate outside its parameter's domain (non-finite, a log-scale parameter at 0,
    # a value past a bound) is a failure too, with its reason: never a silent NaN or 0
    for i, reason in enumerate(_domain_failures(result.law, values)):
        if reason and not failed[i]:
            failed[i], messages[i] = True, reason
    for v in values.values():
        v[failed] = math.nan
    success = np.array([bool(r[1]) for r in rows]) & ~failed
    objective = np.array([r[2] for r in rows])
    reasons: dict[str, int] = {}
    for m, f in zip(messages, failed):
        if f:
            key = _reason_key(m)
            reasons[key] = reasons.get(key, 0) + 1

    unit = str((result.options or {}).get("unit", "tokens"))
    fixed = dict(result.fixed or {})
    data = {}
    for n in names:
        data[n] = ("draw", values[n], {"units": "1", "fixed": int(n in fixed)})
    data["objective"] = ("draw", objective, {"long_name": "Huber objective of the refit"})
    data["success"] = ("draw", success, {"long_name": "refit ran and reported convergence"})
    data["failed"] = ("draw", failed, {"long_name": "refit raised or gave a non-finite estimate"})
    data["n_runs"] = ("draw", np.array([len(i) for i in indices]), {"long_name": "runs in the resample"})
    derived = derived_quantities(result.law, values, budgets, float(flops_per_param_position))
    for name, arr in derived.items():
        dims = ("draw", "budget") if arr.ndim == 2 else "draw"
        data[name] = (dims, arr, {"units": DERIVED_UNITS[name].format(unit=unit)})
    n_failed = int(failed.sum())
    draws = xr.Dataset(
        data,
        coords={"draw": np.arange(n_draws), "budget": ("budget", budgets, {"units": "FLOPs"})},
        attrs={
            "law": result.law.name,
            "seed": int(seed),
            "n_draws": int(n_draws),
            "n_failed": n_failed,
            "n_unconverged": int((~success & ~failed).sum()),
            "level": float(level),
            "cluster": cluster if isinstance(cluster, str) else ("labels" if cluster is not None else "none"),
            "resampling": ("indices given by the caller" if given else
                           "whole clusters with replacement" if cluster is not None else "runs with replacement"),
            "flops_per_param_position": float(flops_per_param_position),
            "method": method,
            "refit": ("batched Newton over draws (run multiplicities as weights)" if method == "batched"
                      and _objective(result, np.ones((1, result.runs.height))).has_hessian else
                      "batched BFGS over draws (run multiplicities as weights)" if method == "batched"
                      else "tsbudget.fitting.fit.refit") + ", warm-started from the point estimate",
            "point_estimate": json.dumps(result.law.values),
            "failure_messages": json.dumps(sorted(set(m for m in messages if m))[:10]),
            "failure_reasons": json.dumps(dict(sorted(reasons.items(), key=lambda kv: -kv[1]))),
            "mc_target": float("nan") if mc_target is None else float(mc_target),
            "mc_batches": int(batches),
            "n_evaluations": int(sum(r[4] for r in rows)),
        },
    )
    draws.attrs.update(cluster_attrs(result, cluster))
    return attrs.evolve(result, draws=draws)
