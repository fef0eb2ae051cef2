"""Compute- and memory-optimal expert counts under the joint MoE law (Ludziejewski et al. 2025, §4).

A model is *compute optimal* when it has the lowest loss among models trained with the same
FLOPs ``F = 6·N_act·D`` (their §4.1, eq. 7, Table 1); *memory optimal* when, among those, it
has the lowest loss while its weights and KV cache fit a memory budget ``M`` (§4.2-4.3,
Table 2): ``bytes·(N_total + 2·T·N_blocks·d_model) <= M``. With a lifetime inference load
``D_inf`` the budget becomes ``6·N_act·D + 2·N_act·D_inf = F`` (§4.4).

Model shapes follow their App. A: ``N_total = 2·d·V + (4 + 9E)·N_blocks·d²`` (eq. 9),
``N_act = 2·d·V + 13·N_blocks·d²`` (eq. 10), ``N_blocks = d/64`` (App. A.3), ``V = 50,257``
(GPT-2 vocabulary, App. A.1); the KV cache of ``T`` tokens holds ``2·T·N_blocks·d`` values
(§4.3). ``d`` is treated as continuous, as in their plots. Along an IsoFLOP line the loss
is convex in ``log N_act`` (a sum of two exponentials of it with opposite slopes), so the
memory-optimal size at a fixed ``E`` is the compute optimum when it fits and the largest
model that fits otherwise ("lines truncated at compute-optimal points", their Fig. 1).
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from tsbudget.errors import InfeasibleError, InputError
from tsbudget.report import Report, fmt

__all__ = [
    "GPT2_VOCAB", "HEAD_DIM", "PAPER_EXPERTS", "Candidate", "MemoryOptimum",
    "active_params", "total_params", "kv_cache_values", "memory_bytes", "d_model_for_memory",
    "d_model_for_active", "compute_optimum", "memory_optimum",
]

#: GPT-2 tokenizer vocabulary, Ludziejewski et al. 2025 App. A.1 ("50, 257 in our case")
GPT2_VOCAB = 50257
#: ``N_blocks = N_heads = d_model/64``, their App. A.3
HEAD_DIM = 64
#: expert counts of their runs and tables (App. E, Tables 1, 2, 4)
PAPER_EXPERTS = (1, 2, 4, 8, 16, 32)


def active_params(d_model, vocab: int = GPT2_VOCAB) -> np.ndarray:
    """``N_act = 2·d·V + 13·(d/64)·d²`` (Ludziejewski et al. 2025, App. A eq. 10)."""
    d = np.asarray(d_model, dtype=float)
    return 2.0 * d * vocab + 13.0 * (d / HEAD_DIM) * d * d


def total_params(d_model, experts, vocab: int = GPT2_VOCAB) -> np.ndarray:
    """``N_total = 2·d·V + (4 + 9E)·(d/64)·d²`` (Ludziejewski et al. 2025, App. A eq. 9)."""
    d, e = np.asarray(d_model, dtype=float), np.asarray(experts, dtype=float)
    return 2.0 * d * vocab + (4.0 + 9.0 * e) * (d / HEAD_DIM) * d * d


def kv_cache_values(d_model, tokens) -> np.ndarray:
    """Values in the KV cache of ``tokens`` tokens, ``2·T·N_blocks·d`` (their §4.3)."""
    d = np.asarray(d_model, dtype=float)
    return 2.0 * np.asarray(tokens, dtype=float) * (d / HEAD_DIM) * d


def memory_bytes(d_model, experts, kv_tokens=0.0, bytes_per_value=2.0, vocab: int = GPT2_VOCAB) -> np.ndarray:
    """Bytes of the weights and the KV cache: ``bytes·(N_total + 2·T·N_blocks·d)`` (§4.3)."""
    return bytes_per_value * (total_params(d_model, experts, vocab) + kv_cache_values(d_model, kv_tokens))


def _positive_root(c3: float, c2: float, c1: float, c0: float) -> float:
    """The positive real root of ``c3·d³ + c2·d² + c1·d + c0`` (c3, c1 > 0 >= c0: exactly one)."""
    roots = np.roots([c3, c2, c1, c0])
    real = roots[np.abs(roots.imag) <= 1e-9 * np.maximum(1.0, np.abs(roots.real))].real
    d = float(real[real > 0].max())
    # one Newton step in full precision (np.roots goes through an eigenvalue solver)
    f = ((c3 * d + c2) * d + c1) * d + c0
    return d - f / ((3 * c3 * d + 2 * c2) * d + c1)


def d_model_for_memory(memory, experts, kv_tokens=0.0, bytes_per_value=2.0, vocab: int = GPT2_VOCAB) -> float:
    """The width ``d`` whose :func:`memory_bytes` equals ``memory`` (a cubic in ``d``)."""
    e, t, b = float(experts), float(kv_tokens), float(bytes_per_value)
    return _positive_root(b * (4.0 + 9.0 * e) / HEAD_DIM, b * 2.0 * t / HEAD_DIM, b * 2.0 * vocab, -float(memory))


def d_model_for_active(n_active, vocab: int = GPT2_VOCAB) -> float:
    """The width ``d`` whose :func:`active_params` equal ``n_active``."""
    return _positive_root(13.0 / HEAD_DIM, 0.0, 2.0 * vocab, -float(n_active))


def _check_law(law) -> None:
    if set(law.required_inputs) != {"N", "D", "experts"} or not law.has_closed_form:
        raise InputError(
            f"memory and compute optima need a law of N, D and experts with a closed form at fixed experts "
            f"(e.g. 'joint_moe'); law {law.name!r} takes {sorted(law.required_inputs)}"
        )


def _positive(value, name: str, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise InputError(f"{name} must be finite and {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


def compute_optimum(law, flops, experts) -> tuple[float, float]:
    """Compute-optimal ``(N_act, D)`` at ``experts`` for ``flops = 6·N_act·D`` (their eq. 7, Table 1)."""
    _check_law(law)
    n, d = law.optimal_allocation(_positive(flops, "flops"), 6.0, experts=_positive(experts, "experts"))
    return float(n), float(d)


@attrs.frozen
class Candidate:
    """The best model at one expert count: its width, active and total parameters, memory
    (bytes of weights and KV cache), tokens, loss, and the limit that sets its size
    (``compute``: the compute optimum fits; ``memory``: the largest model that fits)."""

    experts: float
    d_model: float
    n_active: float
    n_total: float
    memory_bytes: float
    tokens: float
    loss: float
    bound: str

    def to_dict(self) -> dict:
        return attrs.asdict(self)


def _best_size(law, experts, flops, n_cap, inference_tokens, n_floor):
    """``(N_act, bound)``: the loss-minimising active size at ``experts`` with ``N_act <= n_cap``."""
    if inference_tokens == 0:
        n_opt, _ = law.optimal_allocation(flops, 6.0, experts=experts)
        n_opt = float(n_opt)
        return (n_opt, "compute") if n_opt <= n_cap else (n_cap, "memory")
    from scipy.optimize import minimize_scalar

    n_hi = min(n_cap, flops / (2.0 * inference_tokens) * (1 - 1e-9))  # some training data left
    if n_hi <= n_floor:
        return None, "infeasible"

    def loss(log_n):
        n = math.exp(log_n)
        return float(law.loss(N=n, D=(flops - 2.0 * n * inference_tokens) / (6.0 * n), experts=experts))

    res = minimize_scalar(loss, bounds=(math.log(n_floor), math.log(n_hi)), method="bounded",
                          options={"xatol": 1e-10})
    n = math.exp(res.x)
    return n, ("memory" if n >= n_hi * (1 - 1e-6) and n_hi == n_cap else "compute")


@attrs.frozen(repr=False)
class MemoryOptimum(Report):
    """The memory-optimal expert count for a training budget and a memory budget (Ludziejewski
    et al. 2025 §4.2-4.4, Table 2): the best :class:`Candidate` at each expert count and the best of them."""

    flops: float
    memory: float
    kv_tokens: float
    inference_tokens: float
    bytes_per_value: float
    candidates: tuple
    best: Candidate
    success: bool = True
    message: str = ""

    def title(self) -> str:
        return "Memory-optimal experts"

    def estimate_lines(self):
        b = self.best
        yield (f"best experts {fmt(b.experts)}: N_act {fmt(b.n_active)}, N_total {fmt(b.n_total)}, "
               f"D {fmt(b.tokens)} tokens, loss {fmt(b.loss)} ({b.bound}-bound)")
        for c in self.candidates:
            yield (f"E={fmt(c.experts):>4}  d_model {fmt(c.d_model, 5):>7}  N_act {fmt(c.n_active)}  "
                   f"D {fmt(c.tokens)}  loss {fmt(c.loss, 5)}  [{c.bound}]")

    def diagnostic_lines(self):
        yield (f"budget {fmt(self.flops)} FLOPs, memory {fmt(self.memory)} bytes, KV cache {fmt(self.kv_tokens)} tokens, "
               f"{fmt(self.bytes_per_value)} bytes per value, inference {fmt(self.inference_tokens)} tokens")

    def to_dict(self) -> dict:
        return {
            "flops": self.flops, "memory": self.memory, "kv_tokens": self.kv_tokens,
            "inference_tokens": self.inference_tokens, "bytes_per_value": self.bytes_per_value,
            "best": self.best.to_dict(), "candidates": [c.to_dict() for c in self.candidates],
            "success": self.success, "message": self.message,
        }


def memory_optimum(law, flops, memory, experts=PAPER_EXPERTS, *, kv_tokens=16384, bytes_per_value=2.0,
                   inference_tokens=0.0, vocab: int = GPT2_VOCAB) -> MemoryOptimum:
    """The memory-optimal expert count among ``experts`` for a training budget ``flops`` and a
    memory budget ``memory`` in bytes (Ludziejewski et al. 2025 §4.2-4.4, Table 2 assumes 16k
    tokens of KV cache and bfloat16, 2 bytes per value). Each expert count gets its best model
    under the memory cap (see the module docstring); the smallest model allowed has one
    block (``d = 64``). ``inference_tokens`` adds their §4.4 serving load to the budget.
    An expert count whose smallest model does not fit is left out; none fitting raises
    :class:`~tsbudget.errors.InfeasibleError` with the memory the smallest needs."""
    _check_law(law)
    flops = _positive(flops, "flops")
    memory = _positive(memory, "memory")
    kv_tokens = _positive(kv_tokens, "kv_tokens", allow_zero=True)
    bytes_per_value = _positive(bytes_per_value, "bytes_per_value")
    inference_tokens = _positive(inference_tokens, "inference_tokens", allow_zero=True)
    counts = [_positive(e, "experts") for e in np.atleast_1d(np.asarray(experts, dtype=object))]
    if not counts or any(e < 1 for e in counts):
        raise InputError(f"experts must be one or more counts >= 1, got {experts!r}")
    n_floor = float(active_params(HEAD_DIM, vocab))
    candidates, smallest = [], math.inf
    for e in counts:
        need = float(memory_bytes(HEAD_DIM, e, kv_tokens, bytes_per_value, vocab))
        smallest = min(smallest, need)
        if need > memory:
            continue
        n_cap = float(active_params(d_model_for_memory(memory, e, kv_tokens, bytes_per_value, vocab), vocab))
        n, bound = _best_size(law, e, flops, n_cap, inference_tokens, n_floor)
        if n is None:
            continue
        d = d_model_for_active(n, vocab)
        tokens = (flops - 2.0 * n * inference_tokens) / (6.0 * n)
        candidates.append(Candidate(
            experts=e, d_model=d, n_active=n, n_total=float(total_params(d, e, vocab)),
            memory_bytes=float(memory_bytes(d, e, kv_tokens, bytes_per_value, vocab)), tokens=tokens,
            loss=float(law.loss(N=n, D=tokens, experts=e)), bound=bound,
        ))
    if not candidates:
        raise InfeasibleError(
            f"no expert count in {counts} fits: memory {memory:.4g} bytes, the smallest model (d_model 64) needs "
            f"{smallest:.4g} bytes" + (f", or the inference load {inference_tokens:.4g} tokens uses the whole budget"
                                      if inference_tokens else "")
        )
    best = min(candidates, key=lambda c: c.loss)
    return MemoryOptimum(
        flops=flops, memory=memory, kv_tokens=kv_tokens, inference_tokens=inference_tokens,
        bytes_per_value=bytes_per_value, candidates=tuple(candidates), best=best,
        message=f"E = {fmt(best.experts)} has the lowest loss ({best.bound}-bound)",
    )
