"""Leave-future-out validation: fit on the runs below a budget, predict every larger run.

A scaling law is used to predict runs larger than those it was fitted on, so that is how
it should be checked. Marin's scaling work validated its law this way (fit on smaller
budgets, predict a larger run that exists; 2.606 predicted against 2.599 measured at
1e21 FLOPs, as issue 14 quotes it), separating *prediction* (a larger run exists to check
against) from *projection*. :func:`validate` does it for every law and fit option asked
for: for each cut budget ``c`` it fits each variant on the runs whose budget is below
``c`` and predicts every run whose budget is at or above ``c`` (the held-out runs), for
several cuts. Errors are reported per held-out run (log-loss residual
``log L̂ − log L`` and percent error ``100·(L̂ − L)/L``), per held-out budget, and pooled
per variant into a ranking (root mean square of the log residuals over all held-out runs
of all cuts). Li, Kudugunta & Zettlemoyer 2025 ("(Mis)Fitting") find that the form, the
loss, the optimiser and the points used each change a fit's conclusions and recommend
reporting them; here each such choice is a variant, and its out-of-sample error is measured.

Each run's budget is a budget column when given (IsoFLOP tables have one), else the
run's training FLOPs grouped into IsoFLOP budgets (nominal ``budgets`` given, or the
modes of log FLOPs; :mod:`tsbudget.fitting.budgets`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from tsbudget.errors import FitError, InputError, SchemaError
from tsbudget.fitting.budgets import auto_budget_grouping, group_budgets
from tsbudget.fitting.runs import check_fixed, prepare_runs, resolve_law
from tsbudget.fitting.validation_result import Validation, Variant
from tsbudget.tables import as_table

__all__ = ["FIT_METHODS", "cut_budgets", "run_budgets", "validate", "variants"]

#: Method names as the CLI spells them -> :func:`tsbudget.fitting.fit.fit` methods.
FIT_METHODS = {"huber": "batched", "batched": "batched", "reference": "reference", "vpnls": "vpnls"}


def variants(laws, methods, fixed: Mapping[str, float] | None, include_free: bool = True):
    """The fit variants: every law × method, each free and (when ``fixed`` is given) with
    ``fixed``; returns ``(variants, notes)`` with a note for each combination that cannot run
    (a fixed name the law lacks; vpnls on a law that is not the Chinchilla form)."""
    from tsbudget.fitting.vpnls import check_vpnls_law

    fixed = check_fixed(fixed)
    out, notes = [], []
    for law in laws:
        law = resolve_law(law)
        names = {p.name for p in law.parameters}
        for method in methods:
            if method not in FIT_METHODS:
                raise InputError(f"method must be one of {', '.join(FIT_METHODS)}, got {method!r}")
            if FIT_METHODS[method] == "vpnls":
                try:
                    check_vpnls_law(law)
                except InputError:
                    notes.append(f"{law.name}/{method}: skipped (vpnls fits the Chinchilla form only)")
                    continue
            sets = ([{}] if include_free or not fixed else []) + ([fixed] if fixed else [])
            for fx in sets:
                missing = sorted(set(fx) - names)
                if missing:
                    notes.append(f"{law.name}/{method}: fixed {', '.join(missing)} skipped (law {law.name!r} has "
                                 f"parameters {', '.join(sorted(names))})")
                    continue
                out.append(Variant(law=law, method=method, fixed=dict(fx)))
    if not out:
        raise InputError("no fit variant can run: " + "; ".join(notes))
    return out, notes


def run_budgets(df: pl.DataFrame, law, columns=None, cost_model="dense", unit="tokens", budget_column=None,
                budgets: Sequence[float] | None = None) -> tuple[np.ndarray, str]:
    """Each run's budget and a description of where it came from (see the module docstring)."""
    if budget_column is not None:
        if budget_column not in df.columns:
            raise SchemaError(f"budget column {budget_column!r} not in runs; columns present: {df.columns}")
        b = df[budget_column].cast(pl.Float64, strict=False).to_numpy()
        bad = np.flatnonzero(~np.isfinite(b) | (b <= 0))
        if bad.size:
            raise SchemaError(f"runs column {budget_column!r}, row {int(bad[0])}: value {b[bad[0]]!r} is not a "
                              "finite number > 0")
        return b, f"column {budget_column!r}"
    flops = prepare_runs(df, law, columns, cost_model, unit)["flops"].to_numpy()
    if budgets is not None:
        return group_budgets(flops, None, budgets), f"training FLOPs at the nearest of {len(budgets)} nominal budgets"
    groups, how = auto_budget_grouping(flops)
    return groups, f"training FLOPs grouped: {how}"


