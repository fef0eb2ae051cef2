"""The systems of a comparison: their runs, fit settings, and the units their bootstrap resamples.

Pairing (``paired=True``, the default). Every system is resampled from one shared random
stream per draw, on a shared key, so that draw ``i`` of every system resamples the same
key values. Exactly:

1. Each system's fitted runs are split into *units* (:func:`resampling_units`): with
   ``pair_on=COLUMN``, the groups of runs sharing a value of that column (a canonical column
   such as ``"N"`` or ``"flops"``, or any column of the system's runs), resampled whole as in
   a cluster bootstrap; ``"flops"`` groups nearby budgets with
   :func:`tsbudget.fitting.budgets.auto_budget_groups`, as :func:`tsbudget.uncertainty.bootstrap.bootstrap`'s
   ``cluster="flops"`` does (measured or digitised FLOPs are rarely exactly equal), and a
   :class:`~tsbudget.errors.BootstrapWarning` says when every budget group is a single run
   (a plain bootstrap), or when any key leaves one group (zero spread); without
   ``pair_on``, single runs. Units are sorted by their key: the column value (for
   ``"flops"`` the group's budget), or for single runs ``(flops, N, D, loss)``.
2. Draw ``i`` draws ``M`` uniforms ``u_0 … u_{M−1}`` from
   ``numpy.random.default_rng(SeedSequence(seed).spawn(n_draws)[i])``, ``M`` the largest
   unit count of any system; the same uniforms serve every system
   (:func:`tsbudget.resampling.draw_uniforms`).
3. A system with ``G`` units takes, for ``j < G``, its unit number ``⌊u_j·G⌋`` (in key
   order), and refits on the union of the picked units' runs (a unit picked twice counts
   twice; :func:`tsbudget.resampling.draw_indices`).

Each system on its own thus gets an ordinary bootstrap (``G`` units drawn uniformly with
replacement; Efron & Tibshirani 1993 ch. 6, clusters per Davison & Hinkley 1997 §3.8).
When two systems have the same key values (the same model sizes, or the same number of
runs laid out the same way), draw ``i`` picks the same key values with the same
multiplicities in both, so noise that belongs to a key value (a size's seed, data order or
eval batch) enters both refits alike and cancels in their difference. When the key values
differ, units at the same rank (quantile) of the key are paired. The same runs under
another label or in another order get identical draws (:func:`canonical_runs`).
``paired=False`` gives each system its own stream (seeded from its runs' content,
:func:`seed_for`) with the same units: independent draws.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import attrs
import numpy as np
import polars as pl

from tsbudget.errors import FitError, InputError, SchemaError
from tsbudget.resampling import group_members, warn_degenerate_groups

__all__ = [
    "SPEC_KEYS", "FIT_KEYS", "ResamplingUnits", "System", "canonical_runs", "content_key",
    "fit_key", "fit_system", "pairing_notes", "resampling_units", "seed_for", "split_systems", "system_spec",
]

# the settings a system can override (compare's keywords of the same names)
# fit_runs: the runs the system's law is fitted on when they are not the system's own (a joint
# fit, e.g. Clark et al.'s routing law on dense + all of one router's runs); reference_variables:
# the setting at which that same fit describes the reference (e.g. {"experts": 1} for Dense)
SPEC_KEYS = {"law", "cost_model", "unit", "columns", "variables", "fit_options", "cluster", "pair_on", "frontier",
             "cost_settings", "fit_runs", "reference_variables"}
# the settings that determine a system's fit and bootstrap (systems equal in these share one)
FIT_KEYS = ("law", "cost_model", "unit", "columns", "fit_options", "pair_on", "cost_settings")


def _table(df, where: str) -> pl.DataFrame:
    """``df`` as a polars DataFrame with at least one row, else an error naming ``where``."""
    if not isinstance(df, pl.DataFrame):
        try:
            df = pl.DataFrame(df)
        except Exception as exc:
            raise InputError(f"{where} is not a table: {exc}") from None
    if df.height == 0:
        raise SchemaError(f"{where} has no rows")
    return df


def split_systems(runs, by: str) -> dict[str, pl.DataFrame]:
    """Label -> runs of each system: a mapping of tables as given, or one table split on its
    column ``by`` (dropped from the parts); an empty system or label is a SchemaError."""
    if isinstance(runs, Mapping):
        if not runs:
            raise InputError("runs: the mapping of systems is empty")
        out = {}
        for label, df in runs.items():
            out[str(label)] = _table(df, f"runs[{label!r}]")
        return out
    if not isinstance(runs, pl.DataFrame):
        try:
            runs = pl.DataFrame(runs)
        except Exception as exc:
            raise InputError(f"runs must be a polars DataFrame or a mapping of them: {exc}") from None
    if by not in runs.columns:
        raise SchemaError(f"runs lack the system column {by!r} (by=); columns present: {runs.columns}")
    if runs[by].null_count():
        row = int(np.flatnonzero(runs[by].is_null().to_numpy())[0])
        raise SchemaError(f"runs column {by!r}, row {row}: empty system label")
    labels = runs[by].cast(pl.Utf8)
    return {lab: runs.filter(labels == lab).drop(by) for lab in sorted(set(labels.to_list()))}


def canonical_runs(df: pl.DataFrame) -> pl.DataFrame:
    """Rows in a content-defined order, so that reordering the runs changes nothing."""
    cols = sorted(df.columns)
    sortable = [c for c in cols if df[c].dtype.is_numeric() or df[c].dtype == pl.Utf8]
    return df.select(cols).sort(sortable, nulls_last=True) if sortable else df.select(cols)


def content_key(df: pl.DataFrame) -> str:
    """SHA-256 of a table's columns and values: the same runs give the same key."""
    h = hashlib.sha256()
    for c in df.columns:
        h.update(c.encode())
        h.update(np.ascontiguousarray(df[c].cast(pl.Utf8).fill_null("").to_numpy().astype(str)).tobytes())
    return h.hexdigest()


