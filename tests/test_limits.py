"""Input sizes that cannot finish in reasonable time are refused up front, naming the limit,
the value and how to proceed (issue 12: a frontier of 1e8 budgets, a sweep of 500,000 runs,
a fit of a 50 MB runs file ran for minutes)."""

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

import tsbudget as tb
from tsbudget.cli.main import main
from tsbudget.errors import InputError
from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.optim.multistart import MAX_START_RUNS, MAX_STARTS, start_grid
from tsbudget.planning.frontier import MAX_BUDGETS, parse_budgets
from tsbudget.sweeps.design import MAX_SWEEP_RUNS


def exit_and_stderr(argv) -> tuple[int, str]:
    """Exit status and stderr of ``tsbudget ARGV`` through the console entry point."""
    runner = CliRunner()
    with runner.isolation() as (_, err, _):
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code
        return code, err.getvalue().decode()


def test_budget_count_limit():
    assert parse_budgets(f"1e18:1e25:{MAX_BUDGETS}").size == MAX_BUDGETS
    with pytest.raises(InputError, match=rf"COUNT 100000000 is more than the limit of {MAX_BUDGETS} budgets.*smaller COUNT"):
        parse_budgets("1e18:1e25:100000000")
    listed = ",".join(["1e20"] * (MAX_BUDGETS + 1))
    with pytest.raises(InputError, match=rf"{MAX_BUDGETS + 1} budgets listed, more than the limit of {MAX_BUDGETS}"):
        parse_budgets(listed)


def test_frontier_command_refuses_a_huge_budget_count_at_once():
    code, err = exit_and_stderr(["frontier", "--budgets", "1e18:1e25:100000000"])
    assert code == 2 and f"limit of {MAX_BUDGETS} budgets" in err


def test_sweep_size_limit():
    with pytest.raises(InputError, match=rf"5 budgets × per_budget 100000 × 1 variable combinations is 500000 runs, "
                                         rf"more than the limit of {MAX_SWEEP_RUNS}"):
        tb.sweep(per_budget=100_000)
    with pytest.raises(InputError, match="3 variable combinations is 15000 runs"):
        tb.sweep(per_budget=1000, cost_model="moe", variables={"experts": [4, 8, 16]})
    code, err = exit_and_stderr(["sweep", "--per-budget", "100000"])
    assert code == 2 and f"limit of {MAX_SWEEP_RUNS}" in err


def test_fit_size_limit_counts_starts_times_runs():
    free = Chinchilla().parameters
    n_starts = start_grid(free).shape[0]
    assert start_grid(free, n_runs=MAX_START_RUNS // n_starts).shape[0] == n_starts
    with pytest.raises(InputError, match=r"a fit of 200000 runs from 4500 starts evaluates 9e\+08 start-runs"):
        start_grid(free, n_runs=200_000)
    with pytest.raises(InputError, match=f"more than {MAX_STARTS}"):
        start_grid(free, {"E": np.linspace(0, 1, 1000), "A": np.linspace(0, 1, 1000), "B": np.linspace(0, 1, 10)})


def test_a_fit_too_large_to_finish_is_refused_before_any_work():
    n = MAX_START_RUNS // 4500 + 1
    rng = np.random.default_rng(0)
    N, D = 10 ** rng.uniform(7, 10, n), 10 ** rng.uniform(9, 12, n)
    runs = pl.DataFrame({"N": N, "D": D, "loss": 1.8 + 480 / N**0.35 + 2000 / D**0.37})
    with pytest.raises(InputError, match=rf"a fit of {n} runs from 4500 starts.*coarser grid of starts"):
        tb.fit(runs)
    # a coarser grid brings the same runs under the limit
    assert start_grid(Chinchilla().parameters, {"E": [0.5], "A": [5.0], "B": [6.0]}, n_runs=n).shape[0] == 5 * 5