def cut_budgets(b: np.ndarray, cuts=None, min_train_budgets: int = 3, max_cuts: int = 3) -> list[float]:
    """The cuts to validate at, given each run's budget ``b``: ``cuts`` checked (each must
    leave runs below it and at or above it), or by default the ``max_cuts`` largest budgets
    that leave at least ``min_train_budgets`` budgets below them."""
    distinct = np.unique(b)
    if cuts is None:
        eligible = distinct[min_train_budgets:]
        if eligible.size == 0:
            raise InputError(f"the runs have {distinct.size} budgets; leave-future-out needs more than "
                             f"{min_train_budgets} (min_train_budgets) to fit on and one to predict")
        return [float(c) for c in eligible[-max_cuts:]]
    out = []
    for c in np.atleast_1d(np.asarray(cuts, dtype=float)):
        if not math.isfinite(c) or c <= 0:
            raise InputError(f"cut {float(c)!r} must be a finite budget > 0")
        if not np.any(b < c) or not np.any(b >= c):
            raise InputError(f"cut {c:.4g}: no runs {'below' if not np.any(b < c) else 'at or above'} it; "
                             f"the budgets span {distinct[0]:.4g} .. {distinct[-1]:.4g}")
        out.append(float(c))
    return sorted(set(out))


def validate(runs, laws=("chinchilla",), methods=("huber",), *, fixed: Mapping[str, float] | None = None,
             include_free: bool = True, cuts: Sequence[float] | None = None, budget_column: str | None = None,
             budgets: Sequence[float] | None = None, columns: Mapping[str, str] | None = None,
             min_train_budgets: int = 3, max_cuts: int = 3, progress=None, **fit_kwargs) -> Validation:
    """Leave-future-out validation of every law × method (× ``fixed``) on ``runs``.

    ``cuts``: budgets to cut at (train on budgets ``< cut``, predict budgets ``>= cut``);
    default the ``max_cuts`` largest budgets that leave at least ``min_train_budgets``
    budgets to fit on. ``fixed`` adds, for each law and method, a variant with those
    parameters held (beside the free one unless ``include_free=False``). ``methods``:
    ``huber`` (the batched multistart), ``reference`` or ``vpnls``. Other keywords
    (``cost_model``, ``unit``, ``delta``, ``drop_highest_loss``, ``overprediction_penalty``,
    ``race``, ...) go to every :func:`~tsbudget.fitting.fit.fit`. A fit that raises is
    recorded as failed (its cut predicts nothing for that variant). ``progress`` is called
    once per fit.
    """
    from tsbudget.fitting.fit import fit

    df = as_table(runs, name="runs")
    vs, notes = variants(laws, methods, fixed, include_free)
    cm, un = fit_kwargs.get("cost_model", "dense"), fit_kwargs.get("unit", "tokens")
    b, source = run_budgets(df, vs[0].law, columns, cm, un, budget_column, budgets)
    if int(min_train_budgets) < 1 or int(max_cuts) < 1:
        raise InputError(f"min_train_budgets and max_cuts must be >= 1, got {min_train_budgets!r}, {max_cuts!r}")
    cut_list = cut_budgets(b, cuts, int(min_train_budgets), int(max_cuts))
    rows, fits = [], []
    for cut in cut_list:
        train, held = df.filter(pl.Series(b < cut)), df.filter(pl.Series(b >= cut))
        held_b, rows_held = b[b >= cut], np.flatnonzero(b >= cut)
        top = float(b[b < cut].max())
        for v in vs:
            entry = {"variant": v.label, "cut": cut, "n_train": train.height, "n_held_out": held.height}
            try:
                # the multistart's far starts overflow exp() on the way; the result says if a fit failed
                with np.errstate(over="ignore", invalid="ignore"):
                    res = fit(train, v.law, columns=columns, method=FIT_METHODS[v.method], fixed=v.fixed or None,
                              **fit_kwargs)
            except FitError as exc:
                fits.append({**entry, "success": False, "message": f"fit failed: {exc}", "objective": None,
                             "parameters": None})
                if progress:
                    progress(1)
                continue
            fits.append({**entry, "success": bool(res.success), "message": res.message,
                         "objective": float(res.objective), "parameters": res.parameters})
            pred = res.predict(held)
            ph = prepare_runs(held, res.law, columns, cm, un)
            loss = ph["loss"].to_numpy()
            for i in range(held.height):
                rows.append({
                    "variant": v.label, "law": v.law.name, "method": v.method, "fixed": v.fixed_text, "cut": cut,
                    "budget": float(held_b[i]), "extrapolation": float(held_b[i]) / top,
                    "run": int(rows_held[i]),
                    "N": float(ph["N"][i]), "D": float(ph["D"][i]) if "D" in ph.columns else math.nan,
                    "loss": float(loss[i]),
                    "predicted": float(pred[i]), "log_residual": float(np.log(pred[i]) - np.log(loss[i])),
                    "pct_error": float(100.0 * (pred[i] - loss[i]) / loss[i]), "fit_success": bool(res.success),
                })
            if progress:
                progress(1)
    return Validation.build(vs, cut_list, source, rows, fits, notes)
