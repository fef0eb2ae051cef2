"""`tsbudget plugins` lists every built-in with its distribution."""

import json

import pytest

from click.testing import CliRunner

from tsbudget.cli.main import cli


def test_plugins_json_lists_every_builtin():
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    found = {(p["kind"], p["name"]): p for p in data["plugins"]}
    expected = {
        ("data unit", n) for n in ("tokens", "cells", "events", "intervention_windows")
    } | {
        ("cost model", n) for n in ("dense", "moe", "adaptive_patching", "recurrent_depth", "hierarchical")
    } | {
        ("law", n) for n in ("chinchilla", "kaplan", "data_constrained", "repetition_penalty", "extended")
    }
    assert expected <= set(found)
    assert data["warnings"] == []
    for p in found.values():
        assert p["distribution"].startswith("tsbudget ")
        assert p["description"]


def test_plugins_table_has_a_row_per_plugin():
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0
    for name in ("tokens", "moe", "chinchilla", "recurrent_depth"):
        assert name in result.output


def test_plugins_name_describes_settings_and_variables():
    result = CliRunner().invoke(cli, ["plugins", "moe", "--json"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["kind"] == "costmodel" and d["citation"].startswith("Clark et al. 2022")
    settings = {s["name"]: s for s in d["settings"]}
    assert settings["router_flops_constant"]["default"] == 14.0 and settings["d_model"]["default"] is None
    variables = {v["name"]: v for v in d["variables"]}
    assert variables["experts"] == {**variables["experts"], "lower": 1.0, "upper": 4096.0, "integer": True,
                                    "default": 8.0}
    text = CliRunner().invoke(cli, ["plugins", "hierarchical"]).stdout
    assert "settings (--cost-setting KEY=VALUE):" in text and "levels" in text
    assert "ratio_inner" in text and "[1, 1024] real, log scale, default 4" in text
    law = json.loads(CliRunner().invoke(cli, ["plugins", "chinchilla", "--json"]).stdout)
    assert [p["name"] for p in law["parameters"]] == ["E", "A", "B", "alpha", "beta"]
    assert law["inputs"] == ["N", "D"] and law["settings"] == []
    cells = json.loads(CliRunner().invoke(cli, ["plugins", "cells", "--kind", "unit", "--json"]).stdout)
    assert {s["name"]: s["default"] for s in cells["settings"]}["patch_length"] == 1


def test_an_unknown_plugin_lists_the_installed_ones(capsys):
    from tsbudget.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["plugins", "hierarchial"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "no plugin named 'hierarchial'" in err and "hierarchical" in err


@pytest.mark.parametrize(
    "args, match",
    [
        (["--cost-model", "hierarchical", "--cost-setting", "foo=1"],
         "cost model 'hierarchical' has no setting 'foo'; its settings are levels"),
        (["--unit", "cells", "--unit-setting", "patch=4"],
         "data unit 'cells' has no setting 'patch'; its settings are patch_length, channel_grouping, channels"),
        (["--cost-model", "moe", "--fix", "expert=4"],
         "cost model 'moe' has no variable 'expert'; its variables are ['experts', 'granularity', 'top_k']"),
    ],
)
def test_an_unknown_setting_or_variable_lists_the_valid_ones(args, match, capsys):
    from tsbudget.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["plan", "--budget", "1e21", *args])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and match in err and "TypeError" not in err and err.count("\n") == 1


def test_presets_lists_every_preset_with_source_and_unit():
    from tsbudget.laws.presets import PRESETS

    d = json.loads(CliRunner().invoke(cli, ["presets", "--json"]).stdout)
    rows = {p["name"]: p for p in d["presets"]}
    assert set(rows) == set(PRESETS)
    for name, p in rows.items():
        assert p["source"] == PRESETS[name].source and p["law"] == PRESETS[name].law
        assert p["values"] == dict(PRESETS[name].values) and p["unit"]
    text = CliRunner().invoke(cli, ["presets"]).stdout
    assert "unit" in text and all(name in text for name in PRESETS)
