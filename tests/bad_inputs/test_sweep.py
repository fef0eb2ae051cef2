"""Bad inputs to ``tsbudget sweep`` and ``tsbudget simulate``: refused with exit 2, one line naming the option."""

from __future__ import annotations

import pytest

from tests.bad_inputs.conftest import assert_refused, expand

SWEEP = ["sweep", "--preset", "chinchilla2022", "--budgets", "1e18:1e19:2", "--per-budget", "3"]

SWEEP_CASES = [
    (["--per-budget", "0"], "--per-budget"),
    (["--per-budget", "x"], "--per-budget"),
    (["--spread", "0"], "--spread"),
    (["--spread", "-2"], "--spread"),
    (["--spread", "nan"], "--spread"),
    (["--preset", "nosuch"], "nosuch"),
    (["--fit", "{fit}"], "--fit"),
    (["--fit", "{missing}"], "no-such-file.csv"),
    (["--cost-model", "nosuch"], "nosuch"),
    (["--hardware", "nosuch"], "nosuch"),
    (["--variable", "experts"], "--variable"),
    (["--variable", "experts="], "--variable"),
    (["--variable", "experts=a,b"], "--variable"),
    (["--variable", "=1,2"], "--variable"),
    (["--variable", "nosuch=1,2"], "nosuch"),
    (["--target-budget", "0"], "--target-budget"),
    (["--target-budget", "nan"], "--target-budget"),
    (["--sweep-budget", "1e19"], "--target-budget"),
    (["--sweep-budget", "-1", "--target-budget", "1e21"], "--sweep-budget"),
    (["--noise", "-0.1"], "--noise"),
    (["--noise", "nan"], "--noise"),
    (["--out", "{nodir}/s.csv"], "--out"),
    (["--out", "{out}/s.txt"], "--out"),
    (["--out", "{out}"], "--out"),
    (["--selected-only"], "--selected-only"),
]


@pytest.mark.parametrize("extra, fragment", SWEEP_CASES, ids=[" ".join(c[0]) for c in SWEEP_CASES])
def test_sweep_refuses(files, out_dir, extra, fragment):
    assert_refused(expand([*SWEEP, *extra], {**files, "out": str(out_dir)}), fragment, out_dir)


BUDGETS = ["abc", "1e18:1e19", "1e18:1e19:0", "0:1e19:3", "1e18:1e19:x", ""]


@pytest.mark.parametrize("text", BUDGETS)
def test_sweep_refuses_budgets(out_dir, text):
    assert_refused(["sweep", "--preset", "chinchilla2022", "--budgets", text], "--budgets", out_dir)


SIM_CASES = [
    ([], "--preset"),
    (["--preset", "chinchilla2022", "--law", "chinchilla"], "--preset"),
    (["--preset", "nosuch"], "nosuch"),
    (["--preset", "chinchilla2022", "--noise", "-1"], "--noise"),
    (["--preset", "chinchilla2022", "--noise", "nan"], "--noise"),
    (["--preset", "chinchilla2022", "--seed", "-1"], "--seed"),
    (["--preset", "chinchilla2022", "--set", "nosuch=1"], "nosuch"),
    (["--preset", "chinchilla2022", "--set", "alpha"], "--set"),
    (["--preset", "chinchilla2022", "--set", "alpha=x"], "--set"),
    (["--preset", "chinchilla2022", "--law-variable", "experts"], "--law-variable"),
    (["--law", "nosuch"], "nosuch"),
    (["--fit", "{missing}"], "no-such-file.csv"),
    (["--fit", "{listjson}"], "list"),
    (["--preset", "chinchilla2022", "--out", "{nodir}/r.csv"], "--out"),
    (["--preset", "chinchilla2022", "--out", "{out}/r.txt"], "--out"),
]


@pytest.mark.parametrize("extra, fragment", SIM_CASES, ids=[" ".join(c[0]) or "none" for c in SIM_CASES])
def test_simulate_refuses(files, out_dir, extra, fragment):
    assert_refused(expand(["simulate", "{sweep}", *extra], {**files, "out": str(out_dir)}), fragment, out_dir)


@pytest.mark.parametrize("sweep, fragment",
                         [("{missing}", "SWEEP"), ("{garbage}", "garbage.csv"), ("{notjson}", "notjson")])
def test_simulate_refuses_sweep_file(files, out_dir, sweep, fragment):
    assert_refused(expand(["simulate", sweep, "--preset", "chinchilla2022"], files), fragment, out_dir)
