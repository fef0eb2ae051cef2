"""The result of a comparison: per-budget frontiers and statistics, crossovers, the fits behind them."""

from __future__ import annotations

import math

import attrs
import numpy as np
import polars as pl
import xarray as xr

from tsbudget.report import Report, fmt, jsonable

__all__ = ["Comparison"]


def _bound(x, digits: int = 3) -> str:
    """An interval bound; ``+inf`` (more draws than the interval's tail still better at the
    searched grid's end) reads ``beyond``."""
    return "beyond" if x == math.inf else fmt(x, digits)


@attrs.frozen(eq=False, repr=False)
class Comparison(Report):
    """The comparison of systems along their frontiers.

    ``table``: one row per (budget, system): ``loss`` (point fit), ``median``, ``lower``,
    ``upper`` (``level`` percentile interval over draws), ``N`` (the model size on the
    frontier: the compute-optimal ``N`` for ``frontier="optimal"``; for
    ``frontier="fixed_data"`` no optimum is identified and ``N`` is the size whose run costs
    the budget on the system's own cost curve ``log N = a + b log C``), ``p_best``,
    ``p_beats_reference``, ``best`` (the point-estimate winner), ``extrapolated``,
    ``n_extrapolated``. ``crossovers``: one row per change of winner: ``budget``,
    ``lower``, ``upper``, ``from_system`` (winner below), ``to_system`` (winner above),
    ``p_crossing``, ``extrapolated`` (the crossover budget lies outside the fitted FLOPs
    range of either system). ``dataset``: the same over dims ``budget``, ``system``, ``draw``.
    ``pairing``: for each system, ``"paired with <label>"`` or ``"independent"``.
    ``limits``: one row per system fitted jointly with the reference (``reference_variables``):
    where it stops beating the reference, as the equal-size crossing ``N`` (for the routing law
    Clark et al.'s cut-off ``10^(−b/c)``) with the FLOPs of a run of that size on each cost
    curve, and as the equal-budget crossing ``budget`` with the size each trains there, with
    ``level`` intervals (:mod:`tsbudget.comparisons.limits`).
    """

    table: pl.DataFrame
    crossovers: pl.DataFrame
    dataset: xr.Dataset
    systems: tuple[str, ...]
    reference: str | None
    reference_description: str
    fits: dict
    pairing: dict
    options: dict
    limits: pl.DataFrame = attrs.field(factory=lambda: pl.DataFrame())

    @property
    def winners(self) -> list[str]:
        """The point-estimate best system at each budget."""
        return [str(x) for x in self.dataset["best"].values]

    def to_dict(self) -> dict:
        return jsonable({
            "systems": list(self.systems),
            "reference": self.reference,
            "reference_description": self.reference_description,
            "pairing": dict(self.pairing),
            "options": self.options,
            "frontier": self.table.to_dicts(),
            "crossovers": self.crossovers.to_dicts(),
            "limits": self.limits.to_dicts(),
            "fits": {k: {"law": f.law.name, "parameters": f.law.values, "success": bool(f.success),
                         "message": f.message, "n_runs": int(f.n_runs),
                         "n_failed_draws": int(f.draws.attrs.get("n_failed", 0))} for k, f in self.fits.items()},
        })

    def plot(self, path=None, *, title: str | None = None):
        """Frontiers with ``level`` bands, crossovers marked; extrapolated stretches dashed."""
        from tsbudget.plotting import pyplot, save_figure

        plt = pyplot()
        ds = self.dataset
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        budgets = ds["budget"].values
        for i, s in enumerate(self.systems):
            color = f"C{i % 10}"
            sub = ds.sel(system=s)
            ax.fill_between(budgets, sub["loss_lower"].values, sub["loss_upper"].values, color=color, alpha=0.18,
                            linewidth=0)
            loss = sub["loss"].values
            ext = sub["extrapolated"].values.astype(bool)
            inside = np.where(ext, np.nan, loss)
            ax.plot(budgets, loss, color=color, linestyle="--", linewidth=1)
            ax.plot(budgets, inside, color=color, linewidth=2,
                    label=s + (" (reference)" if s == self.reference else ""))
        for row in self.crossovers.iter_rows(named=True):
            ax.axvline(row["budget"], color="0.3", linestyle=":", linewidth=1)
            if row["lower"] is not None and row["upper"] is not None and math.isfinite(row["lower"]):
                ax.axvspan(row["lower"], row["upper"], color="0.5", alpha=0.12, linewidth=0)
            ax.annotate(f"{row['from_system']} → {row['to_system']}", (row["budget"], ax.get_ylim()[1]),
                        rotation=90, va="top", ha="right", fontsize=7, color="0.3")
        ax.set_xscale("log")
        ax.set_xlabel("training compute (FLOPs)")
        ax.set_ylabel("frontier loss")
        lvl = self.options.get("level", 0.95)
        ax.set_title(title or f"frontiers ({self.options.get('frontier')}), {lvl:.0%} bands; dashed = extrapolated")
        ax.legend(fontsize=8)
        ax.grid(True, which="major", alpha=0.3)
        fig.tight_layout()
        save_figure(fig, path)
        return fig


    def headline(self) -> str:
        o = self.options
        ok = all(bool(f.success) for f in self.fits.values())
        return (f"Comparison: {'success' if ok else 'some fits did not converge'}: {len(self.systems)} systems, "
                f"{self.dataset.sizes['budget']} budgets, {o['n_draws']} bootstrap draws each ({o['frontier']} frontier)")

    def estimate_lines(self) -> list[str]:
        lines = []
        if self.reference:
            lines.append(f"reference: {self.reference}" + (f" ({self.reference_description})"
                                                         if self.reference_description else ""))
        lines.append("budget      best" + "".join(f"  {s[:14]:>14}" for s in self.systems))
        ds = self.dataset
        for j, b in enumerate(ds["budget"].values):
            cells = []
            for s in self.systems:
                sub = ds.sel(system=s).isel(budget=j)
                mark = "*" if bool(sub["extrapolated"]) else " "
                p = float(sub["p_beats_reference"]) if self.reference else math.nan
                ptxt = f" p={p:.2f}" if self.reference and s != self.reference and math.isfinite(p) else ""
                cells.append(f"{float(sub['loss']):.4f}{mark}{ptxt}".rjust(16))
            lines.append(f"{b:<10.3g}  {str(ds['best'].values[j])[:10]:<10}" + "".join(cells))
        lines.append("(* = beyond the system's fitted FLOPs range; p = P(beats reference), ties count half)")
        if self.crossovers.height:
            lines.append("crossovers:")
            for r in self.crossovers.iter_rows(named=True):
                lines.append(f"  {r['from_system']} → {r['to_system']} at {r['budget']:.4g} FLOPs "
                             f"[{fmt(r['lower'], 3)}, {fmt(r['upper'], 3)}] ({r['p_crossing']:.0%} of draws cross in range)"
                             + ("; extrapolated: beyond a fitted FLOPs range" if r["extrapolated"] else ""))
        else:
            lines.append("crossovers: none in the budget range")
        for r in self.limits.iter_rows(named=True):
            lines.extend(self._limit_lines(r))
        return lines

    @staticmethod
    def _limit_lines(r: dict) -> list[str]:
        """Where one jointly fitted system stops beating the reference (one row of ``limits``)."""
        s, ref = r["system"], r["reference"]
        out = [f"{s} stops beating {ref} (same fit, {ref} at {r['reference_variables']})"
               + (": extrapolated beyond its fitted runs" if r["extrapolated"] else ":")]
        if r["N"] is not None:
            out.append(f"  equal size: N = {_bound(r['N'])} [{_bound(r['N_lower'])}, {_bound(r['N_upper'])}]; a run of "
                       f"that size costs {_bound(r['flops_system_at_N'])} FLOPs ({s}), "
                       f"{_bound(r['flops_reference_at_N'])} ({ref})")
        if r["budget"] is not None:
            out.append(f"  equal budget: {_bound(r['budget'])} FLOPs [{_bound(r['budget_lower'])}, "
                       f"{_bound(r['budget_upper'])}], where {s} trains N = {_bound(r['N_system_at_budget'])} and "
                       f"{ref} N = {_bound(r['N_reference_at_budget'])}")
        else:
            out.append("  equal budget: not within the searched budgets")
        out.append(f"  {r['p_stops']:.0%} of draws stop within the searched grid")
        return out

    def diagnostic_lines(self) -> list[str]:
        shared = self.options.get("shared_fits", {})
        variables = self.options.get("variables", {})

        def at(s):
            v = variables.get(s) or {}
            return (" at " + ", ".join(f"{k}={fmt(x)}" for k, x in v.items())) if v else ""

        from tsbudget.uncertainty.bootstrap import failure_summary  # says why draws failed

        return [f"{s}: {f.law.name}{at(s)} on {f.n_runs} runs"
                + (f" (the same fit and draws as {shared[s]})" if s in shared else "")
                + f"; {f.message}; {failure_summary(f.draws) or '0 failed draws'}; {self.pairing[s]}"
                for s, f in self.fits.items()]
