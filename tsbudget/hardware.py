"""Hardware profiles: peak FLOP/s per precision, memory bandwidth and capacity, interconnect;
the FLOPs -> GPU-hours conversion.

A profile holds what a roofline needs (Williams, Waterman & Patterson 2009, "Roofline: an
insightful visual performance model for multicore architectures", CACM 52(4)): the peak
dense FLOP/s at each precision the datasheet gives, the memory bandwidth (bytes/s) and
capacity (bytes) of one device, and the bandwidth of the link between the devices of one
replica. Every number below comes from the vendor's datasheet as quoted in the comment next
to it; "dense" is the datasheet's number without 2:4 structured sparsity (NVIDIA's sheets
mark the sparse numbers and state that dense is one half of them). A number that could not
be found in a source is left out (``None``), never guessed.

A user profile loads from a ``.toml`` or ``.json`` file (:func:`load_hardware`) with the same
field names, e.g.::

    name = "my-gpu"
    peak_flops = 989.4e12            # dense BF16 FLOP/s
    memory_bandwidth = 3.35e12       # bytes/s
    memory_capacity = 80e9           # bytes
    interconnect_bandwidth = 900e9   # bytes/s per device (optional)
    [peak_flops_by_precision]
    fp8 = 1978.9e12
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import attrs
import numpy as np

from tsbudget.errors import InputError, PluginNotFoundError
from tsbudget.variables import as_nonnegative_array

__all__ = [
    "BYTES_PER_PARAM", "Hardware", "HARDWARE", "bytes_per_param", "get_hardware", "gpu_hours", "load_hardware",
]

#: Bytes of storage per parameter (or cached value) at each precision. TF32 is a tensor-core
#: compute mode over FP32 storage (NVIDIA A100 whitepaper), hence 4 bytes.
BYTES_PER_PARAM: dict[str, float] = {
    "fp32": 4.0, "tf32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "fp6": 0.75, "fp4": 0.5, "int4": 0.5,
}


def bytes_per_param(precision: str) -> float:
    """Bytes per stored parameter at ``precision`` (bf16 2, fp8 1, fp4 0.5, ...)."""
    key = precision.lower() if isinstance(precision, str) else precision
    if key not in BYTES_PER_PARAM:
        raise InputError(f"precision {precision!r} is not known; use one of {', '.join(BYTES_PER_PARAM)}")
    return BYTES_PER_PARAM[key]


def _unit_interval(instance, attribute, value):
    if not 0 < value <= 1:
        raise InputError(f"Hardware.{attribute.name} must be in (0, 1], got {value!r}")


def _optional_float(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating, str)):
        raise InputError(f"Hardware: expected a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise InputError(f"Hardware: expected a number, got {value!r}") from None


def _optional_positive(instance, attribute, value):
    # math.inf is allowed: an infinitely fast memory or link recovers the FLOPs-only cost
    if value is not None and not (value > 0):
        raise InputError(f"Hardware.{attribute.name} must be > 0 (or left out), got {value!r}")


def _peaks(value) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"Hardware.peak_flops_by_precision must map precision -> FLOP/s, got {value!r}")
    out = {}
    for key, peak in value.items():
        bytes_per_param(key)  # a known precision name
        peak = _optional_float(peak)
        if peak is None or not math.isfinite(peak) or peak <= 0:
            raise InputError(f"Hardware.peak_flops_by_precision[{key!r}] must be finite and > 0, got {peak!r}")
        out[key.lower()] = peak
    return out


@attrs.frozen
class Hardware:
    """One accelerator.

    ``peak_flops`` is the dense BF16 peak (FLOP/s) used for training and the FLOPs-only
    serving cost; ``peak_flops_by_precision`` holds the dense peaks at the other
    precisions the datasheet gives. ``memory_bandwidth`` (bytes/s), ``memory_capacity``
    (bytes) and ``interconnect_bandwidth`` (bytes/s per device, the device-to-device link
    of a multi-device replica) are ``None`` when unknown; the roofline needs the first two.
    ``train_utilization``/``serve_utilization`` are the fractions of peak reached.
    """

    name: str
    peak_flops: float = attrs.field(converter=float)
    train_utilization: float = attrs.field(default=0.40, converter=float, validator=_unit_interval)
    serve_utilization: float = attrs.field(default=0.25, converter=float, validator=_unit_interval)
    source: str = ""
    peak_flops_by_precision: Mapping[str, float] = attrs.field(factory=dict, converter=_peaks, hash=False)
    memory_bandwidth: float | None = attrs.field(default=None, converter=_optional_float,
                                                 validator=_optional_positive)
    memory_capacity: float | None = attrs.field(default=None, converter=_optional_float,
                                                validator=_optional_positive)
    interconnect_bandwidth: float | None = attrs.field(default=None, converter=_optional_float,
                                                       validator=_optional_positive)

    def __attrs_post_init__(self):
        if not np.isfinite(self.peak_flops) or self.peak_flops <= 0:
            raise InputError(f"Hardware.peak_flops must be finite and > 0, got {self.peak_flops!r}")
        bf16 = self.peak_flops_by_precision.get("bf16")
        if bf16 is not None and bf16 != self.peak_flops:
            raise InputError(
                f"Hardware {self.name!r}: peak_flops_by_precision['bf16'] = {bf16!r} differs from "
                f"peak_flops = {self.peak_flops!r} (peak_flops is the dense BF16 peak)"
            )

    @property
    def precisions(self) -> tuple[str, ...]:
        """The precisions with a known peak (bf16 always)."""
        return tuple(sorted({"bf16", *self.peak_flops_by_precision}))

    def peak(self, precision: str = "bf16") -> float:
        """Dense peak FLOP/s at ``precision``; an InputError names the profile and its precisions."""
        key = precision.lower() if isinstance(precision, str) else precision
        bytes_per_param(precision)
        if key == "bf16":
            return self.peak_flops
        if key not in self.peak_flops_by_precision:
            raise InputError(
                f"hardware {self.name!r} has no peak for precision {precision!r}; "
                f"it has {', '.join(self.precisions)}"
            )
        return self.peak_flops_by_precision[key]

    def train_hours(self, flops) -> np.ndarray:
        """GPU-hours to train ``flops`` at :attr:`train_utilization`."""
        return gpu_hours(flops, self.peak_flops, self.train_utilization)

    def serve_hours(self, flops) -> np.ndarray:
        """GPU-hours to serve ``flops`` at :attr:`serve_utilization`."""
        return gpu_hours(flops, self.peak_flops, self.serve_utilization)


def gpu_hours(flops, peak_flops, utilization) -> np.ndarray:
    """GPU-hours = FLOPs / (peak FLOP/s · utilisation · 3600).

    The standard model-FLOPs-utilisation conversion (e.g. Chowdhery et al. 2022, PaLM,
    App. B); broadcasts over all three arguments.
    """
    flops = as_nonnegative_array(flops, "flops")
    peak = np.asarray(peak_flops, dtype=float)
    util = np.asarray(utilization, dtype=float)
    if np.any(~np.isfinite(peak) | (peak <= 0)):
        raise InputError(f"peak_flops must be finite and > 0, got {peak_flops!r}")
    if np.any(~(util > 0) | (util > 1)):
        raise InputError(f"utilization must be in (0, 1], got {utilization!r}")
    return flops / (peak * util * 3600.0)


# -- the profiles -----------------------------------------------------------------------------
# Numbers as the vendors' datasheets give them (read via the pages named in each source);
# dense = the datasheet's sparse tensor-core figure / 2, as the NVIDIA sheets' footnote says.
_H100_SXM = Hardware(
    "h100-sxm", 989.4e12,  # NVIDIA H100 datasheet: BF16 Tensor Core 1,979 TFLOPS with sparsity (SXM) -> 989.4 dense
    source=(
        "NVIDIA H100 Tensor Core GPU datasheet (SXM5): BF16/FP16 1,979, TF32 989, FP8/INT8 3,958 TFLOPS with "
        "sparsity (dense = half); 80 GB HBM3 at 3.35 TB/s; NVLink 900 GB/s. Dense table as in "
        "glennklockwood.com/garden/processors/h100 (BF16 989.4, FP8 1978.9, TF32 494.7)"
    ),
    peak_flops_by_precision={"fp16": 989.4e12, "tf32": 494.7e12, "fp8": 1978.9e12, "int8": 1978.9e12},
    memory_bandwidth=3.35e12,   # 3,350 GB/s HBM3 (datasheet)
    memory_capacity=80e9,       # 80 GB (datasheet)
    interconnect_bandwidth=900e9,  # NVLink 900 GB/s per GPU (datasheet; bidirectional total)
)
_H100_PCIE = Hardware(
    "h100-pcie", 756.5e12,  # datasheet: BF16 1,513 TFLOPS with sparsity (PCIe) -> 756.5 dense
    source=(
        "NVIDIA H100 Tensor Core GPU datasheet (PCIe): BF16/FP16 1,513, TF32 756, FP8/INT8 3,026 TFLOPS with "
        "sparsity (dense = half); 80 GB HBM2e at 2,000 GB/s; NVLink bridge 600 GB/s"
    ),
    peak_flops_by_precision={"fp16": 756.5e12, "tf32": 378.0e12, "fp8": 1513.0e12, "int8": 1513.0e12},
    memory_bandwidth=2.0e12,    # 2,000 GB/s HBM2e (datasheet)
    memory_capacity=80e9,       # 80 GB (datasheet)
    interconnect_bandwidth=600e9,  # NVLink bridge 600 GB/s (datasheet)
)
_A100 = Hardware(
    "a100", 312.0e12,  # NVIDIA A100 datasheet: BF16 Tensor Core 312 TFLOPS dense (624 with sparsity)
    source=(
        "NVIDIA A100 Tensor Core GPU datasheet (80GB SXM4; nvidia-a100-datasheet-us-nvidia-1758950-r4): BF16/FP16 "
        "312, TF32 156, INT8 624 TOPS dense, FP32 19.5 TFLOPS; 80 GB HBM2e at 2,039 GB/s; NVLink 600 GB/s"
    ),
    peak_flops_by_precision={"fp16": 312.0e12, "tf32": 156.0e12, "int8": 624.0e12, "fp32": 19.5e12},
    memory_bandwidth=2.039e12,  # 2,039 GB/s HBM2e (80GB SXM; datasheet)
    memory_capacity=80e9,       # 80 GB (datasheet)
    interconnect_bandwidth=600e9,  # NVLink 600 GB/s (datasheet)
)
_H200 = Hardware(
    "h200", 989.4e12,  # NVIDIA H200 datasheet: BF16 1,979 TFLOPS with sparsity -> 989 dense (same GH100 die)
    source=(
        "NVIDIA H200 Tensor Core GPU datasheet (SXM): BF16/FP16 1,979, TF32 989, FP8/INT8 3,958 TFLOPS with "
        "sparsity (dense = half; the same GH100 tensor cores as H100 SXM, 989.4 dense BF16); 141 GB HBM3e at "
        "4.8 TB/s; NVLink 900 GB/s"
    ),
    peak_flops_by_precision={"fp16": 989.4e12, "tf32": 494.7e12, "fp8": 1978.9e12, "int8": 1978.9e12},
    memory_bandwidth=4.8e12,    # 4.8 TB/s HBM3e (datasheet)
    memory_capacity=141e9,      # 141 GB (datasheet)
    interconnect_bandwidth=900e9,  # NVLink 900 GB/s (datasheet)
)
_B200 = Hardware(
    "b200", 2250.0e12,  # HGX B200 (1,000 W): BF16 dense 2.25 PFLOPS (4.5 with sparsity)
    source=(
        "NVIDIA HGX B200 (per GPU, 1,000 W): BF16/FP16 2,250, TF32 1,100, FP8/INT8 4,500, FP4 9,000 TFLOPS dense "
        "(table in glennklockwood.com/garden/processors/B200 from NVIDIA's Blackwell datasheet); HBM3e 8 TB/s; "
        "192 GB (8 stacks; nvidia-smi on HGX B200 reports 179 GiB, docs.vultr.com); NVLink 5 1.8 TB/s"
    ),
    peak_flops_by_precision={
        "fp16": 2250.0e12, "tf32": 1100.0e12, "fp8": 4500.0e12, "int8": 4500.0e12, "fp4": 9000.0e12,
    },
    memory_bandwidth=8.0e12,    # 8 TB/s HBM3e
    memory_capacity=192e9,      # 192 GB HBM3e
    interconnect_bandwidth=1.8e12,  # NVLink 5: 1.8 TB/s per GPU
)
_L4 = Hardware(
    "l4", 121.0e12,  # NVIDIA L4 datasheet: BF16 Tensor Core 242 TFLOPS with sparsity -> 121 dense
    source=(
        "NVIDIA L4 Tensor Core GPU datasheet: BF16/FP16 242, TF32 120, FP8/INT8 485 TFLOPS with sparsity "
        "(dense = half), FP32 30.3 TFLOPS; 24 GB GDDR6 at 300 GB/s; PCIe Gen4, no NVLink "
        "(interconnect left out: no source read for its bandwidth)"
    ),
    peak_flops_by_precision={"fp16": 121.0e12, "tf32": 60.0e12, "fp8": 242.5e12, "int8": 242.5e12, "fp32": 30.3e12},
    memory_bandwidth=300e9,     # 300 GB/s GDDR6 (datasheet)
    memory_capacity=24e9,       # 24 GB (datasheet)
)
_TPU_V5P = Hardware(
    "tpu-v5p", 459.0e12,  # Google Cloud TPU v5p docs: peak compute per chip (bf16) 459 TFLOPS
    source="Google Cloud TPU v5p documentation: 459 TFLOPS BF16 per chip; HBM2e 95 GB, 2,765 GB/s; ICI 4,800 Gbps",
    memory_bandwidth=2765e9,    # 2,765 GBps HBM2e
    memory_capacity=95e9,       # 95 GB HBM2e
    interconnect_bandwidth=600e9,  # inter-chip interconnect 4,800 Gbps = 600 GB/s
)

_TPU_V4 = Hardware(
    "tpu-v4", 275.0e12,  # Google Cloud TPU v4 docs: peak compute per chip 275 teraflops (bf16 or int8)
    source="Google Cloud TPU v4 documentation: 275 TFLOPS (bf16 or int8) per chip; HBM2 32 GiB, 1,200 GBps",
    peak_flops_by_precision={"int8": 275.0e12},
    memory_bandwidth=1200e9,    # 1,200 GBps HBM2
    memory_capacity=32 * 2.0**30,  # 32 GiB
)

HARDWARE: dict[str, Hardware] = {
    h.name: h for h in (_H100_SXM, _H100_PCIE, _A100, _H200, _B200, _L4, _TPU_V5P, _TPU_V4)
}

_FIELDS = {a.name for a in attrs.fields(Hardware)}


def load_hardware(path) -> Hardware:
    """A user profile from a ``.toml`` or ``.json`` file holding :class:`Hardware`'s fields
    (``name`` defaults to the file's stem; ``peak_flops`` to ``peak_flops_by_precision.bf16``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise InputError(f"hardware file {str(path)!r}: use a .toml or .json file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"hardware file {str(path)!r}: cannot read it ({exc.strerror or exc})") from None
    try:
        if suffix == ".toml":
            import tomllib

            data = tomllib.loads(raw.decode())
        else:
            data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"hardware file {str(path)!r}: not valid {suffix[1:].upper()} ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"hardware file {str(path)!r}: expected a table of fields, got {type(data).__name__}")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise InputError(f"hardware file {str(path)!r}: unknown field {unknown[0]!r}; fields are {sorted(_FIELDS)}")
    data = dict(data)
    data.setdefault("name", path.stem)
    if "peak_flops" not in data:
        peaks = data.get("peak_flops_by_precision") or {}
        if not isinstance(peaks, Mapping) or "bf16" not in peaks:
            raise InputError(f"hardware file {str(path)!r}: give peak_flops (dense BF16 FLOP/s)")
        data["peak_flops"] = peaks["bf16"]
    data.setdefault("source", f"user profile {path}")
    try:
        return Hardware(**data)
    except (TypeError, ValueError) as exc:
        raise InputError(f"hardware file {str(path)!r}: {exc}") from None


def get_hardware(hardware: str | Hardware = "h100-sxm", **overrides) -> Hardware:
    """A profile by name, a ``.toml``/``.json`` file, or an instance, with optional overrides
    (utilisations, bandwidths, ...; ``None`` values are ignored)."""
    if isinstance(hardware, Path) or (isinstance(hardware, str) and hardware.lower().endswith((".toml", ".json"))):
        hardware = load_hardware(hardware)
    elif isinstance(hardware, str):
        if hardware not in HARDWARE:
            raise PluginNotFoundError(
                f"no hardware profile {hardware!r}; known: {', '.join(sorted(HARDWARE))} (or a .toml/.json file)"
            )
        hardware = HARDWARE[hardware]
    elif not isinstance(hardware, Hardware):
        raise InputError(f"hardware must be a profile name, a .toml/.json path or a Hardware, got {hardware!r}")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(overrides) - _FIELDS)
    if unknown:
        raise InputError(f"get_hardware: no field {unknown[0]!r}; fields are {sorted(_FIELDS)}")
    return attrs.evolve(hardware, **overrides) if overrides else hardware
