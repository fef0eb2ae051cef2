"""``tsbudget capability PAIRS``: a downstream metric as a function of the loss, and the loss a metric target needs."""

from __future__ import annotations

import click

from tsbudget.cli.common import LEVEL, _Number, write_json

__all__ = ["command"]


def _plan_loss(path) -> tuple[float, list | None, str]:
    """``(loss, loss_interval or None, where)`` from a plan's JSON (``tsbudget plan --out``)."""
    import json
    from pathlib import Path

    from tsbudget.errors import InputError

    where = f"plan file {str(path)!r}"
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {where}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("loss"), (int, float)) or isinstance(data["loss"], bool):
        raise InputError(f"{where} has no number 'loss' (write one with tsbudget plan --out PLAN.json)")
    interval = data.get("loss_interval")
    if interval is not None and (not isinstance(interval, list) or len(interval) != 2
                                 or not all(isinstance(v, (int, float)) for v in interval)):
        raise InputError(f"{where}: 'loss_interval' must be [lower, upper], got {interval!r}")
    return float(data["loss"]), interval, where


@click.command("capability")
@click.argument("pairs_path", metavar="PAIRS", type=click.Path(dir_okay=False, exists=True))
@click.option("--loss-column", default="loss", show_default=True, help="Column of PAIRS with each model's loss.")
@click.option("--metric-column", default="metric", show_default=True,
              help="Column of PAIRS with each model's downstream metric (error, accuracy, forecast skill, ...).")
@click.option("--target-metric", type=_Number(), default=None,
              help="The metric to reach: prints the loss target it needs, with its interval.")
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A plan's JSON (tsbudget plan --out): its loss and loss interval carried to the metric.")
@click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap draws of the pairs for the intervals (0: none).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--level", type=LEVEL, default=0.95, show_default=True, help="Interval level.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(pairs_path, loss_column, metric_column, target_metric, plan_path, n_bootstrap, seed, level, as_json):
    """Fit metric = ε − k·exp(−γ·loss) to PAIRS (Gadre et al. 2024); a metric target becomes a loss target."""
    from tsbudget.errors import InputError
    from tsbudget.fitting.capability import fit_capability
    from tsbudget.io import read_runs

    if n_bootstrap == 1:
        raise InputError("--bootstrap must be 0 (no interval) or at least 2 draws, got 1")
    plan = _plan_loss(plan_path) if plan_path else None  # checked before the fit
    result = fit_capability(read_runs(pairs_path), loss=loss_column, metric=metric_column, n_bootstrap=n_bootstrap,
                            seed=seed, level=level)
    target = result.loss_for(target_metric) if target_metric is not None else None
    mapped = None
    if plan is not None:
        loss, interval, _ = plan
        mapped = result.metric_for_interval(loss, *(interval or (None, None)))
    if as_json:
        click.echo(write_json({**result.to_dict(), "target": target, "plan": mapped}))
        return
    click.echo(repr(result))
    pct = f"{round(100 * level)}%"
    if target is not None:
        band = (f" ({pct} interval over the link's draws {target['lower']:.4g} .. {target['upper']:.4g}; "
                f"{100 * target['reachable']:.3g}% of draws reach the metric at all)" if target["lower"] is not None
                else "")
        click.echo(f"  target {metric_column} {target['metric']:g}: loss target {target['loss']:.4g}{band}")
        share = f"{100 * (1 + level) / 2:.3g}% of the link's draws"
        if target["safe"] is not None:
            safe = target["safe"]
            click.echo(f"  to reach it under {share}, plan for loss {safe:.4g} (tsbudget plan ... --target-loss {safe:.4g})")
        elif target["lower"] is not None:
            click.echo(f"  no loss reaches it under {share}: too many draws cannot reach the metric at all")
        if target["note"]:
            click.echo(f"  note: {target['note']}")
    if mapped is not None:
        loss_part = (f"loss {mapped['loss']:.4g} [{mapped['loss_lower']:.4g}, {mapped['loss_upper']:.4g}]"
                     if mapped["loss_lower"] is not None else f"loss {mapped['loss']:.4g}")
        band = f" [{mapped['lower']:.4g}, {mapped['upper']:.4g}] ({mapped['sources']})" if mapped["lower"] is not None \
            else ""
        click.echo(f"  plan {plan[2]}: {loss_part} -> {metric_column} {mapped['metric']:.4g}{band}")
