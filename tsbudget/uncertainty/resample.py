"""Resampling runs for the bootstrap: which rows of the fitted runs each draw takes.

A plain bootstrap draws runs with replacement; a cluster bootstrap (Davison & Hinkley 1997
§3.8) draws whole clusters of runs (IsoFLOP budgets, model sizes, or labels the caller
gives) with replacement, so runs that share a budget stay together. Draw ``i`` uses its own
generator from ``numpy.random.SeedSequence(seed).spawn(n_draws)[i]``, so a draw does not
depend on how many draws there are after it or on how draws are spread over workers.
"""

from __future__ import annotations

import warnings

import numpy as np

from tsbudget.errors import BootstrapWarning, InputError, SchemaError

__all__ = ["cluster_attrs", "cluster_labels", "clusters", "resample_indices"]


def resample_indices(n_runs: int, n_draws: int, seed: int = 0, clusters=None) -> list[np.ndarray]:
    """Row indices of each draw: ``n_runs`` rows with replacement, or, with ``clusters``
    (a label per run), as many whole clusters as there are, with replacement.

    Draw ``i`` uses its own generator from ``SeedSequence(seed).spawn(n_draws)[i]``.
    """
    children = np.random.SeedSequence(seed).spawn(n_draws)
    if clusters is None:
        return [np.random.default_rng(c).integers(0, n_runs, size=n_runs) for c in children]
    labels = np.asarray(clusters)
    _, inverse = np.unique(labels, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)]
    out = []
    for c in children:
        picks = np.random.default_rng(c).integers(0, len(members), size=len(members))
        out.append(np.concatenate([members[p] for p in picks]))
    return out


def cluster_labels(result, cluster):
    """One cluster label per fitted run, or None for a plain bootstrap.

    ``cluster="flops"`` groups runs into IsoFLOP budgets with
    :func:`tsbudget.fitting.budgets.auto_budget_groups` (the exact values when there are
    at most 12, else at most 12 groups of nearby budgets), the grouping ``tsbudget
    isoflop`` and :mod:`tsbudget.comparisons.sensitivity` use: measured or digitised FLOPs are rarely
    exactly equal (the Chinchilla Fig. 4 runs have 245 distinct values, which would make
    245 clusters of one run each).
    """
    if cluster is None:
        return None
    runs = result.runs
    if isinstance(cluster, str):
        if cluster not in runs.columns:
            raise SchemaError(f"cluster column {cluster!r} is not in the fitted runs; columns are {runs.columns}")
        if cluster == "flops":
            from tsbudget.fitting.budgets import auto_budget_groups

            return auto_budget_groups(runs["flops"].to_numpy())
        return runs[cluster].to_numpy()
    labels = np.asarray(cluster)
    if labels.shape != (runs.height,):
        raise InputError(f"cluster labels must have one entry per fitted run ({runs.height}), got shape {labels.shape}")
    return labels


def clusters(result, cluster):
    """:func:`cluster_labels`, warning when the clusters cannot do what a cluster
    bootstrap promises: every cluster a single run (a plain bootstrap), or one cluster
    (every draw is the whole data set)."""
    labels = cluster_labels(result, cluster)
    if labels is None:
        return None
    name = repr(cluster) if isinstance(cluster, str) else "labels"
    _, sizes = np.unique(labels, return_counts=True)
    if sizes.size > 1 and np.all(sizes == 1):
        warnings.warn(f"cluster={name}: each of the {sizes.size} clusters is a single run, so this cluster "
                      "bootstrap is a plain bootstrap over runs; group the runs (e.g. cluster='flops', which "
                      "groups nearby budgets) or pass one label per group", BootstrapWarning, stacklevel=3)
    elif sizes.size == 1:
        warnings.warn(f"cluster={name}: all {labels.size} runs form one cluster, so every draw is the whole "
                      "data set and the bootstrap spread is zero", BootstrapWarning, stacklevel=3)
    return labels


def cluster_attrs(result, cluster) -> dict:
    """``n_clusters`` (resampling units: runs for a plain bootstrap) and, for
    ``cluster="flops"``, how the budgets were grouped."""
    try:
        labels = cluster_labels(result, cluster)
    except InputError:  # labels that only name caller-given resamples
        return {}
    out = {"n_clusters": int(result.runs.height if labels is None else np.unique(labels).size)}
    if isinstance(cluster, str) and cluster == "flops":
        out["cluster_grouping"] = ("FLOPs grouped by tsbudget.fitting.budgets.auto_budget_groups (the exact values "
                                   "when at most 12 distinct, else at most 12 groups of nearby budgets)")
    return out
