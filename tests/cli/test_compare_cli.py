import json

import numpy as np
import polars as pl
import pytest

from tsbudget.cli.main import main


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_routing_example_json_and_plot(capsys, tmp_path):
    code, out, _ = run(["compare", "--example", "routing", "--draws", "10", "--json", "--plot",
                        str(tmp_path / "r.png")], capsys)
    assert code == 0
    d = json.loads(out)
    assert d["reference"] == "Dense" and set(d["systems"]) == {"Dense", "Hash-64", "RL-R-64", "S-Base-64"}
    # S-Base-64 is best at every budget inside the runs' FLOPs (3.3e19..1.3e21); at 1e19, below every run,
    # the routing law extrapolates RL-R-64 ahead (2.9951 vs 3.0047)
    inside = [r for r in d["frontier"] if r["budget"] >= 3e19]
    assert len(inside) == 16 and all(r["best"] == (r["system"] == "S-Base-64") for r in inside)
    # where routing stops helping, from each router's own fit (Clark et al. 2022 §5: S-Base 937B, RL-R 85B, Hash 83B)
    cut = {r["system"]: r["N"] for r in d["limits"]}
    assert set(cut) == {"Hash-64", "RL-R-64", "S-Base-64"} and 7e11 < cut["S-Base-64"] < 9e11
    assert d["options"]["shared_fits"] == {"S-Base-64": "Dense"}
    # paired on model size: all four systems trained the same six dense sizes
    assert d["pairing"]["S-Base-64"] == "paired with Dense on 'N': 6 values, the same key values"
    assert all("extrapolated" in c for c in d["crossovers"]) and "N" in d["frontier"][0]
    assert (tmp_path / "r.png").stat().st_size > 10_000


def test_runs_file_with_columns(capsys, tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for sys_, e in (("u", 1.9), ("v", 1.8)):
        for c in np.geomspace(1e17, 1e19, 3):
            for n in np.geomspace(2e7, 3e8, 5):
                d = c / (6 * n)
                rows.append((sys_, n, c, (e + 400 / n**0.34 + 1500 / d**0.36) * np.exp(rng.normal(0, 0.003))))
    path = tmp_path / "runs.csv"
    pl.DataFrame(rows, orient="row", schema=["arch", "params", "C", "L"]).write_csv(path)
    code, out, _ = run(["compare", str(path), "--by", "arch", "--n-col", "params", "--flops-col", "C", "--loss-col",
                        "L", "--reference", "u", "--budgets", "1e17:1e19:3", "--draws", "5"], capsys)
    assert code == 0 and "Comparison:" in out and "reference: u" in out
    assert "paired with u on runs ordered by (flops, N, D, loss): 15 runs, run for run in that order" in out
    common = [str(path), "--by", "arch", "--n-col", "params", "--flops-col", "C", "--loss-col", "L",
              "--budgets", "1e18", "--draws", "3", "--json"]
    code, out, _ = run(["compare", *common, "--pair-on", "C"], capsys)
    assert code == 0 and json.loads(out)["pairing"]["v"] == "paired with u on 'C': 3 values, the same key values"
    code, out, _ = run(["compare", *common, "--unpaired"], capsys)
    assert code == 0 and json.loads(out)["pairing"]["v"] == "independent: own stream over 15 runs"


def test_errors_are_one_line(capsys, tmp_path):
    code, _, err = run(["compare"], capsys)
    assert code == 2 and "--example routing" in err
    code, _, err = run(["compare", "--example", "routing", "--budgets", "1e19:x:3"], capsys)
    assert code == 2 and err.count("\n") == 1


@pytest.mark.parametrize("text, culprit", [("-1:1e20:3", "LOW '-1'"), ("1e18:nan:3", "HIGH 'nan'"),
                                           ("1e18:1e20:0", "COUNT '0'"), ("1e18:1e20:2.5", "COUNT '2.5'"),
                                           ("1e18:1e20", "3"), ("1e18,-5", "budget '-5'"), (" , ", "no budgets")])
def test_bad_budgets_are_one_line_naming_the_text(capsys, recwarn, text, culprit):
    code, out, err = run(["compare", "--example", "routing", f"--budgets={text}"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"budgets {text!r}" in err and culprit in err, err
    assert "array(" not in err and "Warning" not in err
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
