"""``tsbudget plan``: the compute-optimal allocation for a budget or a target loss."""

from __future__ import annotations


import click

from tsbudget.cli.common import (
    FRACTION,
    LEVEL,
    NONNEGATIVE,
    POSITIVE,
    check_output,
    parse_fix,
    parse_settings,
    write_json,
)
from tsbudget.errors import InputError

__all__ = ["command", "planning_options", "planning_kwargs", "serving_from_options"]


def planning_options(func):
    """Options shared by ``plan`` and ``frontier``: law, cost model, unit, data, serving, variables."""
    opts = [
        click.option("--fit", "fit_path", type=click.Path(dir_okay=False), default=None,
                     help="A fit result (tsbudget fit --out fit.json); its bootstrap draws give intervals."),
        click.option("--law", "--preset", "law", default=None,
                     help="A preset (epoch2024, chinchilla2022, muennighoff2023, kaplan2020) or a law name. "
                          "Default: epoch2024."),
        click.option("--cost-model", default=None,
                     help="Cost model (see `tsbudget plugins`; default: the fit's cost model, else dense)."),
        click.option("--cost-setting", "cost_settings", multiple=True, metavar="KEY=VALUE",
                     help="Cost-model field, e.g. d_model=2048; repeatable."),
        click.option("--unit", default=None, help="Data unit (default: the fit's unit, else tokens)."),
        click.option("--unit-setting", "unit_settings", multiple=True, metavar="KEY=VALUE",
                     help="Unit setting, e.g. patch_length=16; repeatable."),
        click.option("--unique", type=POSITIVE, default=None, help="Unique data available, in the plan's unit."),
        click.option("--regimes", "regimes_path", type=click.Path(dir_okay=False), default=None,
                     help="Per-regime unique and total data with R* (tsbudget redundancy --out regimes.json); "
                          "the plan's unit defaults to the file's."),
        click.option("--scale-to", type=POSITIVE, default=None, metavar="AMOUNT",
                     help="With --regimes measured on a sample: the whole corpus's size in the file's unit "
                          "(every regime scaled alike, keeping the sample's redundancy)."),
        click.option("--mix", type=click.Choice(["optimal", "natural"]), default="optimal", show_default=True,
                     help="With --regimes: sample regimes by the best mix or by their shares of the corpus."),
        click.option("--serve", type=POSITIVE, default=None, metavar="AMOUNT",
                     help="Data served over the deployment, in the plan's unit (like --unique, --d-min, --d-max)."),
        click.option("--serve-positions", type=POSITIVE, default=None,
                     help="The served load in model positions instead (after tokenization)."),
        click.option("--serve-requests", type=POSITIVE, default=None,
                     help="Requests served over the deployment; with --context/--generate the load is a roofline "
                          "workload (memory bandwidth, capacity and latency counted, unlike --serve)."),
        click.option("--context", type=NONNEGATIVE, default=None,
                     help="Prompt read per request, in the plan's unit (prefill)."),
        click.option("--generate", type=NONNEGATIVE, default=None,
                     help="Data generated per request, in the plan's unit (decode steps)."),
        click.option("--latency-ms", type=POSITIVE, default=None,
                     help="Latency target per generated model position, in ms (workloads only)."),
        click.option("--request-latency-ms", type=POSITIVE, default=None,
                     help="Latency target per request (prefill + generation), in ms (workloads only)."),
        click.option("--precision", default=None, metavar="NAME",
                     help="Serving precision of weights and cache: bf16 (default), fp8, int8, fp4, ... (workloads only)."),
        click.option("--batch", type=click.IntRange(min=1), default=None,
                     help="Sequences decoded together (default: the largest memory and latency allow; workloads only)."),
        click.option("--step-tokens", type=click.FloatRange(min=1.0), default=None,
                     help="Positions one forward pass of the serving engine takes (max_num_tokens; default 8192); "
                          "prompts are prefilled together up to it; inf for no limit (workloads only)."),
        click.option("--price-per-gpu-hour", type=POSITIVE, default=None,
                     help="Price of one GPU-hour (training and serving): reports the lifetime cost in money."),
        click.option("--serve-hardware", default=None, metavar="PROFILE",
                     help="Serve the workload on this device (name or .toml/.json file) instead of --hardware; "
                          "needs both prices to weigh the two kinds of GPU-hour."),
        click.option("--serve-price-per-gpu-hour", type=POSITIVE, default=None,
                     help="Price of one serving GPU-hour (with --price-per-gpu-hour, the training price): a serving "
                          "hour counts as this/that training hours, which moves the plan."),
        click.option("--serve-utilization", type=FRACTION, default=None, help="Serving utilisation in (0, 1]."),
        click.option("--serve-set", "serve_vars", multiple=True, metavar="VAR=VALUE",
                     help="Serving-time value of a cost-model variable (e.g. recurrence=32)."),
        click.option("--fix", "fix", multiple=True, metavar="VAR=VALUE", help="Hold a cost-model variable; repeatable."),
        click.option("--free", "free", multiple=True, metavar="VAR",
                     help="Optimise a cost-model variable ('all' for every one); repeatable."),
        click.option("--n-min", type=POSITIVE, default=None, help="Smallest model allowed (parameters)."),
        click.option("--n-max", type=POSITIVE, default=None, help="Largest model allowed (parameters)."),
        click.option("--d-min", type=NONNEGATIVE, default=None,
                     help="Least data allowed, in the unit (never below one model position, the default)."),
        click.option("--d-max", type=POSITIVE, default=None, help="Most data allowed, in the unit."),
        click.option("--hardware", default="h100-sxm", show_default=True,
                     help="Hardware profile (a name, or a .toml/.json profile file) for GPU-hours and the roofline."),
        click.option("--level", type=LEVEL, default=0.95, show_default=True,
                     help="Interval level over bootstrap draws."),
        click.option("--method", type=click.Choice(["auto", "closed_form", "general"]), default="auto",
                     show_default=True),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def serving_from_options(o: dict, requests_optional: bool = False):
    """The :class:`~tsbudget.planning.serving.Serving` the options describe, or None: a FLOPs-only
    load (--serve, --serve-positions) or a roofline workload (--serve-requests with --context
    and/or --generate, --latency-ms, --request-latency-ms, --precision, --batch).
    ``requests_optional``: the workload's requests come from elsewhere (``tsbudget lifetime --loads``)."""
    from tsbudget.planning.serving import Serving

    if o["serve"] is not None and o["serve_positions"] is not None:
        raise InputError("give --serve AMOUNT (in the plan's unit) or --serve-positions POSITIONS, not both")
    flops_only = o["serve"] is not None or o["serve_positions"] is not None
    workload = {k: o[k] for k in ("context", "generate", "latency_ms", "request_latency_ms", "precision", "batch",
                                  "step_tokens") if o.get(k) is not None}
    if o.get("serve_hardware") is not None:
        workload["hardware"] = o["serve_hardware"]
    common = {"utilization": o["serve_utilization"], "variables": parse_fix(o["serve_vars"]),
              "price_per_gpu_hour": o["price_per_gpu_hour"],
              "serve_price_per_gpu_hour": o.get("serve_price_per_gpu_hour")}
    if flops_only and (workload or o["serve_requests"] is not None):
        given = ", ".join(f"--{k.replace('_', '-')}" for k in ["serve_requests", *workload]
                          if o.get(k, o.get(f"serve_{k}")) is not None)
        raise InputError(f"--serve/--serve-positions give a FLOPs-only load; {given} describe a roofline workload: "
                         f"give one or the other")
    if flops_only:
        load = {"units": o["serve"]} if o["serve"] is not None else {"positions": o["serve_positions"]}
        return Serving(**load, **common)
    if workload:
        if "context" not in workload and "generate" not in workload:
            first = next(iter(workload))
            first = "serve_hardware" if first == "hardware" else first
            raise InputError(f"--{first.replace('_', '-')} needs a roofline workload: --context "
                             f"and/or --generate per request, with --serve-requests")
        if o["serve_requests"] is None and not requests_optional:
            raise InputError("--context/--generate describe each request; give --serve-requests, the number served")
        return Serving(requests=o["serve_requests"] or 1.0, **workload, **common)
    if o["serve_requests"] is not None:
        raise InputError("--serve-requests needs --context and/or --generate (data per request, in the plan's unit); "
                         "for a FLOPs-only load give --serve AMOUNT or --serve-positions")
    if o["serve_vars"] or o["serve_utilization"] is not None or o["price_per_gpu_hour"] is not None \
            or o.get("serve_price_per_gpu_hour") is not None:
        raise InputError("--serve-set, --serve-utilization and --price-per-gpu-hour need --serve AMOUNT, "
                         "--serve-positions, or --serve-requests with --context/--generate (a served load)")
    return None


def planning_kwargs(o: dict, with_serving: bool = True) -> dict:
    """Keyword arguments of :func:`tsbudget.planning.plan.plan` from the parsed shared options
    (``serving`` None, its options unread, when not ``with_serving``)."""
    if o["fit_path"] and o["law"]:
        raise InputError("give --fit or --law/--preset, not both")
    if o["fit_path"]:
        from tsbudget.fitting.result import FitResult

        law = FitResult.load(o["fit_path"])
    else:
        law = o["law"] or "epoch2024"
    serving = serving_from_options(o) if with_serving else None
    unique, unit = o["unique"], o["unit"]
    if o["regimes_path"]:
        from tsbudget.timeseries.regimes import RegimeData

        if unique is not None:
            raise InputError("give --unique or --regimes (whose regimes carry the unique data), not both")
        unique = RegimeData.load(o["regimes_path"])
        if o["scale_to"] is not None:
            unique = unique.scaled_to(o["scale_to"])
        if unit is None and not o["fit_path"]:
            unit = unique.unit
    elif o["scale_to"] is not None:
        raise InputError("--scale-to scales measured regimes: it needs --regimes FILE")
    n_bounds = None
    if o["n_min"] is not None or o["n_max"] is not None:
        from tsbudget.planning.request import DEFAULT_N_BOUNDS

        # `is None`, not `or`: an explicit bound is never replaced by the default
        n_bounds = (DEFAULT_N_BOUNDS[0] if o["n_min"] is None else o["n_min"],
                    DEFAULT_N_BOUNDS[1] if o["n_max"] is None else o["n_max"])
        if n_bounds[0] > n_bounds[1]:
            raise InputError(f"--n-min {n_bounds[0]:g} is above --n-max {n_bounds[1]:g}")
    d_bounds = None
    if o["d_min"] is not None or o["d_max"] is not None:
        d_bounds = (0.0 if o["d_min"] is None else o["d_min"], o["d_max"])
        if o["d_max"] is not None and d_bounds[0] > d_bounds[1]:
            raise InputError(f"--d-min {d_bounds[0]:g} is above --d-max {d_bounds[1]:g}")
    free = tuple(o["free"])
    for name in free:
        if not str(name).strip():
            raise InputError("--free takes a cost-model variable name (or 'all'), got an empty name")
    return {
        "law": law,
        "cost_model": o["cost_model"],
        "cost_settings": parse_settings(o["cost_settings"], "--cost-setting"),
        "unit": unit,
        "unit_settings": parse_settings(o["unit_settings"], "--unit-setting"),
        "unique": unique,
        "mix": o["mix"],
        "serving": serving,
        "fixed": parse_fix(o["fix"]),
        "free": "all" if free == ("all",) else free,
        "n_bounds": n_bounds,
        "d_bounds": d_bounds,
        "hardware": o["hardware"],
        "level": o["level"],
        "method": o["method"],
    }


@click.command("plan")
@click.option("--budget", type=POSITIVE, default=None,
              help="FLOPs to spend (training + serving), e.g. 1e21; with a serving workload, its GPU time counts "
                   "as the FLOPs the hardware trains in that time.")
@click.option("--budget-min", type=NONNEGATIVE, default=None,
              help="Lower FLOPs limit (with --budget-max; with --target-loss, spend at least this).")
@click.option("--budget-max", type=POSITIVE, default=None, help="Upper FLOPs limit.")
@click.option("--budget-gpu-hours", type=POSITIVE, default=None,
              help="Budget as GPU-hours of --hardware (training + serving): the FLOPs they buy at the training "
                   "throughput, peak x training utilisation.")
@click.option("--target-loss", type=POSITIVE, default=None,
              help="Cheapest lifetime FLOPs reaching this loss (a --budget then caps it).")
@click.option("--target-metric", type=float, default=None,
              help="Plan for a downstream metric instead of a loss: the loss target is read off the link fitted to "
                   "--capability PAIRS (Gadre et al. 2024), and the plan's loss is carried back to the metric.")
@click.option("--capability", "capability_path", type=click.Path(dir_okay=False, exists=True), default=None,
              metavar="PAIRS", help="CSV/Parquet of (loss, metric) pairs for --target-metric (see tsbudget capability).")
@click.option("--capability-columns", nargs=2, default=("loss", "metric"), show_default=True,
              metavar="LOSS METRIC", help="Columns of PAIRS holding each model's loss and metric.")
@click.option("--capability-bootstrap", type=click.IntRange(min=2), default=1000, show_default=True,
              help="Bootstrap draws of the link, for the intervals of the loss target and of the metric.")
@planning_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Also write the JSON plan here.")
def command(budget, budget_min, budget_max, budget_gpu_hours, target_loss, target_metric, capability_path,
            capability_columns, capability_bootstrap, as_json, out, **options):
    """Plan model size, data, architecture variables and expected loss for a budget or target loss."""
    from tsbudget.planning.plan import plan

    check_output(out, "--out")
    if budget_gpu_hours is not None:
        from tsbudget.hardware import get_hardware

        if budget is not None:
            raise InputError("give --budget FLOPs or --budget-gpu-hours HOURS, not both")
        hw = get_hardware(options["hardware"])
        budget = budget_gpu_hours * 3600.0 * hw.peak_flops * hw.train_utilization
    bounds = None
    if budget_min is not None or budget_max is not None:
        if budget_max is None and target_loss is None:
            raise InputError("--budget-min needs --budget-max (or --target-loss, where it is a floor on spending)")
        if budget is not None:
            raise InputError("give --budget or --budget-min/--budget-max, not both")
        bounds = (0.0 if budget_min is None else budget_min, budget_max)
        if budget_max is not None and bounds[0] > budget_max:
            raise InputError(f"--budget-min {bounds[0]:g} is above --budget-max {budget_max:g}")
    link = _capability(target_metric, capability_path, capability_columns, capability_bootstrap, target_loss)
    if link is not None:
        target_loss = link["target"]["loss"]
    if budget is None and bounds is None and target_loss is None:
        raise InputError("give --budget FLOPs, --budget-min/--budget-max, --target-loss or --target-metric")
    result = plan(budget, budget_bounds=bounds, target_loss=target_loss, **planning_kwargs(options))
    payload = result.to_dict()
    if link is not None:
        payload["capability"] = link["fit"].metric_for_interval(result.loss, *(payload.get("loss_interval") or
                                                                                 (None, None)))
        payload["capability"]["target"] = link["target"]
    if out:
        write_json(payload, out)
    if as_json:
        click.echo(write_json(payload))
    else:
        click.echo(repr(result))
        if link is not None:
            _print_capability(payload["capability"], capability_columns[1])
        if result.at_bound:
            click.echo(
                f"warning: free variable(s) {', '.join(result.at_bound)} settled on a bound of their range: "
                f"a corner of the search, not an interior optimum", err=True,
            )


def _capability(target_metric, path, columns, n_bootstrap, target_loss):
    """``{"fit", "target"}`` for ``--target-metric`` (None without it): the link fitted to the pairs and the
    loss target the metric needs (Gadre et al. 2024; :mod:`tsbudget.fitting.capability`)."""
    if target_metric is None:
        if path is not None:
            raise InputError("--capability PAIRS is read only with --target-metric")
        return None
    if path is None:
        raise InputError("--target-metric needs --capability PAIRS, the (loss, metric) pairs that link them")
    if target_loss is not None:
        raise InputError("give --target-loss or --target-metric, not both")
    from tsbudget.fitting.capability import fit_capability
    from tsbudget.io import read_runs

    fit = fit_capability(read_runs(path), loss=columns[0], metric=columns[1], n_bootstrap=n_bootstrap)
    return {"fit": fit, "target": fit.loss_for(target_metric)}


def _print_capability(mapped: dict, metric: str) -> None:
    target = mapped["target"]
    band = (f" [{target['lower']:.4g}, {target['upper']:.4g}] over the link's draws"
            if target["lower"] is not None else "")
    click.echo(f"  target {metric} {target['metric']:g} -> loss target {target['loss']:.4g}{band}")
    band = f" [{mapped['lower']:.4g}, {mapped['upper']:.4g}] ({mapped['sources']})" if mapped["lower"] is not None else ""
    click.echo(f"  planned loss {mapped['loss']:.4g} -> {metric} {mapped['metric']:.4g}{band}")
    if target.get("safe") is not None:
        click.echo(f"  planned for the link's point estimate; to reach the target under {100 * (1 + target['level']) / 2:.3g}% "
                   f"of its draws, plan --target-loss {target['safe']:.4g}")
    if target.get("note"):
        click.echo(f"  note: {target['note']}")
