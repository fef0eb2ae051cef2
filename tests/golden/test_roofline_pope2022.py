"""The roofline against published serving measurements (Pope et al. 2022).

Pope et al. 2022, "Efficiently Scaling Transformer Inference" (MLSys 2023), abstract and §1:
PaLM 540B with int8 weights on 64 TPU v4 chips generates at a low-batch latency of 29 ms per
token with a 2048-token context, and a chatbot request (64 new prompt tokens, 1,920 cached
tokens of history, 64 generated) takes 1.9 s in total. PaLM's window is 2048 positions, so the
2048-token case is served as 2047 prompt positions and the one generated (the roofline refuses
a request longer than the cost model's n_ctx). A roofline is a lower bound on any
implementation (Williams et al. 2009): it must not exceed what was measured.

PaLM 540B shape (Chowdhery et al. 2022, PaLM, Table 1): 118 layers, d_model 18,432,
multi-query attention with heads of 256 (one key/value head, so d_kv = 256).
TPU v4 (Google Cloud TPU v4 docs): 275 TFLOPS bf16/int8, 32 GiB HBM2 at 1,200 GBps per chip.
"""

import attrs
import pytest

from costmodels.dense import Dense
from tsbudget.hardware import HARDWARE
from tsbudget.roofline import Workload, serving_roofline

PALM = Dense(n_layer=118, n_ctx=2048, d_model=18432, d_kv=256)
N = 540e9
TPU = attrs.evolve(HARDWARE["tpu-v4"], serve_utilization=1.0)  # the bound: peak compute


def test_low_batch_decode_latency_is_above_the_bandwidth_bound():
    r = serving_roofline(PALM, N, TPU, Workload(context=2047, generate=1, precision="int8", batch=1, devices=64))
    # 540e9 int8 bytes over 64 chips x 1.2e12 B/s = 7.03 ms, plus a 2048-position MQA cache
    assert float(r.decode_latency_ms) == pytest.approx(540e9 / (64 * 1.2e12) * 1e3, rel=0.01)
    assert r.decode_limit == "bandwidth"
    assert float(r.decode_latency_ms) <= 29.0  # Pope et al. 2022: 29 ms per token measured
    assert r.feasible


def test_chatbot_request_is_above_the_roofline():
    # 64 new prompt tokens over 1,920 cached ones: prefill 64 positions, generate 64, cache of ~2048
    w = Workload(context=64, generate=64, precision="int8", batch=1, devices=64)
    r = serving_roofline(PALM, N, TPU, w)
    total = float(r.prefill_seconds) + 64 * float(r.decode_seconds)
    assert total <= 1.9  # Pope et al. 2022 §1: 1.9 s measured
    assert total == pytest.approx(64 * 540e9 / (64 * 1.2e12), rel=0.05)  # decode dominates


def test_palm_int8_needs_16_tpu_v4_chips():
    # 540e9 int8 bytes on 32 GiB chips: 540e9 / 34.36e9 = 15.7 -> 16; Pope et al. serve on 64
    r = serving_roofline(PALM, N, TPU, Workload(context=2047, generate=1, precision="int8", batch=1))
    assert int(r.devices) == 16
