"""What one served request asks for: the serving workload of the roofline
(:func:`tsbudget.roofline.serving_roofline`, which re-exports :class:`Workload`)."""

from __future__ import annotations

import math

import attrs
import numpy as np

from tsbudget.errors import InputError
from tsbudget.hardware import bytes_per_param

__all__ = ["NODE_DEVICES", "STEP_TOKENS", "Workload"]

#: Devices of one server node, the default cap of the replica-size search
#: (:attr:`Workload.max_devices`): NVIDIA's own MLPerf Inference v4.1 system description of
#: its H200 server lists ``"accelerators_per_node": 8`` joined by "18x 4th Gen NVLink,
#: 900GB/s" (mlcommons/inference_results_v4.1, closed/NVIDIA/systems/H200-SXM-141GBx8_TRT_MaxQ.json;
#: the H100 SXM systems of v3.1 likewise list 8). Past a node a replica spans the slower
#: inter-node network, which the roofline does not charge.
NODE_DEVICES = 8

#: Positions one forward pass of a serving engine processes by default: TensorRT-LLM's
#: ``max_num_tokens`` default, 8,192 (its engine ``BuildConfig`` default, which NVIDIA's MLPerf
#: Inference harness mirrors as ``BuildConfig.max_num_tokens: int = 8192``; a longer prompt is
#: refused with "prompt length 16384 should not exceed max_num_tokens 8192"). vLLM's
#: ``max_num_batched_tokens`` plays the same part. Prefills are batched up to it.
STEP_TOKENS = 8192.0


def _nonnegative(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"Workload.{attribute.name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise InputError(f"Workload.{attribute.name} must be finite and >= 0, got {value!r}")


def _optional_positive(instance, attribute, value):
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"Workload.{attribute.name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"Workload.{attribute.name} must be finite and > 0, got {value!r}")


def _batch(instance, attribute, value):
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value < 1 or value != int(value):
        raise InputError(f"Workload.{attribute.name} must be an integer >= 1 (or None), got {value!r}")


def _devices(instance, attribute, value):
    if value is None or (isinstance(value, str) and value == "search"):
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"Workload.devices must be an integer >= 1, None (the fewest that hold the model) or "
                         f"'search' (the cheapest replica), got {value!r}")


def _max_devices(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"Workload.max_devices must be an integer >= 1, got {value!r}")


def _step_tokens(instance, attribute, value):
    if math.isnan(value) or value < 1:
        raise InputError(f"Workload.step_tokens must be >= 1 (inf: no limit), got {value!r}")


def _precision(instance, attribute, value):
    bytes_per_param(value)


@attrs.frozen
class Workload:
    """What one served request asks for.

    ``context``: prompt positions per request (prefill), ``generate``: positions generated
    per request (decode steps), both in model positions. ``precision`` of weights and
    cache (``bf16``, ``fp8``, ...). ``batch``: sequences decoded together (``None``: the
    largest the memory and the latency targets allow, see :func:`serving_roofline`).
    ``latency_ms``: target time per generated position; ``request_latency_ms``: target for
    a whole request (prefill plus its ``generate`` steps); either may be ``None``.
    ``devices``: devices per replica; a replica given too few is infeasible, with capacity
    binding. ``None``: the fewest whose memory holds the weights and one sequence's cache (a
    given batch's caches). ``"search"``: from that fewest up to ``max_devices`` (or that
    fewest, if more), the cheapest per request that meets the latency targets (see
    :func:`serving_roofline`). ``max_devices``: the cap of that search, default
    :data:`NODE_DEVICES` (8, one server node). The interconnect is not charged, so the search
    favours wide replicas: the cap keeps them within a node.
    ``prefill_batch``: prompts prefilled together, reading the weights they touch once
    (``1``: each prompt alone, as a server that does not batch prefills). ``None``: as many
    of the decode batch's prompts as one forward pass takes, ``step_tokens`` positions
    (:attr:`prompts_per_prefill`); with ``step_tokens=inf`` the whole decode batch's.
    ``step_tokens``: positions one forward pass processes at most, the serving engine's
    token budget per step (TensorRT-LLM's ``max_num_tokens``, 8,192 by default, which
    rejects longer prompts with "prompt length ... should not exceed max_num_tokens 8192";
    vLLM's ``max_num_batched_tokens``); default :data:`STEP_TOKENS`; ``inf``: no limit.
    """

    context: float = attrs.field(default=0.0, validator=_nonnegative)
    generate: float = attrs.field(default=1.0, validator=_nonnegative)
    precision: str = attrs.field(default="bf16", validator=_precision)
    batch: int | None = attrs.field(default=None, validator=_batch)
    latency_ms: float | None = attrs.field(default=None, validator=_optional_positive)
    request_latency_ms: float | None = attrs.field(default=None, validator=_optional_positive)
    devices: int | str | None = attrs.field(default=None, validator=_devices)
    prefill_batch: int | None = attrs.field(default=None, validator=_batch)
    max_devices: int = attrs.field(default=NODE_DEVICES, validator=_max_devices)
    step_tokens: float = attrs.field(default=STEP_TOKENS, converter=float, validator=_step_tokens)

    @property
    def prompts_per_prefill(self) -> float | None:
        """Prompts prefilled together at most: :attr:`prefill_batch` when given, else the
        prompts one step of :attr:`step_tokens` positions holds, at least one; ``None`` (the
        whole decode batch) when ``step_tokens`` is ``inf``."""
        if self.prefill_batch is not None:
            return float(self.prefill_batch)
        if math.isinf(self.step_tokens) or self.context <= 0:
            return None
        return float(max(1, math.floor(self.step_tokens / self.context)))

    def __attrs_post_init__(self):
        if self.context + self.generate <= 0:
            raise InputError("Workload: a request must have context or generate > 0, got 0 and 0")
