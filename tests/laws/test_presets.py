"""Presets: named published fits that build law instances."""

import json
import math

import pytest

from tsbudget.errors import PluginNotFoundError
from tsbudget.law import Law
from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.laws.data_constrained import DataConstrained
from tsbudget.laws.kaplan import Kaplan
from tsbudget.laws.presets import PRESETS, Preset, get_preset
from tsbudget.testing import check_law


def test_required_presets_exist_and_build_their_law():
    expected = {
        "chinchilla2022": Chinchilla,
        "epoch2024": Chinchilla,
        "muennighoff2023": DataConstrained,
        "kaplan2020": Kaplan,
    }
    for name, cls in expected.items():
        law = get_preset(name)
        assert type(law) is cls and isinstance(law, Law)
        assert law.values == pytest.approx(dict(PRESETS[name].values), rel=1e-15)
        check_law(law)


def test_preset_records_are_complete_and_json_able():
    for name, preset in PRESETS.items():
        assert isinstance(preset, Preset) and preset.name == name
        assert preset.source and preset.law
        assert set(preset.values) == set(preset.build().values)
        json.dumps(preset.to_dict())


def test_epoch2024_values():
    # Besiroglu et al. 2024, eq. 3.
    assert get_preset("epoch2024").values == {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}


def test_chinchilla2022_rounds_to_the_printed_values():
    # Hoffmann et al. 2022 eq. 10 prints E 1.69, A 406.4, B 410.7, alpha 0.34, beta 0.28.
    v = get_preset("chinchilla2022").values
    assert round(v["E"], 2) == 1.69 and round(v["A"], 1) == 406.4 and round(v["B"], 1) == 410.7
    assert round(v["alpha"], 2) == 0.34 and round(v["beta"], 2) == 0.28
    assert get_preset("chinchilla2022") == Chinchilla()


def test_muennighoff2023_values():
    # Muennighoff et al. 2023 eq. 17: 521/N'^0.35 + 1488/D'^0.35 + 1.87, R_D* 15.387756, R_N* 5.309743.
    v = get_preset("muennighoff2023").values
    assert v["R_D_star"] == 15.387756 and v["R_N_star"] == 5.309743
    assert round(v["A"]) == 521 and round(v["B"]) == 1488 and round(v["E"], 2) == 1.87
    assert v["alpha"] == v["beta"] == 0.3526596
    assert math.isclose(math.log(v["A"]), 6.255414, rel_tol=1e-12)


def test_unknown_preset_lists_the_known_names():
    with pytest.raises(PluginNotFoundError) as err:
        get_preset("gopher2021")
    message = str(err.value)
    assert "gopher2021" in message
    for name in ("chinchilla2022", "epoch2024", "muennighoff2023", "kaplan2020"):
        assert name in message
    assert isinstance(err.value, LookupError)


def test_every_preset_names_its_source_and_unit():
    from tsbudget.registry import units

    for preset in PRESETS.values():
        d = preset.to_dict()
        assert d["unit"] == preset.unit and units.get(preset.unit)
        assert d["source"] and ("Table" in d["source"] or "eq." in d["source"])
        check_law(preset.build())


def test_architecture_presets():
    from tsbudget.laws.fine_grained_moe import KRAJEWSKI_TABLE1, FineGrainedMoE
    from tsbudget.laws.routing import CLARK_TABLE3, Routing

    assert get_preset("clark2022_sbase") == Routing(**CLARK_TABLE3["S-Base"])
    assert get_preset("clark2022_rlr").values == CLARK_TABLE3["RL-R"]
    assert get_preset("clark2022_hash").values["E_start"] == 4.175
    assert get_preset("krajewski2024") == FineGrainedMoE(**KRAJEWSKI_TABLE1)
    with pytest.raises(TypeError):
        Preset("x", "chinchilla", {}, "somewhere")  # the unit is required
