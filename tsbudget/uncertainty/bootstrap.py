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
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, as_completed

import attrs
import numpy as np
import xarray as xr

from tsbudget.errors import FitError, InputError
from tsbudget.fitting import fit as fit_module  # the module: refit is looked up at call time
from tsbudget.fitting.fit import fit_objective, stationarity_tolerance
from tsbudget.optim.bfgs import minimize_rows, projected_gradient
from tsbudget.optim.stopping import RowConvergence
from tsbudget.resampling import resample_indices
from tsbudget.uncertainty.clustering import cluster_attrs, clusters
from tsbudget.uncertainty.derived import DERIVED_UNITS, derived_quantities

__all__ = ["DEFAULT_BUDGETS", "bootstrap", "check_draw_options"]

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

    Returns per draw ``(values or None, success, objective, message)``; an exception in
    one draw marks that draw failed and the chunk goes on.
    """
    runs = result.runs
    out = []
    for idx in chunk:
        try:
            r = fit_module.refit(result, runs[np.asarray(idx)], init=result.law)
        except Exception as exc:  # one bad draw must not lose the others; counted below
            out.append((None, False, math.nan, f"{type(exc).__name__}: {exc}"))
            continue
        out.append((r.law.values, bool(r.success), float(r.objective), str(r.message)))
    return out


def _objective(result, counts: np.ndarray):
    """The fit's objective with one row of run weights per draw: resampling run ``i``
    ``m_i`` times adds ``m_i`` copies of its Huber term, i.e. weight ``m_i`` (the same sum
    :func:`tsbudget.fitting.fit.refit` minimises on the resampled table)."""
    runs = result.runs
    base = runs["weight"].to_numpy().astype(float) if "weight" in runs.columns else np.ones(runs.height)
    return fit_objective(runs, result.law, result.options, dict(result.fixed or {}), counts * base)


def _batched_chunk(result, chunk: Sequence[np.ndarray]) -> list[tuple]:
    """Refit one chunk of draws as one batched BFGS over draws, warm-started from the
    point estimate, minimising the same objective as :func:`_refit_chunk` (run
    multiplicities as weights). Same output format."""
    n = result.runs.height
    counts = np.stack([np.bincount(np.asarray(idx), minlength=n) for idx in chunk]).astype(float)
    obj = _objective(result, counts)
    n_free = len(obj.free)
    distinct = (counts > 0).sum(axis=1)

    def fg(theta, rows):
        return attrs.evolve(obj, weights=obj.weights[rows]).value_and_grad(theta)

    lo, hi = obj.bounds()
    theta0 = np.broadcast_to(obj.to_theta(result.law.values), (len(chunk), n_free))
    delta = float(result.options.get("delta", 1e-3))
    # tsbudget.fitting.fit's stationarity threshold, per draw (its weights sum to its run count, or 1)
    tol = np.array([stationarity_tolerance(n, delta, float(ws)) for ws in obj.weights.sum(axis=1)])
    gstop = float(tol.min())
    rows = minimize_rows(fg, theta0, lo, hi, RowConvergence(len(chunk), gstop=gstop), max_iter=500,
                         max_backtracks=50).by_start()
    theta, f, g, reason = rows.x, rows.fun, rows.grad, rows.reason
    # the same stationarity test as tsbudget.fitting.fit: projected gradient small for the data size
    pg = projected_gradient(theta, g, lo, hi)
    gmax = np.max(np.abs(pg), axis=1)
    out = []
    for i in range(len(chunk)):
        if distinct[i] < n_free:
            out.append((None, False, math.nan,
                        f"FitError: {distinct[i]} distinct runs cannot determine {n_free} free parameters"))
            continue
        if not np.isfinite(f[i]):
            out.append((None, False, math.nan, "FitError: the objective is not finite"))
            continue
        stationary = gmax[i] <= tol[i]
        ok = reason[i] in ("ftol", "gtol") or stationary
        values = obj.to_values(theta[i])
        if not ok:
            # the batched model gave up (a Huber kink): finish with scipy's L-BFGS-B from here
            try:
                r = fit_module.refit(result, result.runs[np.asarray(chunk[i])], init=values)
            except Exception as exc:  # counted as a failed draw by the caller
                out.append((None, False, math.nan, f"{type(exc).__name__}: {exc}"))
                continue
            if r.objective <= f[i]:
                out.append((r.law.values, bool(r.success), float(r.objective),
                            f"batched BFGS stopped by {reason[i]}; finished by refit: {r.message}"))
                continue
        msg = f"batched BFGS stopped by {reason[i]}; max projected gradient {gmax[i]:.2g}"
        out.append((values, bool(ok), float(f[i]), msg))
    return out


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

    ``method="batched"`` (default) refits all draws of a chunk as one batched BFGS over
    draws, from the point estimate, on the fit's objective with each run weighted by how
    often the draw picked it (identical to refitting the resampled table);
    ``method="refit"`` calls :func:`tsbudget.fitting.fit.refit` (one scipy L-BFGS-B polish) per
    draw. Both reach the same optimum to ~1e-6 (tested); the batched one is ~50× faster.

    ``indices``: the resampling itself, one array of row indices into ``result.runs`` per
    draw (``n_draws`` of them), made by the caller; ``seed`` and ``cluster`` then only
    label the result. :func:`tsbudget.comparisons.compare.compare` uses it to pair the draws of
    several systems on a shared key.

    Draws whose refit raised are *failed*: NaN in ``draws``, flagged in ``failed``,
    counted in ``draws.attrs["n_failed"]`` and left out of the statistics. Draws whose
    refit ran but reported ``success=False`` are kept and counted in ``n_unconverged``.
    Raises :class:`FitError` when every draw fails.
    """
    budgets = check_draw_options(n_draws, level, budgets, DEFAULT_BUDGETS)
    if method not in ("batched", "refit"):
        raise InputError(f"method must be 'batched' or 'refit', got {method!r}")
    work = _batched_chunk if method == "batched" else _refit_chunk
    given = indices is not None
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
        chunk_size = max(1, math.ceil(n_draws / 16))
    chunks = [indices[i : i + chunk_size] for i in range(0, n_draws, chunk_size)]

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
    rows = [row for chunk in outputs for row in chunk]

    names = [p.name for p in result.law.parameters]
    failed = np.array([r[0] is None for r in rows])
    if failed.all():
        raise FitError(f"every one of {n_draws} bootstrap draws failed; first: {rows[0][3]}")
    values = {n: np.array([math.nan if r[0] is None else r[0][n] for r in rows]) for n in names}
    bad_values = ~failed & ~np.all([np.isfinite(v) for v in values.values()], axis=0)
    failed |= bad_values  # a non-finite estimate is a failure too, never a silent NaN
    for v in values.values():
        v[failed] = math.nan
    success = np.array([bool(r[1]) for r in rows]) & ~failed
    objective = np.array([r[2] for r in rows])
    messages = [r[3] if f else "" for r, f in zip(rows, failed)]

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
            "refit": ("batched BFGS over draws (run multiplicities as weights)" if method == "batched"
                      else "tsbudget.fitting.fit.refit") + ", warm-started from the point estimate",
            "point_estimate": json.dumps(result.law.values),
            "failure_messages": json.dumps(sorted(set(m for m in messages if m))[:10]),
        },
    )
    draws.attrs.update(cluster_attrs(result, cluster))
    return attrs.evolve(result, draws=draws)
