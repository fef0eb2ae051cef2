"""``tsbudget serve``: what serving a model costs on given hardware (the roofline of issue 13)."""

from __future__ import annotations

import json

import attrs
import click
import numpy as np

from tsbudget.cli.common import FRACTION, NONNEGATIVE, POSITIVE, SETTING, parse_fix, parse_settings
from tsbudget.errors import InputError

__all__ = ["command"]

# the quantities printed, each with the roofline field naming what limits it
_LIMITED = (
    ("devices_per_replica", "devices", "devices_limit"),
    ("batch", "batch", "batch_limit"),
    ("decode_latency_ms", "decode_latency_ms", "decode_limit"),
    ("prefill_seconds", "prefill_seconds", "prefill_limit"),
    ("throughput", "throughput", "throughput_limit"),
    ("gpu_hours_per_million_requests", "gpu_hours_per_million_requests", "throughput_limit"),
)


class _Batch(click.ParamType):
    name = "integer >= 1"

    def convert(self, value, param, ctx):
        try:
            number = float(str(value).strip().replace("_", ""))
        except ValueError:
            self.fail(f"{value!r} is not a number", param, ctx)
        if not (number >= 1 and number == int(number)) or number > 2**40:
            self.fail(f"must be an integer >= 1, got {value!r}", param, ctx)
        return int(number)


class _Devices(_Batch):
    name = "integer >= 1, search or min"

    def convert(self, value, param, ctx):
        text = str(value).strip().lower()
        if text in ("search", "min"):
            return text
        return super().convert(value, param, ctx)


def _scalar(x):
    x = np.asarray(x)
    return x.item()


@click.command("serve")
@click.option("--n", "n", required=True, type=POSITIVE, help="Parameters the law sees (active ones for MoE), e.g. 70e9.")
@click.option("--cost-model", default="dense", show_default=True, help="Cost model (see `tsbudget plugins`).")
@click.option("--cost-setting", "cost_settings", multiple=True, type=SETTING,
              help="Cost-model field KEY=VALUE (e.g. d_model=8192; gives the attention cache).")
@click.option("--set", "variables", multiple=True, metavar="VAR=VALUE",
              help="Cost-model variable at serving, e.g. experts=8 or recurrence=16; repeatable.")
@click.option("--hardware", default="h100-sxm", show_default=True,
              help="Hardware profile name, or a .toml/.json file with a profile.")
@click.option("--precision", default="bf16", show_default=True, help="Weights and cache precision (bf16, fp8, ...).")
@click.option("--batch", type=_Batch(), default=None,
              help="Sequences decoded together [default: the cheapest that memory and the latency targets "
                   "allow].")
@click.option("--context", type=NONNEGATIVE, default=0.0, show_default=True,
              help="Prompt positions per request (prefill).")
@click.option("--generate", type=NONNEGATIVE, default=1.0, show_default=True,
              help="Positions generated per request (decode steps).")
@click.option("--latency-ms", type=POSITIVE, default=None, help="Latency target per generated position, in ms.")
@click.option("--request-latency-ms", type=POSITIVE, default=None,
              help="Latency target for a whole request (prefill + decode), in ms.")
@click.option("--devices", type=_Devices(), default="search", show_default=True,
              help="Devices per replica: a number; min (the fewest whose memory holds the weights and caches); "
                   "search (from that fewest up to --max-devices, the cheapest per request that meets the latency "
                   "targets; the interconnect is not charged, so wide replicas are favoured).")
@click.option("--max-devices", type=_Batch(), default=None,
              help="Cap of the --devices search [default: 8, one server node].")
@click.option("--step-tokens", type=click.FloatRange(min=1.0), default=8192.0, show_default=True,
              help="Positions one forward pass takes (the engine's max_num_tokens / max_num_batched_tokens); "
                   "prompts are prefilled together up to it; inf for no limit.")
@click.option("--requests", type=NONNEGATIVE, default=None, help="Requests served: also print their GPU-hours.")
@click.option("--serve-utilization", type=FRACTION, default=None, help="Serving utilisation of peak in (0, 1].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a report.")
def command(n, cost_model, cost_settings, variables, hardware, precision, batch, context, generate, latency_ms,
            request_latency_ms, devices, max_devices, step_tokens, requests, serve_utilization, as_json):
    """Serving cost of a model on given hardware: devices, latency, throughput, GPU-hours, with what limits each."""
    from tsbudget.hardware import get_hardware
    from tsbudget.registry import costmodels
    from tsbudget.roofline import Workload, serving_roofline

    cm = costmodels.resolve(cost_model, **parse_settings(cost_settings, "--cost-setting"))
    given = parse_fix(variables, "--set")
    resolved = cm.resolve_variables(**given)
    hw = get_hardware(hardware, serve_utilization=serve_utilization)
    if context + generate <= 0:
        raise InputError("--context and --generate are both 0: a request must have positions to serve")
    workload = Workload(context=context, generate=generate, precision=precision.lower(), batch=batch,
                        latency_ms=latency_ms, request_latency_ms=request_latency_ms,
                        devices=None if devices == "min" else devices, step_tokens=step_tokens,
                        **({} if max_devices is None else {"max_devices": max_devices}))
    r = serving_roofline(cm, n, hw, workload, **resolved)
    out = {
        "n": n,
        "cost_model": cm.name,
        "cost_settings": attrs.asdict(cm) if attrs.has(type(cm)) else {},
        "variables": {k: _scalar(v) for k, v in resolved.items()},
        "total_params": _scalar(cm.total_params(n, **resolved)),
        "active_params": _scalar(cm.active_params(n, **resolved)),
        "hardware": hw.name,
        "peak_flops": hw.peak(workload.precision),
        "memory_bandwidth": hw.memory_bandwidth,
        "memory_capacity": hw.memory_capacity,
        "serve_utilization": hw.serve_utilization,
        "workload": attrs.asdict(workload),
    }
    for key, field, limit in _LIMITED:
        out[key] = _scalar(getattr(r, field))
    for key in ("devices_per_replica", "batch"):  # counts: integers when finite
        if isinstance(out[key], float) and np.isfinite(out[key]):
            out[key] = int(out[key])
    out["limits"] = {key: _scalar(getattr(r, limit)) for key, _, limit in _LIMITED}
    for key in ("max_batch", "decode_seconds", "prefill_latency_seconds", "gpu_seconds_per_request",
                "flops_only_gpu_seconds_per_request",
                "weight_bytes", "cache_bytes_per_sequence", "feasible", "shortfall", "latency_limit"):
        out[key] = _scalar(getattr(r, key))
    out["notes"] = list(r.notes)
    out["flops_only_gpu_hours_per_million_requests"] = out["flops_only_gpu_seconds_per_request"] * 1e6 / 3600.0
    if requests is not None:
        out["requests"] = requests
        out["gpu_hours"] = _scalar(r.gpu_hours(requests))
    if as_json:
        from tsbudget.report import jsonable

        click.echo(json.dumps(jsonable(out), indent=2))
        return
    click.echo(f"{out['cost_model']} N={n:.4g} (total {out['total_params']:.4g} params) on {hw.name}, "
               f"{workload.precision}; context {context:g}, generate {generate:g} per request")
    click.echo(repr(r))
    if requests is not None:
        click.echo(f"  {requests:.4g} requests: {out['gpu_hours']:.4g} GPU-hours")
