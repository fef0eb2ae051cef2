"""``tsbudget presets``: every published law fit shipped, with its law, unit and source."""

from __future__ import annotations

import json

import click

__all__ = ["command"]


@click.command("presets")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def command(as_json: bool):
    """List the shipped law presets with their law, data unit and source."""
    import attrs

    from tsbudget.laws.presets import PRESETS
    from tsbudget.report import jsonable

    rows = [{f.name: getattr(p, f.name) for f in attrs.fields(type(p))} for p in PRESETS.values()]
    # a preset without a unit field was fitted on language-model tokens (as the planner reads it)
    rows = [{"unit": "tokens", **r, "values": dict(r["values"])} for r in rows]
    for r, p in zip(rows, PRESETS.values()):
        r["ranges"] = None if p.ranges is None else p.ranges.to_dict()
    if as_json:
        click.echo(json.dumps({"presets": jsonable(rows)}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    columns = ["name", "law", "unit", "source", "note"]
    table = Table(title="tsbudget presets (use with --law/--preset NAME)")
    for col in columns:
        # names are what users type: never wrapped
        table.add_column(col, overflow="fold", no_wrap=col == "name")
    for r in rows:
        table.add_row(*(str(r[c]) for c in columns))
    Console().print(table)
