"""The result of leave-future-out validation (:func:`tsbudget.fitting.validation.validate`):
prediction errors per held-out run and per held-out budget, and a ranking of the fit variants."""

from __future__ import annotations

import math

import attrs
import numpy as np
import polars as pl

from tsbudget.law import Law
from tsbudget.report import Report, fmt

__all__ = ["BY_BUDGET", "RANKING", "Validation", "Variant"]

#: Columns of :attr:`Validation.by_budget`.
BY_BUDGET = ("variant", "cut", "budget", "extrapolation", "n", "mean_log_residual", "rmse_log", "mean_pct",
             "mean_abs_pct", "max_abs_pct")
#: Columns of :attr:`Validation.ranking`.
RANKING = ("rank", "variant", "n_predictions", "rmse_log", "bias_log", "mean_abs_pct", "max_abs_pct",
           "fits", "fits_failed", "fits_unconverged")


@attrs.frozen
class Variant:
    """One way of fitting: a law, a method (``huber``, ``reference``, ``vpnls``) and fixed parameters."""

    law: Law
    method: str
    fixed: dict = attrs.field(factory=dict)

    @property
    def fixed_text(self) -> str:
        return ",".join(f"{k}={v:g}" for k, v in self.fixed.items())

    @property
    def label(self) -> str:
        return f"{self.law.name}/{self.method}" + (f" {self.fixed_text}" if self.fixed else "")


def _pooled(df: pl.DataFrame) -> dict:
    """Error summaries of a set of predictions (root mean square and mean of the log residuals,
    mean and max absolute percent error)."""
    r = df["log_residual"].to_numpy()
    p = df["pct_error"].to_numpy()
    return {"n": int(r.size), "mean_log_residual": float(r.mean()), "rmse_log": float(np.sqrt(np.mean(r * r))),
            "mean_pct": float(p.mean()), "mean_abs_pct": float(np.abs(p).mean()), "max_abs_pct": float(np.abs(p).max())}


