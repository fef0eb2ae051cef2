"""Bad inputs to ``tsbudget redundancy``: refused with exit 2, one line naming the option."""

from __future__ import annotations

import pytest

from tests.bad_inputs.conftest import assert_refused, expand

CASES = [
    ([], "--window"),
    (["--window", "0"], "--window"),
    (["--window", "-5"], "--window"),
    (["--window", "100000"], "window"),
    (["--window", "x"], "--window"),
    (["--window", "20", "--stride", "0"], "--stride"),
    (["--window", "20", "--stride", "-1"], "--stride"),
    (["--window", "20", "--threshold", "-1"], "--threshold"),
    (["--window", "20", "--threshold", "nan"], "--threshold"),
    (["--window", "20", "--time-col", "nosuch"], "nosuch"),
    (["--window", "20", "--label-col", "nosuch"], "nosuch"),
    (["--window", "20", "--channels", "nosuch"], "nosuch"),
    (["--window", "20", "--channels", ","], "--channels"),
    (["--window", "20", "--method", "nosuch"], "--method"),
    (["--window", "20", "--normal-min-size", "0"], "--normal-min-size"),
    (["--window", "20", "--unit", "nosuch"], "--unit"),
    (["--window", "20", "--r-star", "bad"], "--r-star"),
    (["--window", "20", "--r-star", "normal=x"], "--r-star"),
    (["--window", "20", "--r-star", "normal=-1"], "normal"),
    (["--window", "20", "--epochs", "0"], "--epochs"),
    (["--window", "20", "--plot", "{nodir}/r.png"], "--plot"),
    (["--window", "20", "--plot", "{out}/r.txt"], "--plot"),
    (["--window", "20", "--out", "{nodir}/r.json"], "--out"),
    (["--window", "20", "--out", "{out}"], "--out"),
    (["--window", "20", "--groups-out", "{nodir}/g.csv"], "--groups-out"),
    (["--window", "20", "--groups-out", "{out}/g.txt"], "--groups-out"),
]


@pytest.mark.parametrize("extra, fragment", CASES, ids=[" ".join(c[0]) or "none" for c in CASES])
def test_redundancy_refuses(files, out_dir, extra, fragment):
    assert_refused(expand(["redundancy", "{series}", *extra], {**files, "out": str(out_dir)}), fragment, out_dir)


FILES = [
    (["{missing}", "--window", "20"], "no-such-file.csv"),
    (["{xlsx}", "--window", "20"], "runs.xlsx"),
    (["{garbage}", "--window", "20"], "garbage.csv"),
    (["{windows}", "--window", "20"], "--window"),
    (["{dir}/nosuch.npy"], "nosuch.npy"),
]


@pytest.mark.parametrize("argv, fragment", FILES, ids=[" ".join(c[0]) for c in FILES])
def test_redundancy_refuses_files(files, out_dir, argv, fragment):
    assert_refused(expand(["redundancy", *argv], files), fragment, out_dir)