def seed_for(seed: int, key: str) -> int:
    """A system's own seed for independent draws, from the user's ``seed`` and its runs' :func:`content_key`."""
    return int(hashlib.sha256(f"{int(seed)}:{key}".encode()).hexdigest()[:15], 16)


@attrs.frozen
class ResamplingUnits:
    """A system's resampling units in key order: ``members[g]`` are row indices of the fit's runs."""

    on: str | None  # the pair_on column, None for single runs
    values: tuple  # the key value of each unit (column value, or (flops, N, D, loss) of the run)
    members: tuple

    @property
    def size(self) -> int:
        return len(self.members)

    def describe(self) -> str:
        return f"{self.size} values" if self.on is not None else f"{self.size} runs"


@attrs.frozen
class System:
    """One system of a comparison: its settings, its bootstrapped fit and its resampling units."""

    label: str
    spec: dict
    fit: object  # FitResult with draws
    key: str  # content hash of the fitted runs
    units: ResamplingUnits


def system_spec(label, defaults: dict, systems: Mapping | None) -> dict:
    """The settings of system ``label``: ``defaults`` with its overrides from ``systems`` (checked)."""
    spec = dict(defaults)
    extra = dict((systems or {}).get(label, {}))
    unknown = set(extra) - SPEC_KEYS
    if unknown:
        raise InputError(f"systems[{label!r}]: unknown setting {sorted(unknown)[0]!r}; use {sorted(SPEC_KEYS)}")
    spec.update(extra)
    if spec["frontier"] not in ("optimal", "fixed_data"):
        raise InputError(f"frontier must be 'optimal' or 'fixed_data', got {spec['frontier']!r}")
    pair_on, cluster = spec.get("pair_on"), spec.get("cluster")
    if pair_on is not None and cluster is not None and pair_on != cluster:
        raise InputError(f"system {label!r}: pair_on={pair_on!r} and cluster={cluster!r} disagree; "
                         "they name the same thing (the resampling unit), give one")
    spec["pair_on"] = pair_on if pair_on is not None else cluster
    fit_runs = spec.get("fit_runs")
    if fit_runs is not None:
        spec["fit_runs"] = _table(fit_runs, f"systems[{label!r}]['fit_runs']")
    ref_vars = spec.get("reference_variables")
    if ref_vars is not None:
        if not isinstance(ref_vars, Mapping) or not ref_vars:
            raise InputError(f"systems[{label!r}]['reference_variables'] must be a non-empty mapping NAME -> value, "
                             f"got {ref_vars!r}")
        try:
            spec["reference_variables"] = {str(k): float(v) for k, v in ref_vars.items()}
        except (TypeError, ValueError):
            raise InputError(f"systems[{label!r}]['reference_variables']: values must be numbers, "
                             f"got {dict(ref_vars)!r}") from None
    return spec


