"""``tsbudget redundancy SERIES``: near-duplicate windows and the effective data they leave."""

from __future__ import annotations

from pathlib import Path

import click

from tsbudget.cli.common import POSITIVE, TABLE_SUFFIXES, check_output, check_plot, progress, use_progress, write_json, \
    write_table
from tsbudget.errors import InputError

__all__ = ["command", "read_series"]


def read_series(path, *, time_col=None, label_col=None, channels=None):
    """``(values (time, channels) float64, step labels or None, channel names, time column or
    None)`` from a CSV/Parquet file, read as :func:`~tsbudget.timeseries.series_table.series_from_table`
    reads a table (rows sorted by the time column, which is never a channel)."""
    import polars as pl

    from tsbudget.timeseries.series_table import series_from_table

    p = Path(path)
    if not p.exists():
        raise InputError(f"series file {str(p)!r} does not exist")
    suffix = "".join(p.suffixes[-2:]).lower()
    try:
        if suffix.endswith((".parquet", ".pq")):
            df = pl.read_parquet(p)
        elif suffix.endswith((".csv", ".csv.gz", ".tsv")):
            df = pl.read_csv(p, separator="\t" if ".tsv" in suffix else ",", infer_schema_length=10_000)
        else:
            raise InputError(f"series file {str(p)!r}: unknown format; use .csv, .tsv, .parquet or a .npy window array")
    except InputError:
        raise
    except Exception as exc:  # polars raises many kinds; name the file and the cause
        raise InputError(f"cannot read series file {str(p)!r}: {type(exc).__name__}: {exc}") from None
    return series_from_table(df, time_col=time_col, label_col=label_col, channels=channels, name=f"series {p.name!r}")


def _parse_r_star(items) -> dict[str, float]:
    from tsbudget.cli.common import parse_number

    out = {}
    for item in items or ():
        regime, sep, value = str(item).partition("=")
        if not sep or not regime.strip():
            raise InputError(f"--r-star takes REGIME=VALUE (e.g. normal=5 or rare=inf), got {item!r}")
        v = value.strip().lower()
        out[regime.strip()] = float("inf") if v in ("inf", "infinity") else parse_number(value, name=f"--r-star {regime}")
    return out


