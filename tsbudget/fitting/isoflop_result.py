"""The result of Approach 2 (IsoFLOP profiles): :class:`IsoflopResult`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs
import numpy as np
import polars as pl
import xarray as xr

from tsbudget.errors import InputError
from tsbudget.percentiles import percentile_interval
from tsbudget.report import Report, fmt

__all__ = ["STATUS_FEW", "STATUS_NO_MIN", "STATUS_OK", "STATUS_OUTSIDE", "IsoflopResult"]

# status of each budget's profile
STATUS_OK = "ok"
STATUS_OUTSIDE = "outside"  # minimum lies outside the sampled N range (extrapolated)
STATUS_NO_MIN = "no_minimum"  # the fitted curve has no interior minimum (concave, monotone)
STATUS_FEW = "too_few"  # fewer distinct N than coefficients
_TABLE_DTYPES = {"Float64": pl.Float64, "Int64": pl.Int64, "String": pl.String, "Boolean": pl.Boolean}


@attrs.frozen(repr=False)
class IsoflopResult(Report):
    """Approach 2 result: per-budget profile minima and the power laws across budgets.

    ``table`` has one row per budget (budget, n_runs, N_min, N_max, N_opt, D_opt,
    loss_opt, tokens_per_param, status, used). ``a``/``b`` are the exponents of
    ``N_opt ∝ C^a`` and ``D_opt ∝ C^b``; ``log_G_N``/``log_G_D`` the natural logs of their
    coefficients ``G_N``, ``G_D`` in ``N_opt = G_N·C^a``, ``D_opt = G_D·C^b`` (printed and in
    JSON as plain numbers too).
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

    @property
    def G_N(self) -> float:
        """The coefficient of ``N_opt = G_N·C^a`` (parameters at C = 1 FLOP)."""
        return float(np.exp(self.log_G_N))

    @property
    def G_D(self) -> float:
        """The coefficient of ``D_opt = G_D·C^b``."""
        return float(np.exp(self.log_G_D))

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
            lo, hi = percentile_interval(v, level)
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
            "G_N": self.G_N,
            "G_D": self.G_D,
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

    def save(self, path) -> Path:
        """Write the result as JSON at ``path`` and its bootstrap draws as netCDF beside it
        (:func:`tsbudget.io.save_result`). No pickle."""
        from tsbudget.io import save_result

        return save_result(self.to_dict(), self.draws, path)

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
        """Read a result written by :meth:`save` (and its draws, if any; :func:`tsbudget.io.load_result`)."""
        from tsbudget.io import load_result

        d, draws = load_result(path, "an IsoFLOP result")
        if d.get("method") != "isoflop_profiles":
            raise InputError(f"{str(path)!r} does not hold an IsoFLOP result (method 'isoflop_profiles')")
        return cls.from_dict(d, draws)

    def title(self) -> str:
        return (f"IsoflopResult(Approach 2, degree {self.options['degree']}): "
                f"{self.n_budgets_used} of {self.table.height} budgets used")

    def estimate_lines(self) -> list[str]:
        """The exponents, and their bootstrap standard errors and intervals when there are draws."""
        lines = [f"N_opt = {fmt(self.G_N)}·C^{self.a:.4f}   D_opt = {fmt(self.G_D)}·C^{self.b:.4f}"]
        if self.draws is not None:
            for r in self.intervals().to_dicts():
                if r["se"] is not None:
                    lines.append(f"{r['name']}: se {r['se']:.4f}, {self.options['level']:.0%} interval "
                                 f"[{r['lower']:.4f}, {r['upper']:.4f}]")
        return lines

    def diagnostic_lines(self) -> list[str]:
        """How the budgets were grouped, the bootstrap's draws, and each budget not used as it is."""
        lines = [f"budgets: {self.options.get('grouping', 'as given')}"]
        lines.extend(f"warning: {note}" for note in self.options.get("notes") or ())
        if self.draws is not None:
            lines.append(f"bootstrap: {self.draws.sizes['draw']} draws, {self.n_failed} failed")
        flagged = self.table.filter(pl.col("status") != STATUS_OK)
        lines.extend(f"budget {r['budget']:.3g}: {r['status']}" for r in flagged.to_dicts())
        return lines
