"""Plots of a fit, of IsoFLOP profiles and of a frontier (matplotlib, Agg backend, imported on use).

:func:`plot_fit` draws three panels: observed vs predicted loss, IsoFLOP curves (loss vs
N per budget group, with the fitted law along ``D = C/(k·N)``) and log-space residuals.
:func:`plot_isoflop` draws Approach 2's profiles and its power laws. :func:`plot_lifetime` draws
lifetime cost against model size for several serving loads.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tsbudget.errors import InputError
from tsbudget.io import atomic_path

__all__ = [
    "PLOT_SUFFIXES", "check_plot_path", "plot_fit", "plot_frontier", "plot_isoflop", "plot_lifetime", "pyplot",
    "save_figure",
]

PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def pyplot():
    """matplotlib.pyplot on the Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg", force=True)  # files only; never a GUI window
    import matplotlib.pyplot as plt

    return plt


def _budget_groups(flops: np.ndarray) -> np.ndarray:
    from tsbudget.fitting.budgets import auto_budget_groups

    return auto_budget_groups(flops)


def check_plot_path(path) -> None:
    """Raise InputError unless ``path`` names an image file matplotlib writes (.png, .pdf,
    .svg, .jpg); called before any computation, so a bad name costs nothing."""
    if Path(str(path)).suffix.lower() not in PLOT_SUFFIXES:
        raise InputError(f"plot path {str(path)!r}: use a .png, .pdf, .svg or .jpg file name")


def save_figure(fig, path):
    """Save ``fig`` to ``path`` (an image file name) when given; return ``fig``."""
    if path is not None:
        check_plot_path(path)
        with atomic_path(path) as tmp:  # never a half-written image under the real name
            fig.savefig(tmp, format=Path(path).suffix[1:].lower(), dpi=130, bbox_inches="tight")
    return fig


def plot_fit(result, path=None, *, flops_per_param_position: float = 6.0, title: str | None = None):
    """Observed vs predicted loss, IsoFLOP curves with the fitted law, residuals.

    ``result`` is a :class:`~tsbudget.fitting.result.FitResult`; its prepared runs give ``N``, ``D``,
    ``loss`` and ``flops``. The IsoFLOP panel groups runs by budget (exact budgets when
    there are few, else groups within ±25%) and draws the law at each group's budget
    along ``D = C/(k·N)``; a dot marks the law's optimum where the law has a closed form.
    Returns the matplotlib Figure; writes it to ``path`` when given.
    """
    plt = pyplot()
    from matplotlib import colors

    runs = result.runs
    law = result.law
    obs = runs["loss"].to_numpy()
    pred = np.asarray(result.predict(), dtype=float)
    N = runs["N"].to_numpy()
    flops = runs["flops"].to_numpy() if "flops" in runs.columns else flops_per_param_position * N * runs["D"].to_numpy()
    logc = np.log10(flops)
    norm = colors.Normalize(vmin=logc.min(), vmax=max(logc.max(), logc.min() + 1e-9))
    cmap = plt.get_cmap("viridis")

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), constrained_layout=True)
    ax = axes[0]
    sc = ax.scatter(pred, obs, c=logc, cmap=cmap, norm=norm, s=16, edgecolors="none")
    lo, hi = min(obs.min(), pred.min()), max(obs.max(), pred.max())
    ax.plot([lo, hi], [lo, hi], color="0.3", lw=1, ls="--", label="observed = predicted")
    ax.set_xlabel("predicted loss")
    ax.set_ylabel("observed loss")
    ax.set_title("observed vs predicted")
    ax.legend(loc="upper left", fontsize=8)

    ax = axes[1]
    groups = _budget_groups(flops)
    ax.scatter(N, obs, c=logc, cmap=cmap, norm=norm, s=14, edgecolors="none", alpha=0.8)
    only_nd = set(law.required_inputs) <= {"N", "D"}
    if only_nd:
        for c in np.unique(groups):
            member = groups == c
            if member.sum() < 3:
                continue
            n_lo, n_hi = N[member].min() / 1.5, N[member].max() * 1.5
            grid = np.geomspace(n_lo, n_hi, 200)
            curve = law.evaluate(law.values, {"N": grid, "D": c / (flops_per_param_position * grid)})
            color = cmap(norm(math.log10(c)))
            ax.plot(grid, curve, color=color, lw=1.4)
            if law.has_closed_form:
                try:
                    n_opt, d_opt = law.optimal_allocation(c, flops_per_param_position)
                except Exception:  # a law without a valid optimum here: just no marker
                    continue
                n_opt = float(np.asarray(n_opt))
                if n_lo <= n_opt <= n_hi:
                    l_opt = float(np.asarray(law.loss(N=n_opt, D=float(np.asarray(d_opt)))))
                    ax.plot(n_opt, l_opt, "o", color=color, mec="black", ms=5)
    ax.set_xscale("log")
    ax.set_xlabel("parameters N")
    ax.set_ylabel("loss")
    ax.set_title("IsoFLOP curves: runs and fitted law" + ("" if only_nd else " (runs only)"))
    top = np.quantile(obs, 0.98)
    ax.set_ylim(obs.min() - 0.05 * (top - obs.min()), top + 0.1 * (top - obs.min()))

    ax = axes[2]
    resid = np.log(pred) - np.log(obs)
    ax.scatter(N, resid, c=logc, cmap=cmap, norm=norm, s=14, edgecolors="none")
    ax.axhline(0.0, color="0.3", lw=1, ls="--")
    delta = (result.options or {}).get("delta")
    if delta:
        ax.axhspan(-delta, delta, color="0.85", zorder=0, label=f"Huber δ = {delta:g}")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("parameters N")
    ax.set_ylabel("log predicted − log observed")
    ax.set_title("residuals")
    fig.colorbar(sc, ax=axes, label="log10 training FLOPs", shrink=0.9)
    params = ", ".join(f"{k}={v:.4g}" for k, v in law.values.items())
    fig.suptitle(title or f"{law.name} fit to {len(obs)} runs: {params}", fontsize=11)
    return save_figure(fig, path)


