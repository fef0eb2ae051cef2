"""Building a registered law from its name and the variables a fit measures."""

from __future__ import annotations

import math

from tsbudget.errors import InputError

__all__ = ["build_law", "parse_law_variable"]


def parse_law_variable(item: str) -> tuple[str, float | None, str]:
    """``NAME[=REF][:KIND]`` -> ``(name, reference or None, kind)``, the spelling of the CLI's
    ``--law-variable``: ``compression``, ``compression=4``, ``compression:quadratic`` or
    ``compression=4:quadratic``. ``KIND`` is ``linear`` (the default) or ``quadratic`` (a
    log-quadratic efficiency, see :class:`tsbudget.laws.extended.Extended`); ``REF`` is the
    reference value (> 0) the variable is measured from."""
    from tsbudget.laws.extended import KINDS

    text = str(item).strip()
    head, colon, kind = text.partition(":")
    kind = kind.strip() if colon else "linear"
    if kind not in KINDS:
        raise InputError(f"--law-variable {text!r}: the kind after ':' must be one of {list(KINDS)}, got {kind!r}")
    name, eq, ref = head.partition("=")
    name = name.strip()
    if not name.isidentifier():
        raise InputError(f"--law-variable takes NAME, NAME=REFERENCE, NAME:KIND or NAME=REFERENCE:KIND, got {text!r}")
    reference = None
    if eq:
        try:
            reference = float(ref)
        except ValueError:
            raise InputError(f"--law-variable {name}: the reference must be a number, got {ref.strip()!r}") from None
        if not (math.isfinite(reference) and reference > 0):
            raise InputError(f"--law-variable {name}: the reference must be > 0, got {ref.strip()!r}")
    return name, reference, kind


def build_law(name: str, variables: dict[str, float | None], kinds: dict[str, str] | None = None):
    """The law ``name`` from the registry, configured with ``variables`` (name -> reference
    value, or None for the default reference 1) when it takes any (the extended law), and
    ``kinds`` (name -> ``"linear"`` or ``"quadratic"``; missing names are linear).

    A law without variables given some, or a law with variables given none (the extended
    law would then be Chinchilla), is an :class:`InputError` that says what to do instead;
    so is a kind for a name that is not among ``variables``.
    """
    import attrs

    from tsbudget.registry import laws

    kinds = dict(kinds or {})
    cls = laws.get(name)
    fields = attrs.fields_dict(cls) if attrs.has(cls) else {}
    takes = "variables" in fields
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
    stray = [k for k in kinds if k not in variables]
    if stray:
        raise InputError(f"law variable kinds: {stray[0]!r} is not one of the variables {list(variables)}")
    settings = {"variables": tuple(variables)}
    if "references" in fields:
        settings["references"] = tuple(1.0 if r is None else r for r in variables.values())
    if any(k != "linear" for k in kinds.values()):
        if "kinds" not in fields:
            raise InputError(f"law {name!r} takes no variable kinds; only --law extended has quadratic variables")
        settings["kinds"] = tuple(kinds.get(v, "linear") for v in variables)
    return laws.resolve(name, **settings)
