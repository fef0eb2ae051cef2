"""Loss to capability: a downstream metric as a function of the loss, fitted from (loss, metric) pairs.

Gadre et al. 2024 ("Language models scale reliably with over-training and on downstream
tasks", arXiv 2403.08540) relate a model's validation loss ``L`` to its average downstream
top-1 error by an exponential decay,

    metric(L) = ε − k·exp(−γ·L),

fitted by least squares on the metric (the authors' code, ``mlfoundations/scaling``,
``scaling/laws.py``: ``decay_ours(x, a, b, e) = e − a·exp(x)^(−b)``, fitted with
``scipy.optimize.curve_fit``). ``ε`` is the metric as the loss grows without bound (for an
error, chance level), ``k`` the scale and ``γ > 0`` the rate; ``exp(−γL)`` is a power of the
perplexity ``exp(L)``. With ``k > 0`` the metric falls as the loss falls (an error rate);
with ``k < 0`` it rises (an accuracy, a skill score): the same form serves both.

Fit. For fixed ``γ`` the model is linear in ``(ε, k)`` (variable projection, Golub & Pereyra
1973, "The differentiation of pseudo-inverses and nonlinear least squares problems whose
variables separate", SIAM J. Numer. Anal. 10): the residual sum of squares is profiled over a
log-spaced grid of ``γ``, and the best grid point is polished by ``scipy.optimize.least_squares``
on all three parameters. The loss is centred on its mean inside the fit (``k`` is reported in
the paper's parameterisation).

Inversion. A metric target ``m`` becomes the loss target ``L = −ln((ε − m)/k)/γ``; it exists
when ``(ε − m)/k > 0`` (an error target below ``ε``, an accuracy target above it).

Uncertainty. Pairs are resampled with replacement and refitted (:mod:`tsbudget.resampling`,
warm-started from the point fit); intervals are percentile intervals of the draws (Efron &
Tibshirani 1993, ch. 13; :func:`tsbudget.percentiles.percentile_interval`). A loss target's
interval inverts the target through every draw. A plan's loss interval is carried to the
metric by the link's draws at the interval's ends: the lower end of the metric interval is the
``(1 − level)/2`` quantile over draws of the metric at the loss end that gives the smaller
metric, the upper end likewise; both sources of uncertainty are in it, conservatively (it is
at least as wide as either alone).
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from tsbudget.errors import FitError, InputError, SchemaError
from tsbudget.percentiles import percentile_interval
from tsbudget.report import Report, fmt, jsonable

__all__ = ["CapabilityFit", "fit_capability", "gadre_loss", "gadre_metric"]

CITATION = "Gadre et al. 2024, arXiv 2403.08540 (metric = ε − k·exp(−γ·L))"
#: γ·(spread of the losses) searched by the profile grid: from nearly straight (1e-2) to a
#: decay over a hundredth of the range (1e2); a fit at either edge is flagged.
GAMMA_SPAN = (1e-2, 1e2)
GRID_POINTS = 241
MIN_PAIRS = 4  # three parameters and at least one degree of freedom


def gadre_metric(loss, epsilon, k, gamma) -> np.ndarray:
    """``ε − k·exp(−γ·L)`` (Gadre et al. 2024); broadcasts."""
    return np.asarray(epsilon, float) - np.asarray(k, float) * np.exp(-np.asarray(gamma, float) * np.asarray(loss, float))


def gadre_loss(metric, epsilon, k, gamma) -> np.ndarray:
    """The loss at which ``ε − k·exp(−γ·L)`` equals ``metric``: ``−ln((ε − m)/k)/γ``; NaN where
    the metric is out of the link's reach (``(ε − m)/k <= 0``). Broadcasts."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (np.asarray(epsilon, float) - np.asarray(metric, float)) / np.asarray(k, float)
        return np.where(ratio > 0, -np.log(np.where(ratio > 0, ratio, 1.0)) / np.asarray(gamma, float), np.nan)


def _profile(L: np.ndarray, m: np.ndarray, gammas: np.ndarray):
    """Least-squares ``(ε, k', rss)`` of ``m = ε − k'·exp(−γ·L)`` for every ``γ`` of ``gammas`` (``L`` centred)."""
    x = -np.exp(-gammas[:, None] * L[None, :])
    xm, mm = x.mean(axis=1), m.mean()
    dx = x - xm[:, None]
    sxx = np.einsum("gi,gi->g", dx, dx)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(sxx > 0, dx @ (m - mm) / sxx, 0.0)
    eps = mm - slope * xm
    rss = np.sum((m[None, :] - eps[:, None] - slope[:, None] * x) ** 2, axis=1)
    return eps, slope, rss


