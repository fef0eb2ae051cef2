"""``tsbudget validate`` end to end on the shipped IsoFLOP tables."""

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from tsbudget.cli.main import cli, main

DATA = Path(__file__).parents[1] / "data"
EPOCH = DATA / "isoflops_epochai_chinchilla.csv"
LLAMA = DATA / "validation" / "isoflops_llama_3.csv"
ISO = ["--n-col", "params", "--d-col", "tokens", "--budget-col", "budget"]


def run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_validate_writes_the_table_and_the_json(tmp_path):
    out, preds = tmp_path / "errors.csv", tmp_path / "pred.csv"
    r = run(["validate", str(EPOCH), *ISO, "--cut", "1e21", "--method", "huber", "--method", "vpnls",
             "--law", "chinchilla", "--law", "kaplan", "--fix", "E=1.6", "--out", str(out), "--predictions", str(preds)])
    assert r.exit_code == 0, r.output
    assert "best chinchilla/huber" in r.output and "kaplan/vpnls: skipped" in r.output
    table = pl.read_csv(out)
    assert set(table["variant"]) == {"chinchilla/huber", "chinchilla/huber E=1.6", "chinchilla/vpnls",
                                     "chinchilla/vpnls E=1.6", "kaplan/huber"}
    assert sorted(set(table["budget"])) == [1e21, 3e21]
    assert pl.read_csv(preds).height == 5 * 22


def test_select_rows_and_default_cuts(tmp_path):
    jpath = tmp_path / "v.json"
    r = run(["validate", str(LLAMA), *ISO, "--select", "condition=raw_loss", "--max-cuts", "2", "--json",
             "--out", str(jpath)])
    d = json.loads(r.output)
    assert json.loads(jpath.read_text())["by_budget"] == d["by_budget"]
    assert d["success"] and d["by_budget"][0]["budget"] == 3e21
    assert d["cuts"] == [3e21, 1e22]  # the two largest of the ten budgets
    assert len(d["predictions"]) == 6 + 6 + 6  # raw_loss runs only: 6 per budget above 1e21


def test_bad_inputs_are_one_line_and_exit_2(tmp_path, capsys):
    cases = [
        (["--cut", "1e30"], "no runs at or above"),
        (["--select", "condition=nope"], "keeps no run"),
        (["--select", "nope=1"], "no column 'nope'"),
        (["--fixed-only"], "--fixed-only needs --fix"),
        (["--out", str(tmp_path / "x.txt")], ".json, .csv or .parquet"),
        (["--law", "kaplan", "--method", "vpnls"], "no fit variant"),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit) as exc:
            main(["validate", str(LLAMA), *ISO, *extra])
        err = capsys.readouterr().err
        assert exc.value.code == 2, (extra, err)
        assert message in err and len(err.strip().splitlines()) == 1, (extra, err)
