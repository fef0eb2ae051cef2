"""Planning across budgets: the compute-optimal frontier and IsoFLOP slices, as xarray Datasets.

:func:`frontier` is the plan at every budget of a list. Where the Chinchilla closed form
applies it is evaluated in one vectorized pass over budgets × bootstrap draws
(Hoffmann et al. 2022 App. D.2 eq. 4); elsewhere the general optimizer of
:mod:`tsbudget.planning.plan` runs per budget (and per draw, up to ``max_draws``).
:func:`isoflop` is the loss along one budget's IsoFLOP slice (Hoffmann et al. 2022
§3.2, Figure 3), over ``N`` and any free variable, so a user sees how flat the valley is.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import xarray as xr

from tsbudget.timeseries.effective_data import MUENNIGHOFF_R_D
from tsbudget.errors import InfeasibleError, InputError
from tsbudget.hardware import gpu_hours
from tsbudget.planning.plan import _closed_form_k, _setup, _solve
from tsbudget.variables import as_positive_array

__all__ = ["frontier", "frontier_table", "isoflop", "parse_budgets", "plot_frontier"]

# per-draw quantities of the frontier (each gets ``_draw``, ``_median``, ``_lower``, ``_upper``)
_DRAWN = ("N", "D", "data_per_param", "loss")


def parse_budgets(text: str) -> np.ndarray:
    """``"1e18:1e25:29"`` -> 29 log-spaced budgets; ``"1e20,1e21"`` -> a list.

    LOW and HIGH must be finite numbers > 0 and COUNT an integer >= 1 (COUNT 1 gives
    LOW, as ``numpy.geomspace`` does); every listed budget must be finite and > 0.
    Anything else is an :class:`InputError` that quotes the text, raised before numpy
    sees it.
    """
    raw = str(text)
    text = raw.strip()
    usage = "give LOW:HIGH:COUNT, log-spaced, or a comma list of FLOPs"

    def fail(why: str):
        raise InputError(f"budgets {raw!r}: {why} ({usage})")

    def number(part: str, what: str) -> float:
        try:
            value = float(part)
        except ValueError:
            fail(f"{what} {part.strip()!r} is not a number")
        if not math.isfinite(value) or value <= 0:
            fail(f"{what} {part.strip()!r} must be finite and > 0")
        return value

    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            fail(f"{len(parts)} ':'-separated fields, need 3")
        lo, hi = number(parts[0], "LOW"), number(parts[1], "HIGH")
        try:
            n = int(parts[2])
        except ValueError:
            fail(f"COUNT {parts[2].strip()!r} is not an integer")
        if n < 1:
            fail(f"COUNT {parts[2].strip()!r} must be >= 1")
        return np.geomspace(lo, hi, n)
    items = [x for x in text.split(",") if x.strip()]
    if not items:
        fail("no budgets")
    return np.array([number(x, "budget") for x in items])


def frontier(
    budgets,
    *,
    law="epoch2024",
    cost_model=None,
    unit=None,
    unique=None,
    serving=None,
    fixed=None,
    free=(),
    n_bounds=None,
    d_bounds=None,
    hardware="h100-sxm",
    cost_settings=None,
    unit_settings=None,
    draws=None,
    level: float = 0.95,
    repetition_decay: float = MUENNIGHOFF_R_D,
    method: str = "auto",
    max_draws: int | None = None,
    mix="optimal",
) -> xr.Dataset:
    """The plan at every budget, as a Dataset over ``budget`` (and ``draw``).

    Point estimates are data variables over ``budget``: N, active/total parameters, D,
    positions, data per parameter, epochs, effective data, loss, training and serving
    FLOPs and GPU-hours, and every free variable. When the law carries bootstrap draws
    (a FitResult, or ``draws``) the per-draw optima ``<q>_draw`` over ``(draw, budget)``
    and their ``<q>_median``, ``<q>_lower``, ``<q>_upper`` (the ``level`` percentile
    interval) are added for N, D, data per parameter, loss and each free variable. The
    closed form uses every draw; the general optimizer re-plans only the first
    ``max_draws`` (default 100, since each is a full optimisation), so its intervals rest
    on those draws alone. ``attrs["draws_used"]`` and ``attrs["draws_available"]`` record
    how many draws the intervals use out of how many the law carries (both 0 without draws),
    and ``attrs["draws_method"]`` how the draws were planned (``attrs["method"]`` is the
    point plans' method).
    """
    from tsbudget.planning.closed_form import parameter_arrays

    budgets = as_positive_array(np.atleast_1d(np.asarray(budgets, dtype=float)), "budgets").ravel()
    setup = _setup(
        float(budgets[0]), law, cost_model, unit, unique, serving, fixed, free, None, None, n_bounds, d_bounds,
        hardware, cost_settings, unit_settings, draws, level, repetition_decay, method, mix,
    )
    p = setup.problem
    params = parameter_arrays(p.law, setup.draws) if setup.draws is not None else None
    k = _closed_form_k(setup) if method != "general" else None
    if k is not None:
        N, D = p.closed_form({n: np.asarray(v) for n, v in p.params.items()}, k, flops=budgets)
        def inside(N, D) -> bool:
            return bool(
                np.all((N >= p.n_bounds[0]) & (N <= p.n_bounds[1]))
                and np.all((D >= p.d_bounds[0]) & (D <= p.d_bounds[1]))
                and np.all(p.undiscounted(D))
            )

        ok = inside(N, D)
        if ok and params is not None:
            # every draw's closed-form optimum must be valid too (a draw may want more data
            # than is unique, or leave the bounds); else the general optimizer plans them
            col = {n: v[:, None] for n, v in params.items()}
            ok = inside(*p.closed_form(col, k, flops=budgets[None, :]))
        if ok:
            ds = _closed_form_dataset(setup, budgets, N, D, k, params)
            if params is not None:
                n_draws = next(iter(params.values())).size
                ds.attrs.update(draws_used=n_draws, draws_available=n_draws, draws_method="closed form")
            return _finish(ds, setup, budgets, "closed form")
    if method == "closed_form":
        raise InputError("the closed form does not apply to this frontier; use method='auto' or 'general'")
    # point plans only: the draws are planned below (their per-plan intervals would be discarded)
    plans = [_solve(attrs.evolve(setup, lb=float(b), ub=float(b), budget_given=(float(b), float(b)), draws=None))
             for b in budgets]
    ds = _plans_dataset(setup, budgets, plans)
    if params is not None:
        n_draws = next(iter(params.values())).size
        take = min(n_draws, 100 if max_draws is None else int(max_draws))
        if take > 0:
            ds = _general_draws(ds, setup, budgets, params, take)
        # the point plans may use the closed form while the draws do not
        ds.attrs.update(draws_used=take, draws_available=n_draws, draws_method="general")
        if take < n_draws:
            ds.attrs["draws_note"] = (
                f"intervals from the first {take} of {n_draws} bootstrap draws (each re-planned by the general "
                f"optimizer; raise max_draws for more)"
            )
    return _finish(ds, setup, budgets, plans[0].method if len({pl.method for pl in plans}) == 1 else "mixed")


def _closed_form_dataset(setup, budgets, N, D, k, params) -> xr.Dataset:

    p = setup.problem
    fixed = {n: np.asarray(v, float) for n, v in p.fixed.items()}
    loss = p.loss(N, D, fixed)
    data = _point_vars(setup, N, D, loss, fixed)
    ds = xr.Dataset({name: ("budget", np.asarray(v, float)) for name, v in data.items()}, coords={"budget": budgets})
    if params is not None:
        col = {n: v[:, None] for n, v in params.items()}
        Nd, Dd = p.closed_form(col, k, flops=budgets[None, :])
        Ld = p.loss(Nd, Dd, fixed, params=col)
        ds = _add_draws(ds, {"N": Nd, "D": Dd, "data_per_param": Dd / Nd, "loss": Ld}, setup.level)
    return ds


def _point_vars(setup, N, D, loss, variables) -> dict:
    p, hw = setup.problem, setup.hardware
    N, D = np.asarray(N, float), np.asarray(D, float)
    train = p.flops_per_unit(N, variables) * D
    serve = p.serve_flops(N, variables)
    util = (p.serving.utilization if p.serving is not None else None) or hw.serve_utilization
    return {
        "N": N,
        "active_params": np.asarray(p.cost_model.active_params(N, **variables), float) * np.ones_like(N),
        "total_params": np.asarray(p.cost_model.total_params(N, **variables), float) * np.ones_like(N),
        "D": D,
        "positions": D * p.ppu,
        "data_per_param": D / N,
        "epochs": D / p.unique if p.unique else np.ones_like(D),
        "effective_data": np.asarray(p.effective_data(N, D, variables), float) * np.ones_like(D),
        "loss": np.asarray(loss, float),
        "train_flops": train,
        "inference_flops": serve,
        "train_gpu_hours": hw.train_hours(train),
        "serve_gpu_hours": gpu_hours(serve, hw.peak_flops, util),
    }


def _add_draws(ds, drawn: dict, level) -> xr.Dataset:
    a = (1 - level) / 2
    for name, arr in drawn.items():
        arr = np.asarray(arr, float)
        ds[f"{name}_draw"] = (("draw", "budget"), arr)
        q = np.nanquantile(arr, [0.5, a, 1 - a], axis=0)
        ds[f"{name}_median"] = ("budget", q[0])
        ds[f"{name}_lower"] = ("budget", q[1])
        ds[f"{name}_upper"] = ("budget", q[2])
    ds = ds.assign_coords(draw=np.arange(ds.sizes["draw"]))
    return ds


def _plans_dataset(setup, budgets, plans) -> xr.Dataset:
    names = ["N", "active_params", "total_params", "D", "positions", "data_per_param", "epochs",
             "effective_data", "loss", "train_flops", "inference_flops", "train_gpu_hours", "serve_gpu_hours"]
    data = {n: ("budget", np.array([getattr(pl, n) for pl in plans], float)) for n in names}
    for v in setup.problem.ints + setup.problem.reals:
        data[v.name] = ("budget", np.array([pl.variables[v.name] for pl in plans], float))
    data["binding"] = ("budget", np.array(["; ".join(pl.binding) for pl in plans], dtype=object))
    return xr.Dataset(data, coords={"budget": budgets})


def _general_draws(ds, setup, budgets, params, take) -> xr.Dataset:

    p = setup.problem
    names = ["N", "D", "data_per_param", "loss"] + [v.name for v in p.ints + p.reals]
    out = {n: np.full((take, budgets.size), np.nan) for n in names}
    for i in range(take):
        problem = p.with_params({n: float(v[i]) for n, v in params.items()})
        for j, b in enumerate(budgets):
            s = attrs.evolve(setup, problem=problem, lb=float(b), ub=float(b), budget_given=(float(b), float(b)), draws=None)
            try:
                pl = _solve(s)
            except InfeasibleError:
                continue
            for n in names:
                out[n][i, j] = pl.variables[n] if n in pl.variables else getattr(pl, n)
    return _add_draws(ds, out, setup.level)


def _finish(ds, setup, budgets, method) -> xr.Dataset:
    p = setup.problem
    units = {
        "budget": "FLOPs", "N": "parameters", "active_params": "parameters", "total_params": "parameters",
        "D": p.unit.name, "positions": "positions", "effective_data": p.unit.name, "train_flops": "FLOPs",
        "inference_flops": "FLOPs", "train_gpu_hours": "GPU-hours", "serve_gpu_hours": "GPU-hours",
        "data_per_param": f"{p.unit.name} per parameter", "epochs": "passes over unique data",
    }
    for name in list(ds.data_vars) + ["budget"]:
        base = name
        for suffix in ("_draw", "_median", "_lower", "_upper"):
            if name.endswith(suffix):
                base = name[: -len(suffix)]
        if base in units:
            ds[name].attrs["units"] = units[base]
    ds.attrs.update(
        {
            "law": setup.label,
            "cost_model": p.cost_model.name,
            "unit": p.unit.name,
            "method": method,
            "hardware": setup.hardware.name,
            "level": setup.level,
            "free": ",".join(v.name for v in p.ints + p.reals),
            "fixed": ",".join(f"{k}={v:g}" for k, v in p.fixed.items()),
            "unique": p.unique if p.unique is not None else "unlimited",
            "served_positions": p.serving.served_positions if p.serving is not None else 0.0,
        }
    )
    ds.attrs.setdefault("draws_used", 0)
    ds.attrs.setdefault("draws_available", 0)
    return ds


def isoflop(
    budget,
    *,
    n=None,
    points: int = 101,
    span: float = 30.0,
    over=None,
    values=None,
    law="epoch2024",
    cost_model=None,
    unit=None,
    unique=None,
    serving=None,
    fixed=None,
    free=(),
    d_bounds=None,
    hardware="h100-sxm",
    cost_settings=None,
    unit_settings=None,
    draws=None,
    level: float = 0.95,
    repetition_decay: float = MUENNIGHOFF_R_D,
    mix="optimal",
) -> xr.Dataset:
    """Predicted loss along the IsoFLOP slice of ``budget`` (training + serving FLOPs).

    Dims: ``N`` (``n``, or ``points`` log-spaced over ``[N_opt/span, N_opt·span]``
    around the planned optimum) and one dim per variable in ``over`` (default: the
    ``free`` variables; ``values`` maps a variable to the values to sweep, by default
    every integer up to 33 values or 17 points across its bounds). For each point ``D``
    spends the budget exactly; ``feasible`` is False where that ``D`` leaves the data
    bounds (serving alone exceeds the budget, or less than one model position is left),
    and there the other variables are NaN. With draws, ``loss_lower`` /
    ``loss_upper`` give the ``level`` interval of the loss at each point.
    """
    from tsbudget.planning.closed_form import parameter_arrays

    budget = float(as_positive_array(budget, "budget"))
    setup = _setup(
        budget, law, cost_model, unit, unique, serving, fixed, free, None, None, None, d_bounds, hardware,
        cost_settings, unit_settings, draws, level, repetition_decay, "auto", mix,
    )
    p = setup.problem
    over = tuple(v.name for v in p.ints + p.reals) if over is None else ((over,) if isinstance(over, str) else tuple(over))
    known = {v.name: v for v in p.cost_model.variables}
    for name in over:
        if name not in known:
            raise InputError(f"cost model {p.cost_model.name!r} has no variable {name!r}; its variables are {sorted(known)}")
    best = _solve(attrs.evolve(setup, draws=None))  # only its point optimum is used
    if n is None:
        if not (span > 1):
            raise InputError(f"span must be > 1, got {span!r}")
        n = np.geomspace(best.N / span, best.N * span, int(points))
    n = as_positive_array(np.atleast_1d(n), "n").ravel()
    axes = {"N": n}
    values = dict(values or {})
    for name in over:
        var = known[name]
        if name in values:
            axes[name] = np.asarray(var.check(np.atleast_1d(values[name])), float)
        elif var.integer:
            from tsbudget.planning.plan import _integer_candidates

            axes[name] = _integer_candidates(var)
        else:
            axes[name] = np.geomspace(var.lower, var.upper, 17) if var.log else np.linspace(var.lower, var.upper, 17)
    grids = np.meshgrid(*axes.values(), indexing="ij")
    shape = grids[0].shape
    N = grids[0]
    # swept variables vary; the others sit at the planned optimum (fixed ones at their value)
    variables = {k: np.full(shape, float(v)) for k, v in best.variables.items() if k not in over}
    variables.update({name: grids[i + 1] for i, name in enumerate(over)})
    per_unit = p.flops_per_unit(N, variables)
    serve = p.serve_flops(N, variables)
    D = (budget - serve) / per_unit
    # the planner's data bounds (at least one model position by default) apply here too
    feasible = (D > 0) & (D >= p.d_bounds[0]) & (D <= p.d_bounds[1])
    Dsafe = np.where(feasible, D, 1.0)
    loss = np.where(feasible, p.loss(N, Dsafe, variables), np.nan)
    nan = lambda a: np.where(feasible, a, np.nan)  # noqa: E731
    dims = tuple(axes)
    data = {
        "loss": (dims, loss),
        "D": (dims, nan(D)),
        "positions": (dims, nan(D * p.ppu)),
        "epochs": (dims, nan(D / p.unique if p.unique else np.ones(shape))),
        "train_flops": (dims, nan(per_unit * Dsafe)),
        "inference_flops": (dims, np.broadcast_to(serve, shape).astype(float)),
        "feasible": (dims, feasible),
    }
    if setup.draws is not None:
        params = parameter_arrays(p.law, setup.draws)
        a = (1 - setup.level) / 2
        lo = np.empty(shape)
        hi = np.empty(shape)
        flat = np.ravel_multi_index(np.indices(shape).reshape(len(shape), -1), shape)
        for chunk in np.array_split(flat, max(1, flat.size // 2000)):
            idx = np.unravel_index(chunk, shape)
            vv = {k: np.asarray(v)[idx][None, :] for k, v in variables.items()}
            L = p.loss(N[idx][None, :], Dsafe[idx][None, :], vv, params={k: v[:, None] for k, v in params.items()})
            q = np.quantile(L, [a, 1 - a], axis=0)
            lo[idx], hi[idx] = q[0], q[1]
        data["loss_lower"] = (dims, np.where(feasible, lo, np.nan))
        data["loss_upper"] = (dims, np.where(feasible, hi, np.nan))
    ds = xr.Dataset(data, coords=axes)
    ds["N"].attrs["units"] = "parameters"
    ds["D"].attrs["units"] = p.unit.name
    ds.attrs.update(
        {
            "budget": budget,
            "law": setup.label,
            "cost_model": p.cost_model.name,
            "unit": p.unit.name,
            "N_opt": best.N,
            "D_opt": best.D,
            "loss_opt": best.loss,
            "variables_opt": ",".join(f"{k}={v:g}" for k, v in best.variables.items()),
        }
    )
    return ds


PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def check_plot_path(path) -> None:
    """Raise InputError unless ``path`` names an image file matplotlib writes (.png, .pdf,
    .svg, .jpg); called before any computation, so a bad name costs nothing."""
    from pathlib import Path

    if Path(str(path)).suffix.lower() not in PLOT_SUFFIXES:
        raise InputError(f"plot path {str(path)!r}: use a .png, .pdf, .svg or .jpg file name")


def plot_frontier(ds: xr.Dataset, path=None):
    """Optimal N, D, loss and every free variable against budget (log-log), with the
    percentile band of the bootstrap draws where the Dataset has them. Returns the figure."""
    if path is not None:
        check_plot_path(path)
    import matplotlib

    matplotlib.use("Agg", force=True)  # files only; never a GUI window
    import matplotlib.pyplot as plt

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
    if path is not None:
        from pathlib import Path

        fig.savefig(Path(path), dpi=130, bbox_inches="tight")
    return fig


def frontier_table(ds: xr.Dataset):
    """The budget-indexed variables of a frontier as a polars DataFrame (one row per budget)."""
    import polars as pl

    cols = {"budget": ds.budget.values}
    for name, da in ds.data_vars.items():
        if da.dims == ("budget",):
            cols[name] = da.values.tolist() if da.dtype == object else da.values
    return pl.DataFrame(cols)
