"""The budget table's binding constraints, tested for all budgets at once
(:func:`~tsbudget.planning.assembly.budget_bindings`), are those each plan reports itself
(:func:`~tsbudget.planning.assembly.binding` through :func:`~tsbudget.planning.solve.solve_budgets`),
on frontiers where model-size, data and free-variable bounds bind (issue 15)."""

import numpy as np
import pytest

from tsbudget.planning.request import PlanRequest
from tsbudget.planning.serving import Serving
from tsbudget.planning.solve import budget_table, solve_budgets

BUDGETS = np.geomspace(1e19, 1e25, 9)


def _moe(**kw):
    from tsbudget.laws.joint_moe import JointMoE

    return dict(law=JointMoE(), cost_model="moe", fixed={"top_k": 1}, hardware="h100-sxm", **kw)


@pytest.mark.parametrize("kw, expect", [
    (dict(unique=1e11, n_bounds=(1e9, 1e10)), ("N upper bound", "N lower bound")),
    (dict(unique=1e11, d_bounds=(5e10, 2e12), method="general"), ("D lower bound", "D upper bound")),
    (_moe(free=("experts",), serving=Serving(positions=1e11)), ("experts upper bound",)),
])
def test_budget_bindings_are_what_each_plan_reports(kw, expect):
    request = PlanRequest.build(float(BUDGETS[0]), **kw)
    table = budget_table(request, BUDGETS)
    plans = solve_budgets(request, BUDGETS)
    assert table.binding == tuple(p.binding for p in plans)
    reported = "; ".join("; ".join(b) for b in table.binding)
    for name in expect:  # the case under test binds it somewhere
        assert name in reported, (name, table.binding)
