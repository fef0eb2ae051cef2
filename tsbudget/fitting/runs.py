"""The runs a fit sees: a checked table with canonical columns, the fit region, and the
cost model and data unit that turn FLOPs into data and back.

Canonical columns: ``run`` (the original row index), the law's inputs (``N``, ``D``, ``U``,
variables ...), ``loss`` and ``flops``, all Float64 except ``run``, plus any ``weight``.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import numpy as np
import polars as pl

from tsbudget.errors import FitError, InputError, SchemaError
from tsbudget.law import Law
from tsbudget.tables import as_table, check_positive

__all__ = ["check_fixed",
           "distinct_points",
           "fit_plugins", "is_prepared", "plugin_name", "plugin_settings", "prepare_runs", "resolve_law", "select_runs"]


def resolve_law(law) -> Law:
    """The law a fit uses: a registered name or an instance (see :data:`tsbudget.registry.laws`)."""
    from tsbudget.registry import laws

    return laws.resolve(law)


def is_prepared(df: pl.DataFrame, law: Law) -> bool:
    """Whether ``df`` is already in :func:`prepare_runs` form for ``law`` (has ``run`` and the canonical columns)."""
    return "run" in df.columns and all(c in df.columns for c in (*law.required_inputs, "loss", "flops"))


def prepare_runs(runs, law="chinchilla", columns=None, cost_model="dense", unit="tokens") -> pl.DataFrame:
    """The runs as a checked table with canonical columns.

    Output columns: ``run`` (the original row index), the law's inputs (``N``, ``D``,
    ``U``, variables ...), ``loss`` and ``flops``, all Float64 except ``run``, plus any
    ``weight`` column. ``columns`` maps a canonical name to the column that holds it.
    When ``D`` is absent it is derived from the ``flops`` column through the cost model
    and data unit (``positions = flops / train_flops_per_position(N)``, then
    ``D = unit.from_positions(positions)``; for dense tokens ``D = C/(6N)``, Hoffmann et
    al. 2022 §3); when ``flops`` is absent it is computed the other way. A table that
    already has these columns and ``run`` (e.g. a resample of ``FitResult.runs``) keeps
    its ``run`` labels.
    """
    from tsbudget.registry import costmodels, units

    law = resolve_law(law)
    costmodels.resolve(cost_model), units.resolve(unit)  # an unknown name is refused even when unused
    df = as_table(runs, name="runs")
    cols = dict(columns or {})
    unknown = set(cols) - {*law.required_inputs, "loss", "flops", "N", "D", "weight"}
    if unknown:
        raise InputError(
            f"columns: unknown canonical name {sorted(unknown)[0]!r}; "
            f"expected some of {sorted({*law.required_inputs, 'loss', 'flops'})}"
        )
    src = {k: cols.get(k, k) for k in (*law.required_inputs, "loss", "flops", "N", "D")}
    have = {k: v in df.columns for k, v in src.items()}
    need = [k for k in (*law.required_inputs, "loss") if not (k == "D" and have["flops"])]
    missing = [src[k] for k in need if not have[k]]
    if missing:
        present = ", ".join(repr(c) for c in df.columns) or "none"
        hint = " (or a flops column to derive D from)" if "D" in need and not have["D"] else ""
        raise SchemaError(f"runs lack column{'s' if len(missing) > 1 else ''} "
                          f"{', '.join(repr(c) for c in missing)}{hint}; columns present: {present}")
    for k in (*law.required_inputs, "loss", "flops"):
        if have[k]:
            check_positive(df, src[k], name="runs")

    out = {"run": df["run"].cast(pl.Int64) if "run" in df.columns and is_prepared(df, law)
           else pl.Series("run", np.arange(df.height), dtype=pl.Int64)}
    for k in (*law.required_inputs, "loss"):
        if have[k]:
            out[k] = df[src[k]].cast(pl.Float64).alias(k)
    extra_vars = {k: out[k].to_numpy() for k in law.required_inputs if k not in ("N", "D", "U") and k in out}
    if not have["D"] or not have["flops"]:
        from tsbudget.registry import costmodels, units

        cm, un = costmodels.resolve(cost_model), units.resolve(unit)
        known = {v.name for v in cm.variables}
        variables = {k: v for k, v in extra_vars.items() if k in known}
        n = out["N"].to_numpy()
        if not have["D"]:
            flops = df[src["flops"]].cast(pl.Float64).to_numpy()
            positions = flops / cm.train_flops_per_position(n, **variables)
            out["D"] = pl.Series("D", np.asarray(un.from_positions(positions), dtype=float))
        else:
            positions = un.to_positions(out["D"].to_numpy())
            flops = np.asarray(cm.train_flops(n, positions, **variables), dtype=float)
        out["flops"] = pl.Series("flops", np.broadcast_to(flops, (df.height,)).astype(float))
    else:
        out["flops"] = df[src["flops"]].cast(pl.Float64).alias("flops")
    wcol = cols.get("weight", "weight")
    if wcol in df.columns:
        out["weight"] = df[wcol].cast(pl.Float64).alias("weight")
    order = ["run", *law.required_inputs, "loss", "flops"] + (["weight"] if "weight" in out else [])
    if "N" not in order:
        order.insert(1, "N")
    return pl.DataFrame([out[k].alias(k) for k in dict.fromkeys(order) if k in out])


def check_fixed(fixed) -> dict[str, float]:
    """``fixed`` (parameter name -> value) as a dict of floats; anything that is not a mapping of
    names to numbers is an :class:`InputError` naming the entry (whether each name is a parameter
    of the law, and each value in its range, is checked when the law is known)."""
    if fixed is None:
        return {}
    if not isinstance(fixed, Mapping):
        raise InputError(f"fixed must be a mapping of parameter name -> value, got {fixed!r}")
    out = {}
    for k, v in fixed.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise InputError(f"fixed: {k}={v!r} is not a number")
        out[str(k)] = float(v)
    return out


def distinct_points(df: pl.DataFrame, law: Law) -> int:
    """How many distinct design points (rows of the law's inputs) the prepared runs hold.

    Repeats of one run (same N, D, ...) add no information about the law's shape: a fit
    with fewer distinct points than free parameters is underdetermined however many rows
    there are (thirty copies of one run would otherwise "converge" to any law through it).
    """
    inputs = [c for c in law.required_inputs if c in df.columns]
    if not inputs:
        return min(df.height, 1)
    if all(df.schema[c] == pl.Float64 for c in inputs):  # prepared runs: rows of floats, compared by numpy
        points = np.column_stack([df[c].to_numpy() for c in inputs]) + 0.0  # + 0.0: -0.0 is 0.0
        if np.isfinite(points).all():
            return int(np.unique(points, axis=0).shape[0])
    return df.select(inputs).unique().height


def region_bounds(region) -> dict[str, list[float | None]] | None:
    """The fit region as ``{column: [low, high]}`` (floats, None for an open side), checked."""
    if not region:
        return None
    if not isinstance(region, Mapping):
        raise InputError(f"region must map a column to a (low, high) pair, got {region!r}")
    out = {}
    for key, bounds in region.items():
        try:
            lo, hi = bounds
            out[str(key)] = [None if b is None else float(b) for b in (lo, hi)]
        except (TypeError, ValueError):
            raise InputError(f"region[{key!r}] must be a (low, high) pair (None for open), got {bounds!r}") from None
    return out


def select_runs(df: pl.DataFrame, region, drop_highest_loss: int) -> pl.DataFrame:
    """Apply the fit region (inclusive bounds on canonical columns), then drop the
    ``drop_highest_loss`` runs of highest loss (Besiroglu et al. 2024 drop 5)."""
    for key, (lo, hi) in (region_bounds(region) or {}).items():
        if key not in df.columns or key in ("run", "weight"):
            raise InputError(f"region: unknown column {key!r}; the runs have {[c for c in df.columns if c != 'run']}")
        if lo is not None:
            df = df.filter(pl.col(key) >= float(lo))
        if hi is not None:
            df = df.filter(pl.col(key) <= float(hi))
    k = int(drop_highest_loss)
    if k < 0:
        raise InputError(f"drop_highest_loss must be >= 0, got {drop_highest_loss!r}")
    if k:
        if k >= df.height:
            raise FitError(f"drop_highest_loss={k} would drop all {df.height} runs")
        keep = np.argsort(-df["loss"].to_numpy(), kind="stable")[k:]
        df = df[np.sort(keep)]
    return df


def plugin_name(obj) -> str | None:
    """The registered name of a unit or cost model given by name or as an instance."""
    return obj if obj is None or isinstance(obj, str) else getattr(obj, "name", str(obj))


def plugin_settings(obj) -> dict | None:
    """The settings (attrs fields) of a unit or cost-model instance, so a saved fit can
    rebuild it: ``tsbudget.registry.units.resolve(options["unit"], **options["unit_settings"])``."""
    if obj is None or isinstance(obj, str) or not attrs.has(type(obj)):
        return None
    return attrs.asdict(obj, recurse=True)  # nested levels -> dicts, tuples -> lists


def fit_plugins(options: Mapping):
    """The fit's cost model and data unit, rebuilt with their saved settings."""
    from tsbudget.registry import costmodels, units

    cm, un = options.get("cost_model", "dense"), options.get("unit", "tokens")
    if options.get("cost_settings"):
        cm = costmodels.resolve(cm, **options["cost_settings"])
    if options.get("unit_settings"):
        un = units.resolve(un, **options["unit_settings"])
    return cm, un
