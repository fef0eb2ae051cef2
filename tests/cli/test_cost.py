"""`tsbudget cost`: FLOPs and GPU-hours through the registry, number parsing, one-line errors."""

import json

import pytest
from click.testing import CliRunner

from tsbudget.cli.main import cli, main
from tsbudget.errors import InputError, PluginNotFoundError

H100 = 989.4e12  # NVIDIA H100 SXM dense BF16 peak


def _json(*args):
    result = CliRunner().invoke(cli, ["cost", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_dense_run_matches_hoffmann_and_gpu_hours():
    # Hoffmann et al. 2022 Table 3: 400M parameters on 8.0B tokens is 1.92e19 FLOPs.
    out = _json("--n", "4e8", "--data", "8e9", "--serve", "1e12", "--train-utilization", "0.4")
    assert out["train_flops"] == pytest.approx(1.92e19, rel=1e-15)
    assert out["inference_flops"] == pytest.approx(2 * 4e8 * 1e12, rel=1e-15)
    assert out["train_gpu_hours"] == pytest.approx(1.92e19 / (H100 * 0.4 * 3600), rel=1e-12)
    assert out["serve_gpu_hours"] == pytest.approx(8e20 / (H100 * 0.25 * 3600), rel=1e-12)
    assert out["positions"] == 8e9
    assert out["total_params"] == out["active_params"] == 4e8
    assert out["variables"] == {}
    assert out["lifetime_flops"] == pytest.approx(1.92e19 + 8e20, rel=1e-15)


def test_hardware_and_utilisations():
    out = _json("--n", "1e9", "--data", "1e10", "--serve", "1e11", "--hardware", "a100",
                "--train-utilization", "0.5", "--serve-utilization", "0.2")
    assert out["train_gpu_hours"] == pytest.approx(6e19 / (312e12 * 0.5 * 3600), rel=1e-12)
    assert out["serve_gpu_hours"] == pytest.approx(2e20 / (312e12 * 0.2 * 3600), rel=1e-12)


def test_unit_settings_change_positions():
    # 1.6e10 channel-time cells in patches of 16 make 1e9 positions.
    out = _json("--n", "1e8", "--data", "1.6e10", "--unit", "cells", "--unit-setting", "patch_length=16")
    assert out["positions"] == pytest.approx(1e9, rel=1e-15)
    assert out["train_flops"] == pytest.approx(6e8 * 1e9, rel=1e-15)
    assert out["unit_settings"]["patch_length"] == 16


def test_moe_settings_and_variables():
    out = _json("--n", "1e9", "--data", "1e10", "--cost-model", "moe", "--cost-setting", "d_model=1024",
                "--cost-setting", "n_layer=12", "--set", "experts=64", "--set", "granularity=4")
    router = 1024 * 12 * 64 * 4
    assert out["variables"] == {"experts": 64.0, "top_k": 1.0, "granularity": 4.0}
    assert out["train_flops"] == pytest.approx((6e9 + 14 * router) * 1e10, rel=1e-15)
    assert out["total_params"] == pytest.approx(1e9 + (2 / 3) * 1e9 * 63 + router, rel=1e-15)
    assert out["active_params"] == pytest.approx(1e9 + router, rel=1e-15)


def test_moe_with_one_expert_equals_dense():
    dense = _json("--n", "3e8", "--data", "5e9", "--serve", "1e9")
    moe = _json("--n", "3e8", "--data", "5e9", "--serve", "1e9", "--cost-model", "moe", "--set", "experts=1")
    for key in ("train_flops", "inference_flops", "train_gpu_hours", "serve_gpu_hours", "total_params"):
        assert moe[key] == dense[key]


def test_hierarchical_levels_from_json_setting():
    out = _json("--n", "1e9", "--data", "1e9", "--cost-model", "hierarchical",
                "--cost-setting", "levels=[[1, 0.5, 0.25], [8, 0.25]]", "--set", "ratio_1=16")
    assert out["variables"] == {"ratio_0": 1.0, "ratio_1": 16.0}
    assert out["train_flops"] == pytest.approx(6e9 * (0.75 + 0.25 / 16) * 1e9, rel=1e-15)


def test_recurrent_depth_serving_uses_given_recurrence():
    out = _json("--n", "1e9", "--data", "1e9", "--serve", "1e9", "--cost-model", "recurrent_depth",
                "--set", "recurrence=32")
    assert out["inference_flops"] == pytest.approx((2e9 + 2 * 31 * 0.5e9) * 1e9, rel=1e-15)


def test_recurrent_depth_serves_at_its_own_recurrence():
    # trained at r = 8 (backprop truncated per the default), served at r = 32 (Geiping et al. 2025)
    base = ["--n", "1e9", "--data", "1e9", "--serve", "1e9", "--cost-model", "recurrent_depth", "--set", "recurrence=8"]
    trained_here = _json(*base)
    served_deeper = _json(*base, "--serve-set", "recurrence=32")
    assert served_deeper["train_flops"] == trained_here["train_flops"]
    assert served_deeper["variables"]["recurrence"] == 8 and served_deeper["serve_variables"]["recurrence"] == 32
    assert served_deeper["inference_flops"] == pytest.approx((2e9 + 2 * 31 * 0.5e9) * 1e9, rel=1e-15)
    assert trained_here["inference_flops"] == pytest.approx((2e9 + 2 * 7 * 0.5e9) * 1e9, rel=1e-15)


def test_table_output():
    result = CliRunner().invoke(cli, ["cost", "--n", "4e8", "--data", "8e9"])
    assert result.exit_code == 0, result.output
    assert "training FLOPs" in result.output
    assert "1.92e+19" in result.output
    assert "13.48" in result.output  # 1.92e19 / (989.4e12 · 0.4 · 3600) GPU-hours


@pytest.mark.parametrize(
    "args, message",
    [
        (["--n", "abc", "--data", "8e9"], "'abc' is not a number"),
        (["--n", "-4e8", "--data", "8e9"], "must be > 0"),
        (["--n", "4e8", "--data", "nan"], "not finite"),
        (["--n", "4e8", "--data", "8e9", "--set", "experts"], "not VAR=VALUE"),
        (["--n", "4e8", "--data", "8e9", "--set", "experts=many"], "'many' is not a number"),
        (["--n", "4e8", "--data", "8e9", "--set", "a=1", "--set", "a=2"], "a given twice"),
    ],
)
def test_bad_values_are_usage_errors(args, message):
    result = CliRunner().invoke(cli, ["cost", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_unknown_hardware_or_file_is_one_line_exit_2(tmp_path, capsys):
    """--hardware takes a profile name or a .toml/.json file; a wrong one is named, exit 2."""

    for value, needle in (("abacus", "no hardware profile 'abacus'"), (str(tmp_path / "gpu.toml"), "cannot read")):
        with pytest.raises(SystemExit) as exc:
            main(["cost", "--n", "4e8", "--data", "8e9", "--hardware", value])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1


def test_hardware_file(tmp_path):
    (tmp_path / "gpu.toml").write_text('name = "mygpu"\npeak_flops = 1e15\nmemory_bandwidth = 2e12\n'
                                       'memory_capacity = 8e10\n')
    result = CliRunner().invoke(cli, ["cost", "--n", "4e8", "--data", "8e9", "--hardware", str(tmp_path / "gpu.toml"),
                                      "--json"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.output)
    assert r["hardware"] == "mygpu"
    assert r["train_gpu_hours"] == pytest.approx(1.92e19 / (1e15 * 0.4 * 3600), rel=1e-12)


def test_library_errors_propagate_named():
    result = CliRunner().invoke(cli, ["cost", "--n", "4e8", "--data", "8e9", "--cost-model", "moe",
                                      "--set", "experts=0"])
    assert isinstance(result.exception, InputError)
    assert "experts" in str(result.exception)
    result = CliRunner().invoke(cli, ["cost", "--n", "4e8", "--data", "8e9", "--cost-model", "nope"])
    assert isinstance(result.exception, PluginNotFoundError)
    assert "dense" in str(result.exception)  # lists what is installed


@pytest.mark.parametrize(
    "extra, word",
    [
        (["--cost-model", "moe", "--set", "experts=0"], "experts"),
        (["--set", "experts=8"], "experts"),
        (["--cost-model", "recurrent_depth", "--cost-setting", "core_share=0.9"], "core_share"),
        (["--train-utilization", "1.5"], "train_utilization"),
    ],
)
def test_main_exits_2_with_one_line(extra, word, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["cost", "--n", "4e8", "--data", "8e9", *extra])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and word in err and err.startswith("tsbudget: error:")
