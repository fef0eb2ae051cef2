"""Shared pieces of the fitting commands: reading runs, column options, numbers, progress.

Kept free of heavy imports (polars is imported inside :func:`read_runs`) so that
``tsbudget --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import math
import sys

import click

from tsbudget.errors import InputError, SchemaError
from tsbudget.io import read_runs, write_json
from tsbudget.report import fmt, jsonable

__all__ = [
    "FRACTION",
    "LEVEL",
    "NONNEGATIVE",
    "POSITIVE",
    "TABLE_SUFFIXES",
    "check_output",
    "check_plot",
    "SETTING",
    "column_options",
    "columns_from_options",
    "parse_budget_range",
    "parse_fix",
    "fmt",
    "parse_number",
    "parse_numbers",
    "parse_settings",
    "print_table",
    "progress",
    "read_runs",
    "write_json",
    "jsonable",
    "use_progress",
    "write_table",
]


def parse_number(text, *, name: str = "value") -> float:
    """A finite float from text such as ``"1e21"``, ``"5.88e23"``, ``"3_000"`` or ``"2.5E+20"``."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        try:
            value = float(str(text).strip().replace("_", ""))
        except ValueError:
            raise InputError(f"{name} must be a number such as 1e21, got {text!r}") from None
    if not math.isfinite(value):
        raise InputError(f"{name} must be finite, got {text!r}")
    return value


class _Number(click.ParamType):
    """A click type for finite floats written like ``1e21``."""

    name = "number"

    def convert(self, value, param, ctx):
        try:
            return parse_number(value, name=param.name if param is not None else "value")
        except InputError as exc:
            self.fail(str(exc), param, ctx)


class _Positive(_Number):
    """A finite float > 0 (budgets, sizes, amounts)."""

    name = "positive number"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not number > 0:
            self.fail(f"must be > 0, got {value!r}", param, ctx)
        return number


POSITIVE = _Positive()


class _Level(_Number):
    """An interval level: a finite float strictly between 0 and 1 (``nan`` refused)."""

    name = "level"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not 0 < number < 1:
            self.fail(f"must be strictly between 0 and 1, got {value!r}", param, ctx)
        return number


LEVEL = _Level()

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def check_output(path, option: str, suffixes=None) -> None:
    """Refuse an output path before any work: its folder must exist, it must not be a folder,
    and its name must end in one of ``suffixes`` (when given). An :class:`InputError` names the option."""
    from pathlib import Path

    if path is None:
        return
    p = Path(path)
    if not str(path).strip() or p.is_dir():
        raise InputError(f"{option} {str(path)!r}: give a file name, not a folder")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{option} {str(path)!r}: folder {str(folder)!r} does not exist")
    if suffixes and not str(path).lower().endswith(tuple(suffixes)):
        shown = [x for x in suffixes if x not in (".pq", ".jpeg")]  # aliases go unsaid
        listed = ", ".join(shown[:-1]) + " or " + shown[-1] if len(shown) > 1 else shown[0]
        raise InputError(f"{option} {str(path)!r}: use a {listed} file name")


def parse_budget_range(text, option: str = "--budgets"):
    """Budgets from ``LOW:HIGH:COUNT`` or a comma list (:func:`tsbudget.planning.frontier.parse_budgets`),
    an error naming ``option``."""
    from tsbudget.planning.frontier import parse_budgets

    try:
        return parse_budgets(text)
    except InputError as exc:
        raise InputError(f"{option}: {exc}") from None


class _Fraction(_Number):
    """A utilisation: a finite float in (0, 1]."""

    name = "fraction"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not 0 < number <= 1:
            self.fail(f"must be in (0, 1], got {value!r}", param, ctx)
        return number


FRACTION = _Fraction()


class _NonNegative(_Number):
    """A finite float >= 0."""

    name = "number >= 0"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not number >= 0:
            self.fail(f"must be >= 0, got {value!r}", param, ctx)
        return number


NONNEGATIVE = _NonNegative()


def check_plot(path, option: str = "--plot") -> None:
    """An image path matplotlib writes (.png, .pdf, .svg, .jpg) in a folder that exists."""
    from tsbudget.plotting import PLOT_SUFFIXES

    check_output(path, option, PLOT_SUFFIXES)


def write_table(table, path, option: str = "--out") -> None:
    """Write a polars table atomically as Parquet (``.parquet``/``.pq``) or CSV (anything else)."""
    from tsbudget.io import atomic_path

    with atomic_path(path) as tmp:
        try:
            if str(path).lower().endswith((".parquet", ".pq")):
                table.write_parquet(tmp)
            else:
                table.write_csv(tmp)
        except OSError as exc:
            raise InputError(f"{option} {str(path)!r}: cannot write: {exc.strerror or exc}") from None


def parse_fix(items, option: str = "--fix") -> dict[str, float]:
    """``("alpha=0.34", "E=1.69")`` -> ``{"alpha": 0.34, "E": 1.69}`` (``--fix NAME=VALUE``)."""
    out: dict[str, float] = {}
    for item in items or ():
        name, sep, value = str(item).partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"{option} takes NAME=VALUE, got {item!r}")
        if name in out:
            raise InputError(f"{option} {name} given twice ({out[name]:g} and {value.strip()})")
        out[name] = parse_number(value, name=f"{option} {name}")
    return out


