"""Bootstrap uncertainty of a fitted law: resample runs, refit, collect the draws.

Each draw resamples the fit's runs with replacement (or whole clusters of runs, e.g.
IsoFLOP budgets grouped within a tolerance, or model sizes, when ``cluster`` names a
column), refits warm-started
from the point estimate (:func:`tsbudget.fitting.fit.refit` with ``init=result.law``), and keeps
every parameter plus, for laws with a closed-form optimum (the Chinchilla form,
Hoffmann et al. 2022 App. D.2 eq. 4), N_opt, D_opt, tokens per parameter and the
optimal loss at the given budgets, and the allocation exponents
``a = β/(α+β)``, ``b = α/(α+β)``. Standard errors are the draws' standard deviation;
intervals are percentile intervals (Efron & Tibshirani 1993, ch. 13), as in
Besiroglu et al. 2024 §4.

Draws are reproducible: draw ``i`` uses ``numpy.random.SeedSequence(seed).spawn(n)[i]``,
and the resampling indices are made before any refit, so the result does not depend on
how chunks of draws are spread over an executor.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, as_completed

import attrs
import numpy as np
import polars as pl
import xarray as xr

from tsbudget.errors import BootstrapWarning, FitError, InputError, SchemaError
from tsbudget.fitting import fit as fit_module  # the module: refit is looked up at call time
from tsbudget.fitting.fit import fit_objective, stationarity_tolerance
from tsbudget.optim.bfgs import minimize_rows, projected_gradient
from tsbudget.optim.stopping import RowConvergence

__all__ = ["DEFAULT_BUDGETS", "bootstrap", "intervals", "intervals_dict", "normal_draws", "resample_indices"]

# Budgets for the derived quantities when none are given: 1e18 to 1e25 FLOPs in decades,
# plus 5.88e23, Chinchilla's training compute (Hoffmann et al. 2022 Table 3), the budget
# the replication literature quotes.
DEFAULT_BUDGETS = (1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 5.88e23, 1e24, 1e25)

_DERIVED_UNITS = {
    "N_opt": "parameters",
    "D_opt": "{unit}",
    "tokens_per_param": "{unit} per parameter",
    "loss_opt": "nats",
    "a": "1",
    "b": "1",
}


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


def resample_indices(n_runs: int, n_draws: int, seed: int = 0, clusters=None) -> list[np.ndarray]:
    """Row indices of each draw: ``n_runs`` rows with replacement, or, with ``clusters``
    (a label per run), as many whole clusters as there are, with replacement.

    Draw ``i`` uses its own generator from ``SeedSequence(seed).spawn(n_draws)[i]``.
    """
    children = np.random.SeedSequence(seed).spawn(n_draws)
    if clusters is None:
        return [np.random.default_rng(c).integers(0, n_runs, size=n_runs) for c in children]
    labels = np.asarray(clusters)
    _, inverse = np.unique(labels, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)]
    out = []
    for c in children:
        picks = np.random.default_rng(c).integers(0, len(members), size=len(members))
        out.append(np.concatenate([members[p] for p in picks]))
    return out


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


def _cluster_labels(result, cluster):
    """One cluster label per fitted run, or None for a plain bootstrap.

    ``cluster="flops"`` groups runs into IsoFLOP budgets with
    :func:`tsbudget.fitting.budgets.auto_budget_groups` (the exact values when there are
    at most 12, else at most 12 groups of nearby budgets), the grouping ``tsbudget
    isoflop`` and :mod:`tsbudget.comparisons.sensitivity` use: measured or digitised FLOPs are rarely
    exactly equal (the Chinchilla Fig. 4 runs have 245 distinct values, which would make
    245 clusters of one run each).
    """
    if cluster is None:
        return None
    runs = result.runs
    if isinstance(cluster, str):
        if cluster not in runs.columns:
            raise SchemaError(f"cluster column {cluster!r} is not in the fitted runs; columns are {runs.columns}")
        if cluster == "flops":
            from tsbudget.fitting.budgets import auto_budget_groups

            return auto_budget_groups(runs["flops"].to_numpy())
        return runs[cluster].to_numpy()
    labels = np.asarray(cluster)
    if labels.shape != (runs.height,):
        raise InputError(f"cluster labels must have one entry per fitted run ({runs.height}), got shape {labels.shape}")
    return labels


def _clusters(result, cluster):
    """:func:`_cluster_labels`, warning when the clusters cannot do what a cluster
    bootstrap promises: every cluster a single run (a plain bootstrap), or one cluster
    (every draw is the whole data set)."""
    labels = _cluster_labels(result, cluster)
    if labels is None:
        return None
    name = repr(cluster) if isinstance(cluster, str) else "labels"
    _, sizes = np.unique(labels, return_counts=True)
    if sizes.size > 1 and np.all(sizes == 1):
        warnings.warn(f"cluster={name}: each of the {sizes.size} clusters is a single run, so this cluster "
                      "bootstrap is a plain bootstrap over runs; group the runs (e.g. cluster='flops', which "
                      "groups nearby budgets) or pass one label per group", BootstrapWarning, stacklevel=3)
    elif sizes.size == 1:
        warnings.warn(f"cluster={name}: all {labels.size} runs form one cluster, so every draw is the whole "
                      "data set and the bootstrap spread is zero", BootstrapWarning, stacklevel=3)
    return labels


def _cluster_attrs(result, cluster) -> dict:
    """``n_clusters`` (resampling units: runs for a plain bootstrap) and, for
    ``cluster="flops"``, how the budgets were grouped."""
    try:
        labels = _cluster_labels(result, cluster)
    except InputError:  # labels that only name caller-given resamples
        return {}
    out = {"n_clusters": int(result.runs.height if labels is None else np.unique(labels).size)}
    if isinstance(cluster, str) and cluster == "flops":
        out["cluster_grouping"] = ("FLOPs grouped by tsbudget.fitting.budgets.auto_budget_groups (the exact values "
                                   "when at most 12 distinct, else at most 12 groups of nearby budgets)")
    return out


def _derived(law, values: dict[str, np.ndarray], budgets: np.ndarray, k: float) -> dict[str, np.ndarray]:
    """Closed-form optimum quantities over draws (rows) and budgets (columns)."""
    optimum = getattr(type(law), "chinchilla_optimum", None)
    if optimum is None or not {"E", "A", "B", "alpha", "beta"} <= set(values):
        return {}
    p = {name: np.asarray(values[name], dtype=float)[:, None] for name in ("E", "A", "B", "alpha", "beta")}
    good = np.all([np.isfinite(v[:, 0]) & (v[:, 0] > 0) for n, v in p.items() if n != "E"], axis=0)
    safe = {n: np.where(good[:, None], v, 1.0) for n, v in p.items()}  # failed draws: NaN below
    n_opt, d_opt = optimum(**safe, flops=budgets[None, :], k=k)
    out = {"N_opt": n_opt, "D_opt": d_opt, "tokens_per_param": d_opt / n_opt}
    if set(law.required_inputs) <= {"N", "D"}:
        full = {name: np.asarray(v, dtype=float)[:, None] for name, v in values.items()}
        out["loss_opt"] = law.evaluate({**full, **safe}, {"N": n_opt, "D": d_opt})
    s = safe["alpha"][:, 0] + safe["beta"][:, 0]
    out["a"] = safe["beta"][:, 0] / s
    out["b"] = safe["alpha"][:, 0] / s
    return {k_: np.where(good[:, None] if v.ndim == 2 else good, v, np.nan) for k_, v in out.items()}


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
        labels = _clusters(result, cluster)
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
    derived = _derived(result.law, values, budgets, float(flops_per_param_position))
    for name, arr in derived.items():
        dims = ("draw", "budget") if arr.ndim == 2 else "draw"
        data[name] = (dims, arr, {"units": _DERIVED_UNITS[name].format(unit=unit)})
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
    draws.attrs.update(_cluster_attrs(result, cluster))
    return attrs.evolve(result, draws=draws)


def normal_draws(
    result,
    n_draws: int = 10_000,
    *,
    seed: int = 0,
    space: str = "fit",
    mean=None,
    budgets=None,
    level: float | None = None,
):
    """``result`` with ``draws`` replaced by parameter draws from a multivariate normal
    fitted to its bootstrap draws (a parametric approximation of the bootstrap
    distribution), and the derived quantities of each draw.

    ``θ ~ N(μ, Σ)`` over the free parameters, where ``Σ`` is the sample covariance
    (``ddof=1``) of the successful bootstrap draws and ``μ`` the point estimate (or
    ``mean``, a law or name -> value mapping). ``space="fit"`` (default) draws in fit
    coordinates, ``(log E, log A, log B, α, β)`` for the Chinchilla law, and maps back
    with ``exp``; ``space="natural"`` draws the values themselves. Besiroglu et al. 2024
    (replication notebook ``data_analysis.ipynb`` in epoch-research/analyzing-chinchilla,
    section "Comparing optimal scaling policies") draw 10,000 vectors
    ``(log A, log B, log E, α, β)`` from a multivariate normal with their estimate as
    mean and the covariance of their bootstrap estimates, and take the median of the
    optimal tokens per parameter over them; ``space="fit"`` with their estimate as
    ``mean`` is that procedure. Derived quantities use the closed form of Hoffmann et al.
    2022 App. D.2 eq. 4 at ``budgets`` (default: the bootstrap's).

    Draws outside the parameters' domain (a non-positive scale or exponent, possible
    with ``space="natural"``) are *failed*: NaN, flagged in ``failed`` and counted in
    ``draws.attrs["n_failed"]``, so :func:`intervals` and the planner leave them out.
    The draws are reproducible from ``seed`` (``numpy.random.default_rng(seed)``, Cholesky
    factor of ``Σ``).
    """
    if not isinstance(n_draws, (int, np.integer)) or n_draws < 2:
        raise InputError(f"n_draws must be an integer >= 2, got {n_draws!r}")
    if space not in ("fit", "natural"):
        raise InputError(f"space must be 'fit' or 'natural', got {space!r}")
    boot = _draws(result)
    if "failed" not in boot or "budget" not in boot.coords:
        raise InputError("normal_draws needs bootstrap draws (tsbudget.uncertainty.bootstrap), not other draws")
    level = float(boot.attrs.get("level", 0.95)) if level is None else float(level)
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    law = result.law
    fixed = dict(result.fixed or {})
    free = [p for p in law.parameters if p.name not in fixed]
    ok = ~boot["failed"].values
    if ok.sum() < len(free) + 1:
        raise InputError(f"normal_draws needs at least {len(free) + 1} successful bootstrap draws to estimate the "
                         f"covariance of {len(free)} parameters; this bootstrap has {int(ok.sum())}")

    def coords(p, v):
        v = np.asarray(v, dtype=float)
        return np.log(v) if space == "fit" and p.log else v

    center = dict(law.values)
    if mean is not None:
        given = mean.values if hasattr(mean, "values") and not isinstance(mean, Mapping) else dict(mean)
        unknown = set(given) - set(center)
        if unknown:
            raise InputError(f"mean: law {law.name!r} has no parameter {sorted(unknown)[0]!r}; it has {list(center)}")
        center.update({k: float(v) for k, v in given.items()})
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.array([coords(p, center[p.name]) for p in free], dtype=float)
        sample = np.stack([coords(p, boot[p.name].values[ok]) for p in free])
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sample))):
        raise InputError(f"normal_draws: the mean or the bootstrap draws are outside the domain of space={space!r} "
                         "(a non-positive value of a log parameter)")
    cov = np.atleast_2d(np.cov(sample, ddof=1))
    # Cholesky (unique for a positive-definite Σ): the same draws on every platform, unlike
    # an SVD whose signs depend on the LAPACK build
    try:
        theta = np.random.default_rng(seed).multivariate_normal(mu, cov, size=int(n_draws), method="cholesky")
    except np.linalg.LinAlgError:
        raise InputError("normal_draws: the bootstrap covariance is singular (a parameter that never varies?); "
                         "fix that parameter in the fit") from None

    values = {}
    for name, v in center.items():
        values[name] = np.full(int(n_draws), float(v))
    for j, p in enumerate(free):
        values[p.name] = np.exp(theta[:, j]) if space == "fit" and p.log else theta[:, j]
    failed = np.zeros(int(n_draws), dtype=bool)
    for p in free:
        v = values[p.name]
        failed |= ~np.isfinite(v) | (v < p.lower) | (v > p.upper)
        if p.name in ("A", "B", "alpha", "beta"):  # the closed form needs positive scales and exponents
            failed |= v <= 0
    for v in values.values():
        v[failed] = math.nan

    budgets = boot["budget"].values if budgets is None else np.asarray(budgets, dtype=float).reshape(-1)
    if budgets.size == 0 or np.any(~np.isfinite(budgets) | (budgets <= 0)):
        raise InputError(f"budgets must be finite and > 0, got {budgets.tolist()!r}")
    k = float(boot.attrs.get("flops_per_param_position", 6.0))
    unit = str((result.options or {}).get("unit", "tokens"))
    data = {n: ("draw", values[n], {"units": "1", "fixed": int(n in fixed)}) for n in center}
    data["success"] = ("draw", ~failed, {"long_name": "draw inside the parameters' domain"})
    data["failed"] = ("draw", failed, {"long_name": "draw outside the parameters' domain"})
    for name, arr in _derived(law, values, budgets, k).items():
        data[name] = (("draw", "budget") if arr.ndim == 2 else "draw", arr,
                      {"units": _DERIVED_UNITS[name].format(unit=unit)})
    names = ", ".join(("log " if space == "fit" and p.log else "") + p.name for p in free)
    draws = xr.Dataset(
        data,
        coords={"draw": np.arange(int(n_draws)), "budget": ("budget", budgets, {"units": "FLOPs"})},
        attrs={
            "law": law.name,
            "seed": int(seed),
            "n_draws": int(n_draws),
            "n_failed": int(failed.sum()),
            "n_unconverged": 0,
            "level": level,
            "cluster": "none",
            "method": "normal",
            "space": space,
            "resampling": (f"multivariate normal in ({names}) with the covariance of {int(ok.sum())} bootstrap "
                           "draws (Besiroglu et al. 2024 notebook)"),
            "flops_per_param_position": k,
            "point_estimate": json.dumps(law.values),
            "mean": json.dumps({p.name: float(center[p.name]) for p in free}),
            "covariance": json.dumps(cov.tolist()),
        },
    )
    return attrs.evolve(result, draws=draws)


def _point_derived(result, budgets: np.ndarray, k: float) -> dict[str, np.ndarray]:
    vals = {n: np.array([v]) for n, v in result.law.values.items()}
    return {n: a[0] for n, a in _derived(result.law, vals, budgets, k).items()}


def _stats(v: np.ndarray, level: float) -> tuple[float, float, float, float]:
    v = v[np.isfinite(v)]
    lo, med, hi = np.quantile(v, [(1 - level) / 2, 0.5, (1 + level) / 2])
    return float(v.std(ddof=1)), float(lo), float(hi), float(med)


def intervals(result, level: float | None = None) -> pl.DataFrame:
    """Bootstrap summary: name, budget (null for parameters and exponents), estimate (the
    point fit), se, lower, upper (percentile interval at ``level``, default the one the
    bootstrap recorded), median over draws, n (draws used)."""
    draws = _draws(result)
    level = float(draws.attrs["level"]) if level is None else float(level)
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    ok = ~draws["failed"].values
    budgets = draws["budget"].values
    point = _point_derived(result, budgets, float(draws.attrs.get("flops_per_param_position", 6.0)))
    fixed = set(result.fixed or {})
    rows = []
    for p in result.law.parameters:
        if p.name in fixed:
            continue
        se, lo, hi, med = _stats(draws[p.name].values[ok], level)
        rows.append((p.name, None, float(getattr(result.law, p.name)), se, lo, hi, med, int(ok.sum())))
    for name in _DERIVED_UNITS:
        if name not in draws:
            continue
        arr = draws[name].values
        if arr.ndim == 1:
            se, lo, hi, med = _stats(arr[ok], level)
            rows.append((name, None, float(point[name]), se, lo, hi, med, int(ok.sum())))
            continue
        for j, c in enumerate(budgets):
            se, lo, hi, med = _stats(arr[ok, j], level)
            rows.append((name, float(c), float(point[name][j]), se, lo, hi, med, int(ok.sum())))
    return pl.DataFrame(
        rows,
        schema={
            "name": pl.Utf8,
            "budget": pl.Float64,
            "estimate": pl.Float64,
            "se": pl.Float64,
            "lower": pl.Float64,
            "upper": pl.Float64,
            "median": pl.Float64,
            "n": pl.Int64,
        },
        orient="row",
    )


def intervals_dict(result, level: float | None = None) -> dict:
    """:func:`intervals` for JSON: parameters and exponents by name, budget-dependent
    quantities as a list per name, plus level, draw counts and the seed."""
    draws = _draws(result)
    table = intervals(result, level)
    out = {
        "level": float(draws.attrs["level"]) if level is None else float(level),
        "n_draws": int(draws.attrs["n_draws"]),
        "n_failed": int(draws.attrs["n_failed"]),
        "n_unconverged": int(draws.attrs["n_unconverged"]),
        "seed": int(draws.attrs["seed"]),
        "cluster": draws.attrs["cluster"],
        "parameters": {},
        "derived": {},
    }
    for row in table.to_dicts():
        name, budget = row.pop("name"), row.pop("budget")
        if budget is None:
            out["derived" if name in _DERIVED_UNITS else "parameters"][name] = row
        else:
            out["derived"].setdefault(name, []).append({"budget": budget, **row})
    return out


def _draws(result) -> xr.Dataset:
    draws = getattr(result, "draws", None)
    if draws is None:
        raise InputError("this fit has no bootstrap draws; run tsbudget.uncertainty.bootstrap(result, n_draws) first")
    return draws
