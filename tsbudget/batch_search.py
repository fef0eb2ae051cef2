"""Integer search for the serving roofline's batch caps (:func:`tsbudget.roofline.serving_roofline`).

A cap is the largest batch ``B`` at which a condition holds that fails for every larger batch
(decode still bandwidth-bound; a latency target met): the conditions are monotone in ``B``
because the parameters a decode step touches, ``T(B)``, rise with the batch (a
:class:`~tsbudget.cost_model.TouchedCurve`) and every time in the roofline rises with ``T`` and
``B``. With ``T`` frozen the conditions are linear in ``B`` and the caps closed-form
(:func:`line_cap`); freezing ``T`` at a bound of the cap bounds the cap (:func:`bracket`), and
:func:`largest_true` checks those bounds and bisects what they leave open, elementwise over
arrays. For a batch-independent ``T`` (dense models) the closed form is exact and no bisection
step runs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bracket", "largest_true", "line_cap"]


def largest_true(pred, hi, lower=None, upper=None) -> np.ndarray:
    """Largest integer ``B`` in ``[0, hi]`` with ``pred(B)`` (``pred`` true up to a point, then
    false; ``pred(0)`` taken true), elementwise, by bisection on integers. ``lower`` and
    ``upper`` are estimates of the answer (from :func:`bracket`): a call of ``pred`` checks
    each (``lower`` and ``upper`` true, ``upper + 1`` false) and narrows the range, so exact
    estimates leave nothing to bisect and wrong ones cost only their checks."""
    hi = np.floor(hi)
    lo = np.zeros_like(hi)
    probes = () if lower is None else (lower, upper, np.asarray(upper) + 1.0)
    for probe in probes:
        probe = np.asarray(probe, dtype=float)
        probe = np.clip(np.floor(np.where(np.isnan(probe), 1.0, probe)), 1.0, hi)
        inside = lo < hi
        if not np.any(inside):
            continue
        ok = pred(np.where(inside, probe, 1.0))
        lo = np.where(inside & ok, np.maximum(lo, probe), lo)
        hi = np.where(inside & ~ok, np.minimum(hi, probe - 1.0), hi)
    while np.any(lo < hi):
        mid = np.ceil((lo + hi) / 2.0)
        ok = pred(np.maximum(mid, 1.0))
        open_ = lo < hi
        lo = np.where(open_ & ok, mid, lo)
        hi = np.where(open_ & ~ok, mid - 1.0, hi)
    return lo


def bracket(cap, touched_at, hi, rising: bool, rounds: int):
    """Estimates ``(lower, upper)`` of a batch cap ``B*`` whose condition holds for ``B <=
    cap(T(B))`` with ``T = touched_at`` increasing in ``B``. ``cap(T)`` is the real cap with
    the touched parameters frozen at ``T``; ``rising`` says it grows with ``T`` (the decode
    crossover) rather than falls (latency targets). Freezing ``T`` at a bound of ``B*`` bounds
    ``B*`` (``T`` is monotone), so each round of two curve evaluations tightens both ends; a
    constant ``T`` gives the exact cap in the first round. Returns real numbers: the caller
    rounds them and :func:`largest_true` checks them."""
    top = np.maximum(hi, 1.0)
    low, up = cap(touched_at(top)), cap(touched_at(np.ones_like(hi)))
    if rising:
        low, up = up, low
    for _ in range(rounds):
        at_low, at_up = (touched_at(np.clip(np.floor(np.where(np.isnan(x), 1.0, x)), 1.0, top)) for x in (low, up))
        low, up = (cap(at_low), cap(at_up)) if rising else (cap(at_up), cap(at_low))
    return low, up


def line_cap(limit: float, lines) -> np.ndarray:
    """Largest real ``B`` with ``c0 + c1·B <= limit`` for every line ``(c0, c1)`` (``c1 >= 0``);
    ``inf`` when no line grows, ``-inf`` when one is over the limit at any batch. Call it
    under ``np.errstate(divide="ignore", invalid="ignore")``."""
    out = np.inf
    for c0, c1 in lines:
        x = (limit - np.asarray(c0, dtype=float)) / np.asarray(c1, dtype=float)  # ±inf at c1 = 0, nan if c0 = limit too
        out = np.minimum(out, np.where(np.isnan(x), np.inf, x))
    return out
