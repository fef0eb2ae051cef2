"""PlanRequest: the planner's keywords resolved and checked in one place."""

import math

import pytest

from tsbudget.errors import InputError
from tsbudget.planning.request import DEFAULT_N_BOUNDS, PlanRequest


def test_build_resolves_budget_mode_and_defaults():
    r = PlanRequest.build(1e21)
    assert (r.mode, r.lb, r.ub, r.target, r.budget_given) == ("budget", 1e21, 1e21, None, (1e21, 1e21))
    assert r.problem.n_bounds == DEFAULT_N_BOUNDS and r.problem.unit.name == "tokens"
    assert r.problem.cost_model.name == "dense" and r.method == "auto" and r.draws is None
    # at least one model position of data
    assert r.problem.d_bounds == (1.0, math.inf)


def test_build_target_mode_with_a_cap():
    r = PlanRequest.build(1e24, target_loss=2.4)
    assert (r.mode, r.lb, r.ub, r.target, r.budget_given) == ("target", 0.0, 1e24, 2.4, (0.0, 1e24))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"budget": -1.0}, "budget"),
        ({"budget": 1e21, "budget_bounds": (1e20, 1e21)}, "budget_bounds"),
        ({"budget": 1e21, "method": "fast"}, "method"),
        ({"budget": 1e21, "level": 1.5}, "level"),
        ({"budget": 1e21, "n_bounds": (0, 1e9)}, "n_bounds"),
        ({"budget": 1e21, "fixed": {"nope": 1}}, "nope"),
        ({"budget": 1e21, "unique": 0}, "unique"),
        ({"budget": 1e21, "repetition_decay": -2}, "repetition_decay"),
    ],
)
def test_build_refuses_bad_input_naming_it(kwargs, field):
    with pytest.raises(InputError, match=field):
        PlanRequest.build(**kwargs)


def test_at_budget_and_with_params_derive_point_requests():
    r = PlanRequest.build(target_loss=2.4, draws={"E": [1.8, 1.9]})
    at = r.at_budget(1e20)
    assert (at.mode, at.lb, at.ub, at.target, at.budget_given, at.draws) == ("budget", 1e20, 1e20, None, (1e20, 1e20), None)
    drawn = r.with_params({**r.problem.params, "E": 1.9})
    assert drawn.problem.params["E"] == 1.9 and r.problem.params["E"] != 1.9 and drawn.draws is None
