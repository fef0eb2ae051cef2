"""``tsbudget compare RUNS --by COLUMN``: compare systems along their budget frontiers; with
``--methods``, compare fit methods (Approach 2, Approach 3, VPNLS) on the same runs by the compute
their recommendations at ``--at`` would waste under ``--truth``."""

from __future__ import annotations

import click

from tsbudget.cli.common import LEVEL, check_plot, column_options, columns_from_options, parse_budget_range, \
    parse_fix, print_table, progress, read_runs, use_progress, write_json

__all__ = ["command"]


@click.command("compare")
@click.argument("runs", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--by", default="router", show_default=True, metavar="COLUMN", help="Column naming each run's system.")
@click.option("--reference", default=None, metavar="NAME",
              help="System (or registered reference: uniform, hand_scheduled, static_bowtie, learned_router, dense).")
@click.option("--budgets", "budgets_text", default="1e18:1e22:9", show_default=True, metavar="LOW:HIGH:COUNT",
              help="Budgets in FLOPs: LOW:HIGH:COUNT (log-spaced) or a comma list.")
@column_options
@click.option("--law", default="chinchilla", show_default=True, help="Registered law fitted to every system.")
@click.option("--cost-model", default="dense", show_default=True, help="Cost model of every system.")
@click.option("--fix", multiple=True, metavar="NAME=VALUE", help="Hold a law parameter at a value; repeatable.")
@click.option("--variable", "variable", multiple=True, metavar="NAME=VALUE",
              help="Hold a cost-model variable at a value along the frontier (e.g. experts=64); repeatable.")
@click.option("--frontier", type=click.Choice(["optimal", "fixed_data"]), default=None,
              help="Compute-optimal frontier, or loss at the runs' fixed data (default: optimal).")
@click.option("--pair-on", "pair_on", default=None, metavar="COLUMN",
              help="Shared resampling key: resample whole groups of runs sharing COLUMN (e.g. N, flops), the same "
                   "key values in every system's draw i. Default: single runs, paired by rank in (flops, N) order.")
@click.option("--cluster", default=None, metavar="COLUMN", help="Older name of --pair-on.")
@click.option("--unpaired", is_flag=True, help="Resample each system from its own random stream (independent draws).")
@click.option("--draws", type=click.IntRange(min=2), default=200, show_default=True, help="Bootstrap draws per system.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--level", type=LEVEL, default=0.95, show_default=True)
@click.option("--example", type=click.Choice(["routing"]), default=None,
              help="Use shipped data: 'routing' = Clark et al. 2022 (Dense vs Hash, RL-R, S-Base at 64 experts, "
                   "each router's routing law fitted with the dense runs; reports where routing stops helping).")
@click.option("--methods", default=None, metavar="M1,M2",
              help="Compare fit methods instead of systems: approach2, approach3, vpnls (comma list), by the "
                   "wasted compute (DCL) of each one's recommendation at --at under --truth.")
@click.option("--at", "at_budget", default=None, metavar="FLOPS", help="With --methods: the budget judged.")
@click.option("--truth", default="approach3", show_default=True, help="With --methods: the fit taken as the truth.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Write the frontiers plot (e.g. cmp.png).")
def command(runs, by, reference, budgets_text, law, cost_model, fix, variable, frontier, pair_on, cluster, unpaired,
            draws, seed, level, example, methods, at_budget, truth, as_json, plot, **col_options):
    """Fit each system of RUNS (CSV or Parquet), bootstrap, and compare their frontiers across budgets."""
    from tsbudget.comparisons.compare import compare
    from tsbudget.errors import InputError

    if methods is not None or at_budget is not None:
        return _compare_methods(runs, methods, at_budget, truth, draws, seed, level, as_json, col_options)

    budgets = parse_budget_range(budgets_text)
    check_plot(plot)
    kwargs = {}
    if example == "routing":
        from tsbudget.datasets.routing import routing_compare, routing_systems

        if runs:
            raise InputError("give RUNS or --example, not both")
        df = routing_systems(64)
        by = "system"
        reference = reference or "dense"
        kwargs = routing_compare(df)  # Clark et al.'s routing law per router, Dense from the same fit
        if budgets_text == "1e18:1e22:9":
            budgets = parse_budget_range("1e19:1e21:5")
    elif not runs:
        raise InputError("give a RUNS file (CSV or Parquet) or --example routing")
    else:
        df = read_runs(runs)
        cols = columns_from_options(col_options, df)
        if cols:
            kwargs["columns"] = cols
    fixed = parse_fix(fix)
    if fixed:
        kwargs.setdefault("fit_options", {})
        kwargs["fit_options"] = {**kwargs["fit_options"], "fixed": {**kwargs["fit_options"].get("fixed", {}), **fixed}}
    if variable:
        kwargs["variables"] = {k: v for k, v in parse_fix(variable, option="--variable").items()}
    if frontier:
        kwargs["frontier"] = frontier
    if pair_on:
        kwargs["pair_on"] = pair_on
    with progress("bootstrap draws", None, enabled=use_progress(as_json)) as advance:
        result = compare(df, by=by, law=law, cost_model=cost_model, reference=reference, budgets=budgets,
                         n_draws=draws, seed=seed, level=level, cluster=cluster, paired=not unpaired,
                         progress=advance, **kwargs)
    if plot:
        result.plot(plot)
    if as_json:
        click.echo(write_json(result.to_dict()))
        return
    click.echo(repr(result))
    print_table(result.table, ["budget", "system", "loss", "lower", "upper", "N", "p_best", "p_beats_reference",
                               "best", "extrapolated"], title=f"frontiers ({level:.0%} intervals)")


def _compare_methods(runs, methods, at_budget, truth, draws, seed, level, as_json, col_options):
    """``--methods``: fit each method to RUNS and judge its recommendation at ``--at``."""
    from tsbudget.comparisons.recommendations import compare_methods
    from tsbudget.errors import InputError
    from tsbudget.variables import positive_number

    if not methods or at_budget is None:
        raise InputError("--methods and --at go together (e.g. --methods approach2,approach3 --at 3.8e25)")
    if not runs:
        raise InputError("--methods needs a RUNS file (CSV or Parquet)")
    try:
        budget = positive_number(float(at_budget), "--at")
    except ValueError:
        raise InputError(f"--at must be a number of FLOPs, got {at_budget!r}") from None
    names = tuple(m.strip() for m in methods.split(",") if m.strip())
    df = read_runs(runs)
    cols = columns_from_options(col_options, df)
    result = compare_methods(df, budget, methods=names, truth=truth, columns=cols, n_draws=draws, seed=seed,
                             level=level)
    click.echo(write_json(result.to_dict()) if as_json else repr(result))
