"""Simulated runs: a sweep plan turned into a runs table by a known law with seeded noise.

So that a worked example, a test or a design study runs without anyone's GPUs,
:func:`simulate_runs` evaluates a known law at every planned run (``N``, ``D`` and any
variable the law reads, such as ``compression``) and multiplies the loss by log-normal
noise::

    loss = L(N, D, v) · exp(σ·z),      z ~ Normal(0, 1) drawn with numpy's default_rng(seed)

so ``log loss`` has the law's value as its mean and median and standard deviation ``σ``
(the form fits assume: Hoffmann et al. 2022, App. D.2, fit the log of the loss with a Huber
loss). The output is labelled as what it is: a ``synthetic`` column (true on every row),
the law's label (``law``), its full specification (``law_spec``: name and every field, as
JSON, enough to rebuild it with ``tsbudget.registry.laws.resolve(name, **fields)``), the
``seed`` and the ``noise`` σ; the noise-free value is kept as ``loss_noiseless``. Every
column of the plan is kept, so the table has what ``tsbudget fit`` reads: ``N``, ``D``,
``flops``, ``loss`` and the variable columns.

Units. The law reads ``D`` as the table gives it: simulate from a law in the plan's unit
(a preset is in language-model tokens; a fit is in the unit it was fitted in).
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import numpy as np
import polars as pl

from tsbudget.errors import InputError, SchemaError
from tsbudget.report import Report, fmt, jsonable
from tsbudget.tables import as_table, check_positive

__all__ = ["Simulation", "simulate_runs"]

#: columns the simulation adds (a plan that already has them gets them replaced)
ADDED = ("loss", "loss_noiseless", "synthetic", "law", "law_spec", "seed", "noise")


@attrs.frozen(eq=False, repr=False)
class Simulation(Report):
    """Simulated runs: ``table`` (the plan's rows with ``loss`` and the synthetic labels) and
    ``options`` (law label and specification, seed, noise, number of runs)."""

    table: pl.DataFrame
    options: dict

    def title(self) -> str:
        return "Simulated runs (synthetic)"

    def headline(self) -> str:
        o = self.options
        return (f"{self.title()}: {o['runs']} runs from law {o['law']}, log-normal noise sd {fmt(o['noise'])} "
                f"in log loss, seed {o['seed']}")

    def estimate_lines(self) -> list[str]:
        loss = self.table["loss"]
        return [f"loss {fmt(loss.min())} .. {fmt(loss.max())}",
                f"law parameters: {', '.join(f'{k}={fmt(v)}' for k, v in self.options['parameters'].items())}"]

    def diagnostic_lines(self) -> list[str]:
        r = np.log(self.table["loss"].to_numpy() / self.table["loss_noiseless"].to_numpy())
        sd = float(np.std(r, ddof=1)) if r.size > 1 else float("nan")
        return [f"realised sd of log(loss / noiseless loss): {fmt(sd)} (asked {fmt(self.options['noise'])})",
                f"inputs the law read: {', '.join(self.options['inputs'])}"]

    def to_dict(self) -> dict:
        return jsonable({"synthetic": True, "options": self.options, "runs": self.table.to_dicts()})

    def write(self, path) -> Path:
        """Write the runs as CSV (``.csv``) or Parquet (``.parquet``/``.pq``), atomically."""
        from tsbudget.io import write_table

        return write_table(self.table, path, "simulated runs output")


def _plan_table(sweep_or_table) -> pl.DataFrame:
    """The run list of a Sweep, a table (polars, pandas, dict of lists) or a runs file path."""
    if isinstance(sweep_or_table, (str, Path)):
        from tsbudget.io import read_runs

        return read_runs(sweep_or_table)
    table = getattr(sweep_or_table, "table", sweep_or_table)
    return as_table(table, name="sweep plan")


def _law_spec(law) -> str:
    """The law's name and every field (values and configuration) as JSON."""
    from tsbudget.fitting.runs import plugin_settings

    return json.dumps(jsonable({"name": law.name, **(plugin_settings(law) or {})}), sort_keys=True)


def simulate_runs(sweep_or_table, law, *, noise: float = 0.0, seed: int = 0, label: str | None = None) -> Simulation:
    """Runs simulated from ``law`` at the runs of a sweep plan, with seeded log-normal noise.

    ``sweep_or_table``: a :class:`~tsbudget.sweeps.design.Sweep`, its table (or any table with
    the law's inputs as columns: ``N``, ``D`` and the law's variables), or the path of a run
    list (``tsbudget sweep --out runs.csv``). ``law``: a preset name, a registered law name (at
    its default values), a Law instance or a FitResult (its point estimate). ``noise``: the
    standard deviation ``σ >= 0`` of ``log loss`` around the law; ``seed``: the integer seed of
    the draws (the same seed gives the same runs). Returns a :class:`Simulation`; its
    ``table`` is fittable by ``tsbudget fit`` as written (see the module docstring).
    """
    from tsbudget.planning.request import resolve_law

    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.integer, np.floating)) or not (
            np.isfinite(noise) and noise >= 0):
        raise InputError(f"noise must be a finite number >= 0 (sd of log loss), got {noise!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    law_obj, _, default_label, _ = resolve_law(law)
    label = default_label if label is None else str(label)
    df = _plan_table(sweep_or_table)
    if df.height == 0:
        raise SchemaError("sweep plan has no runs")
    inputs = tuple(law_obj.required_inputs)
    missing = [k for k in inputs if k not in df.columns]
    if missing:
        raise SchemaError(f"sweep plan lacks column {missing[0]!r}, an input of law {law_obj.name!r} "
                          f"(it reads {list(inputs)}); columns present: {', '.join(df.columns)}")
    for k in inputs:
        check_positive(df, k, name="sweep plan")
    values = {k: df[k].cast(pl.Float64).to_numpy() for k in inputs}
    clean = np.asarray(law_obj.evaluate(law_obj.values, law_obj.check_inputs(values)), dtype=float)
    if not np.all(np.isfinite(clean) & (clean > 0)):
        row = int(np.flatnonzero(~(np.isfinite(clean) & (clean > 0)))[0])
        raise InputError(f"law {label} gives loss {clean[row]!r} at run {row} "
                         f"({', '.join(f'{k}={values[k][row]:g}' for k in inputs)}); it must be finite and > 0")
    z = np.random.default_rng(int(seed)).standard_normal(df.height)
    loss = clean * np.exp(float(noise) * z)
    spec = _law_spec(law_obj)
    table = df.drop([c for c in ADDED if c in df.columns]).with_columns(
        pl.Series("loss", loss),
        pl.Series("loss_noiseless", clean),
        pl.lit(True).alias("synthetic"),
        pl.lit(label).alias("law"),
        pl.lit(spec).alias("law_spec"),
        pl.lit(int(seed), dtype=pl.Int64).alias("seed"),
        pl.lit(float(noise)).alias("noise"),
    )
    options = {"law": label, "law_spec": json.loads(spec), "parameters": law_obj.values, "seed": int(seed),
               "noise": float(noise), "runs": table.height, "inputs": list(inputs),
               "noise_model": "loss = law · exp(noise · z), z ~ N(0, 1), numpy default_rng(seed)"}
    return Simulation(table, options)
