"""The one timing helper of the benchmarks: the best wall time of repeated calls."""

from __future__ import annotations

import math
import time


def best_time(fn, repeat: int = 1):
    """``(seconds, output)``: the shortest of ``repeat`` timed calls of ``fn()`` (the least
    disturbed by other load on the machine) and the last call's output."""
    best, out = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out