def _fit(L: np.ndarray, m: np.ndarray, start=None):
    """``(ε, k, γ, rss, at_edge)`` of the least-squares fit to pairs ``(L, m)`` (see the module docstring)."""
    from scipy.optimize import least_squares

    center = float(L.mean())
    Lc = L - center
    spread = float(np.ptp(L))
    lo, hi = GAMMA_SPAN[0] / spread, GAMMA_SPAN[1] / spread
    if start is None:
        gammas = np.geomspace(lo, hi, GRID_POINTS)
        eps, kc, rss = _profile(Lc, m, gammas)
        j = int(np.argmin(rss))
        x0 = np.array([eps[j], kc[j], math.log(gammas[j])])
    else:
        eps0, k0, g0 = start
        x0 = np.array([eps0, k0 * math.exp(-g0 * center), math.log(g0)])

    def residual(p):
        return p[0] - p[1] * np.exp(-np.exp(p[2]) * Lc) - m

    def jacobian(p):
        e = np.exp(-np.exp(p[2]) * Lc)
        return np.column_stack([np.ones_like(Lc), -e, p[1] * np.exp(p[2]) * Lc * e])

    x0[2] = min(max(x0[2], math.log(lo)), math.log(hi))
    res = least_squares(residual, x0, jac=jacobian, bounds=([-np.inf, -np.inf, math.log(lo)],
                                                            [np.inf, np.inf, math.log(hi)]),
                        x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-12)
    eps, kc, lg = (float(v) for v in res.x)
    gamma = math.exp(lg)
    at_edge = bool(lg - math.log(lo) < 1e-6 or math.log(hi) - lg < 1e-6)
    return eps, kc * math.exp(gamma * center), gamma, float(np.sum(res.fun**2)), at_edge


