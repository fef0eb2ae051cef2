"""``tsbudget plan`` and ``tsbudget frontier`` with a roofline serving workload (issue 13)."""

import json

import pytest
from click.testing import CliRunner

from tsbudget.cli.main import cli, main
from tsbudget.hardware import get_hardware
from tsbudget.planning.plan import plan
from tsbudget.planning.serving import Serving

WORKLOAD = ["--serve-requests", "1e9", "--context", "900", "--generate", "100", "--latency-ms", "20",
            "--precision", "bf16"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def exit_code(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    return exc.value.code, capsys.readouterr()


def test_plan_with_a_workload_is_the_library_plan():
    r = run("plan", "--target-loss", "2.2", *WORKLOAD, "--hardware", "h200", "--price-per-gpu-hour", "2.5", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    same = plan(target_loss=2.2, hardware="h200", serving=Serving(
        requests=1e9, context=900, generate=100, latency_ms=20, precision="bf16", price_per_gpu_hour=2.5))
    assert out["N"] == pytest.approx(same.N, rel=1e-12) and out["served_positions"] == pytest.approx(1e12)
    d = out["diagnostics"]
    assert d["decode_latency_ms"] <= 20 and d["decode_limit"] in ("compute", "bandwidth")
    hours = out["train_gpu_hours"] + out["serve_gpu_hours"]
    assert d["lifetime_gpu_hours"] == pytest.approx(hours) and d["lifetime_cost_money"] == pytest.approx(2.5 * hours)


def test_plan_text_names_the_serving_numbers_and_the_flops_only_path_says_what_it_ignores():
    r = run("plan", "--budget", "1e22", *WORKLOAD)
    assert r.exit_code == 0, r.output
    assert "decode_latency_ms" in r.stdout and "devices_per_replica" in r.stdout
    flops = run("plan", "--budget", "1e22", "--serve", "1e12")
    assert "serving costed by FLOPs only (memory bandwidth, memory capacity and latency ignored" in flops.stdout


def test_a_gpu_hour_budget_is_the_flops_it_buys_at_the_training_throughput():
    h = get_hardware("h100-sxm")
    r = run("plan", "--budget-gpu-hours", "5000", *WORKLOAD, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["budget"][1] == pytest.approx(5000 * 3600 * h.peak_flops * h.train_utilization, rel=1e-12)
    assert out["train_gpu_hours"] + out["serve_gpu_hours"] == pytest.approx(5000, rel=1e-9)


def test_serving_on_an_l4_at_its_price():
    r = run("plan", "--budget", "1e22", *WORKLOAD, "--serve-hardware", "l4", "--price-per-gpu-hour", "3",
            "--serve-price-per-gpu-hour", "0.8", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["diagnostics"]["serving_hardware"] == "l4" and out["hardware"] == "h100-sxm"
    assert out["diagnostics"]["lifetime_cost_money"] == pytest.approx(
        3 * out["train_gpu_hours"] + 0.8 * out["serve_gpu_hours"])


def test_frontier_takes_the_workload_too():
    r = run("frontier", "--budgets", "1e21,1e22", *WORKLOAD, "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    assert [round(x["budget"]) for x in rows] == [10**21, 10**22] and rows[0]["N"] < rows[1]["N"]


@pytest.mark.parametrize(
    "args, match",
    [
        (["--serve", "1e12", "--context", "100"], "--serve/--serve-positions give a FLOPs-only load; --context"),
        (["--serve-requests", "1e9"], "--serve-requests needs --context and/or --generate"),
        (["--context", "100"], "give --serve-requests"),
        (["--latency-ms", "5"], "--latency-ms needs a roofline workload"),
        (["--price-per-gpu-hour", "2"], "need --serve AMOUNT"),
        ([*WORKLOAD[:6], "--precision", "fp7"], "precision"),
        ([*WORKLOAD[:6], "--latency-ms", "0.001", "--n-min", "1e9"], "no allowed model meets it"),
        (["--budget-gpu-hours", "10", "--budget", "1e21"], "not both"),
        ([*WORKLOAD, "--serve-hardware", "l4"], "serving on 'l4' while training on 'h100-sxm'"),
        (["--serve-hardware", "l4"], "--serve-hardware needs a roofline workload"),
        ([*WORKLOAD, "--serve-price-per-gpu-hour", "1"], "give price_per_gpu_hour"),
    ],
)
def test_bad_serving_options_are_one_line_and_exit_2(args, match, capsys):
    budget = [] if "--budget" in args else ["--budget", "1e22"]
    code, captured = exit_code(["plan", *budget, *args], capsys)
    assert code == 2, captured
    assert captured.err.startswith("tsbudget: error:") and match in captured.err
    assert captured.err.count("\n") == 1
