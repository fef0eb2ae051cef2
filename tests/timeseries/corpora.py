"""Shared test corpora for the redundancy tests (and benchmarks/redundancy_recall.py)."""

import numpy as np


def repeated_corpus(k=300, m=25, seed=0, shuffle=True):
    """One window repeated k times plus m distinct random-walk windows (64 steps x 8 channels)."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((1, 64, 8)).cumsum(axis=1)
    rare = rng.standard_normal((m, 64, 8)).cumsum(axis=1)
    w = np.concatenate([np.repeat(base, k, axis=0), rare])
    return w[rng.permutation(len(w))] if shuffle else w


def noisy_corpus(n=5000, clusters=50, distinct=500, noise=0.3, seed=1):
    """Noisy near-duplicates of ``clusters`` shapes (with random gain/offset) plus distinct windows."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, 64, 8)).cumsum(axis=1)
    sizes = rng.multinomial(n - distinct, rng.dirichlet(np.full(clusters, 0.5)))
    w = np.concatenate([np.repeat(centers, sizes, axis=0), rng.standard_normal((distinct, 64, 8)).cumsum(axis=1)])
    w = w * rng.uniform(0.5, 2.0, (len(w), 1, 8)) + rng.uniform(-3, 3, (len(w), 1, 8))
    w = w + noise * w.std(axis=1, keepdims=True) * rng.standard_normal(w.shape)
    return w[rng.permutation(len(w))]
