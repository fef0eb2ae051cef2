"""Effective data (and parameters) under repetition, Muennighoff et al. 2023."""

from __future__ import annotations

import numpy as np

from tsbudget.errors import InputError
from tsbudget.variables import as_nonnegative_array, as_positive_array

__all__ = ["effective_data", "effective_data_of_valid", "repetitions", "MUENNIGHOFF_R_D", "MUENNIGHOFF_R_N"]

# Muennighoff et al. 2023, "Scaling Data-Constrained Language Models", eq. 5 fit on C4
# (their repository's fitted decay constants).
MUENNIGHOFF_R_D = 15.387756
MUENNIGHOFF_R_N = 5.309743


def repetitions(total, unique) -> np.ndarray:
    """Repetitions beyond the first pass, ``R = D/U − 1`` (clipped at 0 when D < U)."""
    total = as_nonnegative_array(total, "total")
    unique = as_positive_array(unique, "unique")
    return np.maximum(total / unique - 1.0, 0.0)


def effective_data(total, unique, r_star=MUENNIGHOFF_R_D) -> np.ndarray:
    """Effective data ``D' = U + U·R*·(1 − exp(−R/R*))`` with ``R = D/U − 1``.

    Muennighoff et al. 2023, eq. 5 (data-constrained scaling): the k-th repeat of a unit
    is worth ``exp(−k/R*)`` of a fresh one, so value saturates at ``U·(1 + R*)``. When
    ``D <= U`` there is no repetition and ``D' = D``. ``r_star = inf`` gives ``D' = D``
    (no discount). Broadcasts over all arguments.
    """
    total = _checked(total, "total", positive=False)
    unique = _checked(unique, "unique", positive=True)
    r_star = np.asarray(r_star, dtype=float)
    if not (r_star > 0 if r_star.ndim == 0 else np.all(r_star > 0)):  # +inf is allowed: no decay
        raise InputError(f"r_star must be > 0 (inf allowed), got {r_star!r}")
    return effective_data_of_valid(total, unique, r_star)


def _checked(values, name, positive):
    """``values`` as a float array, every element finite and > 0 (``positive``) or >= 0: one
    pass for the smallest and largest element (a NaN makes both NaN), the validator of
    :mod:`tsbudget.variables` (and its error) only when that fails."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return arr
    lo, hi = arr.min(), arr.max()
    if hi < np.inf and (lo > 0 if positive else lo >= 0):
        return arr
    return (as_positive_array if positive else as_nonnegative_array)(values, name)


def effective_data_of_valid(total, unique, r_star) -> np.ndarray:
    """:func:`effective_data` (Muennighoff et al. 2023, eq. 5) of inputs already checked:
    float ``total`` finite and >= 0, ``unique`` finite and > 0, ``r_star`` > 0 (inf allowed).
    Skips the checks, for a caller that evaluates the same validated problem many times (the
    planner's optimiser, whose data is finite and positive by construction)."""
    rep = np.maximum(total / unique - 1.0, 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        # -expm1(-x) is 1 - exp(-x) without cancellation; inf R* -> the limit R itself.
        if np.ndim(r_star) == 0:  # one R*: the choice made once
            decayed = rep if np.isinf(r_star) else r_star * -np.expm1(-rep / r_star)
        else:
            decayed = np.where(np.isinf(r_star), rep, r_star * -np.expm1(-rep / r_star))
    return np.where(total <= unique, total, unique + unique * decayed)
