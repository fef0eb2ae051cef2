"""Bad inputs to ``tsbudget cost``, ``plugins``, ``presets``, ``compare`` and the group itself."""

from __future__ import annotations

import pytest

from tests.bad_inputs.conftest import COLS, assert_refused, expand

COST = ["cost", "--n", "4e8", "--data", "8e9"]

COST_CASES = [
    (["cost"], "--n"),
    (["cost", "--n", "4e8"], "--data"),
    (["cost", "--n", "0", "--data", "8e9"], "--n"),
    (["cost", "--n", "-1", "--data", "8e9"], "--n"),
    (["cost", "--n", "nan", "--data", "8e9"], "--n"),
    (["cost", "--n", "x", "--data", "8e9"], "--n"),
    (["cost", "--n", "4e8", "--data", "-1"], "--data"),
    (["cost", "--n", "4e8", "--data", "inf"], "--data"),
    ([*COST, "--unit", "nosuch"], "nosuch"),
    ([*COST, "--cost-model", "nosuch"], "nosuch"),
    ([*COST, "--cost-setting", "nosuch=1"], "nosuch"),
    ([*COST, "--cost-setting", "bad"], "--cost-setting"),
    ([*COST, "--unit-setting", "nosuch=1"], "nosuch"),
    ([*COST, "--set", "nosuch=1"], "nosuch"),
    ([*COST, "--set", "x"], "--set"),
    ([*COST, "--cost-model", "moe", "--set", "experts=x"], "--set"),
    ([*COST, "--cost-model", "moe", "--set", "experts=8", "--set", "experts=16"], "experts"),
    ([*COST, "--cost-model", "moe", "--set", "experts=0"], "experts"),
    ([*COST, "--serve", "-1"], "--serve"),
    ([*COST, "--serve", "1", "--serve-positions", "1"], "--serve"),
    ([*COST, "--serve-set", "nosuch=1"], "nosuch"),
    ([*COST, "--hardware", "nosuch"], "no hardware profile 'nosuch'"),
    ([*COST, "--train-utilization", "0"], "--train-utilization"),
    ([*COST, "--train-utilization", "2"], "utili"),
    ([*COST, "--serve-utilization", "-1"], "--serve-utilization"),
    (["plugins", "nosuch"], "nosuch"),
    (["plugins", "dense", "--kind", "nosuch"], "--kind"),
    (["plugins", "dense", "--kind", "law"], "dense"),
    (["plugins", "--nosuch"], "--nosuch"),
    (["presets", "--nosuch"], "--nosuch"),
    (["presets", "extra"], "extra"),
    (["nosuch"], "nosuch"),
    (["--nosuch"], "--nosuch"),
]


@pytest.mark.parametrize("argv, fragment", COST_CASES, ids=[" ".join(c[0]) for c in COST_CASES])
def test_refuses(out_dir, argv, fragment):
    assert_refused(argv, fragment, out_dir)


COMPARE = ["compare", "{runs}", "--by", "system", *COLS, "--draws", "2"]

COMPARE_CASES = [
    (["compare"], "RUNS"),
    (["compare", "{missing}"], "no-such-file.csv"),
    (["compare", "{runs}", "--example", "routing"], "--example"),
    ([*COMPARE, "--by", "nosuch"], "nosuch"),
    ([*COMPARE, "--reference", "nosuch"], "nosuch"),
    ([*COMPARE, "--budgets", "abc"], "--budgets"),
    ([*COMPARE, "--budgets", "1e18:1e20:0"], "--budgets"),
    ([*COMPARE, "--draws", "1"], "--draws"),
    ([*COMPARE, "--level", "nan"], "--level"),
    ([*COMPARE, "--level", "1"], "--level"),
    ([*COMPARE, "--law", "nosuch"], "nosuch"),
    ([*COMPARE, "--cost-model", "nosuch"], "nosuch"),
    ([*COMPARE, "--fix", "x"], "--fix"),
    ([*COMPARE, "--fix", "nosuch=1"], "nosuch"),
    ([*COMPARE, "--variable", "x"], "--variable"),
    ([*COMPARE, "--frontier", "nosuch"], "--frontier"),
    ([*COMPARE, "--pair-on", "nosuch"], "nosuch"),
    ([*COMPARE, "--n-col", "nosuch"], "nosuch"),
    ([*COMPARE, "--plot", "{nodir}/c.png"], "--plot"),
    ([*COMPARE, "--plot", "{out}/c.txt"], "--plot"),
    ([*COMPARE, "--example", "nosuch"], "--example"),
]


@pytest.mark.parametrize("argv, fragment", COMPARE_CASES, ids=[" ".join(c[0][4:]) for c in COMPARE_CASES])
def test_compare_refuses(files, out_dir, argv, fragment):
    assert_refused(expand(argv, {**files, "out": str(out_dir)}), fragment, out_dir)


def test_runs_stdin_refused_for_compare(out_dir):
    assert_refused(["compare", "-", "--by", "system"], "standard input", out_dir, stdin="")