def fit_key(frame: pl.DataFrame, spec: dict) -> str:
    """What a system's fit and bootstrap depend on: its fitted runs' :func:`content_key` and the
    settings :data:`FIT_KEYS`. Two systems with the same key get the same fit and the same draws."""
    parts = [content_key(frame)] + [repr(spec.get(k)) for k in FIT_KEYS]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def fit_system(label, df, spec):
    """The point fit of one system's runs under its settings; a FitError names the system."""
    from tsbudget.fitting.fit import fit

    opts = dict(spec.get("fit_options") or {})
    try:
        return fit(df, spec["law"], columns=spec.get("columns"), cost_model=spec["cost_model"], unit=spec["unit"],
                   **opts)
    except FitError as exc:
        raise FitError(f"system {label!r}: {exc}") from None


def resampling_units(label, df: pl.DataFrame, result, on: str | None) -> ResamplingUnits:
    """The resampling units of one system (module docstring, step 1)."""
    runs = result.runs
    if on is None:
        cols = [c for c in ("flops", "N", "D", "loss") if c in runs.columns]
        table = np.column_stack([runs[c].to_numpy().astype(float) for c in cols])
        order = np.lexsort(table.T[::-1])  # first column is the primary key
        return ResamplingUnits(None, tuple(tuple(table[i]) for i in order), tuple(np.array([i]) for i in order))
    if on in runs.columns:
        col = runs[on]
    elif on in df.columns:
        col = df[on][runs["run"].to_numpy()]
    else:
        raise SchemaError(f"system {label!r}: pair_on column {on!r} is not in its runs; columns {df.columns}")
    if col.null_count():
        row = int(np.flatnonzero(col.is_null().to_numpy())[0])
        raise SchemaError(f"system {label!r}: pair_on column {on!r} is empty in run {row}")
    values = col.to_numpy()
    if on == "flops":  # nearby budgets form one group, as in tsbudget.uncertainty.bootstrap's cluster="flops"
        from tsbudget.fitting.budgets import auto_budget_groups

        values = auto_budget_groups(values.astype(float))
    # only 'flops' warns about single runs: another key of single runs (e.g. "N" with one run
    # per size) still pairs sizes across systems
    warn_degenerate_groups(values, f"system {label!r}: pair_on={on!r}", "budget group" if on == "flops" else "group",
                           single_runs=("its draws are a plain bootstrap over runs, not over IsoFLOP budgets"
                                        if on == "flops" else None), stacklevel=3)
    uniq, members = group_members(values)
    return ResamplingUnits(on, tuple(uniq.tolist()), tuple(members))


def pairing_notes(labels, units: dict, anchor: str, paired: bool) -> dict[str, str]:
    """Per system, what its draws were paired on and how they match the ``anchor`` system's."""
    out = {}
    for lab in labels:
        u = units[lab]
        on = "runs ordered by (flops, N, D, loss)" if u.on is None else repr(u.on)
        if not paired:
            out[lab] = f"independent: own stream over {u.describe()}"
        elif lab == anchor:
            out[lab] = f"paired on {on}: {u.describe()}"
        else:
            v = units[anchor]
            if u.on == v.on and u.on is None and u.size == v.size:
                how = "run for run in that order"
            elif u.on == v.on and u.on is not None and u.values == v.values:
                how = "the same key values"
            else:
                how = f"matched by rank ({u.size} vs {v.size} units)"
            out[lab] = f"paired with {anchor} on {on}: {u.describe()}, {how}"
    return out

