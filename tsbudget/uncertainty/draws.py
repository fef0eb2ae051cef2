"""Parametric draws: a multivariate normal fitted to a bootstrap (Besiroglu et al. 2024 notebook)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import attrs
import numpy as np
import xarray as xr

from tsbudget.errors import InputError
from tsbudget.uncertainty.bootstrap import check_draw_options
from tsbudget.uncertainty.derived import DERIVED_UNITS, bootstrap_draws, derived_quantities

__all__ = ["normal_draws"]


def normal_draws(
    result,
    n_draws: int = 10_000,
    *,
    seed: int = 0,
    space: str = "fit",
    mean=None,
    budgets=None,
    level: float | None = None,
):
    """``result`` with ``draws`` replaced by parameter draws from a multivariate normal
    fitted to its bootstrap draws (a parametric approximation of the bootstrap
    distribution), and the derived quantities of each draw.

    ``θ ~ N(μ, Σ)`` over the free parameters, where ``Σ`` is the sample covariance
    (``ddof=1``) of the successful bootstrap draws and ``μ`` the point estimate (or
    ``mean``, a law or name -> value mapping). ``space="fit"`` (default) draws in fit
    coordinates, ``(log E, log A, log B, α, β)`` for the Chinchilla law, and maps back
    with ``exp``; ``space="natural"`` draws the values themselves. Besiroglu et al. 2024
    (replication notebook ``data_analysis.ipynb`` in epoch-research/analyzing-chinchilla,
    section "Comparing optimal scaling policies") draw 10,000 vectors
    ``(log A, log B, log E, α, β)`` from a multivariate normal with their estimate as
    mean and the covariance of their bootstrap estimates, and take the median of the
    optimal tokens per parameter over them; ``space="fit"`` with their estimate as
    ``mean`` is that procedure. Derived quantities use the closed form of Hoffmann et al.
    2022 App. D.2 eq. 4 at ``budgets`` (default: the bootstrap's).

    Draws outside the parameters' domain (a non-positive scale or exponent, possible
    with ``space="natural"``) are *failed*: NaN, flagged in ``failed`` and counted in
    ``draws.attrs["n_failed"]``, so :func:`intervals` and the planner leave them out.
    The draws are reproducible from ``seed`` (``numpy.random.default_rng(seed)``, Cholesky
    factor of ``Σ``).
    """
    if space not in ("fit", "natural"):
        raise InputError(f"space must be 'fit' or 'natural', got {space!r}")
    boot = bootstrap_draws(result)
    if "failed" not in boot or "budget" not in boot.coords:
        raise InputError("normal_draws needs bootstrap draws (tsbudget.uncertainty.bootstrap), not other draws")
    level = float(boot.attrs.get("level", 0.95)) if level is None else float(level)
    budgets = check_draw_options(n_draws, level, budgets, boot["budget"].values)
    law = result.law
    fixed = dict(result.fixed or {})
    free = [p for p in law.parameters if p.name not in fixed]
    ok = ~boot["failed"].values
    if ok.sum() < len(free) + 1:
        raise InputError(f"normal_draws needs at least {len(free) + 1} successful bootstrap draws to estimate the "
                         f"covariance of {len(free)} parameters; this bootstrap has {int(ok.sum())}")

    def coords(p, v):
        v = np.asarray(v, dtype=float)
        return np.log(v) if space == "fit" and p.log else v

    center = dict(law.values)
    if mean is not None:
        given = mean.values if hasattr(mean, "values") and not isinstance(mean, Mapping) else dict(mean)
        unknown = set(given) - set(center)
        if unknown:
            raise InputError(f"mean: law {law.name!r} has no parameter {sorted(unknown)[0]!r}; it has {list(center)}")
        center.update({k: float(v) for k, v in given.items()})
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.array([coords(p, center[p.name]) for p in free], dtype=float)
        sample = np.stack([coords(p, boot[p.name].values[ok]) for p in free])
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sample))):
        raise InputError(f"normal_draws: the mean or the bootstrap draws are outside the domain of space={space!r} "
                         "(a non-positive value of a log parameter)")
    cov = np.atleast_2d(np.cov(sample, ddof=1))
    # Cholesky (unique for a positive-definite Σ): the same draws on every platform, unlike
    # an SVD whose signs depend on the LAPACK build
    try:
        theta = np.random.default_rng(seed).multivariate_normal(mu, cov, size=int(n_draws), method="cholesky")
    except np.linalg.LinAlgError:
        raise InputError("normal_draws: the bootstrap covariance is singular (a parameter that never varies?); "
                         "fix that parameter in the fit") from None

    values = {}
    for name, v in center.items():
        values[name] = np.full(int(n_draws), float(v))
    for j, p in enumerate(free):
        values[p.name] = np.exp(theta[:, j]) if space == "fit" and p.log else theta[:, j]
    failed = np.zeros(int(n_draws), dtype=bool)
    for p in free:
        v = values[p.name]
        failed |= ~np.isfinite(v) | (v < p.lower) | (v > p.upper)
        if p.name in ("A", "B", "alpha", "beta"):  # the closed form needs positive scales and exponents
            failed |= v <= 0
    for v in values.values():
        v[failed] = math.nan

    k = float(boot.attrs.get("flops_per_param_position", 6.0))
    unit = str((result.options or {}).get("unit", "tokens"))
    data = {n: ("draw", values[n], {"units": "1", "fixed": int(n in fixed)}) for n in center}
    data["success"] = ("draw", ~failed, {"long_name": "draw inside the parameters' domain"})
    data["failed"] = ("draw", failed, {"long_name": "draw outside the parameters' domain"})
    for name, arr in derived_quantities(law, values, budgets, k).items():
        data[name] = (("draw", "budget") if arr.ndim == 2 else "draw", arr,
                      {"units": DERIVED_UNITS[name].format(unit=unit)})
    names = ", ".join(("log " if space == "fit" and p.log else "") + p.name for p in free)
    draws = xr.Dataset(
        data,
        coords={"draw": np.arange(int(n_draws)), "budget": ("budget", budgets, {"units": "FLOPs"})},
        attrs={
            "law": law.name,
            "seed": int(seed),
            "n_draws": int(n_draws),
            "n_failed": int(failed.sum()),
            "n_unconverged": 0,
            "level": level,
            "cluster": "none",
            "method": "normal",
            "space": space,
            "resampling": (f"multivariate normal in ({names}) with the covariance of {int(ok.sum())} bootstrap "
                           "draws (Besiroglu et al. 2024 notebook)"),
            "flops_per_param_position": k,
            "point_estimate": json.dumps(law.values),
            "mean": json.dumps({p.name: float(center[p.name]) for p in free}),
            "covariance": json.dumps(cov.tolist()),
        },
    )
    return attrs.evolve(result, draws=draws)