@attrs.frozen(eq=False, repr=False)
class Validation(Report):
    """Leave-future-out errors: ``predictions`` (one row per variant, cut and held-out run),
    ``by_budget`` (one row per variant, cut and held-out budget; :data:`BY_BUDGET`),
    ``ranking`` (one row per variant, pooled over every held-out run of every cut, ranked by
    the root mean square of the log residuals; :data:`RANKING`), ``fits`` (one entry per
    variant and cut: runs fitted, success, objective, parameters) and ``notes`` (variants
    that could not run)."""

    variants: tuple
    cuts: tuple
    budget_source: str
    predictions: pl.DataFrame
    by_budget: pl.DataFrame
    ranking: pl.DataFrame
    fits: list
    notes: tuple = ()

    @classmethod
    def build(cls, variants, cuts, source, rows, fits, notes) -> "Validation":
        labels = [v.label for v in variants]
        pred = pl.DataFrame(rows) if rows else pl.DataFrame(schema={"variant": pl.String, "cut": pl.Float64,
                                                                     "budget": pl.Float64})
        by_budget, ranking = [], []
        for label in labels:
            mine = pred.filter(pl.col("variant") == label) if rows else pred
            for cut in cuts:
                at_cut = mine.filter(pl.col("cut") == cut)
                for budget in sorted(set(at_cut["budget"].to_list())):
                    sel = at_cut.filter(pl.col("budget") == budget)
                    by_budget.append({"variant": label, "cut": cut, "budget": budget,
                                      "extrapolation": float(sel["extrapolation"][0]), **_pooled(sel)})
            own = [f for f in fits if f["variant"] == label]
            pooled = _pooled(mine) if mine.height else {"n": 0, "mean_log_residual": math.nan, "rmse_log": math.nan,
                                                        "mean_abs_pct": math.nan, "max_abs_pct": math.nan}
            ranking.append({"variant": label, "n_predictions": pooled["n"], "rmse_log": pooled["rmse_log"],
                            "bias_log": pooled["mean_log_residual"], "mean_abs_pct": pooled["mean_abs_pct"],
                            "max_abs_pct": pooled["max_abs_pct"], "fits": len(own),
                            "fits_failed": sum(f["objective"] is None for f in own),
                            "fits_unconverged": sum(f["objective"] is not None and not f["success"] for f in own)})
        ranking.sort(key=lambda r: (r["fits_failed"] > 0, r["rmse_log"] if math.isfinite(r["rmse_log"]) else math.inf))
        for i, r in enumerate(ranking):
            r["rank"] = i + 1
        return cls(
            variants=tuple(labels), cuts=tuple(cuts), budget_source=source, predictions=pred,
            by_budget=pl.DataFrame(by_budget, schema={c: (pl.String if c == "variant" else pl.Int64 if c == "n"
                                                          else pl.Float64) for c in BY_BUDGET}),
            ranking=pl.DataFrame([{c: r[c] for c in RANKING} for r in ranking]),
            fits=list(fits), notes=tuple(notes))

    @property
    def success(self) -> bool:
        return self.predictions.height > 0

    @property
    def message(self) -> str:
        if not self.success:
            return "no variant predicted any held-out run (every fit failed)"
        best = self.ranking.row(0, named=True)
        return (f"best {best['variant']}: RMSE of log loss {best['rmse_log']:.4g}, mean |error| "
                f"{best['mean_abs_pct']:.3g}% over {best['n_predictions']} held-out predictions "
                f"(cuts at budgets {', '.join(f'{c:.3g}' for c in self.cuts)})")

    def summary(self, label: str | None = None) -> dict:
        """One variant's out-of-sample error for a fit card (the first variant by default)."""
        label = self.variants[0] if label is None else label
        row = self.ranking.filter(pl.col("variant") == label).row(0, named=True)
        per = self.by_budget.filter(pl.col("variant") == label)
        return {"variant": label, "cuts": list(self.cuts), "n_predictions": row["n_predictions"],
                "rmse_log": row["rmse_log"], "bias_log": row["bias_log"], "mean_abs_pct": row["mean_abs_pct"],
                "max_abs_pct": row["max_abs_pct"],
                "per_budget": [{k: r[k] for k in ("cut", "budget", "n", "mean_pct", "mean_abs_pct")}
                               for r in per.iter_rows(named=True)]}

    def title(self) -> str:
        return "Validation (leave-future-out)"

    def estimate_lines(self) -> list[str]:
        """The ranking, then the errors per held-out budget."""
        lines = ["rank  variant  RMSE(log L)  bias(log L)  mean|err|%  max|err|%  predictions  fits failed"]
        for r in self.ranking.iter_rows(named=True):
            lines.append(f"{r['rank']}  {r['variant']}  {fmt(r['rmse_log'])}  {fmt(r['bias_log'])}  "
                         f"{fmt(r['mean_abs_pct'], 3)}  {fmt(r['max_abs_pct'], 3)}  {r['n_predictions']}  "
                         f"{r['fits_failed']}/{r['fits']}")
        lines.append("per held-out budget: variant  cut -> budget (×extrapolation)  n  mean err%  mean|err|%")
        for r in self.by_budget.iter_rows(named=True):
            lines.append(f"  {r['variant']}  {r['cut']:.3g} -> {r['budget']:.3g} (×{r['extrapolation']:.3g})  "
                         f"{r['n']}  {r['mean_pct']:+.3g}  {r['mean_abs_pct']:.3g}")
        return lines

    def diagnostic_lines(self) -> list[str]:
        lines = [f"budgets: {self.budget_source}; train on budgets < cut, predict budgets >= cut"]
        lines += [f"{f['variant']} cut {f['cut']:.3g}: {f['message']}" for f in self.fits if not f["success"]]
        lines += list(self.notes)
        return lines

    def to_dict(self) -> dict:
        return {"success": self.success, "message": self.message, "cuts": list(self.cuts),
                "budget_source": self.budget_source, "variants": list(self.variants), "notes": list(self.notes),
                "ranking": self.ranking.to_dicts(), "by_budget": self.by_budget.to_dicts(), "fits": self.fits,
                "predictions": self.predictions.to_dicts()}
