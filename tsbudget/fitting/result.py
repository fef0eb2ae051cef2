"""The result of a fit: :class:`FitResult`, the fitted law with the evidence for it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import polars as pl

from tsbudget.errors import InputError, TsbudgetError
from tsbudget.law import Law
from tsbudget.fitting.runs import fit_plugins, prepare_runs
from tsbudget.report import Report

__all__ = ["AT_BEST_RTOL", "FIELDS", "FitResult", "OPTIONAL_FIELDS"]

AT_BEST_RTOL = 1e-6  # a start "reached the best" when its objective is within this of it


def _law_to_dict(law: Law) -> dict:
    def plain(v):
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        if isinstance(v, (bool, int, float, str)) or v is None:
            return v
        if isinstance(v, np.generic):
            return v.item()
        raise InputError(f"law {law.name!r}: field value {v!r} cannot be saved as JSON")

    return {"name": law.name, "fields": {a.name: plain(getattr(law, a.name)) for a in attrs.fields(type(law))}}


def _law_from_dict(d: Mapping, where: str) -> Law:
    from tsbudget.io import check_fields
    from tsbudget.registry import laws

    check_fields(d, {"name": str, "fields": dict}, f"{where}: law_spec")
    cls = laws.get(d["name"])
    names = [a.name for a in attrs.fields(cls) if a.init]
    extra = sorted(set(d["fields"]) - set(names))
    if extra:
        raise InputError(f"{where}: law_spec.fields has unexpected field {extra[0]!r}; law {d['name']!r} has "
                         f"{', '.join(names)}")
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in d["fields"].items()}
    try:
        return cls(**fields)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: law_spec.fields do not make a {d['name']!r} law: {exc}") from None


def _frame_to_dict(df: pl.DataFrame) -> dict:
    return {"schema": {c: str(t) for c, t in df.schema.items()}, "columns": {c: df[c].to_list() for c in df.columns}}


_DTYPES = {"Float64": pl.Float64, "Int64": pl.Int64, "Float32": pl.Float32, "Int32": pl.Int32, "String": pl.String,
           "Boolean": pl.Boolean}


def _frame_from_dict(d: Mapping, where: str) -> pl.DataFrame:
    from tsbudget.io import check_fields

    check_fields(d, {"schema": dict, "columns": dict}, f"{where}: runs")
    if set(d["schema"]) != set(d["columns"]):
        raise InputError(f"{where}: runs.schema and runs.columns name different columns")
    lengths = set()
    for c, v in d["columns"].items():
        if d["schema"][c] not in _DTYPES:
            raise InputError(f"{where}: runs.schema[{c!r}] must be one of {', '.join(_DTYPES)}, got {d['schema'][c]!r}")
        if not isinstance(v, list):
            raise InputError(f"{where}: runs.columns[{c!r}] must be a list, got {type(v).__name__}")
        lengths.add(len(v))
    if len(lengths) > 1:
        raise InputError(f"{where}: runs.columns have different lengths {sorted(lengths)}")
    try:
        return pl.DataFrame({c: pl.Series(c, v, dtype=_DTYPES[d["schema"][c]]) for c, v in d["columns"].items()})
    except (TypeError, ValueError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"{where}: runs.columns do not match runs.schema: {type(exc).__name__}: {exc}") from None


#: The fields of a saved fit (``FitResult.to_dict()``) and their kinds; ``draws_file`` and
#: ``draws_sha256`` are added by :func:`tsbudget.io.save_result` when there are draws.
FIELDS = {"law": str, "success": bool, "message": str, "objective": float, "n_runs": int, "n_starts": int,
          "n_at_best": int, "n_finalists": int, "parameters": dict, "free": list, "fixed": dict, "options": dict,
          "diagnostics": dict, "law_spec": dict, "runs": dict}
OPTIONAL_FIELDS = {"draws_file": str, "draws_sha256": str, "card": dict}


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _card_validation(card, where: str) -> dict | None:
    """The validation summary saved in a fit card (None for an old file without a card)."""
    if card is None:
        return None
    v = card.get("validation")
    if v is not None and not isinstance(v, dict):
        raise InputError(f"{where}: card.validation must be an object or null, got {type(v).__name__}")
    return v


@attrs.frozen(eq=False, repr=False)
class FitResult(Report):
    """A fitted law with the evidence for it.

    ``objective`` is the best value of the fit objective; ``n_starts`` how many starts
    ran, ``n_at_best`` how many of them ended within 1e-6 (relative) of the best, a
    measure of how sure the grid is to have found the global optimum. ``options`` holds
    every keyword of :func:`~tsbudget.fitting.fit.fit` but ``init`` (names, JSON-able), so
    :func:`~tsbudget.fitting.fit.refit` repeats the fit on other runs. ``runs`` are the prepared runs actually fitted. ``draws``
    holds bootstrap draws (one variable per parameter along dim ``draw``) when present.
    """

    law: Law
    success: bool
    message: str
    objective: float
    n_runs: int
    n_starts: int
    n_at_best: int
    free: tuple[str, ...]
    fixed: dict[str, float]
    options: dict
    runs: pl.DataFrame
    draws: Any = None  # xr.Dataset | None
    diagnostics: dict = attrs.field(factory=dict)
    validation: dict | None = None  # leave-future-out summary (tsbudget.fitting.validation), for the card

    @property
    def ranges(self):
        """The span of the fitted runs (:class:`~tsbudget.laws.ranges.FitRanges`: training
        FLOPs, N, D), against which a plan's extrapolation is measured."""
        from tsbudget.fitting.card import fit_ranges

        return fit_ranges(self.runs)

    @property
    def card(self) -> dict:
        """The fit card (:func:`tsbudget.fitting.card.fit_card`): every choice of this fit,
        its data ranges and, when validated, its out-of-sample error."""
        from tsbudget.fitting.card import fit_card

        return fit_card(self)

    def with_validation(self, summary: dict | None) -> "FitResult":
        """This result with a leave-future-out summary for its card
        (:meth:`tsbudget.fitting.validation.Validation.summary`)."""
        return attrs.evolve(self, validation=None if summary is None else dict(summary))

    @property
    def parameters(self) -> dict[str, float]:
        """Parameter name -> fitted (or fixed) value."""
        return self.law.values

    def predict(self, runs=None) -> np.ndarray:
        """Predicted loss of the fitted law for ``runs`` (default: the fitted runs)."""
        if runs is None:
            df = self.runs
        else:
            df = prepare_runs(runs, self.law, self.options.get("columns"), *fit_plugins(self.options))
        inputs = {k: df[k].to_numpy() for k in self.law.required_inputs}
        return np.asarray(self.law.evaluate(self.law.values, inputs), dtype=float)

    def with_draws(self, draws) -> "FitResult":
        return attrs.evolve(self, draws=draws)

    # -- output -----------------------------------------------------------------------
    def to_dict(self, runs: bool = True) -> dict:
        """Plain dict (JSON-able); ``runs=False`` leaves the run table out."""
        out = {
            "law": self.law.name,
            "success": self.success,
            "message": self.message,
            "objective": self.objective,
            "n_runs": self.n_runs,
            "n_starts": self.n_starts,
            "n_at_best": self.n_at_best,
            "n_finalists": self.n_starts - int(self.diagnostics.get("n_pruned", 0) or 0),
            "parameters": self.parameters,
            "free": list(self.free),
            "fixed": dict(self.fixed),
            "options": self.options,
            "diagnostics": self.diagnostics,
            "law_spec": _law_to_dict(self.law),
            "card": self.card,
        }
        if runs:
            out["runs"] = _frame_to_dict(self.runs)
        return out

    def save(self, path) -> Path:
        """Write the result as JSON at ``path`` and its bootstrap draws as netCDF beside it
        (:func:`tsbudget.io.save_result`). No pickle."""
        from tsbudget.io import save_result

        return save_result(self.to_dict(), self.draws, path)

    @classmethod
    def from_dict(cls, d: Mapping, draws=None, where: str = "fit result") -> "FitResult":
        """The result :meth:`to_dict` (and :func:`~tsbudget.io.save_result`) wrote, read through its
        schema (:data:`FIELDS`): a missing, unexpected or mistyped field, parameters that disagree
        with the law, or runs that disagree with ``n_runs`` are an :class:`InputError` naming the field."""
        from tsbudget.io import check_fields

        check_fields(d, FIELDS, where, OPTIONAL_FIELDS)
        law = _law_from_dict(d["law_spec"], where)
        if d["law"] != law.name:
            raise InputError(f"{where}: field 'law' is {d['law']!r} but law_spec names {law.name!r}")
        names = [p.name for p in law.parameters]
        if sorted(d["parameters"]) != sorted(names):
            raise InputError(f"{where}: field 'parameters' names {sorted(d['parameters'])}, law {law.name!r} has "
                             f"{sorted(names)}")
        for k, v in d["parameters"].items():
            if not _number(v) or not math.isclose(v, law.values[k], rel_tol=1e-12, abs_tol=0.0):
                raise InputError(f"{where}: parameters[{k!r}] = {v!r} does not match law_spec ({law.values[k]!r}); "
                                 f"the file was edited")
        for k in d["free"]:
            if k not in names:
                raise InputError(f"{where}: field 'free' names {k!r}, not a parameter of {law.name!r}")
        for k, v in d["fixed"].items():
            if k not in names or not _number(v):
                raise InputError(f"{where}: fixed[{k!r}] must name a parameter of {law.name!r} with a finite value, "
                                 f"got {v!r}")
        for k in ("n_runs", "n_starts", "n_at_best"):
            if d[k] < 0:
                raise InputError(f"{where}: field {k!r} must be >= 0, got {d[k]}")
        runs = _frame_from_dict(d["runs"], where)
        if runs.height != d["n_runs"]:
            raise InputError(f"{where}: field 'n_runs' is {d['n_runs']} but runs holds {runs.height} rows")
        return cls(
            law=law,
            success=d["success"],
            message=d["message"],
            objective=float(d["objective"]),
            n_runs=d["n_runs"],
            n_starts=d["n_starts"],
            n_at_best=d["n_at_best"],
            free=tuple(d["free"]),
            fixed={k: float(v) for k, v in d["fixed"].items()},
            options=d["options"],
            runs=runs,
            draws=draws,
            diagnostics=d["diagnostics"],
            validation=_card_validation(d.get("card"), where),
        )

    @classmethod
    def load(cls, path) -> "FitResult":
        """Read a result written by :meth:`save` (and its draws, if any; :func:`tsbudget.io.load_result`),
        checked field by field (:meth:`from_dict`)."""
        from tsbudget.io import load_result

        d, draws = load_result(path, "a fit result")
        where = f"fit result {str(path)!r}"
        try:
            return cls.from_dict(d, draws, where)
        except InputError:
            raise
        except TsbudgetError as exc:
            raise InputError(f"{where}: {exc}") from None

    captions = False  # a short report: parameters, then objective and starts

    def title(self) -> str:
        return f"FitResult({self.law.name})"

    def estimate_lines(self) -> list[str]:
        """One line per parameter: value, bootstrap standard error when there are draws, ``(fixed)``."""
        width = max(len(k) for k in self.parameters)
        sd = None
        if self.draws is not None:
            sd = {k: float(self.draws[k].std(ddof=1)) for k in self.parameters if k in self.draws}
        lines = []
        for k, v in self.parameters.items():
            tag = "  (fixed)" if k in self.fixed else ""
            se = f"  ± {sd[k]:.4g} (bootstrap s.e.)" if sd and k in sd else ""
            lines.append(f"{k:<{width}} = {v:.6g}{se}{tag}")
        return lines

    def diagnostic_lines(self) -> list[str]:
        """The objective, how many starts reached the best, how many bootstrap draws."""
        red = self.options.get("reduction", "sum")
        if self.diagnostics.get("method") == "vpnls":
            d = self.diagnostics
            lines = [f"objective {self.objective:.8g} ({d.get('objective_kind', 'squared residuals')}) over "
                     f"{self.n_runs} runs; Huber objective at these values {d.get('huber_objective', math.nan):.8g}",
                     f"condition number of the Hessian: {d.get('condition_number', math.nan):.3g} over the "
                     f"exponents (projected), {d.get('condition_number_full', math.nan):.3g} over all free parameters"]
        else:
            lines = [f"objective {self.objective:.8g} ({red} of Huber δ={self.options.get('delta', 1e-3):g} "
                     f"on log residuals) over {self.n_runs} runs"]
        pruned = int(self.diagnostics.get("n_pruned", 0) or 0)
        if self.diagnostics.get("method") == "vpnls":
            lines.append(f"exponent grid: {self.n_starts} points, one Nelder-Mead refine from the best")
            return self._card_lines(lines)
        run_out = f" of the {self.n_starts - pruned} run to convergence ({pruned} pruned by the race)" if pruned else ""
        lines.append(f"starts: {self.n_at_best}{run_out or f' of {self.n_starts}'} reached the best "
                     f"(within {AT_BEST_RTOL:g} relative)")
        if self.draws is not None:
            lines.append(f"bootstrap draws: {self.draws.sizes.get('draw', 0)}")
        return self._card_lines(lines)

    def _card_lines(self, lines: list[str]) -> list[str]:
        from tsbudget.fitting.card import card_lines

        return lines + card_lines(self.card)
