"""Bad inputs to ``tsbudget isoflop``: refused with exit 2, one line naming the option."""

from __future__ import annotations

import pytest

from tests.bad_inputs.conftest import assert_refused, expand

ISO = ["--n-col", "N", "--flops-col", "flops", "--loss-col", "loss"]

CASES = [
    (["--tolerance", "-0.1"], "--tolerance"),
    (["--tolerance", "nan"], "--tolerance"),
    (["--tolerance", "abc"], "--tolerance"),
    (["--budgets", "abc"], "--budgets"),
    (["--budgets", "-1e18"], "--budgets"),
    (["--budgets", ","], "--budgets"),
    (["--bootstrap", "1"], "--bootstrap"),
    (["--bootstrap", "-1"], "--bootstrap"),
    (["--level", "nan"], "--level"),
    (["--level", "1.5"], "--level"),
    (["--d-opt", "nosuch"], "--d-opt"),
    (["--seed", "x"], "--seed"),
    (["--n-col", "nosuch"], "nosuch"),
    (["--flops-col", "nosuch"], "nosuch"),
    (["--loss-col", "system"], "system"),
    (["--col", "bad"], "--col"),
    (["--out", "{nodir}/iso.csv"], "--out"),
    (["--out", "{out}/iso.txt"], "--out"),
    (["--out", "{out}"], "--out"),
    (["--plot", "{nodir}/iso.png"], "--plot"),
    (["--plot", "{out}/iso.csv"], "--plot"),
    (["--nosuch"], "--nosuch"),
]


@pytest.mark.parametrize("extra, fragment", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_isoflop_refuses(files, out_dir, extra, fragment):
    assert_refused(expand(["isoflop", "{runs}", *ISO, *extra], {**files, "out": str(out_dir)}), fragment, out_dir)


RUNS = [("{missing}", "no-such-file.csv"), ("{empty}", "no rows"), ("{dupcols}", "twice"), ("{xlsx}", "runs.xlsx")]


@pytest.mark.parametrize("runs, fragment", RUNS)
def test_isoflop_refuses_runs(files, out_dir, runs, fragment):
    assert_refused(expand(["isoflop", runs, *ISO], files), fragment, out_dir)


def test_isoflop_stdin_garbage(out_dir):
    assert_refused(["isoflop", "-", *ISO], "standard input", out_dir, stdin="\x00\xff")
