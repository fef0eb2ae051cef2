"""Scoring a grouping against a reference grouping by its same-group pairs."""

from __future__ import annotations

import numpy as np

__all__ = ["pair_scores"]


def _same_group_pairs(labels) -> int:
    counts = np.unique(labels, return_counts=True)[1].astype(np.int64)
    return int((counts * (counts - 1) // 2).sum())


def pair_scores(predicted, reference) -> tuple[float, float]:
    """(precision, recall) of same-group pairs of ``predicted`` against ``reference`` labels.

    A pair of windows counts when both labelings put it in one group; computed from the
    contingency table, not by listing pairs.
    """
    predicted, reference = np.asarray(predicted), np.asarray(reference)
    joint = np.unique(np.stack([predicted, reference]), axis=1, return_counts=True)[1].astype(np.int64)
    both = int((joint * (joint - 1) // 2).sum())
    pred, ref = _same_group_pairs(predicted), _same_group_pairs(reference)
    return (both / pred if pred else 1.0), (both / ref if ref else 1.0)

