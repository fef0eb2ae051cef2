"""A system's frontier, the best loss it reaches at each budget, for the point fit and every draw.

* ``frontier="optimal"``: the compute-optimal frontier. For a Chinchilla-form law with a
  cost linear in ``N·D`` (``C = k·N·D``) the closed form of Hoffmann et al. 2022 App. D.2
  eq. 4 is evaluated over budgets × draws at once; an :class:`~tsbudget.laws.extended.Extended`
  law at fixed variables is reduced to that form exactly (``A' = A·r^(−αγ)``,
  ``B' = B·r^(−βη)`` with ``r = v/v_ref``); anything else goes through
  :func:`tsbudget.planning.frontier.frontier` (general optimizer, slower).
* ``frontier="fixed_data"``: every run trained on the same data ``D`` (e.g. Clark et al.
  2022's routed models, all trained for 250k steps). Then only ``L(N)`` at that ``D`` is
  identified and the frontier is the loss of the model whose run costs the budget: ``N(C)``
  is the power law ``log N = a + b log C`` fitted to the system's own runs (their FLOPs
  column), ``D`` the runs' median data.

Runs at the frontier's variables. A law fitted jointly on several settings (Clark et al.'s
routing law on dense runs, ``experts = 1``, and every expert count of one router) describes
each setting; the frontier at variables ``{"experts": 64}`` uses the cost curve, ``D`` and
fitted ranges of the runs *at* those variables (:func:`frontier_runs`), not of the whole
joint table, whose FLOPs mix settings.
"""

from __future__ import annotations

import numpy as np

from tsbudget.comparisons.systems import System
from tsbudget.errors import InputError

__all__ = ["chinchilla_params", "cost_curve", "fit_values", "frontier_runs", "system_frontier"]

_NODES = 33  # budgets the general optimizer solves for that grid (the rest by cubic spline)


def chinchilla_params(law, params: dict, variables: dict):
    """Parameter arrays of the equivalent ``E + A/N^α + B/D^β`` at fixed variables, or None.

    A law with a closed form whose inputs beyond ``N`` and ``D`` are variables (not unique
    data ``U``) is that form once its variables are held fixed: :meth:`~tsbudget.law.Law.params_at`
    gives its parameters there (for the extended law ``A' = A·r^(−αγ)``, ``B' = B·r^(−βη)``;
    a law without variables returns ``params`` as they are).
    """
    from tsbudget.planning.closed_form import CHINCHILLA_PARAMETERS

    if not (law.has_closed_form and "U" not in law.required_inputs
            and set(CHINCHILLA_PARAMETERS) <= set(law.values)):
        return None
    fixed = law.params_at(params, **variables)
    return {k: fixed[k] for k in CHINCHILLA_PARAMETERS}


def _variables_for(spec) -> dict:
    """The system's variables held fixed along its frontier, as floats."""
    return {k: float(v) for k, v in dict(spec.get("variables") or {}).items()}


def frontier_runs(res, variables: dict):
    """The fitted runs at the frontier's ``variables``: the rows whose columns named by a
    variable hold its value (to 1e-9 relative), when the runs carry such a column and some
    rows match; otherwise every fitted run (a law without those inputs was fitted at one setting)."""
    runs = res.runs
    keep = np.ones(runs.height, dtype=bool)
    for name, value in variables.items():
        if name in runs.columns:
            col = runs[name].to_numpy().astype(float)
            keep &= np.abs(col - float(value)) <= 1e-9 * max(abs(float(value)), 1.0)
    return runs.filter(keep) if keep.any() else runs


def cost_curve(runs) -> tuple[float, float]:
    """``(a, b)`` of the runs' own cost curve ``log N = a + b log C`` (least squares on the
    runs' FLOPs and N, natural logs): at fixed data, the size whose run costs ``C``."""
    logc, logn = np.log(runs["flops"].to_numpy()), np.log(runs["N"].to_numpy())
    if np.ptp(logn) <= 0:
        raise InputError("frontier='fixed_data' needs runs of at least two model sizes per system")
    b, a = np.polyfit(logc, logn, 1)
    return float(a), float(b)


