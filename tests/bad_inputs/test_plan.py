"""Bad inputs to ``tsbudget plan`` and ``tsbudget frontier``: refused with exit 2, one line naming the option."""

from __future__ import annotations

import pytest

from tests.bad_inputs.conftest import assert_refused, expand

PLAN_CASES = [
    # (arguments after `plan`, fragment)
    ([], "--budget"),
    (["--budget", "0"], "--budget"),
    (["--budget", "-1e21"], "--budget"),
    (["--budget", "nan"], "--budget"),
    (["--budget", "inf"], "--budget"),
    (["--budget", "abc"], "--budget"),
    (["--budget", "1e21", "--budget-min", "1e20", "--budget-max", "1e22"], "--budget"),
    (["--budget-min", "1e20"], "--budget-max"),
    (["--budget-min", "1e22", "--budget-max", "1e20"], "budget"),
    (["--budget-max", "0"], "--budget-max"),
    (["--target-loss", "nan"], "--target-loss"),
    (["--target-loss", "0"], "--target-loss"),
    (["--target-loss", "-2"], "--target-loss"),
    (["--budget", "1e21", "--n-max", "0"], "--n-max"),
    (["--budget", "1e21", "--n-max", "-5"], "--n-max"),
    (["--budget", "1e21", "--n-min", "0"], "--n-min"),
    (["--budget", "1e21", "--n-min", "1e10", "--n-max", "1e9"], "--n-min"),
    (["--budget", "1e21", "--d-max", "0"], "--d-max"),
    (["--budget", "1e21", "--d-min", "-1"], "--d-min"),
    (["--budget", "1e21", "--d-min", "1e12", "--d-max", "1e10"], "--d-min"),
    (["--budget", "1e21", "--unique", "0"], "--unique"),
    (["--budget", "1e21", "--unique", "-1e9"], "--unique"),
    (["--budget", "1e21", "--level", "nan"], "--level"),
    (["--budget", "1e21", "--level", "1"], "--level"),
    (["--budget", "1e21", "--level", "0"], "--level"),
    (["--budget", "1e21", "--law", "nosuch"], "nosuch"),
    (["--budget", "1e21", "--preset", "nosuch"], "nosuch"),
    (["--budget", "1e21", "--cost-model", "nosuch"], "nosuch"),
    (["--budget", "1e21", "--unit", "nosuch"], "nosuch"),
    (["--budget", "1e21", "--hardware", "nosuch"], "nosuch"),
    (["--budget", "1e21", "--method", "nosuch"], "--method"),
    (["--budget", "1e21", "--mix", "nosuch"], "--mix"),
    (["--budget", "1e21", "--fix", "nosuch=1"], "nosuch"),
    (["--budget", "1e21", "--fix", "x"], "--fix"),
    (["--budget", "1e21", "--free", "nosuch"], "nosuch"),
    (["--budget", "1e21", "--free", ""], "--free"),
    (["--budget", "1e21", "--cost-setting", "nosuch=1"], "nosuch"),
    (["--budget", "1e21", "--cost-setting", "bad"], "--cost-setting"),
    (["--budget", "1e21", "--unit-setting", "nosuch=1"], "nosuch"),
    (["--budget", "1e21", "--serve", "0", "--serve-positions", "1"], "--serve"),
    (["--budget", "1e21", "--serve", "-1"], "--serve"),
    (["--budget", "1e21", "--serve-positions", "-1"], "--serve-positions"),
    (["--budget", "1e21", "--serve-utilization", "0.5"], "--serve"),
    (["--budget", "1e21", "--serve", "1e9", "--serve-utilization", "0"], "utili"),
    (["--budget", "1e21", "--serve", "1e9", "--serve-utilization", "2"], "utili"),
    (["--budget", "1e21", "--serve", "1e9", "--serve-set", "nosuch=1"], "nosuch"),
    (["--budget", "1e21", "--serve-set", "x=1"], "--serve"),
    (["--budget", "1e21", "--scale-to", "1e9"], "--scale-to"),
    (["--budget", "1e21", "--regimes", "{missing}"], "no-such-file.csv"),
    (["--budget", "1e21", "--regimes", "{notjson}"], "notjson.json"),
    (["--budget", "1e21", "--regimes", "{listjson}"], "list.json"),
    (["--budget", "1e21", "--regimes", "{regimes}", "--unique", "1e9"], "--unique"),
    (["--budget", "1e21", "--regimes", "{regimes}", "--scale-to", "0"], "--scale-to"),
    (["--budget", "1e21", "--fit", "{fit}", "--law", "chinchilla2022"], "--fit"),
    (["--budget", "1e21", "--fit", "{missing}"], "no-such-file.csv"),
    (["--budget", "1e21", "--fit", "{notjson}"], "notjson.json"),
    (["--budget", "1e21", "--fit", "{listjson}"], "list.json"),
    (["--budget", "1e21", "--fit", "{runs}"], "runs.csv"),
    (["--budget", "1e21", "--out", "{nodir}/plan.json"], "--out"),
    (["--budget", "1e21", "--out", "{out}"], "--out"),
    (["--budget", "1e21", "--nosuch"], "--nosuch"),
]


@pytest.mark.parametrize("argv, fragment", PLAN_CASES, ids=[" ".join(c[0]) for c in PLAN_CASES])
def test_plan_refuses(files, out_dir, argv, fragment):
    assert_refused(expand(["plan", *argv], {**files, "out": str(out_dir)}), fragment, out_dir)


FRONTIER_CASES = [
    ([], "--budgets"),
    (["--budgets", ""], "--budgets"),
    (["--budgets", "abc"], "--budgets"),
    (["--budgets", "1e18:1e20"], "--budgets"),
    (["--budgets", "1e18:1e20:0"], "--budgets"),
    (["--budgets", "1e18:1e20:-3"], "--budgets"),
    (["--budgets", "1e18:1e20:2.5"], "--budgets"),
    (["--budgets", "0:1e20:3"], "--budgets"),
    (["--budgets", "1e18:nan:3"], "--budgets"),
    (["--budgets", "1e18,-1e19"], "--budgets"),
    (["--budgets", "1e18,1e19", "--max-draws", "-1"], "--max-draws"),
    (["--budgets", "1e18,1e19", "--level", "nan"], "--level"),
    (["--budgets", "1e18,1e19", "--law", "nosuch"], "nosuch"),
    (["--budgets", "1e18,1e19", "--n-max", "0"], "--n-max"),
    (["--budgets", "1e18,1e19", "--fix", "nosuch=1"], "nosuch"),
    (["--budgets", "1e18,1e19", "--out", "{nodir}/f.csv"], "--out"),
    (["--budgets", "1e18,1e19", "--out", "{out}/f.txt"], "--out"),
    (["--budgets", "1e18,1e19", "--plot", "{nodir}/f.png"], "--plot"),
    (["--budgets", "1e18,1e19", "--plot", "{out}/f.txt"], "--plot"),
    (["--budgets", "1e18,1e19", "--fit", "{notjson}"], "notjson.json"),
]


@pytest.mark.parametrize("argv, fragment", FRONTIER_CASES, ids=[" ".join(c[0]) for c in FRONTIER_CASES])
def test_frontier_refuses(files, out_dir, argv, fragment):
    assert_refused(expand(["frontier", *argv], {**files, "out": str(out_dir)}), fragment, out_dir)
