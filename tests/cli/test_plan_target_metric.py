"""tsbudget plan --target-metric: a metric target becomes a loss target through the Gadre et al. 2024 link
fitted to (loss, metric) pairs, and the planned loss is carried back to the metric (issue 14, point 6)."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from tsbudget.cli.main import cli, main

EPS, K, GAMMA = 0.78, 3.0, 1.1  # a synthetic link: metric = ε − k·exp(−γ·L)


@pytest.fixture
def pairs(tmp_path):
    rng = np.random.default_rng(3)
    loss = np.linspace(2.0, 3.2, 24)
    metric = EPS - K * np.exp(-GAMMA * loss) + rng.normal(0, 0.002, loss.size)
    path = tmp_path / "pairs.csv"
    path.write_text("val_loss,err\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(loss, metric)))
    return path


def test_target_metric_plans_for_the_linked_loss(pairs):
    target = 0.55
    true_loss = -math.log((EPS - target) / K) / GAMMA  # 2.335
    args = ["plan", "--target-metric", str(target), "--capability", str(pairs),
            "--capability-columns", "val_loss", "err", "--capability-bootstrap", "200", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    cap = payload["capability"]
    assert cap["target"]["loss"] == pytest.approx(true_loss, rel=0.01)
    assert cap["target"]["lower"] < cap["target"]["loss"] < cap["target"]["upper"]
    # the plan reaches the linked loss target, and the metric carried back is the target
    assert payload["loss"] == pytest.approx(cap["target"]["loss"], rel=1e-6)
    assert cap["metric"] == pytest.approx(target, abs=0.005)
    # same plan as asking for that loss directly
    direct = json.loads(CliRunner().invoke(cli, ["plan", "--target-loss", repr(cap["target"]["loss"]),
                                                 "--json"]).output)
    assert payload["N"] == pytest.approx(direct["N"], rel=1e-9)


def test_text_output_names_the_metric(pairs):
    result = CliRunner().invoke(cli, ["plan", "--target-metric", "0.55", "--capability", str(pairs),
                                      "--capability-columns", "val_loss", "err", "--capability-bootstrap", "200"])
    assert result.exit_code == 0, result.output
    assert "target err 0.55 -> loss target" in result.output
    assert "planned loss" in result.output


@pytest.mark.parametrize("args, needle", [
    ([], "--target-metric needs --capability"),
    (["--target-loss", "2.3", "--capability", "{pairs}"], "not both"),
    (["--capability", "{pairs}", "--capability-columns", "val_loss", "err", "--capability-bootstrap", "200", "--target-metric", "0.9"],
     "out of the link's reach"),
])
def test_bad_requests_are_one_line_exit_2(pairs, args, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["plan", "--target-metric", "0.55", *(a.format(pairs=pairs) for a in args)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_capability_without_target_metric_is_refused(pairs, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["plan", "--budget", "1e21", "--capability", str(pairs)])
    assert exc.value.code == 2
    assert "only with --target-metric" in capsys.readouterr().err
