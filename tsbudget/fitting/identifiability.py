"""Whether the runs can determine the law's free parameters.

Before a fit, :func:`tsbudget.fitting.runs.distinct_points` counts distinct ``(N, D,
variables)`` points against the free parameters (thirty copies of one run are one point).
After it, this module checks the design is not collinear:

- **Collinear design** (:func:`collinear_parameters`): at the fitted parameters, the
  Jacobian ``J`` of the predicted log losses with respect to the fit coordinates (one row per
  run, one column per free parameter) must have full column rank. With its columns scaled to
  unit length, a smallest singular value below :data:`COLLINEAR_TOL` means some combination of
  parameters leaves every prediction unchanged to first order, so the runs cannot separate
  them (the local identifiability condition of nonlinear least squares; Seber & Wild 2003,
  *Nonlinear Regression*, §3.4, rank of the Jacobian). Examples: all runs on one ``D`` (the
  data term ``B/D^β`` is a constant indistinguishable from ``E``); all runs on one ``D/N``
  ratio (then ``A/N^α`` and ``B/D^β`` are both powers of ``N``). The parameters named are
  those with a weight of at least 0.1 in the null direction (the right singular vector), and
  any whose column is zero (a term that vanished, e.g. ``B`` driven to 0).
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["COLLINEAR_TOL", "collinear_parameters", "design_notes"]

#: Smallest singular value of the column-scaled Jacobian below which parameters count as not
#: separable by the runs (module docstring). Chosen well below what a well-spread design gives
#: (the Chinchilla runs of Hoffmann et al. 2022: about 1e-2) and well above rounding (1e-12).
COLLINEAR_TOL = 1e-4


def collinear_parameters(objective, theta: np.ndarray) -> tuple[float, list[str]]:
    """``(smallest scaled singular value, parameters that cannot be separated)`` of the
    fitted ``objective`` at ``theta`` (module docstring); ``[]`` when the Jacobian has full rank."""
    names = [p.name for p in objective.free]
    with np.errstate(all="ignore"):
        cols = [np.asarray(c, dtype=float).reshape(-1) for c in objective.log_jacobian(np.asarray(theta)[None, :])]
    n_runs = max(c.size for c in cols)
    J = np.column_stack([np.broadcast_to(c, (n_runs,)) if c.size == 1 else c for c in cols])
    if not np.all(np.isfinite(J)):
        return 0.0, [n for n, c in zip(names, J.T) if not np.all(np.isfinite(c))]
    norms = np.linalg.norm(J, axis=0)
    scale = max(float(norms.max()), 1e-300)
    dead = [n for n, v in zip(names, norms) if v <= 1e-9 * scale]
    if dead:
        return 0.0, dead
    _, s, vt = np.linalg.svd(J / norms, full_matrices=False)
    smallest = float(s[-1] / s[0]) if s[0] > 0 else 0.0
    if smallest >= COLLINEAR_TOL:
        return smallest, []
    return smallest, [n for n, w in zip(names, vt[-1]) if abs(w) >= 0.1]


def design_notes(df: pl.DataFrame) -> list[str]:
    """Plain-words causes of a collinear design over ``N`` and ``D``: every run at one ``N``,
    one ``D``, or one ``D/N`` ratio (values within 5%)."""
    notes = []
    if "N" not in df.columns or "D" not in df.columns or df.height < 2:
        return notes
    logn, logd = np.log(df["N"].to_numpy()), np.log(df["D"].to_numpy())
    span = np.log(1.05)
    for label, v in (("N", logn), ("D", logd), ("D/N ratio", logd - logn)):
        if np.ptp(v) <= span:
            notes.append(f"every run has the same {label} (within 5%: {float(np.exp(v.min())):.4g} to "
                         f"{float(np.exp(v.max())):.4g})")
    return notes