def fit_values(res) -> tuple[dict, dict, np.ndarray]:
    """``(point, drawn, ok)``: the fitted law's values, each parameter over the bootstrap draws
    (NaN on failed draws; a parameter the draws lack stays at its value) and the mask of good draws."""
    law = res.law
    ok = ~res.draws["failed"].values
    point = {k: np.asarray(v, float) for k, v in law.values.items()}
    drawn = {k: np.where(ok, np.asarray(res.draws[k].values, float), np.nan) if k in res.draws
             else np.full(ok.size, v) for k, v in law.values.items()}
    return point, drawn, ok


def system_frontier(system: System, budgets: np.ndarray, n_exact: int | None = None, variables: dict | None = None):
    """``(loss point (B,), loss draws (n, B), N point (B,), N draws (n, B), method)``.

    ``variables`` replaces the system's own (its law evaluated at another setting, e.g. the
    reference's ``experts = 1`` of a jointly fitted routing law).

    ``budgets[n_exact:]`` is the fine grid crossovers are located on. The general optimizer
    solves only ``budgets[:n_exact]`` and :data:`_NODES` log-spaced nodes over the fine grid's
    span; the fine grid gets a cubic spline of loss and ``log N`` in ``log C`` through the
    nodes (de Boor 1978, "not-a-knot" ends), whose error on these smooth frontiers is far
    below the bootstrap spread, at a tenth of the solves.
    """
    from tsbudget.planning.closed_form import parameter_arrays

    res, spec = system.fit, system.spec
    law = res.law
    point, drawn, ok = fit_values(res)
    variables = _variables_for({"variables": variables} if variables is not None else spec)
    if spec["frontier"] == "fixed_data":
        return _fixed_data(res, law, point, drawn, variables, budgets)
    from tsbudget.registry import costmodels, units

    cm = costmodels.resolve(spec["cost_model"], **dict(spec.get("cost_settings") or {}))
    un = units.resolve(spec["unit"])
    cm_vars = {k: v for k, v in variables.items() if k in {x.name for x in cm.variables}}
    from tsbudget.planning.closed_form import linear_cost_coefficient

    k = linear_cost_coefficient(cm, un, cm_vars)
    pc = chinchilla_params(law, point, variables)
    if k is not None and pc is not None:
        from tsbudget.planning.closed_form import closed_form_budget

        dc = chinchilla_params(law, {n: v[:, None] for n, v in drawn.items()}, variables)
        safe = {n: np.where(np.isfinite(v), v, 1.0) for n, v in dc.items()}
        Np, Dp = closed_form_budget(pc, budgets, k)
        Lp = pc["E"] + pc["A"] * Np ** -pc["alpha"] + pc["B"] * Dp ** -pc["beta"]
        Nd, Dd = closed_form_budget(safe, budgets[None, :], k)
        Ld = safe["E"] + safe["A"] * Nd ** -safe["alpha"] + safe["B"] * Dd ** -safe["beta"]
        bad = ~ok[:, None]
        return Lp, np.where(bad, np.nan, Ld), Np, np.where(bad, np.nan, Nd), "closed form"
    from tsbudget.planning.frontier import frontier

    arrays = parameter_arrays(law, {n: np.where(ok, v, point[n]) for n, v in drawn.items()})
    n_exact = budgets.size if n_exact is None else int(n_exact)
    fine = budgets[n_exact:]
    spline = fine.size > _NODES
    solve = np.concatenate([budgets[:n_exact], np.geomspace(fine.min(), fine.max(), _NODES)]) if spline else budgets
    order = np.argsort(solve, kind="stable")
    ds = frontier(solve[order], law=law, cost_model=cm, unit=un, fixed=cm_vars or None, draws=arrays,
                  max_draws=ok.size)
    back = np.empty_like(order)
    back[order] = np.arange(order.size)
    Lp, Np = ds["loss"].values[back], ds["N"].values[back]
    Ld = np.where(ok[:, None], ds["loss_draw"].values[:, back], np.nan)
    Nd = np.where(ok[:, None], ds["N_draw"].values[:, back], np.nan)
    how = str(ds.attrs.get("method", "general"))
    if spline:
        x, xf = np.log(solve[n_exact:]), np.log(fine)
        with np.errstate(invalid="ignore", divide="ignore"):
            Lp, Ld = _onto(x, xf, Lp, n_exact), _onto(x, xf, Ld, n_exact)
            Np, Nd = np.exp(_onto(x, xf, np.log(Np), n_exact)), np.exp(_onto(x, xf, np.log(Nd), n_exact))
        how += f" (fine grid: cubic spline through {_NODES} solved budgets)"
    return Lp, Ld, Np, Nd, how