def plot_report(report, path, epochs: float = 16.0) -> None:
    """Group-size distribution and effective vs raw data over epochs, written to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    import numpy as np

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    sizes = report.group_sizes
    edges = np.unique(np.round(np.logspace(0, np.log10(sizes.max() + 1), 25)))
    counts, edges = np.histogram(sizes, bins=edges)
    left.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="C0", edgecolor="white")
    left.set_xscale("log")
    left.set_yscale("log")
    left.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    left.set_xlabel("group size (windows per group)")
    left.set_ylabel("number of groups")
    big = int(sizes.max())
    left.set_title(f"{report.groups} groups of {report.windows} windows\n"
                   f"largest {big} ({big / report.windows:.1%}); normal share {report.normal_share:.1%}", fontsize=10)
    left.grid(True, which="both", alpha=0.3)
    rd = report.regime_data
    e = np.linspace(epochs / 400, epochs, 400)
    raw = e * rd.total_available
    right.plot(e, raw, color="0.5", ls=":", label="raw (every window counted fresh)")
    right.plot(e, rd.effective(raw), color="C1", label="effective, corpus sampling mix")
    right.plot(e, rd.effective(raw, rd.optimal_mix(raw)), color="C2", ls="--", label="effective, best sampling mix")
    plateau = float(np.sum(rd.unique * (1 + rd.r_star)))
    if np.isfinite(plateau):
        right.axhline(plateau, color="C3", lw=0.8, label=f"plateau ΣU(1+R*) = {plateau:.4g}")
    right.axvline(1.0, color="0.7", lw=0.8)
    right.set_yscale("log")
    right.set_xlabel("epochs over the corpus (1 epoch = every window once)")
    right.set_ylabel(f"data ({rd.unit})")
    right.set_title(f"effective vs raw data; one epoch: {report.effective:.4g} of {report.raw:.4g} {rd.unit}",
                    fontsize=10)
    right.legend(fontsize=8, loc="lower right")
    right.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    from tsbudget.io import atomic_path

    with atomic_path(path) as tmp:  # never a half-written image under the real name
        fig.savefig(tmp, format=Path(path).suffix[1:].lower(), dpi=120)
    plt.close(fig)


@click.command("redundancy")
@click.argument("series", type=click.Path(dir_okay=False))
@click.option("--window", type=click.IntRange(min=1), default=None, help="Window length in time steps (required for a table).")
@click.option("--stride", type=click.IntRange(min=1), default=None, help="Steps between window starts [default: the window length].")
@click.option("--threshold", type=POSITIVE, default=0.5, show_default=True,
              help="RMS distance of normalised windows below which two windows are near-duplicates.")
@click.option("--time-col", default=None,
              help="Time column to sort rows by [default: 'time' when present, else the one datetime column "
                   "or column named timestamp/ts/t/datetime/date]; never used as a channel.")
@click.option("--label-col", default=None, help="Column of per-step regime labels (e.g. normal/rare/intervention).")
@click.option("--channels", default=None, help="Comma-separated channel columns [default: every other numeric column].")
@click.option("--method", type=click.Choice(["lsh", "exact"]), default="lsh", show_default=True,
              help="Streaming LSH grouping, or the exact O(n²) reference.")
@click.option("--normal-min-size", type=click.IntRange(min=1), default=5, show_default=True,
              help="Without labels: a window is normal state when its group has at least this many windows.")
@click.option("--unit", type=click.Choice(["windows", "cells"]), default="windows", show_default=True,
              help="Count data in windows or channel-time cells.")
@click.option("--r-star", "r_star", multiple=True, metavar="REGIME=VALUE",
              help="Decay constant R* of a regime (repeatable; 'inf' for no decay).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--plot", "plot_path", default=None, type=click.Path(dir_okay=False),
              help="Write a PNG: group-size distribution and effective vs raw data over epochs.")
@click.option("--epochs", type=POSITIVE, default=16.0, show_default=True, help="Epochs shown on the plot.")
@click.option("--out", "regimes_out", default=None, type=click.Path(dir_okay=False),
              help="Write the regimes (per regime unique and total data in --unit, R* and share of the corpus) "
                   "as JSON for `tsbudget plan --regimes`.")
@click.option("--groups-out", default=None, type=click.Path(dir_okay=False),
              help="Write one row per group (.csv or .parquet): group, size (repetition count), first_window, "
                   "regime, regime_share.")
def command(series, window, stride, threshold, time_col, label_col, channels, method, normal_min_size, unit,
            r_star, as_json, plot_path, epochs, regimes_out, groups_out):
    """Group near-duplicate windows of SERIES and report the effective data they leave.

    SERIES is a CSV or Parquet table (time column, channel columns, optional label column)
    or a .npy array of windows (windows x time x channels).
    """
    from tsbudget.timeseries.measure import measure_redundancy

    path = Path(series)
    labels = None
    columns = None
    check_output(groups_out, "--groups-out", TABLE_SUFFIXES)
    check_output(regimes_out, "--out")
    check_plot(plot_path)
    if path.suffix.lower() == ".npy":
        if window is not None or stride is not None or label_col or channels or time_col:
            raise InputError(
                "--window, --stride, --time-col, --label-col and --channels apply to tables; a .npy file is already windowed"
            )
        if not path.exists():
            raise InputError(f"window file {str(path)!r} does not exist")
        data = path
    else:
        if window is None:
            raise InputError("--window is required for a table series (window length in time steps)")
        cols = [c.strip() for c in channels.split(",") if c.strip()] if channels is not None else None
        if cols is not None and not cols:
            raise InputError(f"--channels takes comma-separated column names, got {channels!r}")
        data, labels, used, time_used = read_series(path, time_col=time_col, label_col=label_col, channels=cols)
        columns = {"time": time_used, "channels": used, "label": label_col}
    with progress("grouping windows", None, enabled=use_progress(as_json)) as advance:
        report = measure_redundancy(
            data, window=window, stride=stride, threshold=threshold, labels=labels, normal_min_size=normal_min_size,
            r_star=_parse_r_star(r_star), unit=unit, method=method, progress=advance,
        )
    if plot_path:
        plot_report(report, plot_path, epochs)
    if groups_out:
        write_table(report.group_table(), groups_out, "--groups-out")
    if regimes_out:
        write_json({**report.regime_data.to_dict(), "measured": {
            "series": str(path), "windows": report.windows, "window_length": report.window_length,
            "channels": report.channels, "threshold": report.threshold, "method": report.method,
        }}, regimes_out)
    if as_json:
        out = report.to_dict()
        if regimes_out:
            out["regimes_out"] = str(regimes_out)
        if columns is not None:
            out["columns"] = columns
        if groups_out:
            out["groups_out"] = str(groups_out)
        click.echo(write_json(out))
    else:
        click.echo(repr(report))
        if columns is not None:
            time_note = f"time column {columns['time']!r}" if columns["time"] else "no time column: file order"
            label_note = f", labels {columns['label']!r}" if columns["label"] else ""
            click.echo(f"  {'channels':<15} {', '.join(columns['channels'])} ({time_note}{label_note})")
        if plot_path:
            click.echo(f"plot written to {plot_path}")
        if groups_out:
            click.echo(f"groups written to {groups_out} ({report.groups} rows)")
        if regimes_out:
            click.echo(f"regimes written to {regimes_out} (plan with: tsbudget plan --regimes {regimes_out} ...)")
