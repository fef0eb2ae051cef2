"""The report of the serving roofline (:func:`tsbudget.roofline.serving_roofline`, which
re-exports :class:`Roofline` and :data:`LIMITS`): what serving one model on one replica costs,
with what limits each quantity. The formulas and their sources are in :mod:`tsbudget.roofline`."""

from __future__ import annotations

import math
from typing import ClassVar

import attrs
import numpy as np

from tsbudget.report import Report, fmt
from tsbudget.workload import Workload

__all__ = ["LIMITS", "Roofline"]

#: What can bound a phase, a batch or a replica (``given``: a batch or replica the workload
#: fixes; ``none``: a phase that does not run, or a latency target that is met; ``cost``: a
#: searched replica made wider than the fewest devices because that was cheaper per request).
LIMITS = ("compute", "bandwidth", "capacity", "latency", "cost", "given", "none")

def _array_fields():
    return attrs.field(converter=np.asarray)


@attrs.frozen(eq=False, repr=False)
class Roofline(Report):
    """Serving cost of one model on one replica (arrays broadcast over ``n`` and the variables).

    ``devices`` per replica (``devices_limit``: ``capacity`` the fewest that hold the model,
    ``given``, or for a searched replica ``latency`` or ``cost``, see
    :func:`~tsbudget.roofline.serving_roofline`), ``batch`` (sequences decoded together) and
    ``max_batch`` (the most whose caches fit, ``inf`` without a cache), ``prefill_seconds``
    per request (its share of the batch's prefill) and ``prefill_latency_seconds`` (the
    batch's prefill, before its first generated positions), ``decode_seconds`` per decode
    step, ``decode_latency_ms`` per generated
    position, ``gpu_seconds_per_request``, ``throughput`` (requests/s per replica). The
    ``*_limit`` arrays name what binds each (one of :data:`LIMITS`); ``feasible`` says the
    latency targets are met (and a given replica holds the model) and ``shortfall`` by what
    factor the binding limit, ``latency_limit``, misses them (at batch 1 when the batch is
    free; 1 when feasible). ``flops_only_gpu_seconds_per_request`` is the FLOPs-only
    cost ``(C + G)·F / (P·u)`` for comparison; ``weight_bytes`` the weights at the precision,
    ``cache_bytes_per_sequence`` the cache one finished request holds; ``notes`` what the
    roofline left out that the reader should know (e.g. no attention cache counted). See the
    module docstring for the formulas.
    """

    captions: ClassVar[bool] = True

    devices: np.ndarray = _array_fields()
    batch: np.ndarray = _array_fields()
    max_batch: np.ndarray = _array_fields()
    prefill_seconds: np.ndarray = _array_fields()
    prefill_latency_seconds: np.ndarray = _array_fields()
    decode_seconds: np.ndarray = _array_fields()
    decode_latency_ms: np.ndarray = _array_fields()
    gpu_seconds_per_request: np.ndarray = _array_fields()
    throughput: np.ndarray = _array_fields()
    prefill_limit: np.ndarray = _array_fields()
    decode_limit: np.ndarray = _array_fields()
    devices_limit: np.ndarray = _array_fields()
    batch_limit: np.ndarray = _array_fields()
    throughput_limit: np.ndarray = _array_fields()
    latency_limit: np.ndarray = _array_fields()
    feasible: np.ndarray = _array_fields()
    shortfall: np.ndarray = _array_fields()
    flops_only_gpu_seconds_per_request: np.ndarray = _array_fields()
    weight_bytes: np.ndarray = _array_fields()
    cache_bytes_per_sequence: np.ndarray = _array_fields()
    workload: Workload = attrs.field(factory=Workload)
    hardware: str = ""
    notes: tuple = attrs.field(default=(), converter=tuple)

    @property
    def gpu_hours_per_million_requests(self) -> np.ndarray:
        return self.gpu_seconds_per_request * 1e6 / 3600.0

    def gpu_hours(self, requests) -> np.ndarray:
        """GPU-hours to serve ``requests`` requests."""
        return self.gpu_seconds_per_request * np.asarray(requests, dtype=float) / 3600.0

    # -- Report ------------------------------------------------------------------------------
    @property
    def success(self) -> bool:
        return bool(np.all(self.feasible))

    @property
    def message(self) -> str:
        if self.success:
            return "meets the latency target" if self._targeted else "no latency target"
        if self.feasible.ndim:
            return f"{int(np.sum(~self.feasible))} of {self.feasible.size} settings miss the latency target"
        if self.latency_limit == "capacity":
            return (f"{fmt(float(self.devices))} devices cannot hold the weights and caches: "
                    f"{fmt(float(self.shortfall))}x as much memory is needed (capacity binds)")
        target = self.workload.latency_ms if self.workload.latency_ms is not None else self.workload.request_latency_ms
        what = "per position" if self.workload.latency_ms is not None else "per request"
        return (f"latency target {fmt(target)} ms {what} missed by a factor {fmt(float(self.shortfall))} "
                f"at batch {fmt(float(self.batch))} ({self.latency_limit} binds)")

    @property
    def _targeted(self) -> bool:
        return self.workload.latency_ms is not None or self.workload.request_latency_ms is not None

    def title(self) -> str:
        return f"Roofline ({self.hardware}, {self.workload.precision})"

    def estimate_lines(self):
        def v(x):
            x = np.asarray(x)
            return fmt(x.item()) if x.ndim == 0 else f"array{x.shape}"

        return [
            f"devices per replica   {v(self.devices)}  ({v(self.devices_limit)})",
            f"batch                 {v(self.batch)}  ({v(self.batch_limit)}; memory allows "
            f"{self._allowed()})",
            f"decode latency        {v(self.decode_latency_ms)} ms per position  ({v(self.decode_limit)})",
            f"prefill               {v(self.prefill_seconds)} s per request  ({v(self.prefill_limit)}; the batch's "
            f"prompts together take {v(self.prefill_latency_seconds)} s)",
            f"throughput            {v(self.throughput)} requests/s per replica  ({v(self.throughput_limit)})",
            f"GPU-hours / 1e6 req   {v(self.gpu_hours_per_million_requests)}",
        ]

    def _allowed(self) -> str:
        """What batch the memory allows, in words: ``any`` (no cache), ``none`` (the weights do
        not fit), or the number."""
        most = np.asarray(self.max_batch)
        if np.all(np.isinf(most)):
            return "any"
        if np.all(most == 0):
            return "none: the weights do not fit"
        return fmt(most.item()) if most.ndim == 0 else f"array{most.shape}"

    def diagnostic_lines(self):
        notes = [f"note: {note}" for note in self.notes]
        if np.ndim(self.gpu_seconds_per_request):
            return notes
        flops_only = float(self.flops_only_gpu_seconds_per_request)
        ratio = float(self.gpu_seconds_per_request) / flops_only if flops_only > 0 else math.nan
        return [
            f"FLOPs-only estimate   {fmt(flops_only * 1e6 / 3600)} GPU-hours / 1e6 req "
            f"(the roofline costs {fmt(ratio, 3)}x that)",
            f"weights {fmt(float(self.weight_bytes))} B; cache {fmt(float(self.cache_bytes_per_sequence))} B "
            f"per request",
        ] + notes

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in (
            "devices", "batch", "max_batch", "prefill_seconds", "prefill_latency_seconds", "decode_seconds",
            "decode_latency_ms",
            "gpu_seconds_per_request", "throughput", "prefill_limit", "decode_limit", "devices_limit",
            "batch_limit", "throughput_limit", "latency_limit", "feasible", "shortfall",
            "flops_only_gpu_seconds_per_request", "weight_bytes", "cache_bytes_per_sequence",
        )}
        out["gpu_hours_per_million_requests"] = self.gpu_hours_per_million_requests
        out = {k: (np.asarray(x).item() if np.asarray(x).ndim == 0 else np.asarray(x)) for k, x in out.items()}
        out["workload"] = attrs.asdict(self.workload)
        out["hardware"] = self.hardware
        out["notes"] = list(self.notes)
        return out
