"""Regime-aware effective data: each regime's repeats decay with their own constant R*.

A time-series corpus is mostly normal state (the same quiet pattern again and again) with
rare regimes and interventions in between. Muennighoff et al. 2023 (eq. 5) value the k-th
repeat of a unit at ``exp(−k/R*)`` of a fresh one. Applying that per regime ``r``, with
``U_r`` unique units, ``D_r`` trained units drawn from the regime and ``R_r = D_r/U_r − 1``::

    D' = Σ_r U_r·(1 + R*_r·(1 − exp(−R_r/R*_r)))          (D_r = D_total · mix_r)

and ``D'_r = D_r`` while ``D_r <= U_r`` (no repeat yet), exactly as
:func:`tsbudget.timeseries.effective_data.effective_data`, which this module reuses term by term.

Default decay constants (:data:`DEFAULT_R_STAR`)
------------------------------------------------
No published fit of R* exists for time series, so the defaults are stated assumptions that
a user should replace by fitting R* per regime on their own runs (see "Fitting R* per
regime" below):

- ``rare``, ``intervention`` and any other label: ``R* = 15.387756``, Muennighoff et al.
  2023's C4 fit (their repository's ``R_D*``). A rare or intervention window is as
  information-dense as a repeated text document, and it is not already a near-copy of
  other windows, so its repeats should decay no faster than text repeats do.
- ``normal``: ``R* = 5.0``, three times faster decay than text. Normal-state windows are
  grouped because, after per-window normalisation, they differ only by noise below the
  grouping threshold: one group's members are already repeats of one pattern, and a further
  pass mostly re-teaches that pattern plus noise. With ``R* = 5`` four epochs are worth
  ``1 + 5·(1 − e^{−3/5}) = 3.26`` fresh ones (text: 3.73) and the plateau is 6 unique-
  equivalents (text: 16.39). The value is a judgement, not a measurement; it only sets the
  ordering "normal repeats lose value faster than rare ones", which is what changes a plan.

Fitting R* per regime
---------------------
Train small runs on data drawn from one regime only, each with its own model size ``N``,
unique data ``U`` (that regime's distinct units) and trained data ``D`` (so ``D/U − 1``
repetitions), and fit the data-constrained law (Muennighoff et al. 2023 eq. 5–7,
:class:`tsbudget.laws.data_constrained.DataConstrained`) with ``R_D_star`` free. Its fitted
``R_D_star`` is that regime's ``R*``; :meth:`RegimeData.with_fitted_r_star` puts it in::

    from tsbudget.fitting.fit import fit
    res = fit(normal_runs, law="data_constrained", columns={"N": "params", "D": "windows_seen",
              "U": "unique_windows", "loss": "loss"})
    data = report.regime_data.with_fitted_r_star("normal", res)

R* counts repetitions (a ratio ``D/U``), so it does not depend on the unit the runs count
``D`` and ``U`` in, as long as both use the same one. Fewer free parameters make the fit
cheaper and steadier: hold the Chinchilla terms fixed at a fit on fresh data
(``fixed={"E": ..., "A": ..., ...}``) and fit ``R_D_star`` alone.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import numpy as np

from tsbudget.timeseries.effective_data import MUENNIGHOFF_R_D, effective_data
from tsbudget.errors import FitError, InputError
from tsbudget.report import fmt

__all__ = [
    "DEFAULT_R_STAR",
    "NORMAL_R_STAR",
    "REGIMES_FORMAT",
    "RegimeData",
    "default_r_star",
    "fitted_r_star",
    "regime_effective_data",
]

#: the ``format`` field of a regimes file (:meth:`RegimeData.save`)
REGIMES_FORMAT = "tsbudget.regimes/1"
NORMAL_R_STAR = 5.0
# Regime name -> decay constant; names not listed use Muennighoff et al.'s R_D*.
DEFAULT_R_STAR: Mapping[str, float] = {
    "normal": NORMAL_R_STAR,
    "rare": MUENNIGHOFF_R_D,
    "intervention": MUENNIGHOFF_R_D,
}


def default_r_star(regime: str) -> float:
    """The default R* of a regime name (see the module docstring for the justification)."""
    return float(DEFAULT_R_STAR.get(str(regime), MUENNIGHOFF_R_D))


def fitted_r_star(fit_result, regime: str | None = None) -> float:
    """The decay constant ``R_D_star`` fitted by a data-constrained law fit.

    ``fit_result`` is a :class:`tsbudget.fitting.result.FitResult` of a law with an ``R_D_star``
    parameter (the ``data_constrained`` law, Muennighoff et al. 2023 eq. 5) fitted on runs
    that repeat one regime. Raises :class:`~tsbudget.errors.InputError` when it is not such
    a result or ``R_D_star`` was held fixed (nothing was fitted), and
    :class:`~tsbudget.errors.FitError` when the fit did not succeed. ``regime`` only names
    the regime in error messages.
    """
    what = f"fit for regime {regime!r}" if regime is not None else "fit"
    law = getattr(fit_result, "law", None)
    params = getattr(fit_result, "parameters", None)
    if law is None or not isinstance(params, Mapping) or not hasattr(fit_result, "fixed"):
        raise InputError(f"{what} must be a FitResult of the 'data_constrained' law, got {type(fit_result).__name__}")
    if "R_D_star" not in params:
        raise InputError(
            f"{what}: law {getattr(law, 'name', law)!r} has no R_D_star parameter; "
            f"fit the 'data_constrained' law (Muennighoff et al. 2023) on runs that repeat the regime"
        )
    if "R_D_star" in fit_result.fixed:
        raise InputError(
            f"{what}: R_D_star was held fixed at {fit_result.fixed['R_D_star']:g}, so the fit says nothing "
            f"about it; fit again with R_D_star free (or set a value with with_r_star)"
        )
    if not getattr(fit_result, "success", False):
        raise FitError(f"{what} did not succeed, so its R_D_star is not an estimate: {fit_result.message}")
    value = float(params["R_D_star"])
    if not value > 0:  # also NaN
        raise FitError(f"{what}: fitted R_D_star is {value!r}; it must be > 0")
    return value


def regime_effective_data(total, mix, unique, r_star) -> np.ndarray:
    """``D' = Σ_r effective_data(total·mix_r, U_r, R*_r)`` summed over the last axis.

    ``total`` broadcasts against the leading axes of ``mix`` (shape ``(..., regimes)``);
    ``unique`` and ``r_star`` have shape ``(regimes,)``. Muennighoff et al. 2023 eq. 5 per
    regime; ``r_star = inf`` means no decay.
    """
    mix = np.asarray(mix, dtype=float)
    total = np.asarray(total, dtype=float)[..., None]
    return effective_data(total * mix, unique, r_star).sum(axis=-1)


def _names(value) -> tuple[str, ...]:
    return tuple(str(v) for v in value)


def _vector(value) -> np.ndarray:
    arr = np.array(value, dtype=float, ndmin=1)
    arr.flags.writeable = False
    return arr


@attrs.frozen(eq=False)
class RegimeData:
    """A data description by regime, for a planner: unique units and R* per regime.

    ``unique[r]`` is ``U_r`` in ``unit``; ``available[r]`` is how many (not necessarily
    distinct) units of regime ``r`` the corpus holds, so ``natural_mix`` (each regime's
    share of the corpus) is what uniform sampling of the corpus trains on. A planner
    treats the sampling mix as a free variable on the simplex and calls :meth:`effective`
    (vectorized over totals and mixes) or :meth:`optimal_mix` (closed form).
    """

    regimes: tuple[str, ...] = attrs.field(converter=_names)
    unique: np.ndarray = attrs.field(converter=_vector)
    r_star: np.ndarray = attrs.field(converter=_vector)
    available: np.ndarray = attrs.field(converter=_vector)
    unit: str = "windows"

    def __attrs_post_init__(self):
        n = len(self.regimes)
        if n == 0:
            raise InputError("RegimeData needs at least one regime, got none")
        if len(set(self.regimes)) != n:
            raise InputError(f"RegimeData regimes must be distinct, got {self.regimes!r}")
        for field in ("unique", "r_star", "available"):
            arr = getattr(self, field)
            if arr.shape != (n,):
                raise InputError(f"RegimeData.{field} needs one value per regime ({n}), got shape {arr.shape}")
        for name, u, a, r in zip(self.regimes, self.unique, self.available, self.r_star):
            if not (np.isfinite(u) and u > 0):
                raise InputError(f"RegimeData regime {name!r}: unique must be finite and > 0, got {u!r}")
            if not (np.isfinite(a) and a >= u):
                raise InputError(f"RegimeData regime {name!r}: available must be finite and >= unique {u:g}, got {a!r}")
            if not r > 0:
                raise InputError(f"RegimeData regime {name!r}: r_star must be > 0 (inf allowed), got {r!r}")

    @classmethod
    def from_counts(cls, unique: Mapping[str, float], available: Mapping[str, float] | None = None,
                    r_star: Mapping[str, float] | None = None, unit: str = "windows") -> "RegimeData":
        """Build from ``{regime: U_r}`` (and ``{regime: available_r}``, default ``U_r``).

        R* per regime comes from ``r_star`` when given there, else :func:`default_r_star`.
        """
        names = tuple(unique)
        available = dict(available or {})
        r_star = dict(r_star or {})
        unknown = sorted(set(r_star) - set(names))
        if unknown:
            raise InputError(f"r_star names regimes {unknown} that are not in the data; regimes are {list(names)}")
        return cls(
            names,
            [unique[n] for n in names],
            [r_star.get(n, default_r_star(n)) for n in names],
            [available.get(n, unique[n]) for n in names],
            unit,
        )

    # --- what a planner asks -------------------------------------------------------------
    @property
    def total_unique(self) -> float:
        return float(self.unique.sum())

    @property
    def total_available(self) -> float:
        return float(self.available.sum())

    @property
    def natural_mix(self) -> np.ndarray:
        """Each regime's share of the corpus: the mix that uniform sampling trains on."""
        return self.available / self.available.sum()

    def check_mix(self, mix) -> np.ndarray:
        """``mix`` as an array ``(..., regimes)`` of non-negative shares summing to 1."""
        mix = np.asarray(mix, dtype=float)
        if mix.ndim == 0 or mix.shape[-1] != len(self.regimes):
            raise InputError(f"mix needs a last axis of {len(self.regimes)} shares {self.regimes}, got shape {mix.shape}")
        if np.any(~np.isfinite(mix)) or np.any(mix < 0):
            raise InputError(f"mix shares must be finite and >= 0, got {mix.ravel()[:6]!r}")
        if np.any(np.abs(mix.sum(axis=-1) - 1.0) > 1e-9):
            raise InputError(f"mix shares must sum to 1, got sums {np.atleast_1d(mix.sum(axis=-1)).ravel()[:3]!r}")
        return mix

    def effective(self, total, mix=None) -> np.ndarray:
        """Effective data ``D'`` (in :attr:`unit`) of training on ``total`` units drawn by ``mix``.

        ``total`` (any shape) broadcasts against ``mix[..., :]``; ``mix`` defaults to
        :attr:`natural_mix`. See the module docstring for the formula.
        """
        mix = self.natural_mix if mix is None else self.check_mix(mix)
        total = np.asarray(total, dtype=float)
        if np.any(~np.isfinite(total)) or np.any(total < 0):
            raise InputError(f"total must be finite and >= 0, got {total.ravel()[:3]!r}")
        return regime_effective_data(total, mix, self.unique, self.r_star)

    def epochs(self, total, mix=None) -> np.ndarray:
        """Passes over each regime's unique data, ``D_r/U_r``, shape ``(..., regimes)``."""
        mix = self.natural_mix if mix is None else self.check_mix(mix)
        return np.asarray(total, dtype=float)[..., None] * mix / self.unique

    def optimal_mix(self, total) -> np.ndarray:
        """The mix that maximises ``D'`` for ``total`` units, shape ``total.shape + (regimes,)``.

        ``D'`` is a sum of concave terms whose slope is 1 up to ``D_r = U_r`` and
        ``exp(−R_r/R*_r)`` beyond, so the optimum equalises slopes (water filling):
        below ``ΣU`` every regime is filled in proportion to ``U_r`` (slope 1 everywhere);
        above it ``exp(−R_r/R*_r) = λ`` for all r gives ``R_r = R*_r·t`` with
        ``t = (D − ΣU) / Σ U_r R*_r`` — rare data is oversampled only until its repeats have
        decayed as far as the normal state's. Regimes with ``R* = inf`` never decay, so
        they take all the excess (in proportion to ``U_r``).
        """
        total = np.asarray(total, dtype=float)
        if np.any(~np.isfinite(total)) or np.any(total <= 0):
            raise InputError(f"total must be finite and > 0, got {total.ravel()[:3]!r}")
        u, rs = self.unique, self.r_star
        excess = np.maximum(total - u.sum(), 0.0)[..., None]
        inf = np.isinf(rs)
        weight = u * inf if inf.any() else u * rs
        shares = u + excess * weight / weight.sum()
        fill = np.minimum(total / u.sum(), 1.0)[..., None]
        shares = np.where(excess > 0, shares, u * fill)
        return shares / total[..., None]

    def scaled(self, factor: float, unit: str) -> "RegimeData":
        """The same data counted in another unit, ``factor`` new units per current unit.

        ``D'`` is homogeneous of degree one in ``(D, U)``, so converting counts converts
        effective data by the same factor (e.g. windows -> cells: ``window × channels``).
        """
        if not (np.isfinite(factor) and factor > 0):
            raise InputError(f"unit conversion factor must be finite and > 0, got {factor!r}")
        return attrs.evolve(self, unique=self.unique * factor, available=self.available * factor, unit=unit)

    def with_r_star(self, **r_star: float) -> "RegimeData":
        """A copy with some regimes' R* replaced, e.g. ``with_r_star(normal=3.0)``."""
        unknown = sorted(set(r_star) - set(self.regimes))
        if unknown:
            raise InputError(f"with_r_star names regimes {unknown} that are not in the data; regimes are {list(self.regimes)}")
        new = [float(r_star.get(n, r)) for n, r in zip(self.regimes, self.r_star)]
        return attrs.evolve(self, r_star=new)

    def with_fitted_r_star(self, regime: str, fit_result) -> "RegimeData":
        """A copy whose ``regime`` takes the ``R_D_star`` of a data-constrained fit.

        ``fit_result``: :func:`tsbudget.fitting.fit.fit` with ``law="data_constrained"`` on runs that
        repeat this regime only (module docstring, "Fitting R* per regime"); checked by
        :func:`fitted_r_star`.
        """
        if str(regime) not in self.regimes:
            raise InputError(f"with_fitted_r_star: regime {regime!r} is not in the data; regimes are {list(self.regimes)}")
        return self.with_r_star(**{str(regime): fitted_r_star(fit_result, str(regime))})

    def scaled_to(self, total: float) -> "RegimeData":
        """The same corpus scaled to ``total`` units in all (same unit): every regime's unique
        and available counts times ``total / total_available``. For a measured sample of a
        larger corpus, this assumes the sample's redundancy (unique share per regime) holds
        for the whole corpus."""
        from tsbudget.variables import positive_number

        return self.scaled(positive_number(total, "scale-to total") / self.total_available, self.unit)

    def to_dict(self) -> dict:
        """Per regime its unique and available (total) amounts in :attr:`unit`, its R* (the
        string ``"inf"`` for no decay: JSON has no infinity) and its share of the corpus (the
        natural mix); then the totals. :meth:`from_dict` reads it back."""
        return {
            "format": REGIMES_FORMAT,
            "unit": self.unit,
            "regimes": {
                n: {"unique": float(u), "available": float(a), "r_star": float(r) if np.isfinite(r) else "inf",
                    "share": float(s)}
                for n, u, a, r, s in zip(self.regimes, self.unique, self.available, self.r_star, self.natural_mix)
            },
            "unique": self.total_unique,
            "available": self.total_available,
            "effective_one_epoch": float(self.effective(self.total_available)),
        }

    @classmethod
    def from_dict(cls, data: Mapping, where: str = "regime data") -> "RegimeData":
        """A RegimeData from :meth:`to_dict`'s mapping (``unit``; ``regimes``: name -> ``unique``,
        ``available``, ``r_star``). Totals, shares and other keys are derived, not read. A missing
        or malformed field is an InputError naming ``where`` and the field."""
        if not isinstance(data, Mapping):
            raise InputError(f"{where} must be a JSON object, got {type(data).__name__}")
        unit, regimes = data.get("unit"), data.get("regimes")
        if not isinstance(unit, str) or not unit:
            raise InputError(f"{where}: 'unit' must name the unit the counts are in, got {unit!r}")
        if not isinstance(regimes, Mapping) or not regimes:
            raise InputError(f"{where}: 'regimes' must map each regime to its counts, got {regimes!r}")
        values = {"unique": [], "available": [], "r_star": []}
        for name, row in regimes.items():
            if not isinstance(row, Mapping):
                raise InputError(f"{where}: regime {name!r} must be an object of counts, got {row!r}")
            for key, out in values.items():
                value = row.get(key)
                if key == "r_star" and isinstance(value, str) and value.strip().lower() in ("inf", "infinity"):
                    value = np.inf
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise InputError(f"{where}: regime {name!r} field {key!r} must be a number, got {value!r}")
                out.append(float(value))
        return cls(tuple(regimes), values["unique"], values["r_star"], values["available"], unit)

    def save(self, path) -> None:
        """Write :meth:`to_dict` as JSON to ``path`` (atomically, through :func:`tsbudget.io.write_json`)."""
        from tsbudget.io import write_json

        write_json(self.to_dict(), path)

    @classmethod
    def load(cls, path) -> "RegimeData":
        """Read a file written by :meth:`save` (or ``tsbudget redundancy --out``)."""
        from tsbudget.io import load_result

        data, _ = load_result(path, "regime data")
        if data.get("format", REGIMES_FORMAT) != REGIMES_FORMAT:
            raise InputError(f"{str(path)!r} is a {data.get('format')!r} file, not {REGIMES_FORMAT!r}")
        return cls.from_dict(data, where=f"regime data {str(path)!r}")

    def __repr__(self) -> str:
        rows = ", ".join(
            f"{n}: U={fmt(u, 6)} of {fmt(a, 6)} (R*={r:.4g})"  # R* may be inf: no decay, not missing
            for n, u, a, r in zip(self.regimes, self.unique, self.available, self.r_star)
        )
        return f"RegimeData({self.unit}; {rows})"
