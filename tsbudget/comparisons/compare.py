"""Compare systems (routers, patchers, hierarchies) along their whole budget frontiers.

Each system's runs are fitted with its own law and cost model (:func:`tsbudget.fitting.fit.fit`),
bootstrapped (:func:`tsbudget.uncertainty.bootstrap.bootstrap`) on resampling units paired
across systems (:mod:`tsbudget.comparisons.systems`), and its frontier, the best loss it
reaches at each budget, is computed for the point fit and for every draw
(:mod:`tsbudget.comparisons.frontiers`: compute-optimal, or at fixed data). Per budget the
draws give percentile intervals, the probability of beating the reference and of being best,
and the crossovers where the winner changes (:mod:`tsbudget.comparisons.statistics`); the
result is a :class:`~tsbudget.comparisons.result.Comparison`.

Extrapolation. A budget outside ``[min, max]`` of a system's fitted runs' FLOPs is flagged
(``extrapolated``); so is a frontier ``N`` outside the fitted ``N`` range (``n_extrapolated``).
For a jointly fitted system the ranges are those of its runs at its own variables.

Joint fits. A system may be fitted on other runs than its own (``fit_runs``, e.g. Clark et
al.'s routing law on the dense runs and every expert count of one router) and name the
setting at which that same fit is the reference (``reference_variables``, e.g.
``{"experts": 1}``). Its ``p_beats_reference`` is then taken against the reference frontier
of its own fit, draw for draw (``reference_loss`` in the dataset), and the comparison's
``limits`` say where it stops beating the reference, in size and in budget
(:mod:`tsbudget.comparisons.limits`). Systems whose fitted runs and fit settings are equal
share one fit and one set of draws.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import attrs
import numpy as np
import polars as pl
import xarray as xr

from tsbudget.comparisons.frontiers import frontier_runs, system_frontier
from tsbudget.comparisons.limits import reference_limits
from tsbudget.comparisons.result import Comparison
from tsbudget.comparisons.statistics import crossovers, p_best, p_less
from tsbudget.comparisons.systems import (
    System,
    canonical_runs,
    content_key,
    fit_key,
    fit_system,
    pairing_notes,
    resampling_units,
    seed_for,
    split_systems,
    system_spec,
)
from tsbudget.errors import FitError, InputError
from tsbudget.percentiles import percentile_interval
from tsbudget.resampling import draw_indices, draw_uniforms

__all__ = ["Comparison", "compare", "DEFAULT_COMPARE_BUDGETS"]

DEFAULT_COMPARE_BUDGETS = tuple(np.geomspace(1e18, 1e22, 9))
_FINE = 321  # points of the fine log grid crossovers are located on


def compare(
    runs,
    by: str = "router",
    *,
    law="chinchilla",
    reference: str | None = None,
    budgets=None,
    n_draws: int = 200,
    seed: int = 0,
    executor=None,
    cost_model="dense",
    unit="tokens",
    columns: Mapping[str, str] | None = None,
    variables: Mapping[str, float] | None = None,
    fit_options: Mapping | None = None,
    systems: Mapping[str, Mapping] | None = None,
    frontier: str = "optimal",
    cluster: str | None = None,
    level: float = 0.95,
    progress=None,
    pair_on: str | None = None,
    paired: bool = True,
) -> Comparison:
    """Fit, bootstrap and compare several systems along their frontiers (module docstring).

    ``runs``: one table with a system column ``by``, or a mapping label -> table.
    ``law``, ``cost_model``, ``unit``, ``columns`` (canonical name -> column), ``variables``
    (cost-model/law variables held at a value along the frontier, e.g. ``{"experts": 64}``),
    ``fit_options`` (keywords of :func:`tsbudget.fitting.fit.fit`), ``pair_on`` (the shared
    resampling key: whole groups of runs sharing this column are resampled, and paired
    across systems; ``"flops"`` groups nearby budgets; default single runs in
    (flops, N, D, loss) order; see :mod:`tsbudget.comparisons.systems`),
    ``cluster`` (the older name of ``pair_on``), ``frontier``: defaults for every system;
    ``systems`` maps a label to overrides of any of them, and to ``fit_runs`` (the runs its
    law is fitted on, when not its own: a joint fit) and ``reference_variables`` (where that
    fit is the reference; module docstring). ``paired=False`` resamples each
    system from its own stream instead of the shared one. ``reference``: a system label
    or a registered reference (:mod:`tsbudget.comparisons.references`). ``budgets``: FLOPs (default
    1e18..1e22, 9). ``executor``: passed to each bootstrap.
    """
    from tsbudget.uncertainty.bootstrap import check_draw_options
    from tsbudget.comparisons.references import match_reference

    budgets = np.unique(check_draw_options(n_draws, level, budgets, DEFAULT_COMPARE_BUDGETS))
    tables = split_systems(runs, by)
    if systems:
        unknown = set(systems) - set(tables)
        if unknown:
            raise InputError(f"systems: no runs labelled {sorted(unknown)[0]!r}; systems are {sorted(tables)}")
    defaults = {"law": law, "cost_model": cost_model, "unit": unit, "columns": dict(columns or {}) or None,
                "variables": dict(variables or {}), "fit_options": dict(fit_options or {}), "cluster": cluster,
                "pair_on": pair_on, "frontier": frontier, "cost_settings": None}
    labels = sorted(tables)
    ref_label, ref_obj = (None, None)
    if reference is not None:
        ref_label, ref_obj = match_reference(str(reference), labels)

    from tsbudget.uncertainty.bootstrap import bootstrap

    specs = {lab: system_spec(lab, defaults, systems) for lab in labels}
    frames = {lab: canonical_runs(tables[lab] if specs[lab].get("fit_runs") is None else specs[lab]["fit_runs"])
              for lab in labels}
    fkeys = {lab: fit_key(frames[lab], specs[lab]) for lab in labels}
    first = {}  # fit key -> the first system with it: systems with equal keys share its fit and draws
    for lab in labels:
        first.setdefault(fkeys[lab], lab)
    points = {}
    for lab in labels:
        src = first[fkeys[lab]]
        points[lab] = points[src] if src in points else fit_system(lab, frames[lab], specs[lab])
    units = {lab: resampling_units(lab, frames[lab], points[lab], specs[lab]["pair_on"]) for lab in labels}
    keys = {lab: content_key(points[lab].runs) for lab in labels}
    if paired:
        shared = draw_uniforms(int(seed), int(n_draws), max(u.size for u in units.values()))
        uniforms = {lab: shared for lab in labels}
    else:
        uniforms = {lab: draw_uniforms(seed_for(seed, keys[lab]), int(n_draws), units[lab].size) for lab in labels}
    fitted, boots = {}, {}
    for lab in labels:
        u = units[lab]
        if first[fkeys[lab]] in boots:
            fitted[lab] = System(lab, specs[lab], boots[first[fkeys[lab]]], keys[lab], units[lab])
            continue
        res = bootstrap(points[lab], int(n_draws), seed=int(seed), indices=draw_indices(u.members, uniforms[lab]),
                        executor=executor, level=level, progress=progress)
        res = attrs.evolve(res, draws=res.draws.assign_attrs(
            cluster=u.on or "none", n_clusters=u.size,
            resampling=(f"{'paired' if paired else 'independent'} draws over {u.describe()}"
                        + (f" of {u.on!r}, whole groups" if u.on else "") + " (tsbudget.comparisons.compare)")))
        boots[lab] = res
        fitted[lab] = System(lab, specs[lab], res, keys[lab], units[lab])

    # frontiers on the union of the requested budgets and a fine grid for crossovers
    lo, hi = float(budgets.min()), float(budgets.max())
    fine = np.geomspace(lo, hi, _FINE) if hi > lo else budgets
    allb = np.concatenate([budgets, fine])
    S, B = len(labels), budgets.size
    Lp = np.empty((S, allb.size))
    Ld = np.empty((S, int(n_draws), allb.size))
    Np = np.empty((S, allb.size))
    Nd = np.empty((S, int(n_draws), allb.size))
    methods = {}
    for i, lab in enumerate(labels):
        lp, ld, npnt, nd, how = system_frontier(fitted[lab], allb, B)
        Lp[i], Ld[i], Np[i], Nd[i], methods[lab] = lp, ld, npnt, nd, how
    if not np.all(np.isfinite(Lp)):
        bad = labels[int(np.flatnonzero(~np.all(np.isfinite(Lp), axis=1))[0])]
        raise FitError(f"system {bad!r}: its fitted frontier is not finite over the budgets {lo:g}..{hi:g}")

    pairing = pairing_notes(labels, units, ref_label or labels[0], bool(paired))

    # per-budget statistics on the requested budgets
    median = np.nanquantile(Ld[:, :, :B], 0.5, axis=1)  # (S, B)
    lower, upper = percentile_interval(Ld[:, :, :B], level, axis=1)
    best_idx = np.argmin(Lp[:, :B], axis=0)
    best = np.array([labels[i] for i in best_idx], dtype=object)
    share_best = np.stack([p_best(Ld[:, :, j]) for j in range(B)], axis=1)  # (S, B)
    p_ref = np.full((S, B), np.nan)
    ref_loss = np.full((S, B), np.nan)  # the reference's frontier under a jointly fitted system's own fit
    if ref_label is not None:
        r = labels.index(ref_label)
        for i, lab in enumerate(labels):
            ref_draws = Ld[r, :, :B]
            rv = fitted[lab].spec.get("reference_variables")
            if rv is not None and lab != ref_label:
                lr, ref_draws, _, _, _ = system_frontier(fitted[lab], budgets, variables=rv)
                ref_loss[i] = lr
            for j in range(B):
                p_ref[i, j] = p_less(Ld[i, :, j], ref_draws[:, j], bool(paired))
    own = {lab: frontier_runs(fitted[lab].fit, {k: float(v) for k, v in (fitted[lab].spec.get("variables") or {}).items()})
           for lab in labels}
    fmin = np.array([own[lab]["flops"].min() for lab in labels])
    fmax = np.array([own[lab]["flops"].max() for lab in labels])
    nmin = np.array([own[lab]["N"].min() for lab in labels])
    nmax = np.array([own[lab]["N"].max() for lab in labels])
    rel = 1e-9
    extrap = (budgets[None, :] > fmax[:, None] * (1 + rel)) | (budgets[None, :] < fmin[:, None] * (1 - rel))
    n_extrap = (Np[:, :B] > nmax[:, None] * (1 + rel)) | (Np[:, :B] < nmin[:, None] * (1 - rel))

    changes = crossovers(labels, fine, Lp[:, B:], Ld[:, :, B:], level, fmin, fmax)
    limits = reference_limits(fitted, ref_label, level)
    n_meaning = {"optimal": "compute-optimal N", "fixed_data": "N whose run costs the budget (the runs' cost curve)"}
    n_long = "; ".join(sorted({f"{lab}: {n_meaning[fitted[lab].spec['frontier']]}" for lab in labels}))
    if len({fitted[lab].spec["frontier"] for lab in labels}) == 1:
        n_long = n_meaning[fitted[labels[0]].spec["frontier"]]

    ds = xr.Dataset(
        {
            "loss": (("system", "budget"), Lp[:, :B], {"units": "loss (nats)", "long_name": "frontier loss, point fit"}),
            "loss_median": (("system", "budget"), median, {"units": "loss (nats)"}),
            "loss_lower": (("system", "budget"), lower, {"units": "loss (nats)"}),
            "loss_upper": (("system", "budget"), upper, {"units": "loss (nats)"}),
            "loss_draw": (("system", "draw", "budget"), Ld[:, :, :B], {"units": "loss (nats)"}),
            "N": (("system", "budget"), Np[:, :B], {"units": "parameters", "long_name": n_long}),
            "N_draw": (("system", "draw", "budget"), Nd[:, :, :B], {"units": "parameters", "long_name": n_long}),
            "p_best": (("system", "budget"), share_best, {"units": "1"}),
            "p_beats_reference": (("system", "budget"), p_ref, {"units": "1", "ties": "count one half"}),
            "reference_loss": (("system", "budget"), ref_loss, {
                "units": "loss (nats)",
                "long_name": "the reference's frontier under this system's own (joint) fit; NaN without one"}),
            "extrapolated": (("system", "budget"), extrap, {"long_name": "budget outside the fitted FLOPs range"}),
            "n_extrapolated": (("system", "budget"), n_extrap, {"long_name": "frontier N outside the fitted N range"}),
            "best": (("budget",), best, {"long_name": "point-estimate winner"}),
            "fitted_flops_min": (("system",), fmin, {"units": "FLOPs"}),
            "fitted_flops_max": (("system",), fmax, {"units": "FLOPs"}),
        },
        coords={"budget": ("budget", budgets, {"units": "FLOPs"}), "system": list(labels),
                "draw": np.arange(int(n_draws))},
        attrs={"reference": ref_label or "", "level": float(level), "frontier": frontier,
               "pairing": json.dumps(pairing), "paired": int(bool(paired)), "methods": json.dumps(methods), "n_draws": int(n_draws),
               "seed": int(seed)},
    )
    rows = []
    for j, b in enumerate(budgets):
        for i, lab in enumerate(labels):
            rows.append((float(b), lab, float(Lp[i, j]), float(median[i, j]), float(lower[i, j]), float(upper[i, j]),
                         float(Np[i, j]), float(share_best[i, j]), None if math.isnan(p_ref[i, j]) else float(p_ref[i, j]),
                         best[j] == lab, bool(extrap[i, j]), bool(n_extrap[i, j])))
    table = pl.DataFrame(rows, orient="row", schema={
        "budget": pl.Float64, "system": pl.Utf8, "loss": pl.Float64, "median": pl.Float64, "lower": pl.Float64,
        "upper": pl.Float64, "N": pl.Float64, "p_best": pl.Float64, "p_beats_reference": pl.Float64,
        "best": pl.Boolean, "extrapolated": pl.Boolean, "n_extrapolated": pl.Boolean})
    options = {"by": by, "n_draws": int(n_draws), "seed": int(seed), "level": float(level), "frontier": frontier,
               "budgets": budgets.tolist(), "methods": methods, "paired": bool(paired),
               "pair_on": {lab: fitted[lab].spec["pair_on"] for lab in labels},
               "failed_draws": {lab: int((~np.all(np.isfinite(Ld[i, :, :B]), axis=1)).sum())
                                for i, lab in enumerate(labels)},
               "laws": {lab: getattr(fitted[lab].spec["law"], "name", str(fitted[lab].spec["law"])) for lab in labels},
               "variables": {lab: {k: float(v) for k, v in (fitted[lab].spec.get("variables") or {}).items()}
                             for lab in labels},
               "shared_fits": {lab: first[fkeys[lab]] for lab in labels if first[fkeys[lab]] != lab}}
    return Comparison(table, changes, ds, tuple(labels), ref_label,
                      ref_obj.description if ref_obj is not None else "",
                      {lab: fitted[lab].fit for lab in labels}, pairing, options, limits)

