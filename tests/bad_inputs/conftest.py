"""Shared pieces of the bad-input suite: small input files, and running the CLI in-process.

Every case runs ``tsbudget.cli.main.main`` (the console entry point, with its error handling)
and asserts exit status 2, one line on stderr naming the offending option or field, no
traceback, and no file left in the output folder. Inputs are tiny (18 runs, fits started
from ``--init``) or refused before any fitting, so the whole suite runs in seconds.
"""

from __future__ import annotations

import json
import re

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from tsbudget.cli.main import main
from tsbudget.errors import TsbudgetError

# starting values for the tiny runs (Hoffmann et al. 2022, eq. 10, as the chinchilla law's form)
INIT = ["--init", "E=1.7", "--init", "A=400", "--init", "B=400", "--init", "alpha=0.3", "--init", "beta=0.3"]
COLS = ["--n-col", "N", "--d-col", "D", "--loss-col", "loss"]


def invoke(argv, stdin: str | bytes | None = None) -> tuple[int, str, str]:
    """``(exit status, stdout, stderr)`` of ``tsbudget ARGV`` run in-process through the entry point.

    An exception escaping ``main`` is a traceback the user would see: it propagates, failing the test."""
    runner = CliRunner()
    with runner.isolation(input=stdin, env={"TSBUDGET_DEBUG": "1"}) as (out, err, _):
        try:
            main([str(a) for a in argv])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return code, out.getvalue().decode(), err.getvalue().decode()


def assert_refused(argv, fragment: str, folder=None, stdin=None) -> str:
    """``tsbudget ARGV`` exits 2 with one stderr line containing ``fragment`` (case-insensitive),
    no traceback, and leaves ``folder`` (when given) as it was; returns the message."""
    before = sorted(p.name for p in folder.iterdir()) if folder is not None else None
    code, out, err = invoke(argv, stdin)
    text = out + err
    assert "Traceback" not in text, text
    assert code == 2, f"exit {code}: {text}"
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"not one line: {err!r}"
    assert fragment.lower() in lines[0].lower(), f"{fragment!r} not in {lines[0]!r}"
    if folder is not None:
        assert sorted(p.name for p in folder.iterdir()) == before, "files left behind"
    return lines[0]


def assert_api_refused(func, fragment: str, *args, **kwargs) -> str:
    """``func(*args, **kwargs)`` raises a TsbudgetError whose message contains ``fragment``."""
    with pytest.raises(TsbudgetError) as info:
        func(*args, **kwargs)
    message = str(info.value)
    assert fragment.lower() in message.lower(), f"{fragment!r} not in {message!r}"
    return message


def expand(argv, files: dict) -> list[str]:
    """Fill ``{name}`` placeholders of ARGV from ``files``."""
    return [str(a).format(**files) for a in argv]


def tiny_runs() -> pl.DataFrame:
    """18 runs (6 sizes x 3 budgets) from L = E + A/N^a + B/D^b with 1% noise (seed 0)."""
    rng = np.random.default_rng(0)
    n = np.repeat(np.geomspace(1e7, 1e9, 6), 3)
    c = np.tile([1e18, 1e19, 1e20], 6)
    d = c / (6 * n)
    loss = (1.69 + 406.4 / n**0.34 + 410.7 / d**0.28) * np.exp(rng.normal(0, 0.01, n.size))
    return pl.DataFrame({"N": n, "D": d, "flops": c, "loss": loss, "system": ["a", "b"] * 9})


@pytest.fixture(scope="session")
def files(tmp_path_factory) -> dict:
    """Paths of the shared inputs (read-only): runs, a fit with and without draws, a sweep,
    a series, regimes, and broken variants."""
    root = tmp_path_factory.mktemp("bad_inputs")
    f = {"dir": str(root)}
    runs = tiny_runs()
    f["runs"] = str(root / "runs.csv")
    runs.write_csv(f["runs"])
    f["runs_parquet"] = str(root / "runs.parquet")
    runs.write_parquet(f["runs_parquet"])
    f["fit"] = str(root / "fit.json")
    code, out, err = invoke(["fit", f["runs"], *COLS, *INIT, "--out", f["fit"]])
    assert code == 0, err
    f["fit_draws"] = str(root / "fitb.json")
    code, out, err = invoke(["fit", f["runs"], *COLS, *INIT, "--bootstrap", "4", "--out", f["fit_draws"]])
    assert code == 0, err
    f["sweep"] = str(root / "sweep.csv")
    code, out, err = invoke(["sweep", "--preset", "chinchilla2022", "--budgets", "1e18:1e19:2", "--per-budget", "3",
                             "--out", f["sweep"]])
    assert code == 0, err
    t = np.arange(400)
    series = pl.DataFrame({"time": t, "x": np.sin(t / 5.0), "y": np.cos(t / 7.0),
                           "label": ["normal"] * 300 + ["rare"] * 100})
    f["series"] = str(root / "series.csv")
    series.write_csv(f["series"])
    f["regimes"] = str(root / "regimes.json")
    code, out, err = invoke(["redundancy", f["series"], "--window", "20", "--label-col", "label",
                             "--out", f["regimes"]])
    assert code == 0, err
    f["windows"] = str(root / "windows.npy")
    np.save(f["windows"], np.random.default_rng(1).normal(size=(30, 8, 2)))
    (root / "empty.csv").write_text("N,D,loss\n")
    f["empty"] = str(root / "empty.csv")
    (root / "dupcols.csv").write_text(re.sub(r"^N,D,", "N,N,", runs.write_csv(), count=1))
    f["dupcols"] = str(root / "dupcols.csv")
    (root / "text.csv").write_text("N,D,loss\n1e8,abc,3.1\n2e8,2e9,3.0\n")
    f["textcol"] = str(root / "text.csv")
    (root / "runs.xlsx").write_text("not a table")
    f["xlsx"] = str(root / "runs.xlsx")
    (root / "garbage.csv").write_bytes(b"\x00\x01\x02\xff\xfe")
    f["garbage"] = str(root / "garbage.csv")
    (root / "notjson.json").write_text("{not json")
    f["notjson"] = str(root / "notjson.json")
    (root / "list.json").write_text("[1, 2]")
    f["listjson"] = str(root / "list.json")
    f["missing"] = str(root / "no-such-file.csv")
    f["nodir"] = str(root / "no-such-folder")
    return f


def broken_fit(files: dict, folder, name: str, edit) -> str:
    """A copy of the saved fit with ``edit(data)`` applied, written to ``folder/name``."""
    data = json.loads(open(files["fit"]).read())
    edit(data)
    path = folder / name
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture
def out_dir(tmp_path):
    """An empty folder for outputs; cases check nothing is left in it."""
    d = tmp_path / "out"
    d.mkdir()
    return d
