"""``tsbudget sweep``: design the next IsoFLOP sweep and write it as a run list."""

from __future__ import annotations

import click

from tsbudget.cli.common import (
    POSITIVE,
    TABLE_SUFFIXES,
    check_output,
    parse_budget_range,
    parse_numbers,
    print_table,
    write_json,
    write_table,
)

__all__ = ["command"]


@click.command("sweep")
@click.option("--fit", "fit_path", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A saved fit (tsbudget fit --out fit.json); its draws and fitted ranges are used.")
@click.option("--preset", default=None, help="A published law instead of a fit (e.g. chinchilla2022).")
@click.option("--budgets", "budgets_text", default=None, metavar="LOW:HIGH:COUNT",
              help="Budgets in FLOPs (default: the largest fitted budget to 100x it, 5 budgets; 1e18:1e20:5).")
@click.option("--per-budget", type=click.IntRange(min=1), default=5, show_default=True, help="Model sizes per budget.")
@click.option("--spread", type=POSITIVE, default=4.0, show_default=True,
              help="Sizes span N_opt/SPREAD .. N_opt*SPREAD, log-spaced.")
@click.option("--cost-model", default=None,
              help="Cost model (default: the fit's, with its settings; dense for a preset).")
@click.option("--variable", multiple=True, metavar="NAME=V1,V2",
              help="Sweep a cost-model variable over values (e.g. experts=8,32); repeatable.")
@click.option("--hardware", default="h100-sxm", show_default=True)
@click.option("--target-budget", type=POSITIVE, default=None, help="Choose the runs that best pin down N_opt here.")
@click.option("--sweep-budget", type=POSITIVE, default=None,
              help="Total FLOPs the chosen runs may spend (needs --target-budget).")
@click.option("--noise", type=POSITIVE, default=None, help="Log-loss noise per run (default: the fit's residuals).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the run list (.csv or .parquet).")
@click.option("--selected-only", is_flag=True, help="With --out, write only the chosen runs.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(fit_path, preset, budgets_text, per_budget, spread, cost_model, variable, hardware, target_budget,
            sweep_budget, noise, out, selected_only, as_json):
    """Design an IsoFLOP sweep around the predicted optimum of a fit or a preset."""
    from tsbudget.errors import InputError
    from tsbudget.sweeps.design import sweep

    # every option and the output path are checked before the design
    if fit_path and preset:
        raise InputError("give --fit or --preset, not both")
    if budgets_text is not None:
        parse_budget_range(budgets_text)
    if spread < 1:
        raise InputError(f"--spread must be >= 1 (sizes N_opt/SPREAD .. N_opt*SPREAD), got {spread:g}")
    if sweep_budget is not None and target_budget is None:
        raise InputError("--sweep-budget limits the runs chosen for --target-budget: give --target-budget too")
    if selected_only and not out:
        raise InputError("--selected-only applies to the file written by --out: give --out too")
    check_output(out, "--out", TABLE_SUFFIXES)
    if fit_path:
        from tsbudget.fitting.result import FitResult

        law = FitResult.load(fit_path)
    else:
        law = preset or "chinchilla2022"
    variables = {}
    for item in variable:
        name, sep, values = str(item).partition("=")
        if not sep or not name.strip():
            raise InputError(f"--variable takes NAME=V1,V2,..., got {item!r}")
        variables[name.strip()] = parse_numbers(values, name=f"--variable {name.strip()}")
    result = sweep(law, budgets_text, per_budget=per_budget, spread=spread, cost_model=cost_model,
                   variables=variables or None, hardware=hardware, target_budget=target_budget,
                   sweep_budget=sweep_budget, noise=noise)
    if out:
        table = result.table
        if selected_only and "selected" in table.columns:
            table = table.filter(table["selected"])
        write_table(table, out)
    if as_json:
        click.echo(write_json(result.to_dict()))
        return
    click.echo(repr(result).split("\n  runs:")[0])
    cols = ["budget", "N", "D", "predicted_loss", "flops", "gpu_hours", "flops_ratio", "n_ratio", "extrapolates",
            *result.options["cost_variables"], "selected", "order"]
    print_table(result.table, cols, title="runs" + (f" (written to {out})" if out else ""))
