"""``tsbudget validate RUNS``: leave-future-out validation of laws and fit options."""

from __future__ import annotations

import click

from tsbudget.cli.common import (
    POSITIVE,
    TABLE_SUFFIXES,
    check_output,
    column_options,
    columns_from_options,
    parse_fix,
    parse_number,
    parse_numbers,
    print_table,
    progress,
    read_runs,
    use_progress,
    write_json,
    write_table,
)
from tsbudget.errors import InputError

__all__ = ["command", "select_rows"]

_METHODS = ("huber", "reference", "vpnls")


def select_rows(df, items):
    """Keep the rows where each ``--select COLUMN=VALUE`` holds (compared as text)."""
    import polars as pl

    for item in items or ():
        column, sep, value = str(item).partition("=")
        column = column.strip()
        if not sep or not column:
            raise InputError(f"--select takes COLUMN=VALUE, got {item!r}")
        if column not in df.columns:
            raise InputError(f"--select {item!r}: no column {column!r}; columns are {df.columns}")
        df = df.filter(pl.col(column).cast(pl.String) == value.strip())
        if df.height == 0:
            raise InputError(f"--select {item!r} keeps no run")
    return df


@click.command("validate")
@click.argument("runs", type=click.Path(dir_okay=False, allow_dash=True))
@column_options
@click.option("--law", "laws", multiple=True, metavar="NAME",
              help="Law to validate (registered name); repeatable. Default: chinchilla.")
@click.option("--method", "methods", multiple=True, type=click.Choice(_METHODS),
              help="Fit method: huber (the Huber multistart), reference (one scipy L-BFGS-B per start) or vpnls "
                   "(variable projection); repeatable. Default: huber.")
@click.option("--fix", multiple=True, metavar="NAME=VALUE",
              help="Also validate each law and method with this parameter held (e.g. E=1.6); repeatable.")
@click.option("--fixed-only", is_flag=True, help="With --fix: drop the free variants.")
@click.option("--cut", "cuts", multiple=True, metavar="FLOPS",
              help="Budget to cut at: fit on budgets below it, predict every run at or above it; repeatable. "
                   "Default: the --max-cuts largest budgets that leave --min-train-budgets to fit on.")
@click.option("--budget-col", default=None, metavar="COLUMN",
              help="Column with each run's nominal budget (e.g. budget). Default: group the training FLOPs.")
@click.option("--budgets", "budgets_text", default=None, metavar="C1,C2,...",
              help="Nominal budgets to snap each run's FLOPs to (nearest in log), e.g. 6e18,1e19,3e19.")
@click.option("--min-train-budgets", type=click.IntRange(min=1), default=3, show_default=True,
              help="Budgets a default cut leaves to fit on.")
@click.option("--max-cuts", type=click.IntRange(min=1), default=3, show_default=True, help="Default cuts.")
@click.option("--select", "selects", multiple=True, metavar="COLUMN=VALUE",
              help="Keep only runs whose COLUMN equals VALUE (e.g. condition=raw_loss); repeatable.")
@click.option("--cost-model", default="dense", show_default=True, help="Cost model deriving D or FLOPs.")
@click.option("--unit", default="tokens", show_default=True, help="Data unit D is counted in.")
@click.option("--delta", type=POSITIVE, default=1e-3, show_default=True, help="Huber delta on log residuals.")
@click.option("--drop-highest-loss", type=click.IntRange(min=0), default=0, show_default=True, metavar="K",
              help="Drop the K highest-loss runs of each training set.")
@click.option("--overestimate-penalty", type=POSITIVE, default=1.0, show_default=True, metavar="P",
              help="Multiply the Huber loss of runs the law over-predicts by P (OLMo-core's ladder fits).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the per-budget errors (.csv or .parquet) or the whole result (.json).")
@click.option("--predictions", "predictions_out", type=click.Path(dir_okay=False), default=None,
              help="Write one row per held-out prediction (.csv or .parquet).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(runs, laws, methods, fix, fixed_only, cuts, budget_col, budgets_text, min_train_budgets, max_cuts,
            selects, cost_model, unit, delta, drop_highest_loss, overestimate_penalty, out, predictions_out,
            as_json, **col_options):
    """Leave-future-out validation: fit below a budget, predict every larger run, rank laws and fit options."""
    from tsbudget.fitting.validation import validate

    fixed = parse_fix(fix)
    if fixed_only and not fixed:
        raise InputError("--fixed-only needs --fix NAME=VALUE")
    cut_values = [parse_number(c, name="--cut") for c in cuts] or None
    budgets = parse_numbers(budgets_text, name="--budgets", positive=True) if budgets_text is not None else None
    if budgets is not None and budget_col is not None:
        raise InputError("give --budget-col or --budgets, not both")
    check_output(out, "--out", (".json", *TABLE_SUFFIXES))
    check_output(predictions_out, "--predictions", TABLE_SUFFIXES)
    df = select_rows(read_runs(runs), selects)
    cols = columns_from_options(col_options, df)
    laws = laws or ("chinchilla",)
    methods = methods or ("huber",)
    with progress("validating", None, enabled=use_progress(as_json)):
        result = validate(df, laws, methods, fixed=fixed or None, include_free=not fixed_only, cuts=cut_values,
                          budget_column=budget_col, budgets=budgets, columns=cols or None,
                          min_train_budgets=min_train_budgets, max_cuts=max_cuts, cost_model=cost_model, unit=unit,
                          delta=delta, drop_highest_loss=drop_highest_loss,
                          overprediction_penalty=overestimate_penalty)
    if out:
        if out.lower().endswith(".json"):
            write_json(result.to_dict(), out)
        else:
            write_table(result.by_budget, out)
    if predictions_out:
        write_table(result.predictions, predictions_out, "--predictions")
    if as_json:
        click.echo(write_json(result.to_dict()))
        return
    click.echo(result.headline())
    print_table(result.ranking, title="ranking (pooled over every held-out run of every cut)")
    print_table(result.by_budget, title="errors per held-out budget (log residual = log predicted - log measured)")
    for line in result.diagnostic_lines():
        click.echo(line)
