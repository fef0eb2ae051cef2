"""Saved fit files of the wrong shape, read by every command that loads one (plan, frontier,
sweep, simulate) and by ``FitResult.load``: a clean error naming the field, never a traceback."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.bad_inputs.conftest import assert_refused, broken_fit
from tsbudget.errors import InputError
from tsbudget.fitting.result import FitResult


def _set(key, value):
    def edit(d):
        d[key] = value
    return edit


def _drop(key):
    def edit(d):
        d.pop(key)
    return edit


def _nested(path, value):
    def edit(d):
        target = d
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] = value
    return edit


EDITS = [
    # (id, edit, fragment)
    ("missing law_spec", _drop("law_spec"), "law_spec"),
    ("missing runs", _drop("runs"), "runs"),
    ("missing objective", _drop("objective"), "objective"),
    ("missing parameters", _drop("parameters"), "parameters"),
    ("extra field", _set("surprise", 1), "surprise"),
    ("objective text", _set("objective", "low"), "objective"),
    ("objective null", _set("objective", None), "objective"),
    ("success text", _set("success", "yes"), "success"),
    ("n_runs float", _set("n_runs", 3.5), "n_runs"),
    ("n_runs negative", _set("n_runs", -1), "n_runs"),
    ("n_runs wrong", _set("n_runs", 5), "n_runs"),
    ("n_starts text", _set("n_starts", "many"), "n_starts"),
    ("free not list", _set("free", "alpha"), "free"),
    ("free unknown", _set("free", ["nosuch"]), "free"),
    ("fixed list", _set("fixed", [1, 2]), "fixed"),
    ("fixed unknown", _set("fixed", {"nosuch": 1.0}), "fixed"),
    ("options list", _set("options", []), "options"),
    ("diagnostics text", _set("diagnostics", "x"), "diagnostics"),
    ("law_spec list", _set("law_spec", []), "law_spec"),
    ("law_spec unknown law", _nested(["law_spec", "name"], "nosuch"), "nosuch"),
    ("law_spec extra field", _nested(["law_spec", "fields", "nosuch"], 1), "nosuch"),
    ("law_spec bad value", _nested(["law_spec", "fields", "E"], "x"), "law_spec"),
    ("law name differs", _set("law", "kaplan"), "law"),
    ("parameters edited", _nested(["parameters", "alpha"], 0.9), "alpha"),
    ("parameters extra", _nested(["parameters", "zeta"], 0.9), "parameters"),
    ("parameters text", _nested(["parameters", "alpha"], "x"), "alpha"),
    ("runs list", _set("runs", [1]), "runs"),
    ("runs schema missing", _nested(["runs", "schema"], None), "runs"),
    ("runs unknown dtype", _nested(["runs", "schema", "N"], "Decimal"), "N"),
    ("runs column text", _nested(["runs", "columns", "N"], "x"), "N"),
    ("runs column short", _nested(["runs", "columns", "N"], [1.0]), "lengths"),
    ("runs column bad cells", _nested(["runs", "columns", "N"], ["x"] * 18), "runs"),
    ("draws file path", _set("draws_file", "../etc/passwd"), "draws_file"),
    ("draws file absolute", _set("draws_file", "/tmp/x.nc"), "draws_file"),
    ("draws file number", _set("draws_file", 3), "draws_file"),
    ("draws missing", _set("draws_file", "nosuch.draws.nc"), "nosuch.draws.nc"),
]


@pytest.mark.parametrize("edit, fragment", [e[1:] for e in EDITS], ids=[e[0] for e in EDITS])
def test_load_refuses(files, tmp_path, edit, fragment):
    path = broken_fit(files, tmp_path, "fit.json", edit)
    with pytest.raises(InputError) as info:
        FitResult.load(path)
    assert fragment.lower() in str(info.value).lower()
    assert "fit.json" in str(info.value)


COMMANDS = [
    ["plan", "--budget", "1e21", "--fit"],
    ["frontier", "--budgets", "1e20,1e21", "--fit"],
    ["sweep", "--budgets", "1e18:1e19:2", "--fit"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=[a[0] for a in COMMANDS])
@pytest.mark.parametrize("edit, fragment", [e[1:] for e in EDITS[::3]], ids=[e[0] for e in EDITS[::3]])
def test_commands_refuse(files, tmp_path, out_dir, argv, edit, fragment):
    path = broken_fit(files, tmp_path, "fit.json", edit)
    assert_refused([*argv, path], fragment, out_dir)


def test_simulate_refuses_broken_fit(files, tmp_path, out_dir):
    path = broken_fit(files, tmp_path, "fit.json", _drop("law_spec"))
    assert_refused(["simulate", files["sweep"], "--fit", path], "law_spec", out_dir)


def test_draws_edited_refused(files, tmp_path, out_dir):
    """Draws that are not the ones written with the JSON (SHA-256 differs) are refused."""
    src = files["fit_draws"]
    data = json.loads(open(src).read())
    shutil.copy(src, tmp_path / "fitb.json")
    (tmp_path / data["draws_file"]).write_bytes(b"CDF\x01 not the draws")
    assert_refused(["plan", "--budget", "1e21", "--fit", str(tmp_path / "fitb.json")], "SHA-256", out_dir)


def test_top_level_list(files, out_dir):
    assert_refused(["plan", "--budget", "1e21", "--fit", files["listjson"]], "list", out_dir)
