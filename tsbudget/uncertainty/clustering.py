"""The clusters of a fit's bootstrap: one label per fitted run, from a column or the caller.

A cluster bootstrap (Davison & Hinkley 1997 §3.8) draws whole clusters of runs (IsoFLOP
budgets, model sizes, or labels the caller gives) with replacement, so runs that share a
budget stay together. This module turns ``bootstrap(..., cluster=...)`` into labels; the
resampling itself is :func:`tsbudget.resampling.resample_indices`.
"""

from __future__ import annotations

import numpy as np

from tsbudget.errors import InputError, SchemaError
from tsbudget.resampling import warn_degenerate_groups

__all__ = ["cluster_attrs", "cluster_labels", "clusters"]


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
    warn_degenerate_groups(labels, f"cluster={name}", "cluster",
                           single_runs="this cluster bootstrap is a plain bootstrap over runs; group the runs (e.g. "
                           "cluster='flops', which groups nearby budgets) or pass one label per group", stacklevel=3)
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
