"""Benchmark: CLI start-up, as CPU time of whole processes, against importing numpy and scipy.optimize.

    python benchmarks/bench_startup.py [--repeat 15]

Every CLI command pays the start-up before it does any work, so it is measured as a user
would meet it: a fresh process, CPU time (user + system, from the kernel's accounting of the
finished child) rather than wall time, so a busy neighbour on a shared machine moves it less.
The commands are run alternately, after one warm-up each, and the median is quoted.

Reference (same run): ``python -c "import numpy, scipy.optimize"``, the import any scientific
Python tool pays before it computes. Targets (issue 10): ``tsbudget --help`` <= 0.25x of it;
``tsbudget plan --budget 1e21`` (a whole Chinchilla plan, printed) <= 0.6x. Floor:
``python -c pass``, the interpreter alone.

The console script is the one installed beside this interpreter (``<prefix>/bin/tsbudget``),
run by the interpreter directly, so a version manager's shell shim does not count.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path


def cpu_seconds(argv: list[str]) -> float:
    """CPU seconds (user + system) of one run of ``argv`` to completion."""
    before = os.times()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    script = Path(sys.executable).parent / "tsbudget"
    if not script.exists():
        sys.exit(f"no console script at {script}: pip install -e . first")
    py = sys.executable
    commands = {
        "python -c pass (floor)": [py, "-c", "pass"],
        "import numpy, scipy.optimize (reference)": [py, "-c", "import numpy, scipy.optimize"],
        "tsbudget --help": [py, str(script), "--help"],
        "tsbudget plan --budget 1e21": [py, str(script), "plan", "--budget", "1e21"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # warm-up: file caches, .pyc
        cpu_seconds(argv)
    for _ in range(args.repeat):
        for name, argv in commands.items():
            times[name].append(cpu_seconds(argv))

    reference = statistics.median(times["import numpy, scipy.optimize (reference)"])
    print(f"{'command':<45} {'median CPU s':>12} {'min':>7} {'max':>7} {'x reference':>12}")
    for name, t in times.items():
        med = statistics.median(t)
        print(f"{name:<45} {med:>12.3f} {min(t):>7.3f} {max(t):>7.3f} {med / reference:>12.2f}")


if __name__ == "__main__":
    main()
