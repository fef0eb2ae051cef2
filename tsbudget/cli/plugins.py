"""``tsbudget plugins [NAME]``: list every installed unit, cost model and law, or describe one."""

from __future__ import annotations

import json

import click

from tsbudget.errors import InputError, PluginNotFoundError
from tsbudget.registry import registries

__all__ = ["command", "describe"]

_KINDS = {"unit": "unit", "units": "unit", "costmodel": "costmodel", "cost-model": "costmodel",
          "cost_model": "costmodel", "law": "law", "laws": "law"}


@click.command("plugins")
@click.argument("name", required=False)
@click.option("--kind", type=click.Choice(["unit", "costmodel", "law"]), default=None,
              help="Which kind NAME is, when several kinds use the name.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def command(name, kind, as_json: bool):
    """List installed data units, cost models and laws with their distribution.

    With NAME: that plugin's settings (with defaults), variables (bounds, integer, default),
    parameters and inputs (laws), description and citation.
    """
    if name is not None:
        info = describe(name, kind)
        if as_json:
            click.echo(json.dumps(info, indent=2))
        else:
            _print_description(info)
        return
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = [info for reg in registries.values() for info in reg.info()]
    problems = [str(w.message) for w in caught]
    if as_json:
        click.echo(json.dumps({"plugins": [r.to_dict() for r in rows], "warnings": problems}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="tsbudget plugins (tsbudget plugins NAME describes one)")
    for col in ("kind", "name", "distribution", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.kind, r.name, r.distribution, r.description)
    console = Console()
    console.print(table)
    for p in problems:
        click.echo(f"warning: {p}", err=True)


def describe(name: str, kind: str | None = None) -> dict:
    """What ``tsbudget plugins NAME`` shows, as a dict: kind, name, class, description,
    citation, settings (attrs fields: name, type, default or ``"required"``), and for cost
    models the variables (name, lower, upper, integer, default, log, description) at the
    default settings; for laws the parameters and inputs."""
    import attrs

    kinds = [_KINDS[kind]] if kind else list(registries)
    found = [(k, registries[k]) for k in kinds if name in registries[k]]
    if not found:
        listing = "; ".join(f"{k}: {', '.join(registries[k].names()) or 'none'}" for k in kinds)
        raise PluginNotFoundError(f"no plugin named {name!r}; installed: {listing}")
    if len(found) > 1:
        raise InputError(f"{name!r} names a {' and a '.join(r.kind for _, r in found)}; choose one with --kind")
    key, reg = found[0]
    cls = reg.get(name)
    settings = []
    for f in attrs.fields(cls) if attrs.has(cls) else ():
        if not f.init:
            continue
        if f.default is attrs.NOTHING:
            default = "required"
        elif isinstance(f.default, attrs.Factory):  # type: ignore[arg-type]
            default = "(computed)" if f.default.takes_self else _plain(f.default.factory())
        else:
            default = _plain(f.default)
        settings.append({"name": getattr(f, "alias", None) or f.name, "type": _type_name(f.type), "default": default})
    out = {
        "kind": key,
        "name": name,
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "description": cls.description,
        "citation": cls.citation or "",
        "settings": settings,
    }
    if key == "costmodel":
        try:
            variables = cls().variables  # the variables may depend on the settings
            note = "at the default settings"
        except TypeError:  # a required setting: the declared variables
            variables = cls.declared_variables
            note = "declared by the class"
        out["variables"] = [v.to_dict() for v in variables]
        out["variables_note"] = note
    if key == "law":
        try:
            inst = cls()
        except (TypeError, InputError):  # a law without defaults: what the class declares
            out["inputs"] = list(cls.inputs)
            return out
        defaults = {s["name"]: s["default"] for s in settings}
        out["parameters"] = [
            {"name": p.name, "default": defaults.get(p.name), "lower": _plain(p.lower), "upper": _plain(p.upper),
             "log": p.log, "description": p.description}
            for p in inst.parameters
        ]
        names = {p.name for p in inst.parameters}
        out["settings"] = [s for s in settings if s["name"] not in names]  # configuration, not values
        out["inputs"] = list(inst.required_inputs)
    return out


def _plain(value):
    """A JSON-friendly default: numbers and strings as they are, infinities as strings."""
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return str(value)
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return repr(value)


def _type_name(t) -> str:
    if t is None:
        return ""
    return t if isinstance(t, str) else getattr(t, "__name__", repr(t))


def _print_description(info: dict) -> None:
    click.echo(f"{info['kind']} {info['name']} ({info['class']})")
    click.echo(f"  {info['description']}")
    if info["citation"]:
        click.echo(f"  citation: {info['citation']}")
    how = {"costmodel": " (--cost-setting KEY=VALUE)", "unit": " (--unit-setting KEY=VALUE)"}.get(info["kind"], "")
    click.echo(f"settings{how}:" if info["settings"] else "settings: none")
    for s in info["settings"]:
        click.echo(f"  {s['name']:<24} {s['type']:<16} default {s['default']}")
    if "variables" in info:
        click.echo(f"variables ({info['variables_note']}; --fix VAR=VALUE or --free VAR):"
                   if info["variables"] else "variables: none")
        for v in info["variables"]:
            kind = "integer" if v["integer"] else ("real, log scale" if v["log"] else "real")
            click.echo(f"  {v['name']:<24} [{v['lower']:g}, {v['upper']:g}] {kind}, default {v['default']:g}"
                       + (f"  {v['description']}" if v["description"] else ""))
    if "parameters" in info:
        click.echo("parameters:")
        for p in info["parameters"]:
            click.echo(f"  {p['name']:<24} default {p['default']}  {p['description']}")
    if "inputs" in info:
        click.echo(f"inputs: {', '.join(info['inputs'])}")
