"""The command group: its listing comes from SUMMARIES without importing the commands."""

import importlib

import pytest
from click.testing import CliRunner

from tsbudget.cli.main import COMMANDS, SUMMARIES, cli


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_summary_is_the_first_line_of_the_command_docstring(name):
    command = importlib.import_module(f"tsbudget.cli.{COMMANDS[name]}").command
    first_line = command.help.strip().splitlines()[0]
    assert SUMMARIES[name] == first_line


def test_help_lists_every_command():
    out = CliRunner().invoke(cli, ["--help"]).output
    listed = [line.split()[0] for line in out.split("Commands:")[1].strip().splitlines()]
    assert listed == sorted(COMMANDS)
