"""Compare systems (routers, patchers, hierarchies) along their whole budget frontiers.

Each system's runs are fitted with its own law and cost model (:func:`tsbudget.fitting.fit.fit`),
bootstrapped (:func:`tsbudget.uncertainty.bootstrap.bootstrap`), and its frontier, the best loss it
reaches at each budget, is computed for the point fit and for every draw:

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

Pairing (``paired=True``, the default). Every system is resampled from one shared random
stream per draw, on a shared key, so that draw ``i`` of every system resamples the same
key values. Exactly:

1. Each system's fitted runs are split into *units*: with ``pair_on=COLUMN``, the groups
   of runs sharing a value of that column (a canonical column such as ``"N"`` or
   ``"flops"``, or any column of the system's runs), resampled whole as in a cluster
   bootstrap; ``"flops"`` groups nearby budgets with
   :func:`tsbudget.fitting.approach2.auto_budget_groups`, as :func:`tsbudget.uncertainty.bootstrap.bootstrap`'s
   ``cluster="flops"`` does (measured or digitised FLOPs are rarely exactly equal), and a
   :class:`~tsbudget.errors.BootstrapWarning` says when every budget group is a single run
   (a plain bootstrap), or when any key leaves one group (zero spread); without
   ``pair_on``, single runs. Units are sorted by their key: the column value (for
   ``"flops"`` the group's budget), or for single runs ``(flops, N, D, loss)``.
2. Draw ``i`` draws ``M`` uniforms ``u_0 … u_{M−1}`` from
   ``numpy.random.default_rng(SeedSequence(seed).spawn(n_draws)[i])``, ``M`` the largest
   unit count of any system; the same uniforms serve every system.
3. A system with ``G`` units takes, for ``j < G``, its unit number ``⌊u_j·G⌋`` (in key
   order), and refits on the union of the picked units' runs (a unit picked twice counts
   twice).

Each system on its own thus gets an ordinary bootstrap (``G`` units drawn uniformly with
replacement; Efron & Tibshirani 1993 ch. 6, clusters per Davison & Hinkley 1997 §3.8).
When two systems have the same key values (the same model sizes, or the same number of
runs laid out the same way), draw ``i`` picks the same key values with the same
multiplicities in both, so noise that belongs to a key value (a size's seed, data order or
eval batch) enters both refits alike and cancels in their difference. When the key values
differ, units at the same rank (quantile) of the key are paired. The same runs under
another label or in another order get identical draws. ``pairing`` in the result says, per
system, what it was paired on. ``paired=False`` gives each system its own stream (seeded
from its runs' content) with the same units: independent draws.

Probabilities. For each budget, ``p_beats_reference`` is the bootstrap probability that a
system's frontier loss is below the reference's, ties counted one half: with paired draws
the mean over draw indices ``i`` of ``1[L_s,i < L_ref,i] + ½·1[L_s,i = L_ref,i]``; with
independent draws the same over all pairs of draws (Mann & Whitney 1947). A system compared
with itself gets exactly 0.5. ``p_best`` counts, per draw index, which system is lowest
(ties split).

Crossovers. Where the point-estimate winner changes between budgets, the crossover is the
root of the loss difference in ``log C``, located on a fine log grid and interpolated
linearly; its interval is the percentile interval of the same pair's root in each draw
(the root nearest the point estimate; ``p_crossing`` is the share of draws that have one
within the budget range). A crossover outside either system's fitted FLOPs range is
flagged ``extrapolated``.

Extrapolation. A budget outside ``[min, max]`` of a system's fitted runs' FLOPs is flagged
(``extrapolated``); so is a frontier ``N`` outside the fitted ``N`` range (``n_extrapolated``).
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Mapping

import attrs
import numpy as np
import polars as pl
import xarray as xr

from tsbudget.errors import BootstrapWarning, FitError, InputError, SchemaError

__all__ = ["Comparison", "compare", "DEFAULT_COMPARE_BUDGETS"]

DEFAULT_COMPARE_BUDGETS = tuple(np.geomspace(1e18, 1e22, 9))
_FINE = 321  # points of the fine log grid crossovers are located on
_NODES = 33  # budgets the general optimizer solves for that grid (the rest by cubic spline)
_SPEC_KEYS = {"law", "cost_model", "unit", "columns", "variables", "fit_options", "cluster", "pair_on", "frontier",
              "cost_settings"}


# ------------------------------------------------------------------------------ systems
def _split(runs, by: str) -> dict[str, pl.DataFrame]:
    if isinstance(runs, Mapping):
        if not runs:
            raise InputError("runs: the mapping of systems is empty")
        out = {}
        for label, df in runs.items():
            if not isinstance(df, pl.DataFrame):
                try:
                    df = pl.DataFrame(df)
                except Exception as exc:
                    raise InputError(f"runs[{label!r}] is not a table: {exc}") from None
            if df.height == 0:
                raise SchemaError(f"runs[{label!r}] has no rows")
            out[str(label)] = df
        return out
    if not isinstance(runs, pl.DataFrame):
        try:
            runs = pl.DataFrame(runs)
        except Exception as exc:
            raise InputError(f"runs must be a polars DataFrame or a mapping of them: {exc}") from None
    if by not in runs.columns:
        raise SchemaError(f"runs lack the system column {by!r} (by=); columns present: {runs.columns}")
    if runs[by].null_count():
        row = int(np.flatnonzero(runs[by].is_null().to_numpy())[0])
        raise SchemaError(f"runs column {by!r}, row {row}: empty system label")
    labels = runs[by].cast(pl.Utf8)
    return {lab: runs.filter(labels == lab).drop(by) for lab in sorted(set(labels.to_list()))}


def _canonical(df: pl.DataFrame) -> pl.DataFrame:
    """Rows in a content-defined order, so that reordering the runs changes nothing."""
    cols = sorted(df.columns)
    sortable = [c for c in cols if df[c].dtype.is_numeric() or df[c].dtype == pl.Utf8]
    return df.select(cols).sort(sortable, nulls_last=True) if sortable else df.select(cols)


def _content_key(df: pl.DataFrame) -> str:
    h = hashlib.sha256()
    for c in df.columns:
        h.update(c.encode())
        h.update(np.ascontiguousarray(df[c].cast(pl.Utf8).fill_null("").to_numpy().astype(str)).tobytes())
    return h.hexdigest()


def _seed_for(seed: int, key: str) -> int:
    return int(hashlib.sha256(f"{int(seed)}:{key}".encode()).hexdigest()[:15], 16)


@attrs.frozen
class _Units:
    """A system's resampling units in key order: ``members[g]`` are row indices of the fit's runs."""

    on: str | None  # the pair_on column, None for single runs
    values: tuple  # the key value of each unit (column value, or (flops, N, D, loss) of the run)
    members: tuple

    @property
    def size(self) -> int:
        return len(self.members)

    def describe(self) -> str:
        return f"{self.size} values" if self.on is not None else f"{self.size} runs"


@attrs.frozen
class _System:
    label: str
    spec: dict
    fit: object  # FitResult with draws
    key: str  # content hash of the fitted runs
    units: _Units


def _spec(label, defaults: dict, systems: Mapping | None) -> dict:
    spec = dict(defaults)
    extra = dict((systems or {}).get(label, {}))
    unknown = set(extra) - _SPEC_KEYS
    if unknown:
        raise InputError(f"systems[{label!r}]: unknown setting {sorted(unknown)[0]!r}; use {sorted(_SPEC_KEYS)}")
    spec.update(extra)
    if spec["frontier"] not in ("optimal", "fixed_data"):
        raise InputError(f"frontier must be 'optimal' or 'fixed_data', got {spec['frontier']!r}")
    pair_on, cluster = spec.get("pair_on"), spec.get("cluster")
    if pair_on is not None and cluster is not None and pair_on != cluster:
        raise InputError(f"system {label!r}: pair_on={pair_on!r} and cluster={cluster!r} disagree; "
                         "they name the same thing (the resampling unit), give one")
    spec["pair_on"] = pair_on if pair_on is not None else cluster
    return spec


def _fit_point(label, df, spec):
    from tsbudget.fitting.fit import fit

    opts = dict(spec.get("fit_options") or {})
    try:
        return fit(df, spec["law"], columns=spec.get("columns"), cost_model=spec["cost_model"], unit=spec["unit"],
                   **opts)
    except FitError as exc:
        raise FitError(f"system {label!r}: {exc}") from None


def _units(label, df: pl.DataFrame, result, on: str | None) -> _Units:
    """The resampling units of one system (module docstring, Pairing step 1)."""
    runs = result.runs
    if on is None:
        cols = [c for c in ("flops", "N", "D", "loss") if c in runs.columns]
        table = np.column_stack([runs[c].to_numpy().astype(float) for c in cols])
        order = np.lexsort(table.T[::-1])  # first column is the primary key
        return _Units(None, tuple(tuple(table[i]) for i in order), tuple(np.array([i]) for i in order))
    if on in runs.columns:
        col = runs[on]
    elif on in df.columns:
        col = df[on][runs["run"].to_numpy()]
    else:
        raise SchemaError(f"system {label!r}: pair_on column {on!r} is not in its runs; columns {df.columns}")
    if col.null_count():
        row = int(np.flatnonzero(col.is_null().to_numpy())[0])
        raise SchemaError(f"system {label!r}: pair_on column {on!r} is empty in run {row}")
    values = col.to_numpy()
    if on == "flops":  # nearby budgets form one group, as in tsbudget.uncertainty.bootstrap's cluster="flops"
        from tsbudget.fitting.approach2 import auto_budget_groups

        values = auto_budget_groups(values.astype(float))
    uniq, inverse, sizes = np.unique(values, return_inverse=True, return_counts=True)
    if on == "flops" and sizes.size > 1 and np.all(sizes == 1):
        # (another key of single runs, e.g. "N" with one run per size, still pairs sizes across systems)
        warnings.warn(f"system {label!r}: pair_on='flops': each of the {sizes.size} budget groups is a single run, "
                      "so its draws are a plain bootstrap over runs, not over IsoFLOP budgets",
                      BootstrapWarning, stacklevel=3)
    elif sizes.size == 1:
        warnings.warn(f"system {label!r}: pair_on={on!r}: all {values.size} runs form one group, so every draw is "
                      "the whole data set and the bootstrap spread is zero", BootstrapWarning, stacklevel=3)
    return _Units(on, tuple(uniq.tolist()), tuple(np.flatnonzero(inverse == g) for g in range(uniq.size)))


def _draw_uniforms(seed: int, n_draws: int, m: int) -> np.ndarray:
    """``(n_draws, m)`` uniforms; row ``i`` from ``SeedSequence(seed).spawn(n_draws)[i]``, so its first
    ``g`` entries do not depend on ``m``."""
    return np.stack([np.random.default_rng(c).random(m) for c in np.random.SeedSequence(seed).spawn(n_draws)])


def _indices(units: _Units, uniforms: np.ndarray) -> list[np.ndarray]:
    """Run indices of each draw: unit ``⌊u_j·G⌋`` for ``j < G`` (module docstring, Pairing step 3)."""
    g = units.size
    picks = np.minimum((uniforms[:, :g] * g).astype(np.int64), g - 1)
    return [np.concatenate([units.members[k] for k in row]) for row in picks]


def _pairing_notes(labels, units: dict, anchor: str, paired: bool) -> dict[str, str]:
    out = {}
    for lab in labels:
        u = units[lab]
        on = "runs ordered by (flops, N, D, loss)" if u.on is None else repr(u.on)
        if not paired:
            out[lab] = f"independent: own stream over {u.describe()}"
        elif lab == anchor:
            out[lab] = f"paired on {on}: {u.describe()}"
        else:
            v = units[anchor]
            if u.on == v.on and u.on is None and u.size == v.size:
                how = "run for run in that order"
            elif u.on == v.on and u.on is not None and u.values == v.values:
                how = "the same key values"
            else:
                how = f"matched by rank ({u.size} vs {v.size} units)"
            out[lab] = f"paired with {anchor} on {on}: {u.describe()}, {how}"
    return out


# ---------------------------------------------------------------------------- frontiers
def _chinchilla_params(law, params: dict, variables: dict):
    """Parameter arrays of the equivalent ``E + A/N^α + B/D^β`` at fixed variables, or None."""
    from tsbudget.planning.closed_form import CHINCHILLA_PARAMETERS, is_chinchilla_form

    if is_chinchilla_form(law):
        return {k: params[k] for k in CHINCHILLA_PARAMETERS}
    if getattr(law, "name", "") == "extended" and hasattr(law, "references"):
        missing = [v for v in law.variables if v not in variables]
        if missing:
            raise InputError(f"law 'extended' needs a value for variable {missing[0]!r}; pass variables={{...}}")
        A, B = np.asarray(params["A"], float), np.asarray(params["B"], float)
        for v, ref in zip(law.variables, law.references):
            lr = math.log(float(variables[v]) / ref)
            A = A * np.exp(-params["alpha"] * params[f"gamma_{v}"] * lr)
            B = B * np.exp(-params["beta"] * params[f"eta_{v}"] * lr)
        return {"E": params["E"], "A": A, "B": B, "alpha": params["alpha"], "beta": params["beta"]}
    return None


def _variables_for(spec) -> dict:
    return {k: float(v) for k, v in dict(spec.get("variables") or {}).items()}


def _frontier(system: _System, budgets: np.ndarray, n_exact: int | None = None):
    """``(loss point (B,), loss draws (n, B), N point (B,), N draws (n, B), method)``.

    ``budgets[n_exact:]`` is the fine grid crossovers are located on. The general optimizer
    solves only ``budgets[:n_exact]`` and :data:`_NODES` log-spaced nodes over the fine grid's
    span; the fine grid gets a cubic spline of loss and ``log N`` in ``log C`` through the
    nodes (de Boor 1978, "not-a-knot" ends), whose error on these smooth frontiers is far
    below the bootstrap spread, at a tenth of the solves.
    """
    from tsbudget.planning.closed_form import parameter_arrays

    res, spec = system.fit, system.spec
    law = res.law
    ok = ~res.draws["failed"].values
    point = {k: np.asarray(v, float) for k, v in law.values.items()}
    drawn = {k: np.where(ok, np.asarray(res.draws[k].values, float), np.nan) if k in res.draws
             else np.full(ok.size, v) for k, v in law.values.items()}
    variables = _variables_for(spec)
    if spec["frontier"] == "fixed_data":
        return _fixed_data(res, law, point, drawn, variables, budgets)
    from tsbudget.registry import costmodels, units

    cm = costmodels.resolve(spec["cost_model"], **dict(spec.get("cost_settings") or {}))
    un = units.resolve(spec["unit"])
    cm_vars = {k: v for k, v in variables.items() if k in {x.name for x in cm.variables}}
    from tsbudget.planning.closed_form import linear_cost_coefficient

    k = linear_cost_coefficient(cm, un, cm_vars)
    pc = _chinchilla_params(law, point, variables)
    if k is not None and pc is not None:
        from tsbudget.planning.closed_form import closed_form_budget

        dc = _chinchilla_params(law, {n: v[:, None] for n, v in drawn.items()}, variables)
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
    runs = res.runs
    logc, logn = np.log(runs["flops"].to_numpy()), np.log(runs["N"].to_numpy())
    if np.ptp(logn) <= 0:
        raise InputError("frontier='fixed_data' needs runs of at least two model sizes per system")
    b, a = np.polyfit(logc, logn, 1)  # the runs' own cost curve: log N = a + b log C
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


# ---------------------------------------------------------------------------- statistics
def _p_less(a: np.ndarray, b: np.ndarray, paired: bool) -> float:
    """P(a < b) + ½·P(a = b) over draws (per index when paired, all pairs otherwise)."""
    if paired:
        m = np.isfinite(a) & np.isfinite(b)
        if not m.any():
            return math.nan
        return float(np.mean((a[m] < b[m]) + 0.5 * (a[m] == b[m])))
    a, b = a[np.isfinite(a)], np.sort(b[np.isfinite(b)])
    if a.size == 0 or b.size == 0:
        return math.nan
    below = b.size - np.searchsorted(b, a, side="right")  # b > a
    ties = np.searchsorted(b, a, side="right") - np.searchsorted(b, a, side="left")
    return float((below + 0.5 * ties).sum() / (a.size * b.size))


def _p_best(L: np.ndarray) -> np.ndarray:
    """``L`` (systems, draws); share of draws where each system is lowest, ties split."""
    m = np.all(np.isfinite(L), axis=0)
    if not m.any():
        return np.full(L.shape[0], np.nan)
    sub = L[:, m]
    low = sub == sub.min(axis=0, keepdims=True)
    return (low / low.sum(axis=0, keepdims=True)).mean(axis=1)


def _roots(logc: np.ndarray, diff: np.ndarray) -> np.ndarray:
    """Zeros of ``diff`` over ``logc``: grid points where it is exactly 0, and sign changes
    between neighbours, linearly interpolated; sorted."""
    s = np.sign(diff)
    idx = np.flatnonzero((s[:-1] * s[1:] < 0) & np.isfinite(diff[:-1]) & np.isfinite(diff[1:]))
    x0, x1, y0, y1 = logc[idx], logc[idx + 1], diff[idx], diff[idx + 1]
    return np.sort(np.concatenate([x0 - y0 * (x1 - x0) / (y1 - y0), logc[diff == 0]]))


# ------------------------------------------------------------------------------- result
@attrs.frozen(eq=False, repr=False)
class Comparison:
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

    @property
    def winners(self) -> list[str]:
        """The point-estimate best system at each budget."""
        return [str(x) for x in self.dataset["best"].values]

    def to_dict(self) -> dict:
        from tsbudget.cli.common import jsonable

        return jsonable({
            "systems": list(self.systems),
            "reference": self.reference,
            "reference_description": self.reference_description,
            "pairing": dict(self.pairing),
            "options": self.options,
            "frontier": self.table.to_dicts(),
            "crossovers": self.crossovers.to_dicts(),
            "fits": {k: {"law": f.law.name, "parameters": f.law.values, "success": bool(f.success),
                         "message": f.message, "n_runs": int(f.n_runs),
                         "n_failed_draws": int(f.draws.attrs.get("n_failed", 0))} for k, f in self.fits.items()},
        })

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def plot(self, path=None, *, title: str | None = None):
        """Frontiers with ``level`` bands, crossovers marked; extrapolated stretches dashed."""
        from tsbudget.plotting import _pyplot, _save

        plt = _pyplot()
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
        _save(fig, path)
        return fig

    def __repr__(self) -> str:
        o = self.options
        ok = all(bool(f.success) for f in self.fits.values())
        lines = [f"Comparison: {'success' if ok else 'some fits did not converge'}: {len(self.systems)} systems, "
                 f"{self.dataset.sizes['budget']} budgets, {o['n_draws']} bootstrap draws each "
                 f"({o['frontier']} frontier)"]
        if self.reference:
            lines.append(f"  reference: {self.reference}" + (f" ({self.reference_description})"
                                                             if self.reference_description else ""))
        lines.append("  budget      best" + "".join(f"  {s[:14]:>14}" for s in self.systems))
        ds = self.dataset
        for j, b in enumerate(ds["budget"].values):
            cells = []
            for s in self.systems:
                sub = ds.sel(system=s).isel(budget=j)
                mark = "*" if bool(sub["extrapolated"]) else " "
                p = float(sub["p_beats_reference"]) if self.reference else math.nan
                ptxt = f" p={p:.2f}" if self.reference and s != self.reference and math.isfinite(p) else ""
                cells.append(f"{float(sub['loss']):.4f}{mark}{ptxt}".rjust(16))
            lines.append(f"  {b:<10.3g}  {str(ds['best'].values[j])[:10]:<10}" + "".join(cells))
        lines.append("  (* = beyond the system's fitted FLOPs range; p = P(beats reference), ties count half)")
        if self.crossovers.height:
            lines.append("  crossovers:")
            for r in self.crossovers.iter_rows(named=True):
                lo = "—" if r["lower"] is None else f"{r['lower']:.3g}"
                hi = "—" if r["upper"] is None else f"{r['upper']:.3g}"
                lines.append(f"    {r['from_system']} → {r['to_system']} at {r['budget']:.4g} FLOPs "
                             f"[{lo}, {hi}] ({r['p_crossing']:.0%} of draws cross in range)"
                             + ("; extrapolated: beyond a fitted FLOPs range" if r["extrapolated"] else ""))
        else:
            lines.append("  crossovers: none in the budget range")
        lines.append("  diagnostics:")
        for s, f in self.fits.items():
            nf = int(f.draws.attrs.get("n_failed", 0))
            lines.append(f"    {s}: {f.law.name} on {f.n_runs} runs; {f.message}; {nf} failed draws; "
                         f"{self.pairing[s]}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------- main
def compare(
    runs,
    by: str = "router",
    *,
    law="chinchilla",
    reference: str | None = None,
    budgets=None,
    n_draws: int = 200,
    seed: int = 0,
    executor=None,
    cost_model="dense",
    unit="tokens",
    columns: Mapping[str, str] | None = None,
    variables: Mapping[str, float] | None = None,
    fit_options: Mapping | None = None,
    systems: Mapping[str, Mapping] | None = None,
    frontier: str = "optimal",
    cluster: str | None = None,
    level: float = 0.95,
    progress=None,
    pair_on: str | None = None,
    paired: bool = True,
) -> Comparison:
    """Fit, bootstrap and compare several systems along their frontiers (module docstring).

    ``runs``: one table with a system column ``by``, or a mapping label -> table.
    ``law``, ``cost_model``, ``unit``, ``columns`` (canonical name -> column), ``variables``
    (cost-model/law variables held at a value along the frontier, e.g. ``{"experts": 64}``),
    ``fit_options`` (keywords of :func:`tsbudget.fitting.fit.fit`), ``pair_on`` (the shared
    resampling key: whole groups of runs sharing this column are resampled, and paired
    across systems; ``"flops"`` groups nearby budgets; default single runs in
    (flops, N, D, loss) order; see the module docstring),
    ``cluster`` (the older name of ``pair_on``), ``frontier``: defaults for every system;
    ``systems`` maps a label to overrides of any of them. ``paired=False`` resamples each
    system from its own stream instead of the shared one. ``reference``: a system label
    or a registered reference (:mod:`tsbudget.comparisons.references`). ``budgets``: FLOPs (default
    1e18..1e22, 9). ``executor``: passed to each bootstrap.
    """
    from tsbudget.uncertainty.bootstrap import check_draw_options
    from tsbudget.comparisons.references import match_reference

    budgets = np.unique(check_draw_options(n_draws, level, budgets, DEFAULT_COMPARE_BUDGETS))
    tables = _split(runs, by)
    if systems:
        unknown = set(systems) - set(tables)
        if unknown:
            raise InputError(f"systems: no runs labelled {sorted(unknown)[0]!r}; systems are {sorted(tables)}")
    defaults = {"law": law, "cost_model": cost_model, "unit": unit, "columns": dict(columns or {}) or None,
                "variables": dict(variables or {}), "fit_options": dict(fit_options or {}), "cluster": cluster,
                "pair_on": pair_on, "frontier": frontier, "cost_settings": None}
    labels = sorted(tables)
    ref_label, ref_obj = (None, None)
    if reference is not None:
        ref_label, ref_obj = match_reference(str(reference), labels)

    from tsbudget.uncertainty.bootstrap import bootstrap

    specs = {lab: _spec(lab, defaults, systems) for lab in labels}
    frames = {lab: _canonical(tables[lab]) for lab in labels}
    points = {lab: _fit_point(lab, frames[lab], specs[lab]) for lab in labels}
    units = {lab: _units(lab, frames[lab], points[lab], specs[lab]["pair_on"]) for lab in labels}
    keys = {lab: _content_key(points[lab].runs) for lab in labels}
    if paired:
        shared = _draw_uniforms(int(seed), int(n_draws), max(u.size for u in units.values()))
        uniforms = {lab: shared for lab in labels}
    else:
        uniforms = {lab: _draw_uniforms(_seed_for(seed, keys[lab]), int(n_draws), units[lab].size) for lab in labels}
    fitted = {}
    for lab in labels:
        res = bootstrap(points[lab], int(n_draws), seed=int(seed), indices=_indices(units[lab], uniforms[lab]),
                        executor=executor, level=level, progress=progress)
        u = units[lab]
        res = attrs.evolve(res, draws=res.draws.assign_attrs(
            cluster=u.on or "none", n_clusters=u.size,
            resampling=(f"{'paired' if paired else 'independent'} draws over {u.describe()}"
                        + (f" of {u.on!r}, whole groups" if u.on else "") + " (tsbudget.comparisons.compare)")))
        fitted[lab] = _System(lab, specs[lab], res, keys[lab], units[lab])

    # frontiers on the union of the requested budgets and a fine grid for crossovers
    lo, hi = float(budgets.min()), float(budgets.max())
    fine = np.geomspace(lo, hi, _FINE) if hi > lo else budgets
    allb = np.concatenate([budgets, fine])
    S, B = len(labels), budgets.size
    Lp = np.empty((S, allb.size))
    Ld = np.empty((S, int(n_draws), allb.size))
    Np = np.empty((S, allb.size))
    Nd = np.empty((S, int(n_draws), allb.size))
    methods = {}
    for i, lab in enumerate(labels):
        lp, ld, npnt, nd, how = _frontier(fitted[lab], allb, B)
        Lp[i], Ld[i], Np[i], Nd[i], methods[lab] = lp, ld, npnt, nd, how
    if not np.all(np.isfinite(Lp)):
        bad = labels[int(np.flatnonzero(~np.all(np.isfinite(Lp), axis=1))[0])]
        raise FitError(f"system {bad!r}: its fitted frontier is not finite over the budgets {lo:g}..{hi:g}")

    pairing = _pairing_notes(labels, units, ref_label or labels[0], bool(paired))

    # per-budget statistics on the requested budgets
    a = (1 - level) / 2
    q = np.nanquantile(Ld[:, :, :B], [0.5, a, 1 - a], axis=1)  # (3, S, B)
    best_idx = np.argmin(Lp[:, :B], axis=0)
    best = np.array([labels[i] for i in best_idx], dtype=object)
    p_best = np.stack([_p_best(Ld[:, :, j]) for j in range(B)], axis=1)  # (S, B)
    p_ref = np.full((S, B), np.nan)
    if ref_label is not None:
        r = labels.index(ref_label)
        for i, lab in enumerate(labels):
            for j in range(B):
                p_ref[i, j] = _p_less(Ld[i, :, j], Ld[r, :, j], bool(paired))
    fmin = np.array([fitted[lab].fit.runs["flops"].min() for lab in labels])
    fmax = np.array([fitted[lab].fit.runs["flops"].max() for lab in labels])
    nmin = np.array([fitted[lab].fit.runs["N"].min() for lab in labels])
    nmax = np.array([fitted[lab].fit.runs["N"].max() for lab in labels])
    rel = 1e-9
    extrap = (budgets[None, :] > fmax[:, None] * (1 + rel)) | (budgets[None, :] < fmin[:, None] * (1 - rel))
    n_extrap = (Np[:, :B] > nmax[:, None] * (1 + rel)) | (Np[:, :B] < nmin[:, None] * (1 - rel))

    crossovers = _crossovers(labels, fine, Lp[:, B:], Ld[:, :, B:], level, fmin, fmax)
    n_meaning = {"optimal": "compute-optimal N", "fixed_data": "N whose run costs the budget (the runs' cost curve)"}
    n_long = "; ".join(sorted({f"{lab}: {n_meaning[fitted[lab].spec['frontier']]}" for lab in labels}))
    if len({fitted[lab].spec["frontier"] for lab in labels}) == 1:
        n_long = n_meaning[fitted[labels[0]].spec["frontier"]]

    ds = xr.Dataset(
        {
            "loss": (("system", "budget"), Lp[:, :B], {"units": "loss (nats)", "long_name": "frontier loss, point fit"}),
            "loss_median": (("system", "budget"), q[0], {"units": "loss (nats)"}),
            "loss_lower": (("system", "budget"), q[1], {"units": "loss (nats)"}),
            "loss_upper": (("system", "budget"), q[2], {"units": "loss (nats)"}),
            "loss_draw": (("system", "draw", "budget"), Ld[:, :, :B], {"units": "loss (nats)"}),
            "N": (("system", "budget"), Np[:, :B], {"units": "parameters", "long_name": n_long}),
            "N_draw": (("system", "draw", "budget"), Nd[:, :, :B], {"units": "parameters", "long_name": n_long}),
            "p_best": (("system", "budget"), p_best, {"units": "1"}),
            "p_beats_reference": (("system", "budget"), p_ref, {"units": "1", "ties": "count one half"}),
            "extrapolated": (("system", "budget"), extrap, {"long_name": "budget outside the fitted FLOPs range"}),
            "n_extrapolated": (("system", "budget"), n_extrap, {"long_name": "frontier N outside the fitted N range"}),
            "best": (("budget",), best, {"long_name": "point-estimate winner"}),
            "fitted_flops_min": (("system",), fmin, {"units": "FLOPs"}),
            "fitted_flops_max": (("system",), fmax, {"units": "FLOPs"}),
        },
        coords={"budget": ("budget", budgets, {"units": "FLOPs"}), "system": list(labels),
                "draw": np.arange(int(n_draws))},
        attrs={"reference": ref_label or "", "level": float(level), "frontier": frontier,
               "pairing": json.dumps(pairing), "paired": int(bool(paired)), "methods": json.dumps(methods), "n_draws": int(n_draws),
               "seed": int(seed)},
    )
    rows = []
    for j, b in enumerate(budgets):
        for i, lab in enumerate(labels):
            rows.append((float(b), lab, float(Lp[i, j]), float(q[0, i, j]), float(q[1, i, j]), float(q[2, i, j]),
                         float(Np[i, j]), float(p_best[i, j]), None if math.isnan(p_ref[i, j]) else float(p_ref[i, j]),
                         best[j] == lab, bool(extrap[i, j]), bool(n_extrap[i, j])))
    table = pl.DataFrame(rows, orient="row", schema={
        "budget": pl.Float64, "system": pl.Utf8, "loss": pl.Float64, "median": pl.Float64, "lower": pl.Float64,
        "upper": pl.Float64, "N": pl.Float64, "p_best": pl.Float64, "p_beats_reference": pl.Float64,
        "best": pl.Boolean, "extrapolated": pl.Boolean, "n_extrapolated": pl.Boolean})
    options = {"by": by, "n_draws": int(n_draws), "seed": int(seed), "level": float(level), "frontier": frontier,
               "budgets": budgets.tolist(), "methods": methods, "paired": bool(paired),
               "pair_on": {lab: fitted[lab].spec["pair_on"] for lab in labels},
               "failed_draws": {lab: int((~np.all(np.isfinite(Ld[i, :, :B]), axis=1)).sum())
                                for i, lab in enumerate(labels)},
               "laws": {lab: getattr(fitted[lab].spec["law"], "name", str(fitted[lab].spec["law"])) for lab in labels}}
    return Comparison(table, crossovers, ds, tuple(labels), ref_label,
                      ref_obj.description if ref_obj is not None else "",
                      {lab: fitted[lab].fit for lab in labels}, pairing, options)


def _crossovers(labels, fine, Lp, Ld, level, fmin, fmax) -> pl.DataFrame:
    logc = np.log(fine)
    win = np.argmin(Lp, axis=0)
    rows = []
    a = (1 - level) / 2
    rel = 1e-9
    for t in np.flatnonzero(win[1:] != win[:-1]):
        i, k = int(win[t]), int(win[t + 1])
        roots = _roots(logc[t:t + 2], Lp[k, t:t + 2] - Lp[i, t:t + 2])
        x = float(roots[0]) if roots.size else 0.5 * (logc[t] + logc[t + 1])
        per = []
        for d in range(Ld.shape[1]):
            r = _roots(logc, Ld[k, d] - Ld[i, d])
            if r.size:
                per.append(r[np.argmin(np.abs(r - x))])
        per = np.asarray(per)
        lo = hi = None
        if per.size >= 2:
            lo, hi = (float(np.exp(v)) for v in np.quantile(per, [a, 1 - a]))
        c = float(np.exp(x))
        outside = any(c > fmax[s] * (1 + rel) or c < fmin[s] * (1 - rel) for s in (i, k))
        rows.append((c, lo, hi, labels[i], labels[k], per.size / Ld.shape[1], outside))
    return pl.DataFrame(rows, orient="row", schema={"budget": pl.Float64, "lower": pl.Float64, "upper": pl.Float64,
                                                    "from_system": pl.Utf8, "to_system": pl.Utf8,
                                                    "p_crossing": pl.Float64, "extrapolated": pl.Boolean})
