"""Invariants of the planner (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsbudget.planning.plan import plan
from tsbudget.laws.presets import get_preset
from tsbudget.planning.serving import Serving

EPOCH = get_preset("epoch2024")
log_budget = st.floats(min_value=np.log(1e18), max_value=np.log(1e25))
served = st.one_of(st.none(), st.floats(min_value=1e9, max_value=1e12))
unique = st.one_of(st.none(), st.floats(min_value=1e9, max_value=1e12))


def serving(s):
    return None if s is None else Serving(positions=s)


@settings(max_examples=20, deadline=None)
@given(log_budget, st.floats(min_value=0.05, max_value=2.0), unique)
def test_optimal_loss_never_rises_with_budget(lb, step, U):
    small, large = np.exp(lb), np.exp(lb + step)
    a = plan(small, unique=U)
    b = plan(large, unique=U)
    assert b.loss <= a.loss + 1e-12


@settings(max_examples=20, deadline=None)
@given(log_budget, served, unique)
def test_the_whole_budget_is_spent(lb, s, U):
    C = np.exp(lb)
    if s is not None and 2 * 1e2 * s >= C:  # serving alone on the smallest model exceeds C
        return
    p = plan(C, serving=serving(s), unique=U)
    assert p.train_flops + p.inference_flops == pytest.approx(C, rel=1e-9)
    assert p.binding[0] == "budget"


@settings(max_examples=20, deadline=None)
@given(log_budget, st.sampled_from([1, 2, 4, 16, 64, 512]), unique, served)
def test_plans_do_not_change_when_only_the_unit_scale_changes(lb, patch, U, s):
    # The same data counted per patch (tokens: one patch = one position) or per cell
    # (cells with patch_length P: a position = P cells). The law in cells sees D_cells = P·D,
    # so its B is P^β times the per-patch B; unique data scales by P too.
    C = np.exp(lb)
    if s is not None and 2 * 1e2 * s >= C:
        return
    law_cells = EPOCH.replace(B=EPOCH.B * patch**EPOCH.beta)
    per_patch = plan(C, unit="tokens", unique=U, serving=serving(s))
    per_cell = plan(
        C, law=law_cells, unit="cells", unit_settings={"patch_length": patch},
        unique=None if U is None else U * patch, serving=serving(s),
    )
    assert per_cell.N == pytest.approx(per_patch.N, rel=1e-6)
    assert per_cell.positions == pytest.approx(per_patch.positions, rel=1e-6)
    assert per_cell.D == pytest.approx(per_patch.D * patch, rel=1e-6)
    assert per_cell.loss == pytest.approx(per_patch.loss, rel=1e-10)
    assert per_cell.epochs == pytest.approx(per_patch.epochs, rel=1e-6)


@settings(max_examples=15, deadline=None)
@given(st.floats(min_value=1.95, max_value=3.5))
def test_target_plan_reaches_the_target_at_the_budget_optimum(target):
    p = plan(target_loss=target)
    assert p.loss == pytest.approx(target, rel=1e-12)
    assert plan(p.train_flops).loss == pytest.approx(target, rel=1e-9)
