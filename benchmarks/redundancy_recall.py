"""Agreement of the streaming LSH grouping with the exact reference near the threshold.

    python benchmarks/redundancy_recall.py [--noise 0.30 0.36 0.38 0.40] [--seeds 1 2 3 4]

Corpus: ``noisy_corpus`` of tests/timeseries/corpora.py (5,000 windows of 64 steps x 8 channels:
noisy copies of 50 random-walk shapes with random gain and offset, plus 500 distinct windows),
at several noise levels. Threshold 0.5 RMS; the same per-channel floor for both groupings.
Scores (``tsbudget.timeseries.scoring.pair_scores``): precision and recall of same-group pairs of the
fast grouping against ``exact_groups``, streaming chunks of 1,000 windows (as the test does)
and one chunk of 16,384 (the default, so the 5,000 windows arrive in a single chunk).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from tests.timeseries.corpora import noisy_corpus
from tsbudget.timeseries import (
    default_floor,
    exact_groups,
    lsh_groups,
    normalise_windows,
    pair_scores,
)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noise", type=float, nargs="+", default=[0.30, 0.36, 0.38, 0.40])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--threshold", type=float, default=0.5)
    args = ap.parse_args(argv)
    print("noise seed  chunk  exact_groups lsh_groups  precision  recall")
    for noise in args.noise:
        for seed in args.seeds:
            w = noisy_corpus(noise=noise, seed=seed)
            floor = default_floor(w[:4096])
            reference = exact_groups(normalise_windows(w, floor), args.threshold)
            for chunk in (1000, 16_384):
                fast, _, _ = lsh_groups((w[i : i + chunk] for i in range(0, len(w), chunk)), args.threshold, floor=floor)
                p, r = pair_scores(fast, reference)
                print(f"{noise:5.2f} {seed:4d} {chunk:6d} {len(set(reference)):12d} {len(set(fast)):10d} "
                      f"{p:10.4f} {r:7.4f}")


if __name__ == "__main__":
    main()
