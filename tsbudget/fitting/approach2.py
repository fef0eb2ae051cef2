"""Approach 2 of Hoffmann et al. 2022 (§3.2): IsoFLOP profiles.

At each fixed training budget C, fit the final loss as a parabola in log N (a cubic
on request), take its minimum N_opt(C), set D_opt = C/(k·N_opt) (k = 6 FLOPs per
parameter per position for a dense transformer; or take D_opt from a second profile
in log D), and fit power laws ``N_opt = G_N·C^a`` and ``D_opt = G_D·C^b`` by least
squares in log-log across budgets. Hoffmann et al. 2022 Table 2 reports a = 0.49
and b = 0.51 for this approach. Bootstrap intervals resample runs within each budget.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
import xarray as xr

from tsbudget.errors import FidelityWarning, FitError, InputError, SchemaError
from tsbudget.fitting.budgets import auto_budget_grouping, group_budgets
from tsbudget.fitting.isoflop_result import STATUS_FEW, STATUS_NO_MIN, STATUS_OK, STATUS_OUTSIDE, IsoflopResult
from tsbudget.resampling import resample_within_groups
from tsbudget.tables import check_positive

__all__ = ["isoflop_profiles", "profile_minimum"]


def _poly_design(u: np.ndarray, degree: int) -> np.ndarray:
    return np.stack([u**p for p in range(degree + 1)], axis=-1)


def profile_minimum(coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimiser ``u*`` and minimum of ``sum_p coef[..., p]·u^p`` for degree 2 or 3 (batched).

    Parabola: ``u* = -c1/(2c2)`` when ``c2 > 0``. Cubic: the root of
    ``c1 + 2c2·u + 3c3·u² = 0`` where the second derivative ``2c2 + 6c3·u`` is positive.
    Where no minimum exists the result is NaN (callers turn that into a status).
    """
    coef = np.asarray(coef, dtype=float)
    degree = coef.shape[-1] - 1
    c1, c2 = coef[..., 1], coef[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        if degree == 2:
            u = np.where(c2 > 0, -c1 / (2 * c2), np.nan)
        elif degree == 3:
            c3 = coef[..., 3]
            disc = c2**2 - 3 * c3 * c1
            # the local minimum of a cubic is (-c2 + sqrt(disc)) / (3 c3); stable form below
            root = np.sqrt(np.where(disc > 0, disc, np.nan))
            u_cubic = -c1 / (c2 + root)  # == (-c2 + root)/(3 c3), without cancellation
            tiny = np.abs(c3) <= 1e-12 * (np.abs(c2) + 1e-300)
            u = np.where(tiny, np.where(c2 > 0, -c1 / (2 * c2), np.nan), u_cubic)
            u = np.where(2 * c2 + 6 * c3 * u > 0, u, np.nan)
        else:
            raise InputError(f"degree must be 2 or 3, got {degree}")
        value = np.sum(coef * u[..., None] ** np.arange(degree + 1), axis=-1)
    return u, value


def _batched_polyfit(x: np.ndarray, y: np.ndarray, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares polynomial coefficients for each row of ``x``/``y`` (shape ``(m, n)``).

    Returns ``(coef, ok)``; ``ok`` is False where a row has fewer than ``degree + 1``
    distinct x (the fit is not determined).
    """
    xs = np.sort(x, axis=-1)
    distinct = 1 + np.sum(np.diff(xs, axis=-1) > 1e-12 * np.abs(xs[..., 1:]).clip(1), axis=-1)
    ok = distinct >= degree + 1
    X = _poly_design(x, degree)
    xtx = np.einsum("mni,mnj->mij", X, X)
    xty = np.einsum("mni,mn->mi", X, y)
    eye = np.eye(degree + 1)
    xtx = np.where(ok[:, None, None], xtx, eye)  # keep solve() defined on failed rows
    coef = np.linalg.solve(xtx, xty[..., None])[..., 0]
    coef[~ok] = np.nan
    return coef, ok


def _power_law(logc: np.ndarray, logy: np.ndarray, use: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slope and intercept of ``logy = intercept + slope·logc`` over budgets where ``use`` (batched rows)."""
    w = use.astype(float)
    n = w.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        xm = (w * logc).sum(-1) / n
        ym = (w * np.where(use, logy, 0.0)).sum(-1) / n
        dx = np.where(use, logc - xm[..., None], 0.0)
        dy = np.where(use, logy - ym[..., None], 0.0)
        slope = (dx * dy).sum(-1) / (dx * dx).sum(-1)
    slope = np.where(n >= 2, slope, np.nan)
    return slope, ym - slope * xm


def _runs_table(runs: pl.DataFrame, columns: Mapping[str, str] | None, k: float) -> dict[str, np.ndarray]:
    cols = {"N": "N", "D": "D", "flops": "flops", "loss": "loss"}
    cols.update(columns or {})
    if not isinstance(runs, pl.DataFrame):
        raise InputError(f"runs must be a polars DataFrame, got {type(runs).__name__}")
    out = {}
    for key in ("N", "loss"):
        if cols[key] not in runs.columns:
            raise SchemaError(f"runs lack the {key} column {cols[key]!r}; columns are {runs.columns}")
    for key in ("N", "D", "flops", "loss"):
        if cols[key] in runs.columns:
            # names the first bad row and its value as a plain number ("value nan is NaN")
            check_positive(runs, cols[key], name=f"runs ({key})")
            out[key] = runs[cols[key]].cast(pl.Float64).to_numpy()
    if "flops" not in out:
        if "D" not in out:
            raise SchemaError(
                f"runs need a budget column {cols['flops']!r} or a data column {cols['D']!r}; "
                f"columns are {runs.columns}"
            )
        out["flops"] = k * out["N"] * out["D"]
    return out



def _too_few_budgets_message(levels, status, use, grouping, include_outside, min_runs, shown: int = 4) -> str:
    """One line: how many budgets had each status, the first few budgets, and what to try."""
    st = [str(x) for x in status]
    counts = ", ".join(f"{st.count(k)} {k}" for k in dict.fromkeys(st))
    first = ", ".join(f"{c:.4g} {s}" for c, s in list(zip(levels.tolist(), st))[:shown])
    more = ", ..." if len(st) > shown else ""
    hints = []
    if STATUS_FEW in st:
        hints.append(f"{STATUS_FEW}: fewer than {min_runs} runs or distinct N; group runs into fewer budgets "
                     f"(tolerance, or nominal budgets)")
    if STATUS_OUTSIDE in st and not include_outside:
        hints.append(f"{STATUS_OUTSIDE}: the minimum lies outside the sampled N (include_outside uses them)")
    return (
        f"Approach 2 needs at least 2 budgets with an interior profile minimum; got {int(np.sum(use))} of "
        f"{len(st)} budgets ({grouping}): {counts} (first: {first}{more})"
        + (f"; {'; '.join(hints)}" if hints else "")
    )


def _merge_notes(flops: np.ndarray, group: np.ndarray, levels: np.ndarray, min_runs: int) -> list[str]:
    """A note when budgets merge distinct FLOPs values (compared at 9 significant digits),
    saying how many of the merged values had ``min_runs`` runs or more, enough for a
    profile of their own."""
    mantissa, exponent = np.frexp(np.asarray(flops, dtype=float))
    values, counts = np.unique(np.round(mantissa, 9) * 2.0 ** exponent, return_counts=True)
    if values.size <= levels.size:
        return []
    merged = full = 0
    for c in levels:
        inside = np.unique(np.round(mantissa[group == c], 9) * 2.0 ** exponent[group == c])
        if inside.size > 1:
            merged += inside.size
            full += int(np.sum(counts[np.isin(values, inside)] >= min_runs))
    return [f"{values.size} distinct FLOPs values merged into {levels.size} budgets ({merged} values share a budget"
            + (f"; {full} of them have >= {min_runs} runs, enough for a profile of their own: pass tolerance=0 "
               "to keep them apart" if full else "") + ")"]


def isoflop_profiles(
    runs: pl.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    tolerance: float | None = None,
    budgets: Sequence[float] | None = None,
    degree: int = 2,
    d_opt: str = "budget",
    flops_per_param_position: float = 6.0,
    include_outside: bool = False,
    min_runs: int | None = None,
    n_bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.95,
) -> IsoflopResult:
    """Fit IsoFLOP profiles per budget and the power laws across budgets (Approach 2).

    ``columns`` maps canonical names ``N``, ``D``, ``flops``, ``loss`` to columns of
    ``runs`` (defaults: the canonical names). Budgets come from the ``flops`` column,
    or from ``k·N·D`` when there is no FLOPs column, grouped by :func:`group_budgets`
    with ``tolerance``/``budgets``; the default (``tolerance=None``, no ``budgets``) is
    :func:`auto_budget_groups` (exact values when there are at most 12, else the modes
    of log FLOPs), ``tolerance=0`` groups exactly equal values. ``d_opt="budget"`` sets
    ``D_opt = C/(k·N_opt)`` (so ``a + b = 1`` exactly); ``d_opt="runs"`` fits a second
    profile of loss in log D and takes its minimum. Budgets whose minimum falls outside
    the sampled N range are flagged ``outside`` and left out of the power law unless
    ``include_outside``. ``n_bootstrap`` draws resample runs within each budget.
    """
    if degree not in (2, 3):
        raise InputError(f"degree must be 2 (parabola) or 3 (cubic), got {degree!r}")
    if d_opt not in ("budget", "runs"):
        raise InputError(f"d_opt must be 'budget' or 'runs', got {d_opt!r}")
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    if n_bootstrap < 0 or n_bootstrap == 1:
        raise InputError(f"n_bootstrap must be 0 (none) or at least 2 draws, got {n_bootstrap!r}")
    k = float(flops_per_param_position)
    min_runs = degree + 1 if min_runs is None else int(min_runs)
    data = _runs_table(runs, columns, k)
    if d_opt == "runs" and "D" not in data:
        data["D"] = data["flops"] / (k * data["N"])
    if tolerance is None and budgets is None:
        group, grouping = auto_budget_grouping(data["flops"])
    else:
        group = group_budgets(data["flops"], tolerance, budgets)
        grouping = (f"nominal budgets, {'nearest' if tolerance is None else f'within tolerance {tolerance:g}'}"
                    if budgets is not None else "exact FLOPs values" if tolerance == 0
                    else f"runs within tolerance {tolerance:g}")
    levels = np.unique(group)
    notes = _merge_notes(data["flops"], group, levels, min_runs)

    members = [np.flatnonzero(group == c) for c in levels]
    xN = [np.log(data["N"][m]) for m in members]
    xD = [np.log(data["D"][m]) for m in members] if d_opt == "runs" else None
    y = [data["loss"][m] for m in members]

    def solve(index_sets):
        """Profiles for index sets per budget (each ``(m, n_b)``) -> arrays ``(m, budgets)``."""
        m = index_sets[0].shape[0]
        n_opt = np.full((m, levels.size), np.nan)
        d_fit = np.full((m, levels.size), np.nan)
        loss_opt = np.full((m, levels.size), np.nan)
        status = np.full((m, levels.size), STATUS_FEW, dtype=object)
        curves = {}
        for j, idx in enumerate(index_sets):
            if len(members[j]) < min_runs:
                continue
            x, yy = xN[j][idx], y[j][idx]
            center = xN[j].mean()
            coef, ok = _batched_polyfit(x - center, yy, degree)
            curves[float(levels[j])] = (float(center), coef[0].tolist())
            u, val = profile_minimum(coef)
            lo, hi = x.min(axis=1) - center, x.max(axis=1) - center
            inside = (u >= lo) & (u <= hi)
            status[:, j] = np.where(~ok, STATUS_FEW, np.where(np.isnan(u), STATUS_NO_MIN,
                                    np.where(inside, STATUS_OK, STATUS_OUTSIDE)))
            n_opt[:, j] = np.exp(u + center)
            loss_opt[:, j] = val
            if xD is not None:
                xd = xD[j][idx]
                cD = xD[j].mean()
                coefD, okD = _batched_polyfit(xd - cD, yy, degree)
                uD, _ = profile_minimum(coefD)
                d_fit[:, j] = np.where(okD, np.exp(uD + cD), np.nan)
        return n_opt, d_fit, loss_opt, status, curves

    def laws(n_opt, d_fit, status):
        use = status == STATUS_OK
        if include_outside:
            use |= status == STATUS_OUTSIDE
        d = levels / (k * n_opt) if d_opt == "budget" else d_fit
        use = use & np.isfinite(np.log(d)) & np.isfinite(np.log(n_opt))
        logc = np.log(levels)
        with np.errstate(invalid="ignore", divide="ignore"):
            a, log_gn = _power_law(logc, np.log(n_opt), use)
            b, log_gd = _power_law(logc, np.log(d), use)
        return a, b, log_gn, log_gd, use, d

    point = [np.arange(len(mm))[None, :] for mm in members]
    n_opt, d_fit, loss_opt, status, curves = solve(point)
    a, b, log_gn, log_gd, use, d_val = laws(n_opt, d_fit, status)
    if use[0].sum() < 2:
        raise FitError(_too_few_budgets_message(levels, status[0], use[0], grouping, include_outside, min_runs))

    def col(v, st):  # null, not NaN, where the profile has no minimum
        return [float(x) if s in (STATUS_OK, STATUS_OUTSIDE) and np.isfinite(x) else None for x, s in zip(v, st)]

    st = status[0].tolist()
    table = pl.DataFrame(
        {
            "budget": levels,
            "n_runs": [len(mm) for mm in members],
            "N_min": [float(np.exp(x.min())) for x in xN],
            "N_max": [float(np.exp(x.max())) for x in xN],
            "N_opt": col(n_opt[0], st),
            "D_opt": col(d_val[0], st),
            "loss_opt": col(loss_opt[0], st),
            "tokens_per_param": col(d_val[0] / n_opt[0], st),
            "status": st,
            "used": use[0].tolist(),
        },
        schema_overrides={"N_opt": pl.Float64, "D_opt": pl.Float64, "loss_opt": pl.Float64,
                          "tokens_per_param": pl.Float64},
    )
    for name, value, law in (("a", a[0], "N_opt ∝ C^a"), ("b", b[0], "D_opt ∝ C^b")):
        if value < 0:
            notes.append(f"negative exponent: {law} with {name} = {value:.4g}, so the optimum shrinks as compute "
                         "grows; the budgets' minima do not follow a power law (check the grouping and the profiles)")
    for note in notes:
        warnings.warn(f"isoflop_profiles: {note}", FidelityWarning, stacklevel=2)
    options = {
        "notes": notes,
        "degree": degree,
        "tolerance": None if tolerance is None else float(tolerance),
        "budgets": None if budgets is None else [float(x) for x in np.atleast_1d(budgets)],
        "grouping": grouping,
        "d_opt": d_opt,
        "flops_per_param_position": k,
        "include_outside": include_outside,
        "min_runs": min_runs,
        "n_bootstrap": n_bootstrap,
        "seed": seed,
        "level": level,
    }
    draws, n_failed = None, 0
    if n_bootstrap:
        bn, bd, _, bst, _ = solve(resample_within_groups([len(mm) for mm in members], n_bootstrap, seed))
        ba, bb, _, _, _, _ = laws(bn, bd, bst)
        failed = ~(np.isfinite(ba) & np.isfinite(bb))
        n_failed = int(failed.sum())
        draws = xr.Dataset(
            {
                "a": ("draw", ba, {"long_name": "exponent of N_opt ∝ C^a", "units": "1"}),
                "b": ("draw", bb, {"long_name": "exponent of D_opt ∝ C^b", "units": "1"}),
                "success": ("draw", ~failed),
            },
            coords={"draw": np.arange(n_bootstrap)},
            attrs={"seed": seed, "n_draws": n_bootstrap, "n_failed": n_failed,
                   "resampling": "runs within each budget", "level": level},
        )
    return IsoflopResult(
        table=table,
        a=float(a[0]),
        b=float(b[0]),
        log_G_N=float(log_gn[0]),
        log_G_D=float(log_gd[0]),
        n_budgets_used=int(use[0].sum()),
        options=options,
        draws=draws,
        n_failed=n_failed,
        runs=pl.DataFrame({"N": data["N"], "flops": data["flops"], "loss": data["loss"], "budget": group}),
        profiles=curves,
    )
