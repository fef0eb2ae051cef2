"""Bad inputs to ``tsbudget fit`` and ``tsbudget sensitivity``: refused with exit 2, one line naming the option."""

from __future__ import annotations

import pytest

from tests.bad_inputs.conftest import COLS, INIT, assert_refused, expand

FIT_CASES = [
    # (extra arguments after `fit {runs}`, fragment of the message)
    (["--level", "nan"], "--level"),
    (["--level", "0"], "--level"),
    (["--level", "1"], "--level"),
    (["--level", "abc"], "--level"),
    (["--level", "inf"], "--level"),
    (["--level", "-0.5"], "--level"),
    (["--budgets", "abc"], "--budgets"),
    (["--budgets", "1e21,abc"], "--budgets"),
    (["--budgets", "-1e21"], "--budgets"),
    (["--budgets", "0"], "--budgets"),
    (["--budgets", "nan"], "--budgets"),
    (["--budgets", ","], "--budgets"),
    (["--bootstrap", "1"], "--bootstrap"),
    (["--bootstrap", "-3"], "--bootstrap"),
    (["--bootstrap", "x"], "--bootstrap"),
    (["--workers", "0"], "--workers"),
    (["--delta", "0"], "--delta"),
    (["--delta", "-1"], "--delta"),
    (["--delta", "nan"], "--delta"),
    (["--delta", "inf"], "--delta"),
    (["--init", "nosuch=1"], "nosuch"),
    (["--init", "E"], "--init"),
    (["--init", "E=abc"], "--init"),
    (["--init", "E=nan"], "--init"),
    (["--init", "=1"], "--init"),
    (["--init", "E=1", "--init", "E=2"], "E"),
    (["--fix", "nosuch=1"], "nosuch"),
    (["--fix", "alpha"], "--fix"),
    (["--fix", "alpha=x"], "--fix"),
    (["--fix", "alpha=inf"], "--fix"),
    (["--fix", "alpha=1", "--fix", "alpha=2"], "alpha"),
    (["--cost-model", "nosuch"], "nosuch"),
    (["--unit", "nosuch"], "nosuch"),
    (["--law", "nosuch"], "nosuch"),
    (["--law", ""], "law"),
    (["--cost-setting", "nosuch=1"], "nosuch"),
    (["--cost-setting", "bad"], "--cost-setting"),
    (["--unit-setting", "nosuch=1"], "nosuch"),
    (["--unit-setting", "=1"], "--unit-setting"),
    (["--law-variable", "experts", "--law-variable", "experts"], "experts"),
    (["--law-variable", ""], "--law-variable"),
    (["--law-variable", "experts:nosuchkind"], "nosuchkind"),
    (["--drop-highest-loss", "-1"], "--drop-highest-loss"),
    (["--drop-highest-loss", "18"], "drop"),
    (["--seed", "x"], "--seed"),
    (["--cluster", "nosuch", "--bootstrap", "3"], "nosuch"),
    (["--cluster", "nosuch"], "--cluster"),
    (["--col", "bad"], "--col"),
    (["--col", "x="], "--col"),
    (["--col", "experts=nosuch"], "nosuch"),
    (["--n-col", "nosuch"], "nosuch"),
    (["--loss-col", "nosuch"], "nosuch"),
    (["--d-col", "N"], "both"),
    (["--out", "{nodir}/fit.json"], "--out"),
    (["--plot", "{nodir}/fit.png"], "--plot"),
    (["--plot", "{out}/fit.txt"], "--plot"),
    (["--out", "{out}"], "--out"),
    (["--nosuch"], "--nosuch"),
]


@pytest.mark.parametrize("extra, fragment", FIT_CASES, ids=[" ".join(c[0]) for c in FIT_CASES])
def test_fit_refuses(files, out_dir, extra, fragment):
    f = {**files, "out": str(out_dir)}
    assert_refused(expand(["fit", "{runs}", *COLS, *INIT, *extra], f), fragment, out_dir)


RUNS_CASES = [
    # (runs argument, extra, fragment)
    ("{missing}", [], "no-such-file.csv"),
    ("{empty}", [], "no rows"),
    ("{dupcols}", [], "N"),
    ("{textcol}", [], "D"),
    ("{xlsx}", [], "runs.xlsx"),
    ("{garbage}", [], "garbage.csv"),
    ("{dir}", [], "RUNS"),
    ("{runs}", ["--loss-col", "system"], "system"),
]


@pytest.mark.parametrize("runs, extra, fragment", RUNS_CASES, ids=[c[0] + " ".join(c[1]) for c in RUNS_CASES])
def test_fit_refuses_runs(files, out_dir, runs, extra, fragment):
    argv = ["fit", runs, "--n-col", "N", "--d-col", "D", *INIT, *extra]
    assert_refused(expand(argv, {**files, "out": str(out_dir)}), fragment, out_dir)


STDIN_CASES = [
    ("", "standard input"),
    ("N,D,loss\n", "standard input"),
    ("\x00\x01\xff", "standard input"),
    ("N,D,loss\n1e8,2e9,x\n2e8,3e9,3.1\n", "loss"),
]


@pytest.mark.parametrize("stdin, fragment", STDIN_CASES)
def test_fit_refuses_stdin(files, out_dir, stdin, fragment):
    assert_refused(["fit", "-", *COLS, *INIT], fragment, out_dir, stdin=stdin)


def test_fit_out_folder_missing_before_work(files, out_dir):
    """The output folder is checked before the fit: nothing is written, not even the draws."""
    assert_refused(expand(["fit", "{runs}", *COLS, *INIT, "--bootstrap", "3", "--out", "{out}/x/fit.json"],
                          {**files, "out": str(out_dir)}), "--out", out_dir)


def test_identical_runs_refused(tmp_path, out_dir):
    """Thirty copies of one run are one design point: too few for five parameters."""
    path = tmp_path / "same.csv"
    path.write_text("N,D,loss\n" + "1e8,2e9,3.1\n" * 30)
    assert_refused(["fit", str(path), *COLS, *INIT], "distinct", out_dir)


SENSITIVITY_CASES = [
    (["--target-budget", "0"], "--target-budget"),
    (["--target-budget", "-1e21"], "--target-budget"),
    (["--target-budget", "nan"], "--target-budget"),
    (["--variant", "nosuch"], "nosuch"),
    (["--embedding-col", "nosuch"], "nosuch"),
    (["--out", "{nodir}/s.csv"], "--out"),
    (["--out", "{out}/s.txt"], "--out"),
    (["--delta", "0"], "--delta"),
    (["--init", "nosuch=1"], "nosuch"),
    (["--cost-model", "nosuch"], "nosuch"),
    (["--fix", "alpha=x"], "--fix"),
    (["--law", "nosuch"], "nosuch"),
]


@pytest.mark.parametrize("extra, fragment", SENSITIVITY_CASES, ids=[" ".join(c[0]) for c in SENSITIVITY_CASES])
def test_sensitivity_refuses(files, out_dir, extra, fragment):
    f = {**files, "out": str(out_dir)}
    assert_refused(expand(["sensitivity", "{runs}", *COLS, *INIT, *extra], f), fragment, out_dir)


def test_sensitivity_missing_runs(files, out_dir):
    assert_refused(expand(["sensitivity", "{missing}", *COLS], files), "no-such-file.csv", out_dir)
