"""Benchmark: near-duplicate grouping of one million telemetry windows (64 steps x 8 channels).

    python benchmarks/bench_redundancy.py [--windows 1000000] [--keep FILE.npy]

1. Writes the windows (tsbudget.timeseries.telemetry.telemetry_windows, seed 0; 2 GiB of float32) to a
   .npy file chunk by chunk, so no process ever holds the whole input.
2. In a fresh subprocess, groups them with ``measure_redundancy(path)``: the file is read in
   chunks with plain file reads (no memory map, so file pages never count as resident memory).
   Wall time covers reading, normalising, hashing, verification and the report. Peak memory is
   the subprocess's peak resident set size (``VmHWM`` in ``/proc/self/status``),
   everything included: interpreter, numpy, scipy, polars imports and the chunk buffers.
3. Reference measured in the same run: the exact O(n²) grouping on the first ``--reference``
   windows; its time is extrapolated to the full set as n² and quoted as a ratio, and the fast
   grouping of that subset is scored against it (pair precision / recall).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

CHILD = r"""
import json, resource, sys, time
import numpy as np
from tsbudget.timeseries.measure import measure_redundancy
import os


def hwm_kib():
    # this process's own peak resident set (VmHWM): ru_maxrss can carry the parent's peak
    # across fork + exec, VmHWM belongs to the new address space
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


ru = resource.getrusage(resource.RUSAGE_SELF)
base, cpu0 = hwm_kib(), ru.ru_utime + ru.ru_stime
load = os.getloadavg()[0]
t = time.perf_counter()
report = measure_redundancy(sys.argv[1])
seconds = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": seconds, "cpu_seconds": ru.ru_utime + ru.ru_stime - cpu0, "load": load,
                  "peak_rss_mib": hwm_kib() / 1024, "rss_after_imports_mib": base / 1024,
                  "report": report.to_dict()}))
"""


def write_windows(path, n, chunk=65_536):
    from tsbudget.timeseries.telemetry import telemetry_windows

    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (n, 64, 8)})
        for x, _ in telemetry_windows(n, 64, 8, chunk=chunk, seed=0):
            x.tofile(f)


def reference(path, n_ref):
    from tsbudget.timeseries import (default_floor, exact_groups, iter_npy_windows, lsh_groups,
                                     normalise_windows, pair_scores)

    w = next(iter_npy_windows(path, n_ref))
    floor = default_floor(w[:4096])
    t = time.perf_counter()
    ref = exact_groups(normalise_windows(w, floor), 0.5)
    t_ref = time.perf_counter() - t
    t = time.perf_counter()
    fast = lsh_groups([w], 0.5, floor=floor)[0]
    t_fast = time.perf_counter() - t
    precision, recall = pair_scores(fast, ref)
    return {"n": n_ref, "exact_seconds": t_ref, "lsh_seconds": t_fast, "precision": precision, "recall": recall}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", type=int, default=1_000_000)
    ap.add_argument("--reference", type=int, default=8_000)
    ap.add_argument("--keep", default=None, help="write the windows here (and reuse the file if present)")
    args = ap.parse_args(argv)
    tmp = tempfile.TemporaryDirectory()
    path = args.keep or os.path.join(tmp.name, "windows.npy")
    if not (args.keep and os.path.exists(path)):
        t = time.perf_counter()
        write_windows(path, args.windows)
        print(f"wrote {args.windows} windows to {path} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", CHILD, path], capture_output=True, text=True, env=env, check=True)
    res = json.loads(out.stdout)
    ref = reference(path, args.reference)
    r = res["report"]
    exact_full = ref["exact_seconds"] * (args.windows / ref["n"]) ** 2
    print(f"windows               {r['windows']}")
    print(f"groups                {r['groups']} (normal share {r['normal_share']:.3f}, "
          f"representatives {r['diagnostics']['representatives']})")
    print(f"effective / raw       {r['effective']:.6g} / {r['raw']:.6g} windows")
    print(f"grouping wall time    {res['seconds']:.1f} s (target < 30 s); CPU time {res['cpu_seconds']:.1f} s; "
          f"load average at start {res['load']:.1f} on {os.cpu_count()} cores")
    print(f"peak RSS              {res['peak_rss_mib']:.0f} MiB (target < 2048 MiB; "
          f"{res['rss_after_imports_mib']:.0f} MiB after imports)")
    print(f"exact reference       {ref['exact_seconds']:.2f} s on {ref['n']} windows -> ~{exact_full / 3600:.1f} h "
          f"extrapolated (n^2); lsh is ~{exact_full / res['seconds']:.0f}x faster")
    print(f"lsh vs exact on {ref['n']}   precision {ref['precision']:.4f}, recall {ref['recall']:.4f}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
