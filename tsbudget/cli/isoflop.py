"""``tsbudget isoflop RUNS``: Approach 2 of Hoffmann et al. 2022 (IsoFLOP profiles)."""

from __future__ import annotations

import click

from tsbudget.cli.common import (
    LEVEL,
    NONNEGATIVE,
    TABLE_SUFFIXES,
    check_output,
    check_plot,
    write_table,
    column_options,
    columns_from_options,
    parse_numbers,
    print_table,
    read_runs,
    write_json,
)

__all__ = ["command"]


@click.command("isoflop")
@click.argument("runs", type=click.Path(dir_okay=False, allow_dash=True))
@column_options
@click.option("--tolerance", type=NONNEGATIVE, default=None,
              help="Relative FLOPs tolerance for grouping runs into budgets (0: exact values). "
                   "Default: automatic (the exact values when there are at most 12, else the modes of log FLOPs); "
                   "with --budgets, each run to its nearest budget.")
@click.option("--budgets", "budgets_text", default=None, metavar="C1,C2,...",
              help="Nominal budgets to snap runs to (within --tolerance), e.g. 6e18,1e19,3e19.")
@click.option("--cubic", is_flag=True, help="Fit a cubic in log N instead of a parabola.")
@click.option("--d-opt", type=click.Choice(["budget", "runs"]), default="budget", show_default=True,
              help="D_opt as C/(6·N_opt), or from a second profile in log D.")
@click.option("--include-outside", is_flag=True,
              help="Use budgets whose minimum lies outside the sampled N range in the power law.")
@click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Bootstrap draws (runs resampled within each budget); 0 or at least 2.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--level", type=LEVEL, default=0.95, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the per-budget table (.csv or .parquet) or the whole result (.json, loadable with "
                   "IsoflopResult.load; bootstrap draws go to <stem>.draws.nc beside it).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Write the profiles plot (e.g. iso.png).")
def command(runs, tolerance, budgets_text, cubic, d_opt, include_outside, n_bootstrap, seed, level, as_json,
            out, plot, **col_options):
    """Fit a parabola in log N per budget, then N_opt ∝ C^a and D_opt ∝ C^b."""
    from tsbudget.cli.fit import check_bootstrap
    from tsbudget.fitting.approach2 import isoflop_profiles

    check_bootstrap(n_bootstrap)
    budgets = parse_numbers(budgets_text, name="--budgets", positive=True) if budgets_text is not None else None
    check_output(out, "--out", (".json", *TABLE_SUFFIXES))
    check_plot(plot)
    df = read_runs(runs)
    cols = columns_from_options(col_options, df)
    result = isoflop_profiles(
        df,
        columns=cols,
        tolerance=tolerance,
        budgets=budgets,
        degree=3 if cubic else 2,
        d_opt=d_opt,
        include_outside=include_outside,
        n_bootstrap=n_bootstrap,
        seed=seed,
        level=level,
    )
    if out:
        if out.lower().endswith(".json"):
            result.save(out)
        else:
            write_table(result.table, out)
    if plot:
        from tsbudget.plotting import plot_isoflop

        plot_isoflop(result, plot)
    if as_json:
        click.echo(write_json(result.to_dict(runs=False)))
        return
    click.echo(repr(result))
    print_table(result.table, title="IsoFLOP profiles")
    if result.draws is not None:
        print_table(result.intervals(), title=f"bootstrap ({n_bootstrap} draws, {level:.0%} intervals)")
