"""No silent corner solutions (issue 11): a free variable the law does not value is refused;
one whose optimum lands on a bound is named (``message``, ``binding``, ``at_bound``)."""

import numpy as np
import pytest

from tsbudget.errors import InputError
from tsbudget.laws.extended import Extended
from tsbudget.laws.presets import get_preset
from tsbudget.planning.frontier import frontier
from tsbudget.planning.plan import plan

EPOCH = get_preset("epoch2024").values


@pytest.mark.parametrize(
    "cost_model, free",
    [
        ("adaptive_patching", ("compression",)),  # changes only the encoder/latent cost
        ("moe", ("experts",)),                    # changes only the router cost under a dense law
        ("hierarchical", "all"),                   # both ratios: cost only
        ("recurrent_depth", ("recurrence",)),
    ],
)
def test_a_free_variable_the_law_ignores_is_refused(cost_model, free):
    with pytest.raises(InputError) as info:
        plan(1e21, cost_model=cost_model, free=free)
    msg = str(info.value)
    first = free[0] if free != "all" else "ratio_outer"
    assert f"free variable {first!r}: law 'chinchilla' does not depend on it" in msg
    assert f"--fix {first}=VALUE" in msg and "fit a law that includes it" in msg


def test_the_refusal_covers_frontiers_too():
    with pytest.raises(InputError, match="free variable 'compression'"):
        frontier([1e19, 1e21], cost_model="adaptive_patching", free=("compression",))


def test_a_law_input_with_a_flat_loss_is_refused():
    # the law takes compression, but with both exponents 0 its loss ignores it
    flat = Extended(**EPOCH, variables=("compression",), references=(4.0,), gamma=(0.0,), eta=(0.0,))
    with pytest.raises(InputError, match="takes it as an input, but at its parameter values the predicted loss "
                                         "does not change"):
        plan(1e21, law=flat, cost_model="adaptive_patching", free=("compression",))
    # fixed, the same variable is fine: its cost is charged and nothing is optimised over it
    assert plan(1e21, law=flat, cost_model="adaptive_patching", fixed={"compression": 8}).at_bound == ()


def test_a_valued_variable_with_an_interior_optimum_is_not_at_a_bound():
    law = Extended(**EPOCH, variables=("ratio_inner",), references=(1.0,), gamma=(-0.3,), eta=(0.0,))
    p = plan(1e21, law=law, cost_model="hierarchical", free=("ratio_inner",))
    assert 1 < p.variables["ratio_inner"] < 1024
    assert p.at_bound == () and "at a bound" not in p.message and p.to_dict()["at_bound"] == []


def test_an_optimum_on_a_bound_is_named_in_message_binding_and_at_bound():
    # compression makes every parameter worth more (gamma > 0) and costs nothing extra on the
    # latent model: the optimum runs into the upper bound 64
    law = Extended(**EPOCH, variables=("compression",), references=(4.0,), gamma=(0.2,), eta=(0.0,))
    p = plan(1e21, law=law, cost_model="adaptive_patching", free=("compression",))
    assert p.variables["compression"] == pytest.approx(64.0)
    assert p.at_bound == ("compression",) and "compression upper bound" in p.binding
    assert "free variable at a bound: compression=64 (its upper bound)" in p.message
    assert p.to_dict()["at_bound"] == ["compression"]
    assert p.loss <= min(
        plan(1e21, law=law, cost_model="adaptive_patching", fixed={"compression": c}).loss
        for c in np.geomspace(1, 64, 7)
    ) + 1e-12


def test_the_spending_floor_plan_still_names_a_variable_at_its_bound():
    law = Extended(**EPOCH, variables=("compression",), references=(4.0,), gamma=(0.2,), eta=(0.0,))
    p = plan(target_loss=3.0, budget_bounds=(1e21, 1e22), law=law, cost_model="adaptive_patching",
             free=("compression",))
    assert "budget lower limit" in p.binding and p.loss < 3.0
    assert p.at_bound == ("compression",) and "compression=64 (its upper bound)" in p.message