def _onto(x: np.ndarray, xf: np.ndarray, v: np.ndarray, n_exact: int) -> np.ndarray:
    """``v[..., :n_exact]`` (exact budgets) followed by the cubic spline in ``x`` through the
    nodes ``v[..., n_exact:]`` evaluated at ``xf``: ``(..., exact + nodes) -> (..., exact + fine)``.

    Rows whose nodes are all finite are splined together. A row with non-finite nodes (a
    failed bootstrap draw is NaN throughout; the optimizer may miss single budgets) is
    splined through its finite nodes alone, and a fine point is NaN unless both nodes
    bracketing it are finite; with fewer than two finite nodes the whole row is NaN.
    """
    from scipy.interpolate import CubicSpline

    v = np.asarray(v, float)
    head, nodes = v[..., :n_exact], v[..., n_exact:]
    flat = nodes.reshape(-1, nodes.shape[-1])
    out = np.full((flat.shape[0], xf.size), np.nan)
    finite = np.isfinite(flat)
    full = finite.all(axis=1)
    if full.any():
        out[full] = CubicSpline(x, flat[full], axis=-1)(xf)
    right = np.clip(np.searchsorted(x, xf, side="left"), 0, x.size - 1)  # node at or right of each fine point
    left = np.clip(np.searchsorted(x, xf, side="right") - 1, 0, x.size - 1)  # node at or left of it
    for r in np.flatnonzero(~full):
        m = finite[r]
        if m.sum() < 2:
            continue
        vals = CubicSpline(x[m], flat[r, m])(xf)
        out[r] = np.where(m[left] & m[right], vals, np.nan)
    return np.concatenate([head, out.reshape(*nodes.shape[:-1], xf.size)], axis=-1)


def _fixed_data(res, law, point, drawn, variables, budgets):
    """The fixed-data frontier (module docstring): ``L(N(C), D)`` with ``log N = a + b log C``
    fitted to the runs at the frontier's variables (:func:`frontier_runs`) and ``D`` their median data."""
    runs = frontier_runs(res, variables)
    a, b = cost_curve(runs)  # the runs' own cost curve: log N = a + b log C
    N = np.exp(a + b * np.log(budgets))
    D = float(np.median(runs["D"].to_numpy())) if "D" in runs.columns else 1.0
    extra = {k: np.full_like(N, v) for k, v in variables.items() if k in law.required_inputs}
    inputs = {"N": N, "D": np.full_like(N, D), **extra}
    Lp = np.asarray(law.evaluate(point, inputs), float)
    col = {n: v[:, None] for n, v in drawn.items()}
    with np.errstate(all="ignore"):
        Ld = np.asarray(law.evaluate(col, {k: v[None, :] for k, v in inputs.items()}), float)
    Nd = np.broadcast_to(N, Ld.shape).copy()
    Nd[~np.isfinite(Ld)] = np.nan
    return Lp, Ld, N, Nd, "fixed data (N from the runs' cost curve)"

