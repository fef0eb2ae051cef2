"""``tsbudget frontier``: the compute-optimal plan at every budget of a range, as a table and a plot."""

from __future__ import annotations

import click

from tsbudget.cli.common import (
    TABLE_SUFFIXES,
    check_output,
    check_plot,
    parse_budget_range,
    print_table,
    write_json,
    write_table,
)
from tsbudget.cli.plan import planning_kwargs, planning_options

__all__ = ["command"]


@click.command("frontier")
@click.option("--budgets", "budgets_text", required=True, metavar="LOW:HIGH:COUNT|C1,C2,...",
              help="Budgets in FLOPs: log-spaced LOW:HIGH:COUNT (e.g. 1e18:1e25:29) or a comma list.")
@planning_options
@click.option("--max-draws", type=click.IntRange(min=0), default=None,
              help="Bootstrap draws re-planned where the closed form does not apply (default 100).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the table (.csv or .parquet) or the whole Dataset (.nc needs netCDF support).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Write the frontier plot (e.g. f.png).")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON records.")
@click.option("--no-deadweight", "no_deadweight", is_flag=True,
              help="Leave out the wasted compute of each plan under the draws (dcl_*): one draws x budgets array fewer.")
def command(budgets_text, max_draws, out, plot, as_json, no_deadweight, **options):
    """Optimal N, D, loss and free variables across budgets (intervals from a fit's bootstrap draws)."""
    from tsbudget.planning.frontier import frontier, frontier_table
    from tsbudget.plotting import plot_frontier

    # every input and file name is checked before any computation: a bad one must not cost a frontier
    budgets = parse_budget_range(budgets_text)
    check_output(out, "--out", TABLE_SUFFIXES)
    check_plot(plot)
    kwargs = planning_kwargs(options)
    ds = frontier(budgets, max_draws=max_draws, deadweight=not no_deadweight, **kwargs)
    table = frontier_table(ds)
    if out:
        write_table(table, out)
    if plot:
        plot_frontier(ds, plot)
    if as_json:
        click.echo(write_json({"attrs": dict(ds.attrs), "rows": table.to_dicts()}))
        return
    cols = ["budget", "N", "D", "data_per_param", "loss", "loss_lower", "loss_upper", "epochs", "train_flops",
            "inference_flops", "train_gpu_hours"] + [v for v in str(ds.attrs.get("free", "")).split(",") if v]
    # wasted compute if a draw is the truth: median and interval in percent of the budget, and GPU-hours
    cols += [c for c in ("dcl_percent_median", "dcl_percent_lower", "dcl_percent_upper", "dcl_gpu_hours_median")
             if c in ds]
    print_table(table, cols, title=f"frontier ({ds.attrs['law']}, {ds.attrs['cost_model']}, {ds.attrs['method']})")
    for key in ("dcl_note", "dcl_method"):
        if key in ds.attrs:
            click.echo(f"note: wasted compute (dcl_*): {ds.attrs[key]}")
    if "extrapolation_warning" in ds.attrs:
        click.echo(ds.attrs["extrapolation_warning"])
