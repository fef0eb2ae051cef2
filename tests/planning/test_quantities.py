"""One per-plan quantities function behind Plan, the frontier and the IsoFLOP slice."""

import numpy as np
import pytest

from tsbudget.planning.frontier import frontier
from tsbudget.planning.plan import plan
from tsbudget.planning.quantities import QUANTITIES, plan_quantities
from tsbudget.planning.request import PlanRequest
from tsbudget.planning.serving import Serving


def test_plan_and_frontier_report_the_same_quantities():
    kwargs = dict(unique=3e10, serving=Serving(positions=1e11))
    budgets = [1e20, 1e21]
    ds = frontier(budgets, **kwargs)
    for j, b in enumerate(budgets):
        p = plan(b, **kwargs)
        for name in QUANTITIES:
            assert float(ds[name][j]) == pytest.approx(getattr(p, name), rel=1e-9), name


def test_quantities_broadcast_and_follow_their_formulas():
    r = PlanRequest.build(1e21, unique=1e10, serving=Serving(positions=1e9))
    N, D = np.array([1e8, 1e9]), np.array([2e10, 5e9])
    q = plan_quantities(r.problem, r.hardware, N, D, {})
    assert set(q) == set(QUANTITIES) and all(np.shape(v) == (2,) for v in q.values())
    np.testing.assert_allclose(q["train_flops"], 6 * N * D, rtol=1e-12)
    np.testing.assert_allclose(q["inference_flops"], 2 * N * 1e9, rtol=1e-12)
    np.testing.assert_allclose(q["epochs"], D / 1e10, rtol=1e-12)
    np.testing.assert_allclose(q["train_gpu_hours"], q["train_flops"] / (989.4e12 * 0.40 * 3600), rtol=1e-12)
    # repeated data is worth less than fresh data (Muennighoff et al. 2023 eq. 5); fresh counts in full
    assert q["effective_data"][0] < D[0] and q["effective_data"][1] == D[1]
