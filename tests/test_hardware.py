"""GPU-hours conversion and hardware profiles."""

import numpy as np
import pytest

from tsbudget.errors import InputError, PluginNotFoundError
from tsbudget.hardware import HARDWARE, get_hardware, gpu_hours


def test_gpu_hours_formula_broadcasts():
    flops = np.array([[3.6e15], [7.2e15]])
    got = gpu_hours(flops, peak_flops=1e12, utilization=np.array([0.5, 1.0]))
    np.testing.assert_allclose(got, [[2.0, 1.0], [4.0, 2.0]], rtol=1e-15)


def test_profiles_have_datasheet_peaks():
    # NVIDIA datasheets, dense BF16: H100 SXM 989.4 TFLOPS, A100 312 TFLOPS.
    assert HARDWARE["h100-sxm"].peak_flops == 989.4e12
    assert HARDWARE["a100"].peak_flops == 312e12


def test_overrides_and_errors():
    h = get_hardware("a100", train_utilization=0.5, serve_utilization=None)
    assert h.train_utilization == 0.5 and h.serve_utilization == HARDWARE["a100"].serve_utilization
    with pytest.raises(PluginNotFoundError, match="known: .*h100-sxm"):
        get_hardware("tpu-v0")
    with pytest.raises(InputError, match="train_utilization"):
        get_hardware("a100", train_utilization=1.5)
    with pytest.raises(InputError, match="utilization"):
        gpu_hours(1e20, 1e12, 0.0)
    with pytest.raises(InputError, match="flops"):
        gpu_hours(-1.0, 1e12, 0.5)


def test_memory_numbers_from_the_datasheets():
    # NVIDIA datasheets: H100 SXM 80 GB at 3.35 TB/s, NVLink 900 GB/s; H200 141 GB at 4.8 TB/s;
    # A100 80GB SXM 2,039 GB/s; L4 24 GB at 300 GB/s; Google Cloud TPU v5p 95 GB at 2,765 GB/s
    h100, h200 = HARDWARE["h100-sxm"], HARDWARE["h200"]
    assert (h100.memory_capacity, h100.memory_bandwidth, h100.interconnect_bandwidth) == (80e9, 3.35e12, 900e9)
    assert (h200.memory_capacity, h200.memory_bandwidth, h200.interconnect_bandwidth) == (141e9, 4.8e12, 900e9)
    assert h200.peak("bf16") == 989.4e12 and h100.peak("fp8") == 1978.9e12
    assert HARDWARE["a100"].memory_bandwidth == 2.039e12 and HARDWARE["l4"].memory_capacity == 24e9
    assert HARDWARE["tpu-v5p"].memory_bandwidth == 2765e9
    for hw in HARDWARE.values():
        assert hw.memory_bandwidth and hw.memory_capacity and hw.source
    assert HARDWARE["l4"].interconnect_bandwidth is None  # no source read: left out


def test_peak_by_precision_and_bytes():
    from tsbudget.hardware import bytes_per_param

    assert [bytes_per_param(p) for p in ("fp32", "bf16", "fp8", "fp4")] == [4, 2, 1, 0.5]
    assert HARDWARE["b200"].peak("fp4") == 9000e12
    with pytest.raises(InputError, match=r"'a100' has no peak for precision 'fp8'; it has bf16, fp16, fp32"):
        HARDWARE["a100"].peak("fp8")
    with pytest.raises(InputError, match="precision 'fp7'"):
        bytes_per_param("fp7")
    with pytest.raises(InputError, match="differs from peak_flops"):
        get_hardware("a100", peak_flops_by_precision={"bf16": 1e12})


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_user_profile_from_a_file(tmp_path, suffix):
    path = tmp_path / f"mygpu{suffix}"
    if suffix == ".toml":
        path.write_text('peak_flops = 1e15\nmemory_bandwidth = 2e12\nmemory_capacity = 64e9\n'
                        '[peak_flops_by_precision]\nfp8 = 2e15\n')
    else:
        path.write_text('{"name": "mygpu", "peak_flops": 1e15, "memory_bandwidth": 2e12, "memory_capacity": 64e9,'
                        ' "peak_flops_by_precision": {"fp8": 2e15}}')
    hw = get_hardware(str(path), serve_utilization=0.5)
    assert (hw.name, hw.peak("fp8"), hw.memory_capacity, hw.serve_utilization) == ("mygpu", 2e15, 64e9, 0.5)


def test_user_profile_errors(tmp_path):
    bad = tmp_path / "x.toml"
    bad.write_text("peak_flops = 1e15\nbandwith = 3\n")
    with pytest.raises(InputError, match="unknown field 'bandwith'"):
        get_hardware(str(bad))
    bad.write_text("peak_flops = [\n")
    with pytest.raises(InputError, match="not valid TOML"):
        get_hardware(str(bad))
    bad.write_text("memory_capacity = -1\npeak_flops = 1e15\n")
    with pytest.raises(InputError, match="memory_capacity must be > 0"):
        get_hardware(str(bad))
    with pytest.raises(InputError, match="cannot read"):
        get_hardware(str(tmp_path / "missing.json"))
