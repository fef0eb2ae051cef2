"""``tsbudget cost``: training and serving FLOPs and GPU-hours of one run."""

from __future__ import annotations

import json
import math

import attrs
import click
import numpy as np

from tsbudget.cli.common import SETTING, SettingType, parse_settings
from tsbudget.errors import InputError
from tsbudget.hardware import HARDWARE, get_hardware
from tsbudget.registry import costmodels, units

__all__ = ["command"]


class _Number(click.ParamType):
    """A finite float written as ``4e8``, ``1.5E12`` or ``400_000_000``, with a lower limit."""

    name = "number"

    def __init__(self, minimum: float | None = None, strict: bool = False):
        self.minimum, self.strict = minimum, strict

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not finite", param, ctx)
        if self.minimum is not None and (number <= self.minimum if self.strict else number < self.minimum):
            self.fail(f"{value!r} must be {'>' if self.strict else '>='} {self.minimum:g}", param, ctx)
        return number


class _Variable(SettingType):
    """``VAR=VALUE`` with a numeric VALUE (cost-model variables)."""

    name = "var=value"

    def value(self, raw: str, param, ctx):
        return _Number().convert(raw, param, ctx)


def _to_dict(pairs, param: str) -> dict:
    out = {}
    for key, value in pairs:
        if key in out:
            raise click.BadParameter(f"{key} given twice", param_hint=param)
        out[key] = value
    return out


def _fields(obj) -> dict:
    return attrs.asdict(obj) if attrs.has(type(obj)) else {}


def _float(x) -> float:
    return float(np.asarray(x, dtype=float))


@click.command("cost")
@click.option("--n", "n", required=True, type=_Number(0.0, strict=True), help="Parameters the law sees (e.g. 4e8).")
@click.option("--data", required=True, type=_Number(0.0), help="Training data, counted in --unit (e.g. 8e9).")
@click.option("--unit", default="tokens", show_default=True, help="Data unit (see `tsbudget plugins`).")
@click.option("--unit-setting", "unit_settings", multiple=True, type=SETTING, help="Unit setting KEY=VALUE.")
@click.option("--cost-model", default="dense", show_default=True, help="Cost model (see `tsbudget plugins`).")
@click.option(
    "--cost-setting", "cost_settings", multiple=True, type=SETTING, help="Cost-model field KEY=VALUE."
)
@click.option("--set", "variables", multiple=True, type=_Variable(), help="Cost-model variable VAR=VALUE.")
@click.option("--serve", default=None, type=_Number(0.0),
              help="Data served over the deployment, counted in --unit like --data [default: 0].")
@click.option("--serve-positions", default=None, type=_Number(0.0),
              help="The served load in model positions instead (after tokenization).")
@click.option("--serve-set", "serve_variables", multiple=True, type=_Variable(),
              help="Serving-time variable VAR=VALUE (e.g. recurrence=32), over the --set values.")
@click.option("--hardware", default="h100-sxm", show_default=True,
              help=f"Hardware profile ({', '.join(sorted(HARDWARE))}), or a .toml/.json file with a profile.")
@click.option("--train-utilization", type=_Number(0.0, strict=True), help="Training utilisation in (0, 1].")
@click.option("--serve-utilization", type=_Number(0.0, strict=True), help="Serving utilisation in (0, 1].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def command(
    n, data, unit, unit_settings, cost_model, cost_settings, variables, serve, serve_positions, serve_variables,
    hardware,
    train_utilization, serve_utilization, as_json,
):
    """Training and serving FLOPs and GPU-hours for N parameters trained on DATA units."""
    data_unit = units.resolve(unit, **parse_settings(unit_settings, "--unit-setting"))
    cm = costmodels.resolve(cost_model, **parse_settings(cost_settings, "--cost-setting"))
    given = _to_dict(variables, "--set")
    resolved = cm.resolve_variables(**given)
    # serving may run other settings (a recurrent-depth model served at its own r)
    served = cm.resolve_variables(**{**given, **_to_dict(serve_variables, "--serve-set")})
    hw = get_hardware(hardware, train_utilization=train_utilization, serve_utilization=serve_utilization)

    positions = _float(data_unit.to_positions(data))
    if serve is not None and serve_positions is not None:
        raise InputError("give --serve AMOUNT (in --unit) or --serve-positions POSITIONS, not both")
    if serve_positions is None:
        serve = serve or 0.0
        serve_positions = _float(data_unit.to_positions(serve))
    else:
        serve = _float(serve_positions / data_unit.positions_per_unit())
    serve_units, serve = serve, serve_positions
    train = _float(cm.train_flops(n, positions, **resolved))
    inference = _float(cm.inference_flops(n, serve, **served))
    report = {
        "n": n,
        "data": data,
        "unit": data_unit.name,
        "unit_settings": _fields(data_unit),
        "positions": positions,
        "serve": serve_units,
        "serve_positions": serve,
        "cost_model": cm.name,
        "cost_settings": _fields(cm),
        "variables": {k: _float(v) for k, v in resolved.items()},
        "serve_variables": {k: _float(v) for k, v in served.items()},
        "total_params": _float(cm.total_params(n, **resolved)),
        "active_params": _float(cm.active_params(n, **resolved)),
        "train_flops": train,
        "inference_flops": inference,
        "lifetime_flops": train + inference,
        "hardware": hw.name,
        "peak_flops": hw.peak_flops,
        "train_utilization": hw.train_utilization,
        "serve_utilization": hw.serve_utilization,
        "train_gpu_hours": _float(hw.train_hours(train)),
        "serve_gpu_hours": _float(hw.serve_hours(inference)),
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    _print_table(report)


def _print_table(r: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    variables = ", ".join(f"{k}={v:g}" for k, v in r["variables"].items()) or "none"
    serve_vars = ", ".join(f"{k}={v:g}" for k, v in r["serve_variables"].items()) or "none"
    table = Table(title=f"tsbudget cost: {r['cost_model']} on {r['hardware']}", show_header=True)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    rows = [
        ("parameters the law sees (N)", f"{r['n']:.4g}"),
        ("total / active parameters", f"{r['total_params']:.4g} / {r['active_params']:.4g}"),
        ("variables", variables),
        ("serving variables", serve_vars),
        (f"data ({r['unit']})", f"{r['data']:.4g}"),
        ("trained positions", f"{r['positions']:.4g}"),
        (f"served data ({r['unit']}) / positions", f"{r['serve']:.4g} / {r['serve_positions']:.4g}"),
        ("training FLOPs", f"{r['train_flops']:.4g}"),
        ("serving FLOPs", f"{r['inference_flops']:.4g}"),
        ("lifetime FLOPs", f"{r['lifetime_flops']:.4g}"),
        (f"training GPU-hours (util {r['train_utilization']:g})", f"{r['train_gpu_hours']:.4g}"),
        (f"serving GPU-hours (util {r['serve_utilization']:g})", f"{r['serve_gpu_hours']:.4g}"),
    ]
    for row in rows:
        table.add_row(*row)
    Console().print(table)
