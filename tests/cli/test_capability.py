"""tsbudget capability: fit the loss-to-metric link from a pairs file, print a loss target, map a plan's loss."""

import json

import numpy as np
import polars as pl
import pytest

from tsbudget.cli.main import main
from tsbudget.fitting.capability import gadre_loss, gadre_metric


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.fixture()
def pairs(tmp_path):
    loss = np.linspace(2.3, 3.9, 20)
    err = gadre_metric(loss, 0.78, 3.0, 1.1) + np.random.default_rng(2).normal(0, 0.003, loss.size)
    path = tmp_path / "pairs.csv"
    pl.DataFrame({"val_loss": loss, "top1_error": err}).write_csv(path)
    return path


def test_target_metric_becomes_a_loss_target(capsys, pairs):
    argv = ["capability", str(pairs), "--loss-column", "val_loss", "--metric-column", "top1_error",
            "--target-metric", "0.6", "--bootstrap", "200"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert "Capability link: top1_error = ε − k·exp(−γ·val_loss) fitted to 20 pairs" in out
    assert "target top1_error 0.6: loss target" in out and "--target-loss" in out
    code, out, _ = run([*argv, "--json"], capsys)
    d = json.loads(out)
    t = d["target"]
    assert t["lower"] < float(gadre_loss(0.6, 0.78, 3.0, 1.1)) < t["upper"]
    assert d["parameters"]["gamma"]["lower"] < 1.1 < d["parameters"]["gamma"]["upper"]


def test_plan_loss_interval_is_carried_to_the_metric(capsys, pairs, tmp_path):
    plan = tmp_path / "plan.json"
    code, _, err = run(["plan", "--preset", "chinchilla2022", "--budget", "1e22", "--out", str(plan)], capsys)
    assert code == 0, err
    doc = json.loads(plan.read_text())
    doc["loss_interval"] = [doc["loss"] - 0.02, doc["loss"] + 0.02]  # as a fit's bootstrap would give
    plan.write_text(json.dumps(doc))
    code, out, err = run(["capability", str(pairs), "--loss-column", "val_loss", "--metric-column", "top1_error",
                          "--plan", str(plan), "--bootstrap", "100", "--json"], capsys)
    assert code == 0, err
    m = json.loads(out)["plan"]
    assert m["loss"] == pytest.approx(doc["loss"]) and m["lower"] < m["metric"] < m["upper"]
    assert m["sources"] == "loss interval and link draws"


@pytest.mark.parametrize("extra, message", [
    (["--metric-column", "acc"], "column 'acc'"),
    (["--target-metric", "0.95"], "out of the link's reach"),
    (["--target-metric", "nan"], "--target-metric"),
    (["--bootstrap", "1"], "--bootstrap"),
    (["--level", "2"], "--level"),
    (["--plan", "MISSING"], "MISSING"),
])
def test_bad_input_is_one_line(capsys, pairs, extra, message):
    code, out, err = run(["capability", str(pairs), "--loss-column", "val_loss", "--metric-column", "top1_error",
                          "--bootstrap", "0", *extra], capsys)
    assert code == 2 and message in err and not out
    assert len(err.strip().splitlines()) == 1


def test_a_plan_without_a_loss_is_refused(capsys, pairs, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"N": 1e9}))
    code, _, err = run(["capability", str(pairs), "--loss-column", "val_loss", "--metric-column", "top1_error",
                        "--plan", str(bad)], capsys)
    assert code == 2 and "has no number 'loss'" in err