class SettingType(click.ParamType):
    """``KEY=VALUE`` for a plugin setting (``--unit-setting``, ``--cost-setting``); VALUE is
    read as JSON when it parses (numbers, true/false, lists such as hierarchical levels),
    else kept as a string, as ``tsbudget cost`` does."""

    name = "key=value"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        pair = _split_key_value(value)
        if pair is None:
            self.fail(f"{value!r} is not {self.name.upper()}", param, ctx)
        return pair[0], self.value(pair[1], param, ctx)

    def value(self, raw: str, param, ctx):
        import json

        try:
            return json.loads(raw)
        except ValueError:
            return raw


def _split_key_value(text):
    """``"key=value"`` -> ``("key", "value")`` (stripped), or None unless KEY is an identifier."""
    key, sep, raw = str(text).partition("=")
    key = key.strip()
    return (key, raw.strip()) if sep and key.isidentifier() else None


SETTING = SettingType()


def parse_settings(pairs, option: str) -> dict:
    """Settings from :data:`SETTING` options (``("d_model", 512)`` pairs) or raw ``"KEY=VALUE"``
    strings -> a dict; a malformed string or a key given twice is an InputError."""
    out: dict = {}
    for item in pairs or ():
        if isinstance(item, str):
            pair = _split_key_value(item)
            if pair is None:
                raise InputError(f"{option} takes KEY=VALUE, got {item!r}")
            item = (pair[0], SETTING.value(pair[1], None, None))
        key, value = item
        if key in out:
            raise InputError(f"{option} {key} given twice ({out[key]!r} and {value!r})")
        out[key] = value
    return out


# canonical name -> (option, help)
_COLUMN_OPTIONS = {
    "N": ("--n-col", "Column with the parameter count N."),
    "D": ("--d-col", "Column with the data D in the law's unit (derived from --flops-col when absent)."),
    "flops": ("--flops-col", "Column with training FLOPs."),
    "loss": ("--loss-col", "Column with the final loss."),
    "U": ("--unique-col", "Column with unique data U (data-constrained laws)."),
}


def column_options(func):
    """Add ``--n-col --d-col --flops-col --loss-col --unique-col`` and ``--col NAME=COLUMN``."""
    for canonical, (opt, help_) in reversed(list(_COLUMN_OPTIONS.items())):
        func = click.option(opt, f"col_{canonical}", default=None, metavar="COLUMN", help=help_)(func)
    func = click.option(
        "--col",
        "col_extra",
        multiple=True,
        metavar="NAME=COLUMN",
        help="Map any other law input (e.g. a cost model's variable) to a column; repeatable.",
    )(func)
    return func


def columns_from_options(options: dict, runs=None) -> dict[str, str]:
    """Canonical name -> column from the parsed column options; checks the columns exist."""
    cols = {canonical: options.get(f"col_{canonical}") for canonical in _COLUMN_OPTIONS}
    cols = {k: v for k, v in cols.items() if v}
    for item in options.get("col_extra") or ():
        name, sep, column = str(item).partition("=")
        if not sep or not name.strip() or not column.strip():
            raise InputError(f"--col takes NAME=COLUMN, got {item!r}")
        cols[name.strip()] = column.strip()
    seen: dict[str, str] = {}
    for canonical, column in cols.items():
        if column in seen:
            raise InputError(f"column {column!r} is given for both {seen[column]} and {canonical}")
        seen[column] = canonical
    if runs is not None:
        for canonical, column in cols.items():
            if column not in runs.columns:
                raise SchemaError(
                    f"column {column!r} (given for {canonical}) is not in the runs; columns are {runs.columns}"
                )
    return cols


def use_progress(as_json: bool = False) -> bool:
    """Show a progress bar only on an interactive terminal and never under ``--json``."""
    return not as_json and sys.stderr.isatty()


@contextlib.contextmanager
def progress(description: str, total: int | None, *, enabled: bool):
    """A rich progress bar on stderr, or a no-op; yields ``advance(n)``.

    The bar is drawn only when ``enabled`` (see :func:`use_progress`), so piped output
    and JSON output stay clean.
    """
    if not enabled:
        yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


def print_table(df, columns=None, title: str | None = None) -> None:
    """Print a polars DataFrame (selected ``columns``) as a rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    import polars as pl

    columns = [c for c in (columns or df.columns) if c in df.columns]
    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="left" if df[c].dtype in (pl.Utf8, pl.Boolean) else "right", no_wrap=True)
    for row in df.select(columns).iter_rows():
        table.add_row(*(fmt(v) for v in row))
    # piped output: wide enough that no cell is cut
    Console(width=None if sys.stdout.isatty() else 240).print(table)


def parse_numbers(text, *, name: str, positive: bool = False) -> list[float]:
    """``"6e18,1e19, 3e19"`` -> ``[6e18, 1e19, 3e19]``; an empty list is refused, and with
    ``positive`` so is a number <= 0."""
    values = [parse_number(t, name=name) for t in str(text).split(",") if t.strip()]
    if not values:
        raise InputError(f"{name} takes a comma-separated list of numbers, got {text!r}")
    if positive:
        for v in values:
            if not v > 0:
                raise InputError(f"{name}: every value must be > 0, got {v:g}")
    return values
