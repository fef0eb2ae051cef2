"""When the rows of a batched BFGS stop: racing for a multistart, per-row convergence for draws.

:func:`tsbudget.optim.bfgs.minimize_rows` calls :meth:`Stopping.update` after every
iteration with the batch, the objective before the step, the rows that could not step
(``stalled``) and the projected gradient; the rule retires the rows that are done.

* :class:`Racing` (the multistart fit): a start converges on a small relative decrease or
  projected gradient; starts that round to the same cell merge into one (counted), and with
  ``keep_fraction < 1`` successive halving (Jamieson & Talwalkar 2016) retires all but the
  most promising starts at the end of each round.
* :class:`RowConvergence` (bootstrap draws): rows never interact, so a row's result does not
  depend on which other rows share its batch; a tiny decrease far from stationarity restarts
  the model instead of stopping the row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from tsbudget.errors import InputError
from tsbudget.optim.bfgs import Batch

__all__ = ["Racing", "RowConvergence", "Stopping"]

_TINY = np.finfo(float).tiny


class Stopping(ABC):
    """Base of the stopping rules: :meth:`update` retires finished rows through :meth:`retire`."""

    def retire(self, batch: Batch, mask, reason, converged) -> None:
        if np.count_nonzero(mask):
            batch.retire(mask, reason, converged)

    #: whether :meth:`start` screens the starts by their value alone (then the gradients
    #: of the rows it retires need not be computed)
    screens: bool = False

    def start(self, batch: Batch) -> None:
        """Called once with the batch evaluated at its starting points, before the first
        iteration (a rule may retire rows here); nothing by default."""

    @abstractmethod
    def update(self, batch: Batch, f_old, stalled, pg) -> None:
        """Retire the rows of ``batch`` that are done after an iteration (``f_old``: their
        previous objectives; ``stalled``: rows that could not step; ``pg``: projected gradients)."""


class Racing(Stopping):
    """Multistart stopping: convergence, merging of coinciding starts, successive halving.

    A start converges when it moved and its objective fell by at most ``ftol`` relative
    (scipy's ``factr`` criterion) or its projected gradient max-norm is at most ``gtol`` times
    the objective's scale (the median |f| of the starts, so that the rule does not change when
    the objective is multiplied by a constant: a sum and a mean race alike); a
    start that cannot step is done (converged if its gradient is small). Starts whose points
    round to the same cell of size ``merge_tol`` as another active start, or as a finished
    one, merge into it (the survivor's count says how many starts it stands for).
    ``keep_fraction < 1`` races: after rounds of ``first_round``, 2·``first_round``,
    4·``first_round``, ... iterations only the best ``keep_fraction`` of the active starts
    (at least ``min_keep``) go on; the others retire as ``pruned``, unconverged.
    ``settle_tol > 0`` (only when racing): once a start has converged, an active start whose
    objective is within ``settle_tol`` (relative) of the lowest converged objective retires as
    ``settled`` (converged in value): it has reached the best found so far, and only whether
    it did (not its last digits) decides the race; the best start is polished afterwards.
    With ``settle_margin > 0`` as well, active starts more than ``settle_margin`` (relative)
    above that converged objective are pruned then (see :meth:`_settle`).
    """

    def __init__(self, ftol: float = 1e-12, gtol: float = 1e-12, merge_tol: float = 1e-7,
                 keep_fraction: float = 1.0, min_keep: int = 16, first_round: int = 2, n_params: int = 1,
                 screen: bool = False, settle_tol: float = 0.0, settle_margin: float = 0.0):
        if not 0.0 < keep_fraction <= 1.0:
            raise InputError(f"keep_fraction must be in (0, 1], got {keep_fraction!r}")
        for name, value in (("min_keep", min_keep), ("first_round", first_round)):
            if int(value) != value or value < 1:
                raise InputError(f"{name} must be an integer >= 1, got {value!r}")
        self.ftol, self.gtol, self.merge_tol = ftol, gtol, merge_tol
        self.keep_fraction, self.min_keep = keep_fraction, int(min_keep)
        self.checkpoint = self.round_len = int(first_round)
        self.salt = np.random.default_rng(12345).integers(1, 2**62, size=n_params)
        self.cells: dict[int, int] = {}  # hashed cell of a finished start -> its survivor index
        self.screen = bool(screen)
        self.scale = 1.0  # the objective's scale, from the starts (start())
        self.screens = self.screen and keep_fraction < 1.0
        if not settle_tol >= 0.0:
            raise InputError(f"settle_tol must be >= 0, got {settle_tol!r}")
        if not settle_margin >= 0.0:
            raise InputError(f"settle_margin must be >= 0, got {settle_margin!r}")
        self.settle_tol = float(settle_tol) if keep_fraction < 1.0 else 0.0
        self.settle_margin = float(settle_margin) if self.settle_tol else 0.0
        self.best_converged = np.inf  # lowest objective of a converged start
        self.finished_f: list = []  # objectives and counts of the converged starts (settle_tol > 0)
        self.finished_count: list = []

    def start(self, batch) -> None:
        """With ``screen``, a round of zero iterations: only the best ``keep_fraction`` of the
        starts by their objective at the start point (at least ``min_keep``) take a step.
        Records the objective's scale for ``gtol``: the median |f| of the finite starts."""
        finite = np.abs(batch.f[np.isfinite(batch.f)])
        median = float(np.median(finite)) if finite.size else 0.0
        if median > 0:
            self.scale = median
        if self.screen and self.keep_fraction < 1.0:
            self._prune(batch)

    def retire(self, batch, mask, reason, converged, pruned: bool = False) -> None:
        if not np.count_nonzero(mask):
            return
        # a pruned start stopped short of its optimum: nothing may merge into it
        cells = _cells(batch.x[mask], self.merge_tol, self.salt) if self.merge_tol > 0 and not pruned else None
        if self.settle_tol:
            conv = mask & np.broadcast_to(np.asarray(converged, dtype=bool), mask.shape)
            if np.count_nonzero(conv):
                self.best_converged = min(self.best_converged, float(np.min(batch.f[conv])))
                self.finished_f.append(batch.f[conv])
                self.finished_count.append(batch.count[conv])
        survivors = batch.retire(mask, reason, converged, pruned)
        if cells is not None:
            for cell, survivor in zip(cells.tolist(), survivors.tolist()):
                self.cells.setdefault(cell, survivor)

    def update(self, batch, f_old, stalled, pg) -> None:
        rel = (f_old - batch.f) <= self.ftol * np.maximum(np.abs(batch.f), _TINY)
        small_g = np.maximum.reduce(np.abs(pg), axis=1) <= self.gtol * self.scale
        done = rel | small_g
        if np.count_nonzero(done) or np.count_nonzero(stalled):  # converged (moved and done) or stalled
            converged = ~stalled & done
            reason = np.where(stalled, "stall", np.where(small_g, "gtol", "ftol"))
            self.retire(batch, converged | stalled, reason, converged | (stalled & small_g))
        if batch.size and self.best_converged < np.inf:
            self._settle(batch)
        if batch.size and self.merge_tol > 0:
            self._merge(batch)
        if self.keep_fraction < 1.0 and batch.iteration == self.checkpoint:
            self.round_len *= 2
            self.checkpoint += self.round_len
            self._prune(batch)

    def _settle(self, batch) -> None:
        """Against the lowest converged objective ``b``: starts at it (from ``b`` less its ``ftol``
        to ``b·(1 + settle_tol)``) retire as ``settled``; starts above ``b·(1 + settle_margin)``,
        which have run as many iterations as the start that converged and are still that far
        above it, are pruned (successive halving's bet, made once the race has a winner that
        a second start confirmed: at least two starts converged or settled at ``b``).
        Starts below ``b`` go on: one of them may become the best."""
        b = self.best_converged
        settled = (batch.f >= b - self.ftol * abs(b)) & (batch.f <= b + self.settle_tol * abs(b))
        if np.count_nonzero(settled):
            self.retire(batch, settled, "settled", True)
        if self.settle_margin and batch.size and self._n_at_best() >= 2:
            behind = batch.f > b + self.settle_margin * abs(b)
            if np.count_nonzero(behind):
                self.retire(batch, behind, "pruned", False, pruned=True)

    def _n_at_best(self) -> int:
        """Starts (counting merged ones) that converged or settled within ``settle_tol`` of the best."""
        f, count = np.concatenate(self.finished_f), np.concatenate(self.finished_count)
        return int(count[f <= self.best_converged + self.settle_tol * abs(self.best_converged)].sum())

    def _prune(self, batch) -> None:
        """Retire all but the best ``keep_fraction`` of the active starts (at least ``min_keep``)."""
        n_keep = max(self.min_keep, int(np.ceil(self.keep_fraction * batch.size)))
        if batch.size > n_keep:
            drop = np.zeros(batch.size, dtype=bool)
            drop[np.argsort(batch.f, kind="stable")[n_keep:]] = True
            self.retire(batch, drop, "pruned", False, pruned=True)

    def _merge(self, batch: Batch) -> None:
        """Fold starts that share a rounded cell into their best member, and starts that
        reached the cell of a finished start into that start (adding to its count)."""
        cells = _cells(batch.x, self.merge_tol, self.salt)
        listed = cells.tolist()  # a few rows: a Python set finds a shared cell sooner than a sort
        if len(set(listed)) < len(listed):
            order = np.argsort(batch.f, kind="stable")  # keep the lowest objective of each cell
            _, first, inverse = np.unique(cells[order], return_index=True, return_inverse=True)
            keep = order[first]
            merged = np.zeros(keep.size, dtype=np.int64)
            np.add.at(merged, inverse.reshape(-1), batch.count[order])
            batch.keep(keep)
            batch.count, cells = merged, cells[keep]
            listed = cells.tolist()
        if self.cells:
            hits = [i for i, cell in enumerate(listed) if cell in self.cells]
            if hits:
                for i in hits:
                    batch.merge_into_retired(self.cells[int(cells[i])], batch.count[i])
                hit = np.zeros(cells.size, dtype=bool)
                hit[hits] = True
                batch.keep(~hit)


def _cells(x, tol, salt) -> np.ndarray:
    """One int64 hash per row of the rounded cell ``round(x / tol)`` (wrapping arithmetic;
    a collision between distinct cells has probability ~2^-64 per pair)."""
    x = np.asarray(x)
    if x.size and np.maximum.reduce(np.abs(x), axis=None) < tol * 2.0**62:  # finite, no cell to clip: the short way
        cells = x / tol
        np.rint(cells, out=cells)
        return cells.astype(np.int64) @ salt
    with np.errstate(over="ignore", invalid="ignore"):
        cells = x / tol
        np.rint(cells, out=cells)
        finite = np.isfinite(cells)
        if not finite.all():
            cells = np.where(finite, cells, 0.0)
        np.minimum(cells, 2.0**62, out=cells)
        np.maximum(cells, -(2.0**62), out=cells)
        return cells.astype(np.int64) @ salt  # wrapping integer products summed (order-free)


class RowConvergence(Stopping):
    """Per-row stopping for independent rows (bootstrap draws).

    A row stops when its projected gradient max-norm is at most ``gtol``; when its decrease
    per iteration falls below ``ftol·max(|f|, 1)`` (scipy's L-BFGS-B ``factr`` test) while
    the projected gradient is at most ``gstop`` (reason ``ftol``); or when no step decreases f
    (``stall``). A tiny decrease with a larger gradient means a poor model, not an optimum:
    the model restarts from the identity, and after ``patience`` such restarts in a row that
    did not help the row stops, unconverged (``no_progress``).
    """

    def __init__(self, n_rows: int, ftol: float = 1e-15, gtol: float = 1e-10, gstop: float = 1e-7,
                 patience: int = 3):
        self.ftol, self.gtol, self.gstop, self.patience = ftol, gtol, gstop, patience
        self.n_tiny = np.zeros(n_rows, dtype=int)

    def update(self, batch, f_old, stalled, pg) -> None:
        f = batch.f
        gmax = np.max(np.abs(pg), axis=1)
        small_g = gmax <= self.gtol
        tiny = ~stalled & ((f_old - f) <= self.ftol * np.maximum(np.maximum(np.abs(f_old), np.abs(f)), 1.0))
        n_tiny = np.where(tiny, self.n_tiny[batch.ids] + 1, 0)
        self.n_tiny[batch.ids] = n_tiny
        small_f = tiny & (gmax <= self.gstop)
        no_progress = tiny & ~small_f & (n_tiny > self.patience)
        batch.fresh[tiny & ~small_f] = True  # restart the model from the identity
        finished = stalled | no_progress | small_f | small_g
        if np.any(finished):
            reason = np.select([small_g, small_f, no_progress], ["gtol", "ftol", "no_progress"], "stall")
            self.retire(batch, finished, reason, small_g | small_f)
