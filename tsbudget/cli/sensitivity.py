"""``tsbudget sensitivity RUNS``: how the fit and its optimum move under fitting choices."""

from __future__ import annotations

import click

from tsbudget.cli.common import POSITIVE, TABLE_SUFFIXES, check_output, column_options, columns_from_options, \
    print_table, progress, read_runs, use_progress, write_json, write_table
from tsbudget.cli.fit import fit_kwargs, fit_options, law_variable_columns, pop_fit_options

__all__ = ["command"]

_SHOWN = ["variant", "success", "n_runs", "alpha", "beta", "a", "N_opt", "D_opt", "tokens_per_param",
          "N_opt_change", "D_opt_change", "tokens_per_param_change"]


@click.command("sensitivity")
@click.argument("runs", type=click.Path(dir_okay=False, allow_dash=True))
@column_options
@fit_options
@click.option("--target-budget", type=POSITIVE, default=5.88e23, show_default=True,
              help="FLOPs at which N_opt, D_opt and tokens per parameter are compared.")
@click.option("--embedding-col", default=None, metavar="COLUMN",
              help="Column with the other parameter count (with or without embeddings): adds that variant.")
@click.option("--variant", "variants", multiple=True, metavar="NAME",
              help="Run only these variants (repeatable); default: all.")
@click.option("--full-grid", is_flag=True, help="Refit each variant from the full grid, not from the baseline.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (records).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the table (.csv or .parquet).")
def command(runs, target_budget, embedding_col, variants, full_grid, as_json, out, **options):
    """Refit under variants (δ, sum/mean, rounded losses, dropped budgets, outliers, embeddings)."""
    from tsbudget.comparisons.sensitivity import choose_variants, sensitivity

    check_output(out, "--out", TABLE_SUFFIXES)
    fit_opts = pop_fit_options(options)
    df = read_runs(runs)
    cols = columns_from_options(options, df)
    law_variable_columns(fit_opts, cols, df)
    kwargs = fit_kwargs(fit_opts, cols)
    law = kwargs.pop("law")
    law_name = law.name
    baseline_init = kwargs.pop("init", None)
    n_fits = len(choose_variants(list(variants) or None, kwargs, embedding_col))
    with progress("sensitivity refits", n_fits, enabled=use_progress(as_json)) as advance:
        table = sensitivity(df, law, variants=list(variants) or None, target_budget=target_budget,
                            columns=cols or None, embedding_col=embedding_col, warm_start=not full_grid,
                            baseline_init=baseline_init, progress=advance, **kwargs)
    if out:
        write_table(table, out)
    if as_json:
        click.echo(write_json({"target_budget": target_budget, "law": law_name, "variants": table.to_dicts()}))
        return
    print_table(table, _SHOWN, title=f"sensitivity of the {law_name} fit at C = {target_budget:.3g} FLOPs")
