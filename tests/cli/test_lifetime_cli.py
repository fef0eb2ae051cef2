"""``tsbudget lifetime``: the lifetime-cost table and plot from the shell (issue 13)."""

import polars as pl
import pytest
from click.testing import CliRunner

from tsbudget.cli.main import cli, main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_table_plot_and_summary(tmp_path):
    out, png = tmp_path / "lifetime.csv", tmp_path / "lifetime.png"
    r = run("lifetime", "--target-loss", "2.2", "--loads", "0,1e9", "--context", "900", "--generate", "100",
            "--latency-ms", "20", "--points", "9", "--price-per-gpu-hour", "2", "--out", out, "--plot", png)
    assert r.exit_code == 0, r.output
    assert "cheapest model size per serving load" in r.stdout
    table = pl.read_csv(out)
    assert table.height == 18 and set(table["load"].to_list()) == {0.0, 1e9}
    assert png.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize(
    "args, match",
    [
        (["--loads", "1,2", "--serve-requests", "5", "--context", "9"], "the served loads come from --loads"),
        (["--loads", "1,-2"], "every load must be >= 0"),
        (["--loads", "1", "--money"], "give --price-per-gpu-hour"),
        (["--loads", "1", "--latency-ms", "3"], "needs a roofline workload"),
        (["--loads", "1", "--out", "t.txt"], ".csv"),
    ],
)
def test_errors_are_one_line_and_exit_2(args, match, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["lifetime", "--target-loss", "2.2", *args])
    captured = capsys.readouterr()
    assert exc.value.code == 2 and match in captured.err and captured.err.count("\n") == 1
