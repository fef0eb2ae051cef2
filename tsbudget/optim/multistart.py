"""Multistart minimisation: a grid of starts, raced through one batched BFGS.

Hoffmann et al. 2022 (App. D.2) run L-BFGS from every point of a grid (4,500 starts for
Chinchilla). :func:`start_grid` builds the Cartesian product of the parameters' start
values; :func:`minimize_batched` runs every start as one row of
:func:`tsbudget.optim.bfgs.minimize_rows` under the :class:`~tsbudget.optim.stopping.Racing`
rule, and :data:`RACE` is the successive-halving schedule the fit uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from tsbudget.errors import InputError
from tsbudget.optim.bfgs import BatchResult, minimize_rows
from tsbudget.optim.stopping import Racing

__all__ = ["MAX_STARTS", "MAX_START_RUNS", "RACE", "minimize_batched", "start_grid"]

MAX_STARTS = 2_000_000

#: Most starts × runs one fit may evaluate. The raced fit makes about 1.8 start-evaluations per
#: start (all 4,500 screened by value, then the race), at 10-14 ns per start×run element here
#: (benchmarks/bench_fit.py, 2 shared cores): with the default 4,500 starts, 24,000 runs fit in
#: 2.0 s and 100,000 in 10.9 s (30 MiB allocated at the peak); 5e8 (111,000 runs at 4,500
#: starts: about 12 s raced, about 14 minutes with race=False at 116 evaluations per start) is the limit.
MAX_START_RUNS = 500_000_000

# Successive halving of the batched starts: keep the best 10% (>= 16) by the objective at the
# start points (``screen``, a round of zero iterations), then again after 1, 3, 7, ...
# iterations. On the golden data and 30 bootstrap resamples of it, every race found the
# objective of the full 4,500-start run to 1e-14 relative with 1/40 of the evaluations; the
# screen then found the same objective as the race without it on all of them (to 5e-15
# relative, golden data and resamples with seeds 0-29) with 60% of its evaluations, and the
# objective of race=False on 8 further resamples (seeds 100-107) to 4.4e-15.
# Settling (``settle_tol``, ``settle_margin``; see Racing): once a finalist has converged,
# finalists within 1e-7 of its objective retire as settled (10x inside the fit's "at the best"
# tolerance, AT_BEST_RTOL = 1e-6), and once two starts stand at the best, finalists still more
# than 1e-3 above it are pruned. The golden fit then takes 74 iterations instead of 191; on the
# golden data and 12 resamples (seeds 0-11) it found the objective of race=False to 2e-14
# relative, with at least 2 starts at the best on each.
RACE = {"keep_fraction": 0.1, "min_keep": 16, "first_round": 1, "screen": True, "settle_tol": 1e-7,
        "settle_margin": 1e-3}


def start_grid(free, grid: Mapping[str, Sequence[float]] | None = None, *, n_runs: int | None = None) -> np.ndarray:
    """The starts ``(n, len(free))``: the Cartesian product of each free parameter's start
    values (``grid[name]`` when given, else the parameter's own ``grid``), in fit coordinates.
    At most :data:`MAX_STARTS` starts, and with ``n_runs`` (the runs the fit evaluates at each
    start) at most :data:`MAX_START_RUNS` starts × runs; beyond either an InputError says how to proceed."""
    grid = dict(grid or {})
    names = [p.name for p in free]
    unknown = set(grid) - set(names)
    if unknown:
        raise InputError(f"grid: {sorted(unknown)[0]!r} is not a free parameter; free: {names}")
    axes = []
    for p in free:
        axis = np.asarray(grid.get(p.name, p.grid), dtype=float).reshape(-1)
        if axis.size == 0 or not np.all(np.isfinite(axis)):
            raise InputError(f"grid[{p.name!r}] must be finite start values, got {list(axis)}")
        axes.append(axis)
    size = math.prod(a.size for a in axes)
    if size > MAX_STARTS:
        raise InputError(f"grid has {size} starts, more than {MAX_STARTS}; use a coarser grid")
    if n_runs is not None and size * n_runs > MAX_START_RUNS:
        raise InputError(
            f"a fit of {n_runs} runs from {size} starts evaluates {size * n_runs:.3g} start-runs per iteration, "
            f"more than the limit of {MAX_START_RUNS:.3g} (about a minute here); fit fewer runs (a subsample, "
            "or the runs averaged per design point) or give a coarser grid of starts"
        )
    # the Cartesian product in itertools.product's order (the last axis varies fastest), built by numpy
    return np.stack([g.reshape(-1) for g in np.meshgrid(*axes, indexing="ij")], axis=-1).reshape(size, len(free))


def minimize_batched(
    value_and_grad: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    x0,
    lower=None,
    upper=None,
    *,
    max_iter: int = 400,
    ftol: float = 1e-12,
    gtol: float = 1e-12,
    merge_tol: float = 1e-7,
    c1: float = 1e-4,
    max_backtracks: int = 40,
    first_step: float = 0.1,
    keep_fraction: float = 1.0,
    min_keep: int = 16,
    first_round: int = 2,
    screen: bool = False,
    workers: int | None = 1,
    value: Callable[[np.ndarray], np.ndarray] | None = None,
    settle_tol: float = 0.0,
    settle_margin: float = 0.0,
) -> BatchResult:
    """Minimise ``f`` from every row of ``x0`` at once; starts that meet merge (see :class:`Racing`).

    ``value_and_grad(x)`` maps ``(k, p)`` points to ``(k,)`` values and ``(k, p)``
    gradients; a non-finite value marks a point as infeasible. ``ftol`` is the relative
    decrease per iteration below which a start counts as converged (scipy's ``factr``
    criterion), ``gtol`` the projected-gradient max-norm. ``first_step`` is the length
    (max-norm, fit coordinates) of each start's first, steepest-descent step.
    ``keep_fraction < 1`` races the starts (successive halving, Jamieson & Talwalkar
    2016): after rounds of ``first_round``, 2·``first_round``, 4·``first_round``, ...
    iterations only the best ``keep_fraction`` of the active starts (at least
    ``min_keep``) go on; the others retire as ``pruned``, unconverged. ``screen`` adds a
    round of zero iterations: the starts are ranked by their objective at the start point.
    ``value(x)``, the objective alone, makes that screen cheaper (no gradients for the
    starts it prunes); when ``value_and_grad`` is a bound ``value_and_grad`` method of a
    callable object (tsbudget's ``Objective``), that object is ``value``.
    ``settle_tol`` and ``settle_margin`` (racing only) stop the finalists once a start has
    converged: those at its objective settle, and, once two stand at it, those far above it
    are pruned (:class:`Racing`).
    ``workers`` threads split large batches (numpy releases the GIL inside its loops;
    ``None``: the number of CPUs, at most 4). Default one: the work is memory-bound
    elementwise numpy in cache-sized blocks, and on a shared 2-core machine the hand-off to
    a second thread waited longer than it saved (issue 15: 8.5 of 19-22 s of a
    24,000-run fit were waits).
    """
    x0 = np.atleast_2d(np.asarray(x0, dtype=float))
    if value is None and getattr(value_and_grad, "__name__", "") == "value_and_grad":
        # a bound ``Objective.value_and_grad``: its object is the objective itself
        owner = getattr(value_and_grad, "__self__", None)
        value = owner if callable(owner) else None
    racing = Racing(ftol, gtol, merge_tol, keep_fraction, min_keep, first_round, n_params=x0.shape[1], screen=screen,
                    settle_tol=settle_tol, settle_margin=settle_margin)
    return minimize_rows(lambda x, rows: value_and_grad(x), x0, lower, upper, racing, max_iter=max_iter, c1=c1,
                         max_backtracks=max_backtracks, first_step=first_step, workers=workers,
                         value=None if value is None else (lambda x, rows: value(x)))
