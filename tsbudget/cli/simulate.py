"""``tsbudget simulate SWEEP``: a runs table simulated from a known law at a sweep plan's runs."""

from __future__ import annotations

import click

from tsbudget.cli.common import NONNEGATIVE, TABLE_SUFFIXES, check_output, parse_fix, write_json, write_table
from tsbudget.errors import InputError

__all__ = ["command"]


def _law(preset, fit_path, law_name, law_variables, sets):
    """The law to simulate from: a preset, a saved fit's estimate, or a registered law
    configured with ``--law-variable`` and given values with ``--set``."""
    given = [flag for flag, value in (("--preset", preset), ("--fit", fit_path), ("--law", law_name)) if value]
    if len(given) != 1:
        raise InputError("give one law to simulate from: --preset NAME, --fit FIT.json or --law NAME "
                         f"(with --set NAME=VALUE); got {', '.join(given) or 'none'}")
    if law_variables and not law_name:
        raise InputError("--law-variable configures a registered law: use it with --law (e.g. --law extended)")
    values = parse_fix(sets, option="--set")
    if preset:
        from tsbudget.laws.presets import get_preset

        law = get_preset(preset)
        return (law.replace(**values), f"{preset} with {_shown(values)}") if values else (preset, None)
    if fit_path:
        from tsbudget.fitting.result import FitResult

        fitted = FitResult.load(fit_path)
        return (fitted.law.replace(**values), f"fit {fit_path} with {_shown(values)}") if values else (fitted, None)
    from tsbudget.laws.build import build_law, parse_law_variable

    references, kinds = {}, {}
    for item in law_variables:
        name, ref, kind = parse_law_variable(item)
        if name in references:
            raise InputError(f"--law-variable {name} given twice")
        references[name], kinds[name] = ref, kind
    return build_law(law_name, references, kinds).replace(**values), None


def _shown(values: dict) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in values.items())


@click.command("simulate")
@click.argument("sweep_path", metavar="SWEEP", type=click.Path(dir_okay=False, exists=True))
@click.option("--preset", default=None, help="Simulate from a published law (e.g. chinchilla2022).")
@click.option("--fit", "fit_path", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Simulate from a saved fit's estimate (tsbudget fit --out fit.json).")
@click.option("--law", "law_name", default=None, help="Simulate from a registered law (values with --set).")
@click.option("--law-variable", "law_variables", multiple=True, metavar="NAME[=REF][:KIND]",
              help="A variable of the law given by --law (e.g. compression=4:quadratic); repeatable.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="A parameter value of the law (e.g. eta2_compression=-0.15); repeatable.")
@click.option("--noise", type=NONNEGATIVE, default=0.0, show_default=True,
              help="Standard deviation of log loss around the law (log-normal, multiplicative).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the noise draws.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the runs (.csv or .parquet).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (options and runs).")
def command(sweep_path, preset, fit_path, law_name, law_variables, sets, noise, seed, out, as_json):
    """Simulate the runs of SWEEP (a run list from tsbudget sweep --out) from a known law, with seeded noise."""
    from tsbudget.sweeps.simulate import simulate_runs

    check_output(out, "--out", TABLE_SUFFIXES)
    law, label = _law(preset, fit_path, law_name, law_variables, sets)
    result = simulate_runs(sweep_path, law, noise=noise, seed=seed, label=label)
    if out:
        write_table(result.table, out)
    if as_json:
        click.echo(write_json(result.to_dict()))
        return
    click.echo(repr(result))
    if out:
        click.echo(f"  wrote {result.table.height} synthetic runs to {out}")
