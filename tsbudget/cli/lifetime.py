"""``tsbudget lifetime``: lifetime cost against model size for several serving loads."""

from __future__ import annotations

import click

from tsbudget.cli.common import (
    POSITIVE,
    TABLE_SUFFIXES,
    check_output,
    check_plot,
    parse_fix,
    parse_numbers,
    print_table,
    write_json,
)
from tsbudget.cli.plan import planning_kwargs, planning_options, serving_from_options
from tsbudget.errors import InputError

__all__ = ["command"]


@click.command("lifetime")
@click.option("--target-loss", type=POSITIVE, required=True, help="The loss every model size must reach.")
@click.option("--loads", "loads_text", required=True, metavar="L1,L2,...",
              help="Serving loads, 0 for training alone: requests with a workload (--context/--generate), "
                   "else served data in the plan's unit, costed by FLOPs only.")
@planning_options
@click.option("--points", type=click.IntRange(min=2, max=2001), default=41, show_default=True,
              help="Model sizes on the curve, log-spaced around the training-only optimum.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the table (.csv or .parquet).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Write the plot (e.g. lifetime.png).")
@click.option("--money", is_flag=True, help="Plot the cost in money (needs --price-per-gpu-hour).")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON records.")
def command(target_loss, loads_text, points, out, plot, money, as_json, **options):
    """Lifetime cost (training + serving) against model size at a target loss, for several serving loads."""
    from tsbudget.planning.lifetime import lifetime_minima, lifetime_table

    loads = parse_numbers(loads_text, name="--loads")
    if any(x < 0 for x in loads):
        raise InputError(f"--loads: every load must be >= 0, got {min(loads):g}")
    check_output(out, "--out", TABLE_SUFFIXES)
    check_plot(plot)
    if money and options["price_per_gpu_hour"] is None:
        raise InputError("--money plots the cost in money: give --price-per-gpu-hour")
    for name in ("serve", "serve_positions", "serve_requests"):
        if options[name] is not None:
            raise InputError(f"--{name.replace('_', '-')}: the served loads come from --loads")
    if options["context"] is not None or options["generate"] is not None:
        serving = serving_from_options(options, requests_optional=True)  # each load is a number of requests
    else:
        from tsbudget.planning.serving import Serving

        serving_from_options({**options, "serve_vars": (), "serve_utilization": None, "price_per_gpu_hour": None,
                              "serve_price_per_gpu_hour": None})
        serving = Serving(units=1.0, utilization=options["serve_utilization"],
                          variables=parse_fix(options["serve_vars"]), price_per_gpu_hour=options["price_per_gpu_hour"],
                          serve_price_per_gpu_hour=options["serve_price_per_gpu_hour"])
    kwargs = planning_kwargs(options, with_serving=False)
    kwargs.pop("serving")
    table = lifetime_table(target_loss, loads, serving=serving, points=points, **kwargs)
    if out:
        from tsbudget.io import write_table

        write_table(table, out, "--out")
    if plot:
        from tsbudget.plotting import plot_lifetime

        plot_lifetime(table, plot, money=money)
    if as_json:
        click.echo(write_json({"rows": table.to_dicts()}))
        return
    best = lifetime_minima(table)
    cols = ["load", "served_positions", "N", "D", "train_gpu_hours", "serve_gpu_hours", "lifetime_gpu_hours",
            "lifetime_cost_money", "decode_limit"]
    print_table(best, [c for c in cols if c != "lifetime_cost_money" or options["price_per_gpu_hour"]],
                title=f"cheapest model size per serving load, target loss {target_loss:g} ({points} sizes)")
