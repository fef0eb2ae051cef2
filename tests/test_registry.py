"""The registry: lazy discovery, caching, validation, broken plugins, unknown names."""

import importlib.metadata as metadata
import subprocess
import sys
import textwrap
import warnings

import attrs
import numpy as np
import pytest

import tsbudget
from tsbudget.cost_model import CostModel
from tsbudget.errors import (
    InputError,
    PluginError,
    PluginNotFoundError,
    PluginTypeError,
    PluginWarning,
    TsbudgetError,
)
from tsbudget.registry import Registry


@attrs.frozen
class Flat(CostModel):
    """A toy cost model used only by these tests."""

    name = "flat"
    description = "toy: 1 FLOP per parameter per position"
    factor: float = 1.0

    def train_flops_per_position(self, n, **variables):
        return self.factor * np.asarray(n, dtype=float)

    def inference_flops_per_position(self, n, **variables):
        return self.factor * np.asarray(n, dtype=float)

    def total_params(self, n, **variables):
        return np.asarray(n, dtype=float)


class NotACostModel:
    name = "impostor"
    description = "not a subclass"


def make_ep(name, value, group="tsbudget.costmodels"):
    return metadata.EntryPoint(name=name, value=value, group=group)


def registry_of(*eps):
    return Registry("tsbudget.costmodels", CostModel, "cost model", entry_points=lambda: list(eps))


HERE = "tests.test_registry"


def test_hand_built_entry_points_load_and_cache():
    reg = registry_of(make_ep("flat", f"{HERE}:Flat"))
    assert reg.names() == ["flat"]
    cls = reg.get("flat")
    assert cls is Flat
    assert reg.get("flat") is cls  # cached
    inst = reg.resolve("flat", factor=2.0)
    assert isinstance(inst, Flat) and inst.factor == 2.0
    assert reg.resolve(inst) is inst
    assert reg.resolve(Flat).factor == 1.0


def test_unknown_name_lists_installed():
    reg = registry_of(make_ep("flat", f"{HERE}:Flat"), make_ep("other", f"{HERE}:Flat"))
    with pytest.raises(PluginNotFoundError, match=r"no cost model named 'nope'; installed: flat, other") as info:
        reg.get("nope")
    assert isinstance(info.value, LookupError) and isinstance(info.value, TsbudgetError)


def test_broken_plugin_is_named_in_a_warning_and_the_rest_load():
    reg = registry_of(
        make_ep("flat", f"{HERE}:Flat"),
        make_ep("missing", "no_such_module_xyz:Thing"),
        make_ep("impostor", f"{HERE}:NotACostModel"),
    )
    with pytest.warns(PluginWarning) as record:
        loaded = reg.load_all()
    assert list(loaded) == ["flat"]
    messages = [str(w.message) for w in record]
    missing = next(m for m in messages if "'missing'" in m)
    # group, name, module:attr, distribution and cause are all named
    for part in ("tsbudget.costmodels", "no_such_module_xyz:Thing", "(no distribution)", "ModuleNotFoundError"):
        assert part in missing
    impostor = next(m for m in messages if "'impostor'" in m)
    assert "not a subclass of CostModel" in impostor
    with pytest.raises(PluginError, match="no_such_module_xyz"):
        reg.get("missing")
    with pytest.raises(PluginTypeError, match="NotACostModel"):
        reg.get("impostor")


def test_name_mismatch_and_abstract_plugins_are_rejected():
    reg = registry_of(make_ep("wrongname", f"{HERE}:Flat"), make_ep("abstract", "tsbudget.cost_model:CostModel"))
    with pytest.raises(PluginTypeError, match="declares name 'flat', registered as 'wrongname'"):
        reg.get("wrongname")
    with pytest.raises(PluginTypeError, match="does not implement"):
        reg.get("abstract")


def test_refresh_rereads_entry_points():
    eps = [make_ep("flat", f"{HERE}:Flat")]
    reg = Registry("tsbudget.costmodels", CostModel, "cost model", entry_points=lambda: list(eps))
    assert reg.names() == ["flat"]
    eps.append(make_ep("flat2", f"{HERE}:Flat"))
    assert reg.names() == ["flat"]  # cached until refresh
    reg.refresh()
    assert reg.names() == ["flat", "flat2"]


def test_resolve_rejects_wrong_types():
    reg = registry_of(make_ep("flat", f"{HERE}:Flat"))
    with pytest.raises(PluginTypeError, match="expected a cost model name"):
        reg.resolve(3.0)
    with pytest.raises(InputError, match="has no setting 'no_such_field'; its settings are"):
        reg.resolve("flat", no_such_field=1)


def test_law_registry_is_not_shadowed_by_the_builtin_laws_package():
    import tsbudget.laws.chinchilla  # noqa: F401  (binds the subpackage as tsbudget.laws)

    assert isinstance(tsbudget.law_registry, Registry)
    assert tsbudget.law_registry.get("chinchilla") is tsbudget.laws.chinchilla.Chinchilla


