"""Building a registered law from its name and the variables a fit measures."""

from __future__ import annotations

from tsbudget.errors import InputError

__all__ = ["build_law"]


def build_law(name: str, variables: dict[str, float | None]):
    """The law ``name`` from the registry, configured with ``variables`` (name -> reference
    value, or None for the default reference 1) when it takes any (the extended law).

    A law without variables given some, or a law with variables given none (the extended
    law would then be Chinchilla), is an :class:`InputError` that says what to do instead.
    """
    import attrs

    from tsbudget.registry import laws

    cls = laws.get(name)
    takes = attrs.has(cls) and "variables" in attrs.fields_dict(cls)
    if not takes:
        if variables:
            extra = ", ".join(variables)
            raise InputError(
                f"law {name!r} has no extra variables, but {extra} {'was' if len(variables) == 1 else 'were'} given "
                f"(--law-variable or --col); use --law extended to fit variables such as expert count"
            )
        return laws.resolve(name)
    if not variables:
        raise InputError(
            f"law {name!r} needs its variables: give --law-variable NAME (e.g. experts) or map a column with "
            f"--col NAME=COLUMN; with none it is the Chinchilla law (use --law chinchilla for that)"
        )
    settings = {"variables": tuple(variables)}
    if "references" in attrs.fields_dict(cls):
        settings["references"] = tuple(1.0 if r is None else r for r in variables.values())
    return laws.resolve(name, **settings)
