"""The batched damped Newton (tsbudget.optim.newton) and the Hessian it is fed by the fit's objective."""

import numpy as np
import pytest

from tsbudget.fitting.objective import Objective
from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.optim.newton import minimize_newton
from tsbudget.optim.stopping import RowConvergence

# one shifted Rosenbrock function per row: row i has its minimum 0 at (1 + c_i, 1 + c_i)
SHIFT = np.linspace(-0.5, 0.5, 7)


def shifted(x, rows):
    c = SHIFT[rows]
    a, b = x[:, 0] - c, x[:, 1] - c
    f = (1 - a) ** 2 + 100 * (b - a * a) ** 2
    g = np.stack([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)], axis=1)
    h = np.empty((len(x), 2, 2))
    h[:, 0, 0] = 2 - 400 * (b - a * a) + 800 * a * a
    h[:, 0, 1] = h[:, 1, 0] = -400 * a
    h[:, 1, 1] = 200
    return f, g, h


def solve(rows, **kw):
    x0 = np.tile([-1.2, 1.0], (len(rows), 1))
    return minimize_newton(lambda x, r: shifted(x, np.asarray(rows)[r]), x0, kw.pop("lower", None),
                           kw.pop("upper", None), RowConvergence(len(rows)), **kw).by_start()


def test_every_row_reaches_its_own_minimum_in_few_iterations():
    res = solve(np.arange(SHIFT.size))
    np.testing.assert_allclose(res.x, np.stack([1 + SHIFT, 1 + SHIFT], axis=1), atol=1e-8)
    assert np.all(res.converged) and set(res.reason) <= {"ftol", "gtol"}
    assert res.iterations.max() < 60  # BFGS with backtracking needs far more on Rosenbrock
    np.testing.assert_array_equal(res.start, np.arange(SHIFT.size))


def test_a_row_does_not_depend_on_the_rest_of_its_batch():
    together = solve(np.arange(SHIFT.size))
    for i in (0, 3, 6):
        alone = solve(np.array([i]))
        np.testing.assert_array_equal(alone.x[0], together.x[i])
        assert alone.fun[0] == together.fun[i] and alone.reason[0] == together.reason[i]


def test_bounds_hold_and_the_optimum_on_a_bound_is_found():
    # the minimum (1, 1) lies outside the box x <= 0.5: the best point of the box is on its edge
    res = solve(np.array([3]), lower=[-2.0, -2.0], upper=[0.5, 2.0])
    assert np.all(res.x <= np.array([0.5, 2.0]))
    np.testing.assert_allclose(res.x[0], [0.5, 0.25], atol=1e-6)


def test_infeasible_rows_stall_and_others_go_on():
    def fgh(x, rows):
        f, g, h = shifted(x, rows)
        return np.where(rows == 0, np.nan, f), g, h

    res = minimize_newton(fgh, np.tile([-1.2, 1.0], (3, 1)), None, None, RowConvergence(3)).by_start()
    assert res.reason[0] == "stall" and not res.converged[0]
    assert np.all(res.converged[1:])


def objective(**kw):
    rng = np.random.default_rng(0)
    n = np.exp(rng.uniform(np.log(1e7), np.log(1e10), 60))
    d = np.exp(rng.uniform(np.log(1e9), np.log(1e11), 60))
    loss = Chinchilla(E=1.8, A=480.0, B=2100.0, alpha=0.35, beta=0.37).loss(N=n, D=d) * np.exp(rng.normal(0, 0.01, 60))
    law = Chinchilla()
    args = dict(law=law, free=law.parameters, fixed={}, inputs={"N": n, "D": d}, log_loss=np.log(loss),
                weights=np.ones(60))
    args.update(kw)
    return Objective(**args)


THETA = np.array([[np.log(1.75), np.log(470.0), np.log(2000.0), 0.34, 0.36],
                  [np.log(1.9), np.log(520.0), np.log(2300.0), 0.36, 0.38]])


@pytest.mark.parametrize("weights", [None, "rows"])
def test_objective_hessian_is_the_derivative_of_its_gradient(weights):
    ob = objective()
    w = None if weights is None else np.random.default_rng(1).integers(0, 3, (2, 60)).astype(float)
    f, g, h = ob.value_grad_hess(THETA, weights=w)
    f2, g2 = ob.value_and_grad(THETA, weights=w)
    np.testing.assert_allclose(f, f2, rtol=1e-13)
    np.testing.assert_allclose(g, g2, rtol=1e-12, atol=1e-300)
    step = 1e-7
    for j in range(5):
        e = np.zeros(5)
        e[j] = step
        numeric = (ob.value_and_grad(THETA + e, weights=w)[1] - ob.value_and_grad(THETA - e, weights=w)[1]) / (2 * step)
        np.testing.assert_allclose(h[:, :, j], numeric, rtol=1e-5, atol=1e-6 * np.abs(h).max())
    np.testing.assert_array_equal(h, h.transpose(0, 2, 1))


def test_objective_hessian_with_a_fixed_parameter_and_without_one():
    law = Chinchilla()
    ob = objective(free=law.parameters[:4], fixed={"beta": 0.36})
    full = objective()
    f, g, h = ob.value_grad_hess(THETA[:1, :4])
    theta = np.append(THETA[0, :4], 0.36)
    f2, g2, h2 = full.value_grad_hess(theta[None])
    np.testing.assert_allclose(f, f2, rtol=1e-14)
    np.testing.assert_allclose(h[0], h2[0, :4, :4], rtol=1e-12)
    # an over-prediction penalty has no Hessian here: the objective says so
    assert not objective(overprediction_penalty=2.0).has_hessian
    with pytest.raises(ValueError, match="no analytic Hessian"):
        objective(overprediction_penalty=2.0).value_grad_hess(THETA)