def test_every_builtin_is_registered_through_entry_points():
    # Built-ins come from this distribution's metadata, exactly as a third-party plugin would.
    eps = {ep.name: ep for ep in metadata.entry_points(group="tsbudget.costmodels")}
    assert {"dense", "moe", "adaptive_patching", "recurrent_depth", "hierarchical"} <= set(eps)
    assert all(ep.dist is not None and ep.dist.name == "tsbudget" for ep in eps.values())
    assert set(tsbudget.unit_registry.names()) >= {"tokens", "cells", "events", "intervention_windows"}
    assert set(tsbudget.law_registry.names()) >= {"chinchilla", "kaplan", "data_constrained", "repetition_penalty", "extended"}


def test_importing_tsbudget_loads_no_plugin_module():
    code = textwrap.dedent(
        """
        import sys, tsbudget
        tsbudget.unit_registry.names(); tsbudget.costmodel_registry.names(); tsbudget.law_registry.names()
        loaded = [m for m in sys.modules if m.split('.')[0] in ('units', 'costmodels') or m.startswith('tsbudget.laws')]
        print(','.join(loaded))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_plugin_from_another_distribution_is_found(tmp_path, monkeypatch):
    # A throwaway distribution: a module plus its own dist-info with an entry point.
    pkg = tmp_path / "tsb_thirdparty_unit.py"
    pkg.write_text(
        textwrap.dedent(
            """
            import attrs
            from tsbudget.data_unit import DataUnit, DataCount

            @attrs.frozen
            class Frames(DataUnit):
                name = "frames"
                description = "video frames, 4 positions each"
                columns = {"n_frames": "frames per clip"}

                def count(self, table):
                    total = float(table["n_frames"].sum())
                    return DataCount(self.name, total, total)

                def positions_per_unit(self):
                    return 4.0
            """
        )
    )
    dist = tmp_path / "tsb_thirdparty-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tsb-thirdparty\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text("[tsbudget.units]\nframes = tsb_thirdparty_unit:Frames\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        tsbudget.unit_registry.refresh()
        assert "frames" in tsbudget.unit_registry.names()
        unit = tsbudget.unit_registry.resolve("frames")
        assert unit.to_positions(10.0) == 40.0
        info = {i.name: i for i in tsbudget.unit_registry.info()}
        assert info["frames"].distribution == "tsb-thirdparty 1.2.3"
    finally:
        monkeypatch.undo()
        tsbudget.unit_registry.refresh()
    assert "frames" not in tsbudget.unit_registry.names()


def test_runtime_registration_is_validated():
    reg = registry_of()
    reg.add("flat", Flat)
    assert reg.get("flat") is Flat
    with pytest.raises(PluginTypeError):
        reg.add("impostor", NotACostModel)


def test_duplicate_names_warn_and_keep_the_first():
    reg = registry_of(make_ep("flat", f"{HERE}:Flat"), make_ep("flat", "elsewhere:Flat"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert reg.names() == ["flat"]
    assert any("claimed by" in str(w.message) for w in caught)


def _module(tmp_path, name, body):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))


def test_system_exit_at_import_is_isolated(tmp_path, monkeypatch):
    _module(tmp_path, "tsb_exits_at_import", "raise SystemExit(3)\n")
    _module(tmp_path, "tsb_exits_again", "import sys\nsys.exit('bye')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = registry_of(
        make_ep("exits", "tsb_exits_at_import:Thing"),
        make_ep("flat", f"{HERE}:Flat"),
        make_ep("exits2", "tsb_exits_again:Thing"),
    )
    with pytest.warns(PluginWarning) as record:
        loaded = reg.load_all()
    assert list(loaded) == ["flat"]
    messages = " | ".join(str(w.message) for w in record)
    assert "'exits' (tsb_exits_at_import:Thing" in messages and "SystemExit: 3" in messages
    assert "'exits2' (tsb_exits_again:Thing" in messages and "SystemExit: bye" in messages
    with pytest.raises(PluginError, match="failed to load: SystemExit"):
        reg.get("exits")


def test_keyboard_interrupt_at_import_is_not_swallowed(tmp_path, monkeypatch):
    _module(tmp_path, "tsb_interrupted_at_import", "raise KeyboardInterrupt\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = registry_of(make_ep("interrupted", "tsb_interrupted_at_import:Thing"))
    with pytest.raises(KeyboardInterrupt):
        reg.load_all()


def test_plugins_command_survives_a_plugin_that_exits_at_import(tmp_path):
    # An installed third-party distribution whose module calls sys.exit() at import.
    _module(tmp_path, "tsb_exiting_costmodel", "import sys\nsys.exit(7)\n")
    dist = tmp_path / "tsb_exiting-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tsb-exiting\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[tsbudget.costmodels]\nexiting = tsb_exiting_costmodel:Model\n")
    code = "import sys; sys.path.insert(0, sys.argv[1]); from tsbudget.cli.main import main; main(['plugins', '--json'])"
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    import json

    listing = json.loads(out.stdout)
    assert {"dense", "tokens", "chinchilla"} <= {p["name"] for p in listing["plugins"]}
    warned = [w for w in listing["warnings"] if "'exiting'" in w]
    assert warned and "tsb-exiting 0.1" in warned[0] and "SystemExit: 7" in warned[0]
