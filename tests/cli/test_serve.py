"""`tsbudget serve`: the serving roofline from the command line, limits named, one-line errors."""

import json

import pytest
from click.testing import CliRunner

from tsbudget.cli.main import cli, main


def _json(*args):
    result = CliRunner().invoke(cli, ["serve", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_issue_example_moe_on_h200():
    # issue 13's command: 70e9 active, 8 experts per one used (2/3 of N in experts) -> 396.7e9 total
    out = _json("--n", "70e9", "--cost-model", "moe", "--set", "experts=8", "--hardware", "h200",
                "--precision", "bf16", "--batch", "1", "--context", "4096")
    assert out["total_params"] == pytest.approx(70e9 * (1 + 2 / 3 * 7), rel=1e-12)
    # 793e9 bytes of weights on 141 GB devices: 6 devices
    assert out["devices_per_replica"] == 6 and out["limits"]["devices_per_replica"] == "capacity"
    # batch 1 moves only the 140e9 active bytes, over 6 devices' bandwidth
    assert out["decode_latency_ms"] == pytest.approx(140e9 / (6 * 4.8e12) * 1e3, rel=1e-12)
    assert out["limits"]["decode_latency_ms"] == "bandwidth"
    assert out["limits"]["prefill_seconds"] == "compute"
    for key in ("devices_per_replica", "decode_latency_ms", "prefill_seconds", "throughput",
                "gpu_hours_per_million_requests"):
        assert key in out and out["limits"][key] in ("compute", "bandwidth", "capacity", "latency")
    assert out["gpu_hours_per_million_requests"] == pytest.approx(out["gpu_seconds_per_request"] * 1e6 / 3600)


def test_dense_70b_decode_on_h200_and_h100():
    out = _json("--n", "70e9", "--hardware", "h200", "--batch", "1", "--generate", "1")
    assert out["decode_latency_ms"] == pytest.approx(29.17, rel=1e-3) and out["devices_per_replica"] == 1
    assert _json("--n", "70e9", "--hardware", "h100-sxm", "--batch", "1")["devices_per_replica"] == 2


def test_latency_target_and_requests():
    out = _json("--n", "70e9", "--hardware", "h200", "--generate", "100", "--latency-ms", "10",
                "--requests", "1e6", "--devices", "min")
    assert out["feasible"] is False and out["latency_limit"] == "bandwidth"
    assert out["shortfall"] == pytest.approx(29.1667 / 10, rel=1e-4)
    assert out["gpu_hours"] == pytest.approx(out["gpu_hours_per_million_requests"], rel=1e-12)
    ok = _json("--n", "7e9", "--hardware", "h200", "--generate", "100", "--latency-ms", "10",
               "--cost-setting", "n_layer=32", "--cost-setting", "n_ctx=8192", "--cost-setting", "d_model=4096",
               "--context", "4096")
    assert ok["feasible"] is True and ok["limits"]["batch"] == "latency" and ok["decode_latency_ms"] <= 10


def test_hardware_file_and_report(tmp_path):
    path = tmp_path / "gpu.toml"
    path.write_text('name = "mygpu"\npeak_flops = 1e15\nmemory_bandwidth = 1e12\nmemory_capacity = 40e9\n')
    out = _json("--n", "10e9", "--hardware", str(path), "--batch", "1")
    assert out["hardware"] == "mygpu" and out["decode_latency_ms"] == pytest.approx(20.0, rel=1e-12)
    text = CliRunner().invoke(cli, ["serve", "--n", "10e9", "--hardware", str(path), "--requests", "10"]).output
    assert "decode latency" in text and "FLOPs-only estimate" in text and "10 requests" in text


@pytest.mark.parametrize("args,needle", [
    (["--n", "-1"], "--n"),
    (["--n", "1e9", "--hardware", "tpu-v0"], "no hardware profile 'tpu-v0'"),
    (["--n", "1e9", "--hardware", "missing.toml"], "cannot read"),
    (["--n", "1e9", "--precision", "fp3"], "precision 'fp3'"),
    (["--n", "1e9", "--hardware", "a100", "--precision", "fp8"], "'a100' has no peak for precision 'fp8'"),
    (["--n", "1e9", "--batch", "0"], "--batch"),
    (["--n", "1e9", "--batch", "2.5"], "--batch"),
    (["--n", "1e9", "--set", "experts=8"], "no variable 'experts'"),
    (["--n", "1e9", "--cost-model", "moe", "--set", "experts=0"], "experts=0"),
    (["--n", "1e9", "--context", "0", "--generate", "0"], "both 0"),
    (["--n", "1e9", "--latency-ms", "0"], "--latency-ms"),
])
def test_bad_input_is_one_line_exit_2(args, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["serve", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_step_tokens_bounds_the_prompts_prefilled_together():
    # 900-position prompts, 8,192 positions per forward pass: 9 prompts at a time; no limit: the batch's
    default = _json("--n", "7e9", "--context", "900", "--generate", "100")
    unlimited = _json("--n", "7e9", "--context", "900", "--generate", "100", "--step-tokens", "inf")
    assert default["batch"] > 9
    assert default["prefill_latency_seconds"] == pytest.approx(9 * default["prefill_seconds"], rel=1e-9)
    assert unlimited["prefill_latency_seconds"] == pytest.approx(
        unlimited["batch"] * unlimited["prefill_seconds"], rel=1e-9)


def test_the_replica_size_is_searched_by_default():
    # 70e9 dense at 15 ms per position: 2 H100s (the fewest that hold it) miss it by 1.39x
    # (bandwidth), 3 meet it at 13.96 ms; --devices min keeps the fewest
    fewest = _json("--n", "70e9", "--latency-ms", "15", "--devices", "min")
    assert fewest["feasible"] is False and fewest["shortfall"] == pytest.approx(1.393, abs=1e-3)
    out = _json("--n", "70e9", "--latency-ms", "15")
    assert out["feasible"] is True and out["devices_per_replica"] == 3
    assert out["limits"]["devices_per_replica"] == "latency" and out["decode_latency_ms"] == pytest.approx(13.96, abs=5e-3)
    shaped = ("--n", "70e9", "--cost-setting", "n_layer=80", "--cost-setting", "n_ctx=4096",
              "--cost-setting", "d_model=8192", "--context", "4000", "--generate", "96")
    wide, capped = _json(*shaped), _json(*shaped, "--max-devices", "4")
    assert (wide["devices_per_replica"], capped["devices_per_replica"]) == (8, 4)
    assert wide["gpu_hours_per_million_requests"] == pytest.approx(761.7, abs=0.05)
    assert capped["gpu_hours_per_million_requests"] == pytest.approx(807.1, abs=0.05)
    assert _json(*shaped, "--devices", "min")["gpu_hours_per_million_requests"] == pytest.approx(1851.9, abs=0.05)


def test_a_replica_that_cannot_hold_the_model_costs_nothing_finite():
    # 140e9 B on one 24 GB L4: FAILED, and no batch, throughput or GPU-hours (JSON null)
    out = _json("--n", "70e9", "--devices", "1", "--hardware", "l4")
    assert out["feasible"] is False and out["latency_limit"] == "capacity"
    for key in ("batch", "throughput", "gpu_hours_per_million_requests", "gpu_seconds_per_request"):
        assert out[key] is None, key
    text = CliRunner().invoke(cli, ["serve", "--n", "70e9", "--devices", "1", "--hardware", "l4"]).output
    assert "FAILED" in text and "allows any" not in text


def test_a_request_longer_than_n_ctx_is_one_line_on_stderr(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--n", "7e9", "--cost-setting", "n_layer=32", "--cost-setting", "n_ctx=4096",
              "--cost-setting", "d_model=4096", "--context", "1e15"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "exceed the cost model's n_ctx = 4096" in err and len(err.strip().splitlines()) == 1


def test_the_report_says_when_no_attention_cache_is_counted():
    bare = _json("--n", "7e9", "--context", "4000")
    assert bare["cache_bytes_per_sequence"] == 0 and bare["notes"] == [
        "no attention cache counted: give the cost model n_layer/d_model (--cost-setting)"]
    text = CliRunner().invoke(cli, ["serve", "--n", "7e9", "--context", "4000"]).output
    assert "note: no attention cache counted" in text
    shaped = _json("--n", "7e9", "--context", "4000", "--cost-setting", "n_layer=32", "--cost-setting",
                   "n_ctx=4096", "--cost-setting", "d_model=4096")
    assert shaped["notes"] == [] and shaped["cache_bytes_per_sequence"] > 0


def test_json_counts_are_integers():
    out = _json("--n", "70e9", "--latency-ms", "15")
    assert type(out["devices_per_replica"]) is int and type(out["batch"]) is int
    assert (out["devices_per_replica"], out["batch"]) == (3, 74)
    # a replica that cannot hold the model has no batch: null, the devices still an integer
    failed = _json("--n", "70e9", "--devices", "1", "--hardware", "l4")
    assert failed["batch"] is None and type(failed["devices_per_replica"]) is int