def _pairs(pairs, loss: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    from tsbudget.tables import as_table, check_numbers

    df = as_table(pairs, name="capability pairs")
    for col in (loss, metric):
        if col not in df.columns:
            raise SchemaError(f"capability pairs lack the column {col!r}; columns present: {', '.join(df.columns)}")
        check_numbers(df, col, minimum=0 if col == loss else None, name="capability pairs")
    L = df[loss].cast(float).to_numpy()
    m = df[metric].cast(float).to_numpy()
    if L.size < MIN_PAIRS:
        raise InputError(f"capability pairs: {L.size} pairs cannot fit 3 parameters with a residual; "
                         f"give at least {MIN_PAIRS}")
    if np.unique(L).size < 3:
        raise InputError(f"capability pairs: column {loss!r} has {np.unique(L).size} distinct value(s); the link "
                         "needs at least 3 distinct losses")
    return L, m


def _level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise InputError(f"level must be a number in (0, 1), got {level!r}")
    return float(level)


def _interval(values, level) -> tuple[float | None, float | None]:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size < 3:
        return None, None
    lo, hi = percentile_interval(v, level)
    return float(lo), float(hi)


@attrs.frozen(eq=False, repr=False)
class CapabilityFit(Report):
    """A fitted link ``metric = ε − k·exp(−γ·L)`` (Gadre et al. 2024) with bootstrap draws.

    ``draws`` holds ``epsilon``, ``k`` and ``gamma`` per draw (NaN for a failed draw), or is
    ``None`` without a bootstrap. Use :meth:`predict`, :meth:`metric_at` (metric and interval
    at a loss), :meth:`loss_for` (the loss a metric target needs, with its interval) and
    :meth:`metric_for_interval` (a plan's loss interval carried to the metric).
    """

    epsilon: float
    k: float
    gamma: float
    rss: float
    loss_values: np.ndarray
    metric_values: np.ndarray
    draws: dict | None
    options: dict
    notes: tuple = ()

    def title(self) -> str:
        return "Capability link"

    @property
    def n_pairs(self) -> int:
        return int(self.loss_values.size)

    @property
    def rmse(self) -> float:
        """Residual standard error ``√(RSS/(n − 3))``."""
        return math.sqrt(self.rss / (self.n_pairs - 3)) if self.n_pairs > 3 else math.nan

    @property
    def direction(self) -> str:
        return "falls" if self.k > 0 else "rises"

    def predict(self, loss) -> np.ndarray:
        """The metric at ``loss`` under the point fit."""
        return gadre_metric(loss, self.epsilon, self.k, self.gamma)

    def _draw_arrays(self):
        d = self.draws
        return (None if d is None else (np.asarray(d["epsilon"]), np.asarray(d["k"]), np.asarray(d["gamma"])))

    def metric_at(self, loss: float, level: float | None = None) -> dict:
        """``{"loss", "metric", "lower", "upper"}``: the metric at ``loss`` and its interval over draws."""
        loss = _finite(loss, "loss")
        level = self.options["level"] if level is None else _level(level)
        out = {"loss": loss, "metric": float(self.predict(loss)), "lower": None, "upper": None, "level": level}
        arrays = self._draw_arrays()
        if arrays is not None:
            out["lower"], out["upper"] = _interval(gadre_metric(loss, *arrays), level)
        return out

    def loss_for(self, metric: float, level: float | None = None) -> dict:
        """The loss target a metric target needs, with its interval over draws.

        ``{"metric", "loss", "lower", "upper", "safe", "reachable", "extrapolates", "note"}``:
        ``reachable`` is the fraction of draws under which the target can be reached at all;
        ``safe`` the loss that reaches the target under ``(1 + level)/2`` of the draws. Whatever
        the sign of ``k``, a loss ``L`` reaches the target under a draw exactly when ``L`` is at
        most the loss that draw needs, so ``safe`` is the ``(1 − level)/2`` quantile of the
        needed losses, a draw that cannot reach the target at all counting as needing −∞
        (``None`` when more than that share of draws cannot reach it);
        ``extrapolates`` says the loss target lies outside the losses of the pairs.
        Raises :class:`~tsbudget.errors.InputError` when the point fit cannot reach the target."""
        metric = _finite(metric, "target metric")
        level = self.options["level"] if level is None else _level(level)
        point = float(gadre_loss(metric, self.epsilon, self.k, self.gamma))
        if not math.isfinite(point):
            side = "below" if self.k > 0 else "above"
            grows = "rises" if self.k > 0 else "falls"  # the opposite of what it does as the loss falls
            raise InputError(f"target metric {metric:g} is out of the link's reach: the metric {grows} "
                             f"towards ε = {self.epsilon:.4g} as the loss grows and never crosses it; give a target "
                             f"{side} {self.epsilon:.4g}")
        if point <= 0:
            raise InputError(f"target metric {metric:g} needs a loss of {point:.4g} under the link: a loss is > 0, "
                             f"so no model reaches it; give a target the pairs' losses can reach")
        out = {"metric": metric, "loss": point, "lower": None, "upper": None, "safe": None, "reachable": None,
               "level": level}
        arrays = self._draw_arrays()
        if arrays is not None:
            losses = gadre_loss(metric, *arrays)
            ok = np.isfinite(arrays[0])
            out["reachable"] = float(np.mean(np.isfinite(losses[ok]))) if ok.any() else None
            out["lower"], out["upper"] = _interval(losses, level)
            needed = np.where(np.isfinite(losses), losses, -np.inf)[ok]
            if needed.size >= 3:
                safe = float(np.quantile(needed, (1 - level) / 2, method="lower"))
                out["safe"] = safe if math.isfinite(safe) else None
        lo, hi = float(self.loss_values.min()), float(self.loss_values.max())
        out["extrapolates"] = not (lo <= point <= hi)
        out["note"] = (f"the loss target {point:.4g} lies outside the losses of the pairs ({lo:.4g}..{hi:.4g}): "
                       "an extrapolation of the link" if out["extrapolates"] else "")
        return out

    def metric_for_interval(self, loss: float, lower: float | None = None, upper: float | None = None,
                            level: float | None = None) -> dict:
        """A plan's loss (and its interval, when given) carried to the metric, with the link's
        uncertainty (see the module docstring): ``{"loss", "metric", "lower", "upper", ...}``."""
        at = self.metric_at(loss, level)
        if lower is None and upper is None:
            return {**at, "loss_lower": None, "loss_upper": None, "sources": "link draws"}
        lower, upper = _finite(lower, "loss interval lower end"), _finite(upper, "loss interval upper end")
        if lower > upper:
            raise InputError(f"loss interval lower end {lower:g} is above its upper end {upper:g}")
        arrays = self._draw_arrays()
        ends = np.array([lower, upper])
        if arrays is None:
            values = self.predict(ends)
            lo, hi = float(values.min()), float(values.max())
        else:
            values = gadre_metric(ends[:, None], *(a[None, :] for a in arrays))  # (2, draws)
            small, large = np.minimum(values[0], values[1]), np.maximum(values[0], values[1])
            lo = _interval(small, at["level"])[0]
            hi = _interval(large, at["level"])[1]
        return {**at, "lower": lo, "upper": hi, "loss_lower": lower, "loss_upper": upper,
                "sources": "loss interval and link draws" if arrays is not None else "loss interval"}

    def parameter_intervals(self, level: float | None = None) -> dict:
        level = self.options["level"] if level is None else _level(level)
        out = {}
        for name in ("epsilon", "k", "gamma"):
            point = float(getattr(self, name))
            lo, hi = (None, None) if self.draws is None else _interval(self.draws[name], level)
            out[name] = {"value": point, "lower": lo, "upper": hi}
        return out

    def headline(self) -> str:
        return (f"{self.title()}: {self.options['metric']} = ε − k·exp(−γ·{self.options['loss']}) fitted to "
                f"{self.n_pairs} pairs (Gadre et al. 2024); the metric {self.direction} as the loss falls")

    def estimate_lines(self) -> list[str]:
        lines = []
        pct = round(100 * self.options["level"])
        for name, d in self.parameter_intervals().items():
            band = f" ({pct}% interval {fmt(d['lower'])} .. {fmt(d['upper'])})" if d["lower"] is not None else ""
            lines.append(f"{name} = {fmt(d['value'])}{band}")
        return lines

    def diagnostic_lines(self) -> list[str]:
        lines = [f"residual sd {fmt(self.rmse)} in the metric; losses {fmt(float(self.loss_values.min()))} .. "
                 f"{fmt(float(self.loss_values.max()))}"]
        if self.draws is not None:
            lines.append(f"{self.options['n_bootstrap']} bootstrap draws (pairs resampled, seed "
                         f"{self.options['seed']}), {self.options['n_failed']} failed")
        lines.extend(self.notes)
        return lines

    def to_dict(self) -> dict:
        return jsonable({"citation": CITATION, "form": "metric = epsilon - k*exp(-gamma*loss)",
                         "parameters": self.parameter_intervals(), "rss": self.rss, "rmse": self.rmse,
                         "n_pairs": self.n_pairs, "loss_range": [float(self.loss_values.min()),
                                                                  float(self.loss_values.max())],
                         "notes": list(self.notes), "options": self.options})


def _finite(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise InputError(f"{name} must be finite, got {value!r}")
    return v


def fit_capability(pairs, *, loss: str = "loss", metric: str = "metric", n_bootstrap: int = 1000, seed: int = 0,
                   level: float = 0.95) -> CapabilityFit:
    """Fit ``metric = ε − k·exp(−γ·loss)`` (Gadre et al. 2024) to (loss, metric) pairs.

    ``pairs``: a table (polars, pandas, dict of lists) with the columns ``loss`` and
    ``metric`` (names given by the keywords), one row per evaluated model.
    ``n_bootstrap``: draws for the intervals (0: none); ``seed``: their seed; ``level``:
    the interval level. Raises :class:`~tsbudget.errors.SchemaError` for a missing or bad
    column, :class:`~tsbudget.errors.InputError` for too few pairs or a bad option, and
    :class:`~tsbudget.errors.FitError` when the least-squares fit fails.
    """
    from tsbudget.resampling import resample_indices

    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 0 \
            or n_bootstrap == 1:
        raise InputError(f"n_bootstrap must be 0 (no interval) or an integer >= 2, got {n_bootstrap!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    level = _level(level)
    L, m = _pairs(pairs, loss, metric)
    eps, k, gamma, rss, at_edge = _fit(L, m)
    if not all(math.isfinite(v) for v in (eps, k, gamma, rss)):
        raise FitError(f"the capability fit did not converge (epsilon={eps}, k={k}, gamma={gamma})")
    notes = []
    if at_edge:
        notes.append(f"γ = {gamma:.3g} is at the edge of its search range (γ·loss spread in {GAMMA_SPAN}): the pairs "
                     "barely curve, so ε and k are poorly separated; a target far from the pairs is unreliable")
    draws, n_failed = None, 0
    if n_bootstrap:
        out = np.full((n_bootstrap, 3), np.nan)
        for i, idx in enumerate(resample_indices(L.size, int(n_bootstrap), int(seed))):
            if np.unique(L[idx]).size < 3:
                continue
            try:
                e, kk, g, _, _ = _fit(L[idx], m[idx], start=(eps, k, gamma))
            except (ValueError, FloatingPointError):  # a degenerate resample: counted as failed
                continue
            out[i] = (e, kk, g)
        bad = ~np.all(np.isfinite(out), axis=1)
        out[bad] = np.nan
        n_failed = int(bad.sum())
        draws = {"epsilon": out[:, 0], "k": out[:, 1], "gamma": out[:, 2]}
    options = {"loss": loss, "metric": metric, "n_bootstrap": int(n_bootstrap), "seed": int(seed), "level": level,
               "n_failed": n_failed}
    return CapabilityFit(eps, k, gamma, rss, L, m, draws, options, tuple(notes))
