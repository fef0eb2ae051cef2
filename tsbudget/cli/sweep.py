"""``tsbudget sweep``: design the next IsoFLOP sweep and write it as a run list."""

from __future__ import annotations

import click

from tsbudget.cli.common import (
    POSITIVE,
    TABLE_SUFFIXES,
    check_output,
    parse_budget_range,
    parse_fix,
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
@click.option("--noise", type=POSITIVE, default=None,
              help="Log-loss noise per run, for the design and --simulate (default: the fit's residuals, else 0.01).")
@click.option("--criterion", type=click.Choice(["dcl", "variance"]), default="dcl", show_default=True,
              help="dcl: runs while each saves more expected wasted compute at --target-budget than it costs; "
                   "variance: runs while they shrink the variance of log N_opt (within --sweep-budget).")
@click.option("--simulate", is_flag=True,
              help="Simulate the run list from a truth many times, refit, and report the allocation error and "
                   "wasted compute at --target-budget.")
@click.option("--truth", default=None,
              help="With --simulate: a preset to simulate from (default: the fit's estimate, or the --preset).")
@click.option("--truth-set", "truth_sets", multiple=True, metavar="NAME=VALUE",
              help="With --simulate: change a parameter of the truth (e.g. alpha=0.2); repeatable.")
@click.option("--truth-draws", is_flag=True, help="With --simulate and --fit: each bootstrap draw in turn is the truth.")
@click.option("--method", "methods", multiple=True, type=click.Choice(["huber", "vpnls", "approach2"]),
              help="With --simulate: refit method(s); repeatable (default: huber and approach2).")
@click.option("--simulations", type=click.IntRange(min=3), default=200, show_default=True,
              help="With --simulate: number of simulated sweeps.")
@click.option("--starts", type=click.Choice(["local", "truth", "grid"]), default="local", show_default=True,
              help="With --simulate: Huber starts (local: 2^p around the truth; truth: one; grid: the full grid).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="With --simulate: noise seed.")
@click.option("--simulations-out", "sim_out", type=click.Path(dir_okay=False), default=None,
              help="With --simulate: write one row per simulation and method (.csv or .parquet).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the run list (.csv or .parquet).")
@click.option("--selected-only", is_flag=True,
              help="With --out, write only the chosen runs; with --simulate, simulate the chosen runs together "
                   "with the fit's own runs (what the refit will see).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(fit_path, preset, budgets_text, per_budget, spread, cost_model, variable, hardware, target_budget,
            sweep_budget, noise, criterion, simulate, truth, truth_sets, truth_draws, methods, simulations, starts, seed,
            sim_out, out, selected_only, as_json):
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
    if selected_only and not (out or simulate):
        raise InputError("--selected-only applies to the file written by --out (and to --simulate): give --out too")
    check_output(out, "--out", TABLE_SUFFIXES)
    _check_simulate(simulate, target_budget, fit_path, truth, truth_sets, truth_draws, methods, sim_out)
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
    # --simulate scores the allocation at --target-budget; the design itself chooses runs for it
    # only when it can (a fit with bootstrap draws) or is asked to (--sweep-budget)
    design_target = target_budget
    if simulate and getattr(law, "draws", None) is None and sweep_budget is None:
        design_target = None
    result = sweep(law, budgets_text, per_budget=per_budget, spread=spread, cost_model=cost_model,
                   variables=variables or None, hardware=hardware, target_budget=design_target,
                   sweep_budget=sweep_budget, noise=noise if design_target is not None else None, criterion=criterion)
    simulation = None
    if simulate:
        simulation = _simulate(result, law, truth, truth_sets, truth_draws, methods, target_budget, noise,
                               simulations, starts, seed, hardware, selected_only)
        if sim_out:
            write_table(simulation.table, sim_out, "--simulations-out")
    if out:
        table = result.table
        if selected_only and "selected" in table.columns:
            table = table.filter(table["selected"])
        write_table(table, out)
    if as_json:
        d = result.to_dict()
        if simulation is not None:
            d["simulation"] = simulation.to_dict()
        click.echo(write_json(d))
        return
    click.echo(repr(result).split("\n  runs:")[0])
    cols = ["budget", "N", "D", "predicted_loss", "flops", "gpu_hours", "flops_ratio", "n_ratio", "extrapolates",
            *result.options["cost_variables"], "selected", "order"]
    print_table(result.table, cols, title="runs" + (f" (written to {out})" if out else ""))
    if simulation is not None:
        click.echo(repr(simulation))
        if sim_out:
            click.echo(f"  wrote {simulation.table.height} rows to {sim_out}")


def _check_simulate(simulate, target_budget, fit_path, truth, truth_sets, truth_draws, methods, sim_out):
    """The --simulate options, checked before any work."""
    from tsbudget.errors import InputError

    if not simulate:
        given = [flag for flag, value in (("--truth", truth), ("--truth-set", truth_sets), ("--truth-draws", truth_draws),
                                          ("--method", methods), ("--simulations-out", sim_out)) if value]
        if given:
            raise InputError(f"{given[0]} applies to --simulate: give --simulate too")
        return
    if target_budget is None:
        raise InputError("--simulate scores the allocation at --target-budget: give --target-budget too")
    if truth_draws and not fit_path:
        raise InputError("--truth-draws takes each bootstrap draw of a fit as the truth: give --fit too")
    if truth_draws and (truth or truth_sets):
        raise InputError("--truth-draws takes the fit's draws as they are: give --truth/--truth-set or --truth-draws, "
                         "not both")
    check_output(sim_out, "--simulations-out", TABLE_SUFFIXES)
    parse_fix(truth_sets, option="--truth-set")


def _simulate(result, law, truth, truth_sets, truth_draws, methods, target_budget, noise, simulations, starts, seed,
              hardware, selected_only):
    """Simulated refits of the designed run list (tsbudget.sweeps.simulated_fits)."""
    from tsbudget.errors import InputError
    from tsbudget.sweeps.noise import NOISE_WITHOUT_FIT, noise_from_fit
    from tsbudget.sweeps.simulated_fits import simulate_fits

    if result.options.get("cost_model", "dense") != "dense":  # simulate_fits scores at C = 6·N·D
        raise InputError(f"--simulate scores allocations at C = 6·N·D (a dense model); this sweep's cost model is "
                         f"{result.options['cost_model']!r}: simulate the dense sweep of the same law instead")
    source = truth if truth else law
    if truth_sets:
        from tsbudget.planning.request import resolve_law

        base = resolve_law(source)[0]
        source = base.replace(**parse_fix(truth_sets, option="--truth-set"))
    if noise is None:
        noise = (noise_from_fit(law) if not isinstance(law, str) else None) or NOISE_WITHOUT_FIT
    plan = result.table
    if selected_only and "selected" in plan.columns:
        import polars as pl

        plan = plan.filter(plan["selected"]).select("N", "D", "flops", "budget")
        if plan.height == 0:
            raise InputError("--selected-only with --simulate: no run was selected; drop --selected-only")
        runs = getattr(law, "runs", None)
        if runs is not None and result.options.get("law_unit_scale", 1.0) == 1.0:
            # the refit will see the fit's own runs too: simulate them with the chosen ones
            old = runs.select(pl.col("N").cast(pl.Float64), pl.col("D").cast(pl.Float64),
                              pl.col("flops").cast(pl.Float64), pl.lit(None, dtype=pl.Float64).alias("budget"))
            plan = pl.concat([old, plan.select(pl.all().cast(pl.Float64))])
    return simulate_fits(plan, source, target_budget=target_budget, methods=tuple(methods) or ("huber", "approach2"),
                         n_sims=simulations, noise=float(noise), seed=seed, per_draw=truth_draws, starts=starts,
                         hardware=hardware)
