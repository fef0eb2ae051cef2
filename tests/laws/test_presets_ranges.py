"""Presets carry the ranges of the runs they were fitted on (issue 14, point 5)."""

import json

import pytest

from tsbudget.datasets.chinchilla import load_chinchilla_runs
from tsbudget.datasets.routing import routing_law_runs
from tsbudget.laws.presets import PRESET_RANGES, PRESETS
from tsbudget.laws.ranges import FitRanges


def _span(df, column):
    return float(df[column].min()), float(df[column].max())


def test_every_preset_carries_ranges_in_its_record():
    assert set(PRESET_RANGES) == set(PRESETS)
    for name, preset in PRESETS.items():
        assert isinstance(preset.ranges, FitRanges), name
        assert preset.ranges.n is not None, name  # every source states its model sizes
        record = json.loads(json.dumps(preset.to_dict()))
        assert FitRanges.from_dict(record["ranges"]) == preset.ranges


def test_epoch2024_ranges_are_those_of_the_refit_runs():
    runs = load_chinchilla_runs()
    kept = runs.sort("loss").head(runs.height - 5)  # Besiroglu et al. drop the 5 of highest loss
    r = PRESETS["epoch2024"].ranges
    for pair, column in ((r.budget, "flops"), (r.n, "N"), (r.d, "D")):
        assert pair == pytest.approx(_span(kept, column), rel=1e-4)
    # Hoffmann et al.'s own fit: the same runs' budgets, and the sizes their abstract states
    assert PRESETS["chinchilla2022"].ranges.budget == pytest.approx(_span(runs, "flops"), rel=1e-4)
    assert PRESETS["chinchilla2022"].ranges.n == (70e6, 16e9)


@pytest.mark.parametrize("router, preset", [("S-Base", "clark2022_sbase"), ("RL-R", "clark2022_rlr"),
                                            ("Hash", "clark2022_hash")])
def test_clark_ranges_are_those_of_the_released_runs(router, preset):
    runs = routing_law_runs(router)
    r = PRESETS[preset].ranges
    assert r.budget == pytest.approx(_span(runs, "flops"), rel=1e-4)
    assert r.n == pytest.approx(_span(runs, "N"), rel=1e-4)
    assert r.d is None


def test_ludziejewski_budget_span_is_6nd_of_the_listed_extremes():
    r = PRESETS["ludziejewski2025"].ranges
    assert r.budget == pytest.approx((6 * 79e6 * 500e6, 6 * 1.1e9 * 80e9), rel=1e-12)
    assert r.n[0] * r.d[0] * 6 == pytest.approx(r.budget[0], rel=1e-12)


def test_a_plan_past_the_runs_reads_its_extrapolation_factor():
    r = PRESETS["epoch2024"].ranges
    out = r.ratios(budget=1e23, n=1e9, d=1e13)
    assert out["budget"] == pytest.approx(1e23 / 1.2956e22)
    assert out["n"] == 1.0 and out["d"] == pytest.approx(1e13 / 3.1775e11)
    assert PRESETS["muennighoff2023"].ranges.ratios(budget=1e23, n=1e12) == {"n": pytest.approx(1e12 / 9e9)}
