"""Kaplan et al. 2020 joint law, eq. 1.5 with the Table 2 constants."""

import numpy as np
import pytest

from tests.laws.helpers import assert_broadcasts, assert_gradient_matches, assert_grid_finite
from tsbudget.errors import InputError
from tsbudget.laws.kaplan import Kaplan
from tsbudget.registry import laws
from tsbudget.testing import check_law

INPUTS = {"N": np.geomspace(1e5, 1e11, 6), "D": np.geomspace(1e7, 1e13, 6)[::-1]}


def test_conforms_and_is_registered():
    check_law(Kaplan())
    assert laws.get("kaplan") is Kaplan


def test_defaults_are_table_2():
    # Kaplan et al. 2020 Table 2 (fits to L(N, D)).
    assert Kaplan().values == {"alpha_N": 0.076, "alpha_D": 0.103, "N_c": 6.4e13, "D_c": 1.8e13}


def test_formula_and_limits():
    law = Kaplan()
    n, d = INPUTS["N"], INPUTS["D"]
    expected = ((6.4e13 / n) ** (0.076 / 0.103) + 1.8e13 / d) ** 0.103
    np.testing.assert_allclose(law.loss(N=n, D=d), expected, rtol=1e-14)
    # D -> infinity gives L(N) = (N_c/N)^alpha_N (eq. 1.1 form); N -> infinity gives (D_c/D)^alpha_D.
    assert law.loss(N=1e9, D=1e300) == pytest.approx((6.4e13 / 1e9) ** 0.076, rel=1e-12)
    assert law.loss(N=1e300, D=1e10) == pytest.approx((1.8e13 / 1e10) ** 0.103, rel=1e-12)


def test_log_form_and_gradient():
    law = Kaplan()
    np.testing.assert_allclose(law.log_evaluate(law.values, INPUTS), np.log(law.loss(**INPUTS)), rtol=1e-13)
    assert_gradient_matches(law, INPUTS)
    assert_gradient_matches(Kaplan(alpha_N=0.2, alpha_D=0.05, N_c=1e10, D_c=1e15), INPUTS)


def test_broadcasting():
    assert_broadcasts(Kaplan(), INPUTS)


def test_bad_inputs_name_the_input():
    with pytest.raises(InputError, match="N"):
        Kaplan().loss(N=-5.0, D=1e9)
    with pytest.raises(InputError, match="'D'"):
        Kaplan().loss(N=1e9)


def test_default_grid_is_finite():
    assert assert_grid_finite(Kaplan(), INPUTS) == 81


def test_compute_efficient_allocation_is_the_closed_form_hook():
    import numpy as np
    import pytest

    from tsbudget.errors import InputError
    from tsbudget.laws.kaplan import Kaplan, kaplan_frontier

    law = Kaplan(allocation="compute_efficient")
    n, d = law.optimal_allocation(np.array([1e20, 1e21]), params={"alpha_N": np.full((3, 1), 0.076)})
    assert n.shape == (3, 2) and np.allclose(n, kaplan_frontier([1e20, 1e21])[0])
    with pytest.raises(InputError, match="no closed-form allocation"):
        Kaplan().optimal_allocation(1e21)
    with pytest.raises(ValueError):
        Kaplan(allocation="nosuch")
