"""Sensitivity of a fitted law to the choices the literature argues about.

Refit the same runs under variants of the fitting choices: the Huber δ (Hoffmann et al.
2022 use 1e-3), summing or averaging the loss (Besiroglu et al. 2024 §3: averaging
stopped Hoffmann's optimizer early), the precision of the reported losses (rounded to 2
or 3 decimals, as in papers' tables), dropping the smallest or largest budgets, dropping
outliers two ways (the k highest-loss runs, as Besiroglu et al. drop 5; or the runs whose
log residual from the baseline fit is more than 3 robust standard deviations from the
median, the Hampel identifier), and counting parameters with or without embeddings
(Kaplan et al. 2020 vs Hoffmann et al. 2022; Pearce & Song 2024) when the runs give both.
For each variant tabulate the parameters, the allocation exponents ``a = β/(α+β)``,
``b = α/(α+β)`` and N_opt, D_opt, tokens per parameter and the optimal loss at a target
budget (closed form, Hoffmann et al. 2022 App. D.2 eq. 4), and their change against the
baseline fit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor

import attrs
import numpy as np
import polars as pl

from tsbudget.errors import InputError, SchemaError
from tsbudget.variables import positive_number

__all__ = ["Variant", "choose_variants", "default_variants", "residual_outliers", "sensitivity"]


@attrs.frozen
class Variant:
    """One way of refitting: fit keyword overrides plus a change to the runs.

    ``round_loss``: round the loss column to that many decimals. ``drop_budgets``:
    ``"smallest"`` or ``"largest"`` budget group (see
    :func:`~tsbudget.fitting.budgets.auto_budget_groups`). ``drop_outliers``: drop the
    runs :func:`residual_outliers` flags at this many robust standard deviations from the
    baseline fit (the variant's ``options`` still apply, e.g. its ``drop_highest_loss``).
    ``n_col``: take N from this column instead (parameters with or without embeddings;
    ``D`` keeps its meaning).
    """

    name: str
    description: str
    options: dict = attrs.field(factory=dict)
    round_loss: int | None = None
    drop_budgets: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(("smallest", "largest")))
    )
    n_col: str | None = None
    drop_outliers: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.gt(0))
    )


def residual_outliers(result, runs=None, threshold: float = 3.0) -> np.ndarray:
    """Runs whose log residual from ``result``'s fit is an outlier: True where
    ``|r_i − median(r)| > threshold · 1.4826 · MAD``, ``MAD = median_i |r_i − median(r)|``.

    ``r_i = log L̂_i − log L_i`` (the residual the fit's Huber loss sees, Hoffmann et al.
    2022 App. D.2) for each row of ``runs`` (default: the fitted runs), predicted with
    :meth:`FitResult.predict`. This is the Hampel identifier (Hampel 1974): the median
    and the MAD scaled by ``1/Φ⁻¹(3/4) ≈ 1.4826`` are a robust centre and a consistent
    estimate of the standard deviation under normal errors (Rousseeuw & Croux 1993), so
    the outliers themselves cannot mask each other by inflating the scale, as they do a
    mean ± k·SD rule. Leys et al. 2013 recommend 2.5, and 3 as very conservative. When
    more than half the residuals are identical (MAD = 0) no run is flagged.
    """
    threshold = float(threshold)
    if not threshold > 0:
        raise InputError(f"threshold must be > 0, got {threshold!r}")
    if runs is None:
        predicted, observed = result.predict(), result.runs["loss"].to_numpy()
    else:
        loss = (result.options.get("columns") or {}).get("loss", "loss")
        if loss not in runs.columns:
            raise SchemaError(f"runs lack the loss column {loss!r}; columns are {runs.columns}")
        predicted, observed = result.predict(runs), runs[loss].cast(pl.Float64).to_numpy()
    r = np.log(predicted) - np.log(observed)
    dev = np.abs(r - np.median(r))
    scale = 1.4826 * np.median(dev)
    if scale == 0:
        return np.zeros(r.size, dtype=bool)
    return dev > threshold * scale


def default_variants(fit_options: Mapping | None = None, embedding_col: str | None = None) -> list[Variant]:
    """The default set: δ 1e-4/1e-3/1e-2 (those not the baseline), the other reduction, loss
    rounded to 2 and 3 decimals, dropping the smallest or the largest budget, dropping 5
    more highest-loss runs (and none, if the baseline drops some), dropping the runs whose
    residual from the baseline fit is beyond 3 robust SDs instead (:func:`residual_outliers`),
    and N from ``embedding_col`` when given (the runs must then hold both parameter counts).

    Sum vs mean: the two objectives differ by the factor ``Σ w`` only, and the fit's
    L-BFGS-B polish minimises the objective divided by its value at the start, so both
    are the same function to it (as are the relative stopping tests of the grid search
    and the damped Gauss-Newton steps). The mean variant therefore reaches the same
    optimum by construction, not as evidence of robustness: polished from the baseline
    (``warm_start``, the default) it is bit-identical on the Chinchilla data; from the full
    grid the parameters differ by ≤ 5e-8 relative (the grid search's absolute gradient
    tolerance). Only ``success`` can differ, as the stationarity test is on the gradient's
    absolute size. Averaging hurt Hoffmann et al. 2022 only because scipy's tolerances are
    absolute (Besiroglu et al. 2024 §3)."""
    opts = dict(fit_options or {})
    delta = float(opts.get("delta", 1e-3))
    reduction = opts.get("reduction", "sum")
    k = int(opts.get("drop_highest_loss", 0))
    out = [Variant("baseline", "the fit as given")]
    for d in (1e-4, 1e-3, 1e-2):
        if not np.isclose(d, delta, rtol=1e-9, atol=0):
            out.append(Variant(f"delta={d:g}", f"Huber delta {d:g} instead of {delta:g}", {"delta": d}))
    other = "mean" if reduction == "sum" else "sum"
    out.append(Variant(f"reduction={other}", f"{other} of the per-run Huber losses (the same optimum as the {reduction} "
                       "by construction: the polish rescales the objective)", {"reduction": other}))
    for dec in (2, 3):
        out.append(Variant(f"loss_{dec}dp", f"losses rounded to {dec} decimals", round_loss=dec))
    out.append(Variant("drop_smallest_budget", "without the smallest budget group", drop_budgets="smallest"))
    out.append(Variant("drop_largest_budget", "without the largest budget group", drop_budgets="largest"))
    if k:
        out.append(Variant("drop_highest_loss=0", "keeping every run", {"drop_highest_loss": 0}))
    out.append(Variant(f"drop_highest_loss={k + 5}", f"dropping the {k + 5} highest-loss runs",
                       {"drop_highest_loss": k + 5}))
    out.append(Variant("drop_residual_outliers",
                       "dropping the runs whose log residual from the baseline fit is more than 3 robust SDs "
                       "(1.4826·MAD) from the median (Hampel identifier; Leys et al. 2013)"
                       + (f", instead of the {k} highest-loss runs" if k else ""),
                       {"drop_highest_loss": 0}, drop_outliers=3.0))
    if embedding_col:
        out.append(Variant(f"N={embedding_col}", f"N from column {embedding_col!r}, the other parameter count (with "
                           "or without embeddings), D unchanged", n_col=embedding_col))
    return out


def _flops(runs: pl.DataFrame, cols: Mapping[str, str], k: float) -> np.ndarray:
    if cols.get("flops", "flops") in runs.columns:
        return runs[cols.get("flops", "flops")].cast(pl.Float64).to_numpy()
    n, d = cols.get("N", "N"), cols.get("D", "D")
    if n in runs.columns and d in runs.columns:
        return k * runs[n].cast(pl.Float64).to_numpy() * runs[d].cast(pl.Float64).to_numpy()
    raise SchemaError(f"dropping budgets needs a flops column or N and D columns; columns are {runs.columns}")


def _apply(variant: Variant, runs: pl.DataFrame, cols: dict, k: float) -> tuple[pl.DataFrame, dict]:
    """The runs and column mapping of a variant."""
    from tsbudget.fitting.budgets import auto_budget_groups

    cols = dict(cols)
    if variant.round_loss is not None:
        loss = cols.get("loss", "loss")
        if loss not in runs.columns:
            raise SchemaError(f"runs lack the loss column {loss!r}; columns are {runs.columns}")
        runs = runs.with_columns(pl.col(loss).cast(pl.Float64).round(variant.round_loss))
    if variant.drop_budgets is not None:
        groups = auto_budget_groups(_flops(runs, cols, k))
        edge = groups.min() if variant.drop_budgets == "smallest" else groups.max()
        runs = runs.filter(pl.Series(groups != edge))
    if variant.n_col is not None:
        if variant.n_col not in runs.columns:
            raise SchemaError(f"variant {variant.name!r}: column {variant.n_col!r} is not in the runs")
        if "D" not in cols and "D" not in runs.columns:
            # keep D as it was: derive it from the original N before N changes meaning
            flops = _flops(runs, cols, k)
            runs = runs.with_columns(pl.Series("__D", flops / (k * runs[cols.get("N", "N")].cast(pl.Float64).to_numpy())))
            cols["D"] = "__D"
        cols["N"] = variant.n_col
    return runs, cols


def _fit_variant(runs, law, cols, options, init):
    from tsbudget.fitting.fit import fit

    return fit(runs, law, columns=cols, init=init, **options)


def _summary(result, target: float, k: float) -> dict:
    law = result.law
    row = {"success": bool(result.success), "objective": float(result.objective), "n_runs": int(result.n_runs)}
    values = law.values
    row.update(values)
    dense = result.options.get("cost_model", "dense") in (None, "dense") and not result.options.get("cost_settings")
    if not (dense and set(law.required_inputs) <= {"N", "D"}):
        # other cost models, units or variables: the planner, with the fit's own cost
        # model and unit (variables at their defaults)
        from tsbudget.errors import TsbudgetError
        from tsbudget.fitting.runs import fit_plugins
        from tsbudget.planning.plan import plan as _plan

        try:
            p = _plan(target, law=result, cost_model=fit_plugins(result.options)[0], unit=None)
        except TsbudgetError:
            return row
        row.update(N_opt=float(p.N), D_opt=float(p.D), tokens_per_param=float(p.D) / float(p.N),
                   loss_opt=float(p.loss))
    elif law.has_closed_form:
        n_opt, d_opt = (float(np.asarray(x)) for x in law.optimal_allocation(target, k))
        row.update(N_opt=n_opt, D_opt=d_opt, tokens_per_param=d_opt / n_opt)
        if {"alpha", "beta"} <= set(values):
            s = values["alpha"] + values["beta"]
            row.update(a=values["beta"] / s, b=values["alpha"] / s)
        if set(law.required_inputs) <= {"N", "D"}:
            row["loss_opt"] = float(law.loss(N=n_opt, D=d_opt))
    return row


def choose_variants(variants: Sequence[Variant | str] | None = None, fit_options: Mapping | None = None,
                    embedding_col: str | None = None) -> list[Variant]:
    """The variants :func:`sensitivity` fits, baseline first: ``variants`` (objects or names from
    :func:`default_variants`; default all of them), with the baseline added when missing.
    Its length is the number of fits, the total of a progress bar."""
    defaults = default_variants(fit_options, embedding_col)
    if variants is None:
        chosen = defaults
    else:
        by_name = {v.name: v for v in defaults}
        chosen = []
        for v in variants:
            if isinstance(v, Variant):
                chosen.append(v)
            elif v in by_name:
                chosen.append(by_name[v])
            elif isinstance(v, str) and v.startswith("N=") and embedding_col is None:
                raise InputError(f"sensitivity variant {v!r} needs embedding_col={v[2:]!r} (the column with the other "
                                 "parameter count; the runs must give both counts)")
            else:
                raise InputError(f"unknown sensitivity variant {v!r}; known: {sorted(by_name)}")
        if not any(v.name == "baseline" for v in chosen):
            chosen.insert(0, by_name["baseline"])
    chosen.sort(key=lambda v: v.name != "baseline")  # baseline first, others in order
    return chosen


def sensitivity(
    runs: pl.DataFrame,
    law="chinchilla",
    variants: Sequence[Variant | str] | None = None,
    target_budget: float = 5.88e23,
    *,
    columns: Mapping[str, str] | None = None,
    embedding_col: str | None = None,
    warm_start: bool = True,
    executor: Executor | None = None,
    flops_per_param_position: float = 6.0,
    baseline_init=None,
    progress: Callable[[int], None] | None = None,
    **fit_options,
) -> pl.DataFrame:
    """Refit under each variant and tabulate how the fit and its optimum at
    ``target_budget`` move (one row per variant, the baseline first).

    ``variants``: :class:`Variant` objects or names from :func:`default_variants`
    (default: all of them). ``embedding_col``: a column of ``runs`` with the other
    parameter count (non-embedding parameters when ``N`` counts embeddings, or the
    reverse), adding the variant ``N=<embedding_col>`` that refits with N from it and D
    unchanged. That variant needs both counts: a :class:`~tsbudget.errors.SchemaError`
    names what is missing when the runs lack either column, and asking for an ``N=...``
    variant without ``embedding_col`` is an :class:`~tsbudget.errors.InputError`.
    ``warm_start``: polish each variant from the baseline estimate (fast; it measures how
    the optimum moves, not whether a grid search would find it) instead of a full grid.
    ``executor``: spread the variants over any :class:`concurrent.futures.Executor`.
    ``baseline_init``: polish the baseline from this law or name -> value mapping instead
    of searching the grid. ``progress`` is called with 1 after each fit (the baseline's, then
    each variant's; :func:`choose_variants` gives their number). ``fit_options`` go to :func:`tsbudget.fitting.fit.fit` for every fit.

    Columns: variant, description, success, objective, n_runs, each parameter, a, b,
    N_opt, D_opt, tokens_per_param, loss_opt, then ``<name>_change`` = value/baseline − 1
    for each parameter and derived quantity.
    """
    from tsbudget.fitting.fit import fit

    target = positive_number(target_budget, "target_budget")
    if "init" in fit_options:
        raise InputError("sensitivity sets init itself (warm_start); do not pass init")
    k = float(flops_per_param_position)
    cols = dict(columns or {})
    if embedding_col is not None:
        n_source = cols.get("N", "N")
        missing = [c for c in (n_source, embedding_col) if c not in runs.columns]
        if missing:
            raise SchemaError(
                f"embedding_col={embedding_col!r}: the embedding variant refits with N from another parameter count, "
                f"so the runs need both counts, N as {n_source!r} and {embedding_col!r}; missing "
                f"{', '.join(repr(c) for c in missing)}; columns are {runs.columns}")
        if embedding_col == n_source:
            raise InputError(f"embedding_col={embedding_col!r} is the N column itself; give the column with the "
                             "other parameter count (with or without embeddings)")
    chosen = choose_variants(variants, fit_options, embedding_col)

    prepared = [_apply(v, runs, cols, k) for v in chosen[1:]]  # bad variants fail before any fit
    advance = progress or (lambda n: None)
    baseline = fit(runs, law, columns=cols or None, init=baseline_init, **fit_options)
    advance(1)
    for i, v in enumerate(chosen[1:]):
        if v.drop_outliers is not None:  # needs the baseline's residuals
            outliers = residual_outliers(baseline, runs, v.drop_outliers)
            prepared[i] = _apply(v, runs.filter(pl.Series(~outliers)), cols, k)
    init = baseline.law if warm_start else None
    jobs = [(r, baseline.law, c or None, {**fit_options, **v.options}, init)
            for v, (r, c) in zip(chosen[1:], prepared)]
    futures = [executor.submit(_fit_variant, *job) for job in jobs] if executor is not None else jobs
    results = []
    for item in futures:
        results.append(_fit_variant(*item) if executor is None else item.result())
        advance(1)

    rows = []
    for v, res in zip(chosen, [baseline, *results]):
        rows.append({"variant": v.name, "description": v.description, **_summary(res, target, k)})
    base = rows[0]
    numeric = [key for key, val in base.items() if isinstance(val, float) and key != "objective"]
    for row in rows:
        for key in numeric:
            b, x = base[key], row.get(key)
            row[f"{key}_change"] = None if x is None or b == 0 else x / b - 1.0
    table = pl.DataFrame(rows, infer_schema_length=None)
    return table.with_columns(pl.lit(target).alias("target_budget"))
