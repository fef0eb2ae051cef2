"""Resampling with replacement: which runs each bootstrap draw takes.

One module, three documented modes; every draw ``i`` uses its own generator from
``numpy.random.SeedSequence(seed).spawn(n_draws)[i]``, so a draw does not depend on how many
draws come after it or on how draws are spread over workers.

- **Runs or clusters** (:func:`resample_indices`, the bootstrap of a fit): ``n`` runs drawn
  with replacement (Efron & Tibshirani 1993, ch. 6), or, given a cluster label per run, as
  many whole clusters as there are, drawn with replacement (the cluster bootstrap,
  Davison & Hinkley 1997 §3.8), so runs that share e.g. an IsoFLOP budget stay together.
  Picks come from ``rng.integers``.
- **Paired uniforms** (:func:`draw_uniforms`, :func:`draw_indices`, the comparison of
  systems): draw ``i`` draws ``M`` uniforms ``u_0 … u_{M−1}``, and a system with ``G``
  units takes, for ``j < G``, its unit ``⌊u_j·G⌋``. Each system alone gets an ordinary
  (cluster) bootstrap; systems sharing the uniforms pick the same units when their units
  match, so noise that belongs to a unit cancels in their difference.
- **Within groups** (:func:`resample_within_groups`, Approach 2's IsoFLOP profiles):
  each group's members are resampled with replacement inside the group, so every draw keeps
  every group with its size (the stratified bootstrap, Davison & Hinkley 1997 §3.2).

:func:`group_members` splits labels into groups and :func:`warn_degenerate_groups` says
when whole-group resampling cannot do what it promises. Numpy only (no polars or xarray),
so every stage can use it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from tsbudget.errors import BootstrapWarning

__all__ = [
    "draw_indices", "draw_uniforms", "group_members", "resample_indices", "resample_within_groups",
    "warn_degenerate_groups",
]


def _generators(seed: int, n_draws: int):
    """One generator per draw: draw ``i`` from ``SeedSequence(seed).spawn(n_draws)[i]``."""
    return (np.random.default_rng(c) for c in np.random.SeedSequence(seed).spawn(n_draws))


def group_members(labels) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(values, members)``: the sorted distinct labels and, for each, the indices of the
    entries that carry it."""
    values, inverse = np.unique(np.asarray(labels), return_inverse=True)
    inverse = inverse.reshape(-1)
    return values, [np.flatnonzero(inverse == g) for g in range(values.size)]


def resample_indices(n_runs: int, n_draws: int, seed: int = 0, clusters=None) -> list[np.ndarray]:
    """Row indices of each draw: ``n_runs`` rows with replacement, or, with ``clusters``
    (a label per run), as many whole clusters as there are, with replacement (module
    docstring, first mode)."""
    if clusters is None:
        return [rng.integers(0, n_runs, size=n_runs) for rng in _generators(seed, n_draws)]
    _, members = group_members(clusters)
    out = []
    for rng in _generators(seed, n_draws):
        picks = rng.integers(0, len(members), size=len(members))
        out.append(np.concatenate([members[p] for p in picks]))
    return out


def draw_uniforms(seed: int, n_draws: int, m: int) -> np.ndarray:
    """``(n_draws, m)`` uniforms; row ``i`` from ``SeedSequence(seed).spawn(n_draws)[i]``, so its first
    ``g`` entries do not depend on ``m`` (module docstring, second mode)."""
    return np.stack([rng.random(m) for rng in _generators(seed, n_draws)])


def draw_indices(members: Sequence[np.ndarray], uniforms: np.ndarray) -> list[np.ndarray]:
    """Indices of each draw over ``G = len(members)`` units (``members[k]`` the indices of
    unit ``k``): unit ``⌊u_j·G⌋`` for ``j < G`` from each row of ``uniforms``, whole (a unit
    picked twice counts twice)."""
    g = len(members)
    picks = np.minimum((uniforms[:, :g] * g).astype(np.int64), g - 1)
    return [np.concatenate([members[k] for k in row]) for row in picks]


def resample_within_groups(sizes: Sequence[int], n_draws: int, seed: int = 0) -> list[np.ndarray]:
    """Per group ``j``, an ``(n_draws, sizes[j])`` array of positions within the group drawn
    with replacement; draw ``i``'s generator draws the groups in order (module docstring,
    third mode)."""
    out = [np.empty((n_draws, int(s)), dtype=np.intp) for s in sizes]
    for i, rng in enumerate(_generators(seed, n_draws)):
        for j, s in enumerate(sizes):
            out[j][i] = rng.integers(0, s, size=s)
    return out


def warn_degenerate_groups(labels, name: str, group: str = "cluster", single_runs: str | None = None,
                           stacklevel: int = 2) -> None:
    """A :class:`~tsbudget.errors.BootstrapWarning` when resampling whole groups of
    ``labels`` cannot do what a cluster bootstrap promises: every group a single run (its
    draws are a plain bootstrap over runs; checked when ``single_runs`` says what that means
    to the caller), or one group (every draw is the whole data set, zero spread). ``name``
    starts the message, ``group`` names a group; ``stacklevel`` counts from the caller."""
    labels = np.asarray(labels)
    _, sizes = np.unique(labels, return_counts=True)
    if single_runs is not None and sizes.size > 1 and np.all(sizes == 1):
        warnings.warn(f"{name}: each of the {sizes.size} {group}s is a single run, so {single_runs}",
                      BootstrapWarning, stacklevel=stacklevel + 1)
    elif sizes.size == 1:
        warnings.warn(f"{name}: all {labels.size} runs form one {group}, so every draw is the whole data set and "
                      "the bootstrap spread is zero", BootstrapWarning, stacklevel=stacklevel + 1)
