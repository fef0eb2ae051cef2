"""The ``tsbudget`` command: a click group whose subcommands are imported on first use.

Each subcommand lives in its own module of this package (``tsbudget.cli.<name>``) and
exposes a click command called ``command``. ``tsbudget --help`` lists the commands from
:data:`SUMMARIES` without importing them (click would import every command, and with it
numpy, to ask for its one-line help), so the bare group starts at once; a test checks the
summaries against the commands' own docstrings.

Every failure is one line on stderr and exit status 2: a :class:`~tsbudget.errors.TsbudgetError`
anywhere below, a usage error of click (unknown option, bad value; the line names the option),
and, as a last resort, any other exception, reported as an internal error with its type
(``TSBUDGET_DEBUG=1`` lets it propagate with its traceback). Messages spanning several lines
(a table reader's hint, an array) are joined into one line and cut at :data:`MAX_MESSAGE` characters.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from tsbudget.errors import TsbudgetError

__all__ = ["MAX_MESSAGE", "main", "cli", "one_line"]

#: The longest error message printed, in characters (a message quoting a large array is cut).
MAX_MESSAGE = 600

# command name -> module in this package; imported only when the command runs.
COMMANDS = {
    "plugins": "plugins",
    "presets": "presets",
    "cost": "cost",
    "fit": "fit",
    "isoflop": "isoflop",
    "sensitivity": "sensitivity",
    "plan": "plan",
    "frontier": "frontier",
    "compare": "compare",
    "sweep": "sweep",
    "redundancy": "redundancy",
    "simulate": "simulate",
    "validate": "validate",
    "serve": "serve",
    "lifetime": "lifetime",
    "capability": "capability",
}


# command name -> the first line of its docstring, as click would show it in the list
SUMMARIES = {
    "capability": "Fit metric = ε − k·exp(−γ·loss) to PAIRS (Gadre et al. 2024); a metric target becomes a loss target.",
    "compare": "Fit each system of RUNS (CSV or Parquet), bootstrap, and compare their frontiers across budgets.",
    "cost": "Training and serving FLOPs and GPU-hours for N parameters trained on DATA units.",
    "fit": "Fit LAW to RUNS (CSV or Parquet; one row per training run).",
    "frontier": "Optimal N, D, loss and free variables across budgets (intervals from a fit's bootstrap draws).",
    "lifetime": "Lifetime cost (training + serving) against model size at a target loss, for several serving loads.",
    "isoflop": "Fit a parabola in log N per budget, then N_opt ∝ C^a and D_opt ∝ C^b.",
    "plan": "Plan model size, data, architecture variables and expected loss for a budget or target loss.",
    "plugins": "List installed data units, cost models and laws with their distribution.",
    "presets": "List the shipped law presets with their law, data unit and source.",
    "redundancy": "Group near-duplicate windows of SERIES and report the effective data they leave.",
    "serve": "Serving cost of a model on given hardware: devices, latency, throughput, GPU-hours, with what limits each.",
    "sensitivity": "Refit under variants (δ, sum/mean, rounded losses, dropped budgets, outliers, embeddings).",
    "simulate": "Simulate the runs of SWEEP (a run list from tsbudget sweep --out) from a known law, with seeded noise.",
    "sweep": "Design an IsoFLOP sweep around the predicted optimum of a fit or a preset.",
    "validate": "Leave-future-out validation: fit below a budget, predict every larger run, rank laws and fit options.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(name for name, mod in COMMANDS.items() if importlib.util.find_spec(f"tsbudget.cli.{mod}"))

    def format_commands(self, ctx, formatter):
        """The command list from :data:`SUMMARIES`, without importing the commands."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, click.utils.make_default_short_help(SUMMARIES.get(name, ""), limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        try:
            module = importlib.import_module(f"tsbudget.cli.{COMMANDS[name]}")
        except ModuleNotFoundError as exc:
            if exc.name == f"tsbudget.cli.{COMMANDS[name]}":
                return None
            raise
        return module.command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tsbudget")
def cli():
    """Plan compute budgets for time-series foundation models and world models."""


def one_line(text) -> str:
    """``text`` with its whitespace runs (newlines included) collapsed to single spaces, cut
    at :data:`MAX_MESSAGE` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= MAX_MESSAGE else flat[: MAX_MESSAGE - 15].rstrip() + " ... (cut)"


def _fail(message: str, command: str | None = None) -> None:
    where = f"{command}: " if command else ""
    click.echo(f"tsbudget: error: {where}{one_line(message)}", err=True)
    sys.exit(2)


def main(argv=None):
    """Console entry point: run the CLI; every failure is one line on stderr and exit status 2."""
    try:
        cli.main(args=argv, prog_name="tsbudget", standalone_mode=False)
    except TsbudgetError as exc:
        _fail(str(exc))
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(1)
    except click.UsageError as exc:
        ctx = exc.ctx
        name = ctx.command_path.removeprefix("tsbudget").strip() if ctx is not None else ""
        hint = f" (see 'tsbudget {name + ' ' if name else ''}--help')"
        _fail(exc.format_message() + hint, name or None)
    except click.ClickException as exc:
        _fail(exc.format_message())
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # the last resort: a bug, still one line (TSBUDGET_DEBUG=1 shows the traceback)
        if os.environ.get("TSBUDGET_DEBUG"):
            raise
        _fail(f"internal error ({type(exc).__name__}: {exc}); please report it; "
              f"TSBUDGET_DEBUG=1 shows the traceback")
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
