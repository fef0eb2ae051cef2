"""The result of a fit: :class:`FitResult`, the fitted law with the evidence for it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import polars as pl

from tsbudget.errors import InputError
from tsbudget.law import Law
from tsbudget.fitting.runs import fit_plugins, prepare_runs
from tsbudget.report import Report

__all__ = ["AT_BEST_RTOL", "FitResult"]

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


def _law_from_dict(d: Mapping) -> Law:
    from tsbudget.registry import laws

    cls = laws.get(d["name"])
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in d["fields"].items()}
    return cls(**fields)


def _frame_to_dict(df: pl.DataFrame) -> dict:
    return {"schema": {c: str(t) for c, t in df.schema.items()}, "columns": {c: df[c].to_list() for c in df.columns}}


_DTYPES = {"Float64": pl.Float64, "Int64": pl.Int64, "Float32": pl.Float32, "Int32": pl.Int32, "String": pl.String,
           "Boolean": pl.Boolean}


def _frame_from_dict(d: Mapping) -> pl.DataFrame:
    return pl.DataFrame({c: pl.Series(c, v, dtype=_DTYPES.get(d["schema"][c])) for c, v in d["columns"].items()})


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
    def from_dict(cls, d: Mapping, draws=None) -> "FitResult":
        return cls(
            law=_law_from_dict(d["law_spec"]),
            success=bool(d["success"]),
            message=d["message"],
            objective=float(d["objective"]),
            n_runs=int(d["n_runs"]),
            n_starts=int(d["n_starts"]),
            n_at_best=int(d["n_at_best"]),
            free=tuple(d["free"]),
            fixed={k: float(v) for k, v in d["fixed"].items()},
            options=d["options"],
            runs=_frame_from_dict(d["runs"]),
            draws=draws,
            diagnostics=d.get("diagnostics", {}),
        )

    @classmethod
    def load(cls, path) -> "FitResult":
        """Read a result written by :meth:`save` (and its draws, if any; :func:`tsbudget.io.load_result`)."""
        from tsbudget.io import load_result

        d, draws = load_result(path, "a fit result")
        try:
            return cls.from_dict(d, draws)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{str(path)!r} is not a fit result: {type(exc).__name__}: {exc}") from None

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
        lines = [f"objective {self.objective:.8g} ({red} of Huber δ={self.options.get('delta', 1e-3):g} "
                 f"on log residuals) over {self.n_runs} runs"]
        pruned = int(self.diagnostics.get("n_pruned", 0) or 0)
        run_out = f" of the {self.n_starts - pruned} run to convergence ({pruned} pruned by the race)" if pruned else ""
        lines.append(f"starts: {self.n_at_best}{run_out or f' of {self.n_starts}'} reached the best "
                     f"(within {AT_BEST_RTOL:g} relative)")
        if self.draws is not None:
            lines.append(f"bootstrap draws: {self.draws.sizes.get('draw', 0)}")
        return lines
