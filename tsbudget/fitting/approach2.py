"""Approach 2 of Hoffmann et al. 2022 (§3.2): IsoFLOP profiles.

At each fixed training budget C, fit the final loss as a parabola in log N (a cubic
on request), take its minimum N_opt(C), set D_opt = C/(k·N_opt) (k = 6 FLOPs per
parameter per position for a dense transformer; or take D_opt from a second profile
in log D), and fit power laws ``N_opt = G_N·C^a`` and ``D_opt = G_D·C^b`` by least
squares in log-log across budgets. Hoffmann et al. 2022 Table 2 reports a = 0.49
and b = 0.51 for this approach. Bootstrap intervals resample runs within each budget.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import numpy as np
import polars as pl
import xarray as xr

from tsbudget.errors import FitError, InputError, SchemaError
from tsbudget.tables import check_positive

__all__ = ["IsoflopResult", "auto_budget_groups", "group_budgets", "isoflop_profiles", "profile_minimum"]

_STATUS_OK = "ok"
_STATUS_OUTSIDE = "outside"  # minimum lies outside the sampled N range (extrapolated)
_STATUS_NO_MIN = "no_minimum"  # the fitted curve has no interior minimum (concave, monotone)
_STATUS_FEW = "too_few"  # fewer distinct N than coefficients
_TABLE_DTYPES = {"Float64": pl.Float64, "Int64": pl.Int64, "String": pl.String, "Boolean": pl.Boolean}


def group_budgets(flops, tolerance: float | None = 0.0, budgets: Sequence[float] | None = None) -> np.ndarray:
    """The budget group of each run, as the group's budget value.

    - ``budgets`` given (nominal budgets such as 6e18, 1e19, ...): each run goes to the
      nearest nominal budget in log space; a run farther than ``tolerance`` (relative,
      e.g. 0.25 for ±25%) from every nominal budget raises, naming its row. With
      ``tolerance=None`` every run goes to its nearest budget, except runs beyond the
      smallest or largest budget by more than half the log gap to its neighbour.
    - otherwise runs whose FLOPs agree within ``tolerance`` (relative, measured from the
      smallest run of the group) share a group, labelled by the group's geometric mean;
      ``tolerance=0`` groups exactly equal values (already nominal budgets);
      ``tolerance=None`` is :func:`auto_budget_groups`.
    """
    c = np.asarray(flops, dtype=float)
    if c.ndim != 1:
        raise InputError(f"flops must be one-dimensional, got shape {c.shape}")
    if c.size == 0:
        raise InputError("flops is empty: there are no runs to group")
    bad = np.flatnonzero(~np.isfinite(c) | (c <= 0))
    if bad.size:
        raise SchemaError(f"flops must be finite and > 0; row {int(bad[0])} has {float(c[bad[0]])!r}")
    if tolerance is not None and (not math.isfinite(tolerance) or tolerance < 0):
        raise InputError(f"tolerance must be >= 0, got {float(tolerance)!r}")
    logc = np.log(c)
    if budgets is not None:
        nominal = np.asarray(budgets, dtype=float).ravel()
        if nominal.size == 0 or np.any(~np.isfinite(nominal) | (nominal <= 0)):
            raise InputError(f"budgets must be finite and > 0, got {list(np.atleast_1d(budgets))!r}")
        lognom = np.log(nominal)
        dist = np.abs(logc[:, None] - lognom[None, :])
        nearest = dist.argmin(axis=1)
        gap = dist[np.arange(c.size), nearest]
        if tolerance is not None:
            far = np.flatnonzero(gap > math.log1p(tolerance) + 1e-12)
            why = f"within tolerance {tolerance:g} of"
        else:
            ordered = np.sort(lognom)
            lo_half = (ordered[1] - ordered[0]) / 2 if ordered.size > 1 else np.inf
            hi_half = (ordered[-1] - ordered[-2]) / 2 if ordered.size > 1 else np.inf
            far = np.flatnonzero((logc < ordered[0] - lo_half - 1e-12) | (logc > ordered[-1] + hi_half + 1e-12))
            why = "within half a budget step of"
        if far.size:
            r = int(far[0])
            more = f" ({far.size} runs are)" if far.size > 1 else ""
            raise SchemaError(
                f"flops {c[r]:.4g} in row {r} is not {why} any budget {[float(f'{x:.6g}') for x in nominal]}{more}; "
                f"add that budget or widen the tolerance"
            )
        return nominal[nearest]
    if tolerance is None:
        return auto_budget_groups(c)
    if tolerance == 0:
        return c.copy()
    order = np.argsort(logc, kind="stable")
    labels = np.empty(c.size, dtype=int)
    group, anchor = 0, logc[order[0]]
    width = math.log1p(tolerance) + 1e-12
    for i in order:
        if logc[i] - anchor > width:
            group, anchor = group + 1, logc[i]
        labels[i] = group
    means = np.exp(np.bincount(labels, weights=logc) / np.bincount(labels))
    return means[labels]


# Bandwidths tried by auto_budget_groups, as relative FLOPs spreads (±5%, ±10%, ... ×5).
_AUTO_SPREADS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


def _log_flops_modes(logc: np.ndarray, h: float, min_mass: float) -> np.ndarray:
    """Modes of a Gaussian kernel density of ``logc`` (bandwidth ``h``) that hold at least
    ``min_mass`` runs' worth of kernel weight at their peak, sorted.

    Peaks are found on a grid of step h/8, then refined by mean shift (the weighted mean
    of the runs with Gaussian weights around the peak, iterated to its fixed point)."""
    step = h / 8
    grid = np.arange(logc.min() - h, logc.max() + h + step, step)
    dens = np.zeros(grid.size)
    for chunk in np.array_split(np.arange(logc.size), max(1, logc.size // 2048)):
        dens += np.exp(-0.5 * ((grid[:, None] - logc[None, chunk]) / h) ** 2).sum(axis=1)
    pad = np.concatenate(([-np.inf], dens, [-np.inf]))
    m = grid[(pad[1:-1] > pad[:-2]) & (pad[1:-1] >= pad[2:])]
    for _ in range(200):
        w = np.exp(-0.5 * ((m[:, None] - logc[None, :]) / h) ** 2)
        new = (w @ logc) / w.sum(axis=1)
        done = np.max(np.abs(new - m)) < 1e-12
        m = new
        if done:
            break
    mass = np.exp(-0.5 * ((m[:, None] - logc[None, :]) / h) ** 2).sum(axis=1)
    m = np.sort(m[mass >= min_mass])
    if m.size > 1:  # peaks that converged to the same mode
        m = m[np.concatenate(([True], np.diff(m) > h / 100))]
    return m


def _auto_groups(flops, max_groups: int = 12, min_runs: int = 3) -> tuple[np.ndarray, str]:
    """:func:`auto_budget_groups` plus a one-line description of the grouping used."""
    c = np.asarray(flops, dtype=float)
    distinct = np.unique(c)
    if distinct.size <= max_groups:
        return group_budgets(c), f"exact FLOPs values ({distinct.size} budgets)"
    logc = np.log(c)
    for spread in _AUTO_SPREADS:
        modes = _log_flops_modes(logc, math.log1p(spread), min_runs)
        if 1 <= modes.size <= max_groups:
            nearest = np.abs(logc[:, None] - modes[None, :]).argmin(axis=1)
            return np.exp(modes)[nearest], (
                f"automatic: {modes.size} modes of log FLOPs (kernel bandwidth ±{spread:.0%}, "
                f">= {min_runs} runs each), each run at its nearest mode"
            )
    # no bandwidth gives a few well-filled modes (runs spread evenly): fixed-width groups
    for tol in (0.25, 0.5, 1.0, 2.0, 4.0):
        g = group_budgets(c, tolerance=tol)
        if np.unique(g).size <= max_groups:
            break
    return g, f"automatic: groups within tolerance {tol:g} ({np.unique(g).size} budgets)"


def auto_budget_groups(flops, max_groups: int = 12, min_runs: int = 3) -> np.ndarray:
    """Budget groups for runs whose FLOPs may be noisy, as each run's budget value.

    At most ``max_groups`` distinct values: the exact values (already nominal budgets).
    Otherwise the budgets are the modes of the runs' log FLOPs: a Gaussian kernel density
    with the smallest bandwidth among ±5%, ±10%, ±25%, ±50%, ×2, ×3, ×5 that has between 1
    and ``max_groups`` modes holding at least ``min_runs`` runs each (a profile needs 3
    runs), and every run goes to its nearest mode, labelled by the mode. Runs of an
    IsoFLOP sweep cluster at their budgets (exactly, or within rounding of N and D, or
    within the scatter of a digitised figure), so modes recover the nominal budgets even
    when off-budget runs fill the gaps between them; fixed-width groups would merge
    budgets (or split them) as soon as the gaps fill. On the Chinchilla Fig. 4
    digitisation the modes sit at 5.5e18, 9.4e18, 2.8e19, ..., 2.9e21, the nine budgets of
    Hoffmann et al. 2022 §3.2 (6e18 ... 3e21, read off the figure slightly low), plus two
    smaller clusters. When no bandwidth gives such modes, fixed-width groups (tolerance
    0.25 ... 4, the first with at most ``max_groups`` groups).
    """
    return _auto_groups(flops, max_groups, min_runs)[0]


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


@attrs.frozen(repr=False)
class IsoflopResult:
    """Approach 2 result: per-budget profile minima and the power laws across budgets.

    ``table`` has one row per budget (budget, n_runs, N_min, N_max, N_opt, D_opt,
    loss_opt, tokens_per_param, status, used). ``a``/``b`` are the exponents of
    ``N_opt ∝ C^a`` and ``D_opt ∝ C^b``; ``log_G_N``/``log_G_D`` their log prefactors.
    With a bootstrap, ``draws`` holds a, b (dim ``draw``) and ``interval`` maps each to
    ``(se, lower, upper)``.
    """

    table: pl.DataFrame
    a: float
    b: float
    log_G_N: float
    log_G_D: float
    n_budgets_used: int
    options: dict
    draws: xr.Dataset | None = None
    n_failed: int = 0
    # the runs as used (N, flops, loss, budget) and each budget's curve: budget ->
    # (center, coefficients) of loss = Σ c_p·(log N − center)^p; for plots
    runs: pl.DataFrame | None = attrs.field(default=None, eq=False)
    profiles: dict = attrs.field(factory=dict, eq=False)

    def n_opt(self, flops) -> np.ndarray:
        """``N_opt(C) = G_N·C^a`` from the fitted power law."""
        return np.exp(self.log_G_N + self.a * np.log(np.asarray(flops, dtype=float)))

    def d_opt(self, flops) -> np.ndarray:
        """``D_opt(C) = G_D·C^b`` from the fitted power law."""
        return np.exp(self.log_G_D + self.b * np.log(np.asarray(flops, dtype=float)))

    def intervals(self, level: float | None = None) -> pl.DataFrame:
        """name, estimate, se, lower, upper for a and b (percentile intervals of the draws)."""
        level = self.options["level"] if level is None else level
        rows = []
        for name in ("a", "b"):
            est = getattr(self, name)
            if self.draws is None:
                rows.append((name, est, None, None, None))
                continue
            v = self.draws[name].values
            v = v[np.isfinite(v)]
            if v.size < 2:
                rows.append((name, est, None, None, None))
                continue
            lo, hi = np.quantile(v, [(1 - level) / 2, (1 + level) / 2])
            rows.append((name, est, float(v.std(ddof=1)), float(lo), float(hi)))
        return pl.DataFrame(rows, schema=["name", "estimate", "se", "lower", "upper"], orient="row")

    def to_dict(self, runs: bool = True) -> dict:
        """Plain dict (JSON-able but for NaN): the estimates, options, the per-budget table
        (``budgets``, records, with ``table_schema``), ``n_failed`` and, after a bootstrap,
        ``intervals`` and ``n_draws``; with ``runs`` also the runs as used and each budget's
        profile curve, so :meth:`from_dict` rebuilds the result exactly (draws aside)."""
        out = {
            "method": "isoflop_profiles",
            "a": self.a,
            "b": self.b,
            "log_G_N": self.log_G_N,
            "log_G_D": self.log_G_D,
            "n_budgets_used": self.n_budgets_used,
            "options": self.options,
            "budgets": self.table.to_dicts(),
            "table_schema": {c: str(t) for c, t in self.table.schema.items()},
            "n_failed": self.n_failed,
        }
        if self.draws is not None:
            out["intervals"] = {r["name"]: r for r in self.intervals().to_dicts()}
            out["n_draws"] = int(self.draws.sizes["draw"])
        if runs:
            out["runs"] = None if self.runs is None else {c: self.runs[c].to_list() for c in self.runs.columns}
            out["profiles"] = [[b, center, list(coef)] for b, (center, coef) in self.profiles.items()]
        return out

    def to_json(self, **kwargs) -> str:
        """JSON text of :meth:`to_dict`; floats are written by ``repr`` so they read back exactly."""
        return json.dumps(self.to_dict(), **kwargs)

    def save(self, path) -> Path:
        """Write JSON to ``path``; bootstrap draws go to netCDF beside it (``<stem>.draws.nc``,
        see :func:`tsbudget.io.save_dataset`), named in the JSON. No pickle."""
        from tsbudget.io import save_dataset

        path = Path(path)
        d = self.to_dict()
        if self.draws is not None:
            nc = path.with_name(path.stem + ".draws.nc")
            save_dataset(self.draws, nc)
            d["draws_file"] = nc.name
        path.write_text(json.dumps(d, indent=1))
        return path

    @classmethod
    def from_dict(cls, d: Mapping, draws=None) -> IsoflopResult:
        """The result :meth:`to_dict` described (``draws`` passed separately)."""
        try:
            schema = {c: _TABLE_DTYPES[t] for c, t in d["table_schema"].items()}
            table = pl.DataFrame(d["budgets"], schema=schema, orient="row") if d["budgets"] else pl.DataFrame(
                schema=schema)
            runs = d.get("runs")
            return cls(
                table=table,
                a=float(d["a"]),
                b=float(d["b"]),
                log_G_N=float(d["log_G_N"]),
                log_G_D=float(d["log_G_D"]),
                n_budgets_used=int(d["n_budgets_used"]),
                options=dict(d["options"]),
                draws=draws,
                n_failed=int(d.get("n_failed", 0)),
                runs=None if runs is None else pl.DataFrame({c: pl.Series(c, v, dtype=pl.Float64)
                                                             for c, v in runs.items()}),
                profiles={float(b): (float(center), [float(x) for x in coef])
                          for b, center, coef in d.get("profiles") or ()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not an IsoflopResult dict: {type(exc).__name__}: {exc}") from None

    @classmethod
    def load(cls, path) -> IsoflopResult:
        """Read a result written by :meth:`save` (and its draws, if any)."""
        from tsbudget.io import load_dataset

        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read an IsoFLOP result from {str(path)!r}: {exc}") from None
        if not isinstance(d, dict) or d.get("method") != "isoflop_profiles":
            raise InputError(f"{str(path)!r} does not hold an IsoFLOP result (method 'isoflop_profiles')")
        draws = load_dataset(path.with_name(d["draws_file"])) if d.get("draws_file") else None
        return cls.from_dict(d, draws)

    def __repr__(self) -> str:
        flagged = self.table.filter(pl.col("status") != _STATUS_OK)
        lines = [
            (f"IsoflopResult(Approach 2, degree {self.options['degree']}): "
             f"{self.n_budgets_used} of {self.table.height} budgets used"),
            f"  budgets: {self.options.get('grouping', 'as given')}",
            f"  N_opt ∝ C^{self.a:.4f}   D_opt ∝ C^{self.b:.4f}",
        ]
        if self.draws is not None:
            for r in self.intervals().to_dicts():
                if r["se"] is not None:
                    lines.append(
                        f"  {r['name']}: se {r['se']:.4f}, {self.options['level']:.0%} interval "
                        f"[{r['lower']:.4f}, {r['upper']:.4f}]"
                    )
            lines.append(f"  bootstrap: {self.draws.sizes['draw']} draws, {self.n_failed} failed")
        for r in flagged.to_dicts():
            lines.append(f"  budget {r['budget']:.3g}: {r['status']}")
        return "\n".join(lines)


def _too_few_budgets_message(levels, status, use, grouping, include_outside, min_runs, shown: int = 4) -> str:
    """One line: how many budgets had each status, the first few budgets, and what to try."""
    st = [str(x) for x in status]
    counts = ", ".join(f"{st.count(k)} {k}" for k in dict.fromkeys(st))
    first = ", ".join(f"{c:.4g} {s}" for c, s in list(zip(levels.tolist(), st))[:shown])
    more = ", ..." if len(st) > shown else ""
    hints = []
    if _STATUS_FEW in st:
        hints.append(f"{_STATUS_FEW}: fewer than {min_runs} runs or distinct N; group runs into fewer budgets "
                     f"(tolerance, or nominal budgets)")
    if _STATUS_OUTSIDE in st and not include_outside:
        hints.append(f"{_STATUS_OUTSIDE}: the minimum lies outside the sampled N (include_outside uses them)")
    return (
        f"Approach 2 needs at least 2 budgets with an interior profile minimum; got {int(np.sum(use))} of "
        f"{len(st)} budgets ({grouping}): {counts} (first: {first}{more})"
        + (f"; {'; '.join(hints)}" if hints else "")
    )


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
        group, grouping = _auto_groups(data["flops"])
    else:
        group = group_budgets(data["flops"], tolerance, budgets)
        grouping = (f"nominal budgets, {'nearest' if tolerance is None else f'within tolerance {tolerance:g}'}"
                    if budgets is not None else "exact FLOPs values" if tolerance == 0
                    else f"runs within tolerance {tolerance:g}")
    levels = np.unique(group)

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
        status = np.full((m, levels.size), _STATUS_FEW, dtype=object)
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
            status[:, j] = np.where(~ok, _STATUS_FEW, np.where(np.isnan(u), _STATUS_NO_MIN,
                                    np.where(inside, _STATUS_OK, _STATUS_OUTSIDE)))
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
        use = status == _STATUS_OK
        if include_outside:
            use |= status == _STATUS_OUTSIDE
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
        return [float(x) if s in (_STATUS_OK, _STATUS_OUTSIDE) and np.isfinite(x) else None for x, s in zip(v, st)]

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
    options = {
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
        children = np.random.SeedSequence(seed).spawn(n_bootstrap)
        index_sets = [np.empty((n_bootstrap, len(mm)), dtype=np.intp) for mm in members]
        for i, child in enumerate(children):
            rng = np.random.default_rng(child)
            for j, mm in enumerate(members):
                index_sets[j][i] = rng.integers(0, len(mm), size=len(mm))
        bn, bd, _, bst, _ = solve(index_sets)
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