def plot_isoflop(result, path=None, *, title: str | None = None):
    """Approach 2: loss vs N per budget with each fitted profile and its minimum; and
    N_opt, D_opt vs C with the fitted power laws (log-log). ``result`` is an
    :class:`~tsbudget.fitting.isoflop_result.IsoflopResult`. Hollow markers: budgets left out
    of the power law (minimum outside the sampled range, or no minimum)."""
    plt = pyplot()
    from matplotlib import colors

    if result.runs is None:
        raise InputError("this IsoflopResult carries no runs to plot (it was loaded without them)")
    runs, table = result.runs, result.table
    budgets = table["budget"].to_numpy()
    norm = colors.LogNorm(vmin=budgets.min(), vmax=max(budgets.max(), budgets.min() * 1.001))
    cmap = plt.get_cmap("viridis")
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), constrained_layout=True)
    ax = axes[0]
    for row in table.to_dicts():
        c = row["budget"]
        color = cmap(norm(c))
        member = runs.filter(runs["budget"] == c)
        ax.scatter(member["N"], member["loss"], color=color, s=14, edgecolors="none")
        if c in result.profiles:
            center, coef = result.profiles[c]
            grid = np.linspace(math.log(row["N_min"]), math.log(row["N_max"]), 100)
            ax.plot(np.exp(grid), np.polyval(coef[::-1], grid - center), color=color, lw=1.3)
        if row["N_opt"] is not None:
            ax.plot(row["N_opt"], row["loss_opt"], "o", ms=6, mec="black",
                    color=color if row["used"] else "none")
    ax.set_xscale("log")
    ax.set_xlabel("parameters N")
    ax.set_ylabel("loss")
    ax.set_title("IsoFLOP profiles (degree %d)" % result.options["degree"])
    top = np.quantile(runs["loss"].to_numpy(), 0.98)
    lo = runs["loss"].min()
    ax.set_ylim(lo - 0.05 * (top - lo), top + 0.1 * (top - lo))
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="budget C (FLOPs)")

    ax = axes[1]
    ok = table.filter(table["N_opt"].is_not_null())
    used = ok["used"].to_numpy()
    c = ok["budget"].to_numpy()
    for col, marker, label, fn, exp in (
        ("N_opt", "o", "N_opt", result.n_opt, result.a),
        ("D_opt", "s", "D_opt", result.d_opt, result.b),
    ):
        v = ok[col].to_numpy()
        line = ax.plot(c[used], v[used], marker, ls="none", label=f"{label} (used)")[0]
        if (~used).any():
            ax.plot(c[~used], v[~used], marker, ls="none", mfc="none", color=line.get_color(),
                    label=f"{label} (not used)")
        grid = np.geomspace(c.min() / 2, c.max() * 2, 50)
        ax.plot(grid, fn(grid), color=line.get_color(), lw=1, label=f"{label} ∝ C^{exp:.3f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("budget C (FLOPs)")
    ax.set_ylabel("N_opt (parameters), D_opt (data)")
    ax.set_title("optimal allocation across budgets")
    ax.legend(fontsize=8)
    fig.suptitle(title or f"Approach 2: a = {result.a:.3f}, b = {result.b:.3f}", fontsize=11)
    return save_figure(fig, path)


def plot_frontier(ds, path=None):
    """Optimal N, D, loss and every free variable against budget (log-log), with the
    percentile band of the bootstrap draws where the Dataset has them. Returns the figure."""
    if path is not None:
        check_plot_path(path)
    plt = pyplot()
    free = [v for v in str(ds.attrs.get("free", "")).split(",") if v and v in ds]
    panels = ["N", "D", "loss"] + free
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    b = ds.budget.values
    for ax, name in zip(axes[0], panels):
        ax.plot(b, ds[name].values, color="C0", lw=1.8, label="plan")
        if f"{name}_lower" in ds:
            ax.fill_between(b, ds[f"{name}_lower"].values, ds[f"{name}_upper"].values, color="C0", alpha=0.2,
                            label=f"{ds.attrs.get('level', 0.95):.0%} of draws")
        ax.set_xscale("log")
        if name != "loss":
            ax.set_yscale("log")
        unit = ds[name].attrs.get("units", "")
        ax.set_xlabel("budget (FLOPs)")
        ax.set_ylabel(f"{name} ({unit})" if unit else name)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(loc="best", fontsize=8)
    fig.suptitle(f"frontier: {ds.attrs.get('law')}, {ds.attrs.get('cost_model')}, {ds.attrs.get('unit')}")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_lifetime(table, path=None, *, money: bool = False, title: str | None = None):
    """Lifetime cost against model size, one curve per serving load, each curve's cheapest
    feasible size marked (the picture of Sardana & Frankle 2024, Fig. 1-2, with serving
    costed by the roofline when the load is a workload).

    ``table`` is :func:`~tsbudget.planning.lifetime.lifetime_table`'s (one row per load and
    size); infeasible rows (target out of reach, latency target missed) are left out.
    ``money`` plots ``lifetime_cost_money`` instead of GPU-hours. Returns the figure."""
    if path is not None:
        check_plot_path(path)
    column = "lifetime_cost_money" if money else "lifetime_gpu_hours"
    if column not in table.columns or "load" not in table.columns:
        raise InputError(f"plot_lifetime needs a lifetime_table (columns load, N, {column}); got {table.columns}")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, load in enumerate(sorted(set(table["load"].to_list()))):
        rows = table.filter((table["load"] == load) & table["feasible"])
        n, cost = rows["N"].to_numpy(), rows[column].to_numpy()
        if n.size == 0:
            continue
        served = float(rows["served_positions"][0])
        label = "training only" if served == 0 else f"{served:.3g} positions served"
        ax.plot(n, cost, color=f"C{i}", lw=1.8, label=label)
        best = int(np.argmin(cost))
        ax.plot(n[best], cost[best], "o", color=f"C{i}", ms=6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("model size N (parameters)")
    ax.set_ylabel("lifetime cost (money)" if money else "lifetime GPU-hours (training + serving)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title or "lifetime cost at a fixed target loss (dot: cheapest size)")
    fig.tight_layout()
    return save_figure(fig, path)
