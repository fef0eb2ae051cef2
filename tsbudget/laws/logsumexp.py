"""Log-sum-exp numerics shared by the built-in laws.

Every built-in law is fitted in log space, ``log L = log Σ exp(t_i)`` over its terms
(Hoffmann et al. 2022, App. D.2), and its gradient is the share ``w_i = exp(t_i − log L)``
of each term times the term's own derivative. :func:`logsumexp_and_softmax` gives both
from one pass over the terms.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = [
    "EXP_LO",
    "EXP_HI",
    "LSE_LO",
    "logsumexp",
    "softmax",
    "logsumexp_and_softmax",
    "float_params",
    "input_logs",
    "fallback_index",
    "fallback_terms",
    "fallback_rows",
]

# A plain sum ``Σ exp(t_i)`` clips exponents to [EXP_LO, EXP_HI] so that exp never leaves
# the normal float range (numpy's exp is 5-40x slower when it underflows or gives
# subnormals). A clipped term is off by at most e^EXP_LO ~ 3e-308 at the low end, below
# half an ulp of any sum above e^LSE_LO; sums outside [LSE_LO, EXP_HI) are recomputed by
# the shifted :func:`logsumexp`.
EXP_LO = -300.0
EXP_HI = 709.0
LSE_LO = EXP_LO + 40.0


def logsumexp(*terms) -> np.ndarray:
    """``log Σ exp(t_i)`` over broadcast arrays, stable; ``-inf`` terms contribute 0."""
    arrays = np.broadcast_arrays(*[np.asarray(t, dtype=float) for t in terms])
    top = np.max(arrays, axis=0)
    shift = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(under="ignore"):
        total = sum(np.exp(a - shift) for a in arrays)
    with np.errstate(divide="ignore"):
        return shift + np.log(total)


def softmax(*terms) -> list[np.ndarray]:
    """``exp(t_i − logsumexp(t))`` for each term: the share of each term in the sum."""
    lse = logsumexp(*terms)
    with np.errstate(under="ignore", invalid="ignore"):
        return [np.exp(np.asarray(t, dtype=float) - lse) for t in terms]


def logsumexp_and_softmax(*terms) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(logsumexp(t), softmax(t))`` from one pass: the shifted exponentials are computed
    once and each share is its exponential over their sum. Agrees with the two separate
    functions to rounding (a few ulps)."""
    arrays = np.broadcast_arrays(*[np.asarray(t, dtype=float) for t in terms])
    top = np.max(arrays, axis=0)
    shift = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(under="ignore"):
        exps = [np.exp(a - shift) for a in arrays]
    total = sum(exps)
    with np.errstate(divide="ignore", invalid="ignore"):
        return shift + np.log(total), [e / total for e in exps]


def float_params(params: Mapping, names) -> dict[str, np.ndarray]:
    """The named parameters as float arrays."""
    return {k: np.asarray(params[k], dtype=float) for k in names}


def input_logs(inputs: Mapping, *names) -> list[np.ndarray]:
    """Natural logs of the named inputs; a fit passes them precomputed in ``inputs.logs``
    (:class:`tsbudget.fitting.objective.RunInputs`), so they are taken once per fit, not per call."""
    cached = getattr(inputs, "logs", None) or {}
    with np.errstate(divide="ignore", invalid="ignore"):
        return [cached[k] if k in cached else np.log(np.asarray(inputs[k], dtype=float)) for k in names]


def fallback_index(lse: np.ndarray):
    """Where a plain sum left the safe range ``[LSE_LO, EXP_HI)``: whole rows for
    (starts, runs) arrays (wild trial points of a line search fail on every run), else an
    element mask."""
    bad = ~((lse >= LSE_LO) & (lse < EXP_HI))
    if lse.ndim == 2:
        return (np.flatnonzero(bad.any(axis=1)),)
    return bad


def fallback_rows(params: Mapping[str, np.ndarray], fix, shape) -> dict[str, np.ndarray]:
    """Parameters restricted to the rows in ``fix`` (a row index tuple from
    :func:`fallback_index`); a mask keeps them all."""
    if isinstance(fix, tuple):
        return {k: v[fix] if v.ndim == 2 and v.shape[0] == shape[0] and shape[0] > 1 else v for k, v in params.items()}
    return dict(params)


def fallback_terms(terms, fix, shape) -> list[np.ndarray]:
    """The log terms of the rows or elements in ``fix``, broadcast to the fixed part of ``shape``
    (terms computed from :func:`fallback_rows` hold those rows only)."""
    if isinstance(fix, tuple):
        return [np.broadcast_to(t, (fix[0].size, *shape[1:])) for t in terms]
    return [np.broadcast_to(t, shape)[fix] for t in terms]
