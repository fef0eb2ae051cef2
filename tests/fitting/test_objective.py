"""The Huber objective on log residuals (Hoffmann et al. 2022, App. D.2)."""

import attrs
import numpy as np
import pytest

from tsbudget.laws.chinchilla import Chinchilla
from tsbudget.fitting.objective import Objective, huber, huber_derivative


@attrs.frozen
class NoGradient(Chinchilla):
    """Chinchilla without the gradient hook: the objective must fall back to finite differences."""

    log_gradient = None


def make(law=None, **kw):
    law = law or Chinchilla()
    rng = np.random.default_rng(0)
    n = np.exp(rng.uniform(np.log(1e7), np.log(1e10), 40))
    d = np.exp(rng.uniform(np.log(1e9), np.log(1e11), 40))
    loss = Chinchilla(E=1.8, A=480.0, B=2100.0, alpha=0.35, beta=0.37).loss(N=n, D=d) * np.exp(rng.normal(0, 0.02, 40))
    args = dict(law=law, free=law.parameters, fixed={}, inputs={"N": n, "D": d}, log_loss=np.log(loss),
                weights=np.ones(40))
    args.update(kw)
    return Objective(**args)


THETA = np.array([[np.log(1.7), np.log(400.0), np.log(2000.0), 0.33, 0.36],
                  [np.log(2.0), np.log(600.0), np.log(1500.0), 0.40, 0.30]])


def test_huber_by_hand():
    # quadratic inside delta, linear outside: 0.5*(5e-4)^2 and 1e-3*(3e-3 - 5e-4)
    assert huber(5e-4, 1e-3) == pytest.approx(1.25e-7, rel=1e-12)
    assert huber(-3e-3, 1e-3) == pytest.approx(2.5e-6, rel=1e-12)
    r = np.linspace(-5e-3, 5e-3, 101)
    h = 1e-9
    numeric = (huber(r + h, 1e-3) - huber(r - h, 1e-3)) / (2 * h)
    np.testing.assert_allclose(huber_derivative(r, 1e-3), numeric, atol=1e-6)


def test_objective_is_summed_huber_of_log_residuals():
    ob = make()
    values = ob.to_values(THETA[0])
    pred = Chinchilla(**values).loss(N=ob.inputs["N"], D=ob.inputs["D"])
    expected = huber(np.log(pred) - ob.log_loss, 1e-3).sum()
    assert ob(THETA[0]) == pytest.approx(expected, rel=1e-12)
    # batched rows equal one-at-a-time evaluation
    np.testing.assert_allclose(ob(THETA), [ob(t) for t in THETA], rtol=1e-13)


def test_gradient_matches_finite_differences_and_fallback():
    ob = make()
    f, g = ob.value_and_grad(THETA)
    h = 1e-6
    for j in range(5):
        e = np.zeros(5)
        e[j] = h
        numeric = (ob(THETA + e) - ob(THETA - e)) / (2 * h)
        np.testing.assert_allclose(g[:, j], numeric, rtol=1e-4, atol=1e-10)
    ob_fd = make(NoGradient())
    f2, g2 = ob_fd.value_and_grad(THETA)
    np.testing.assert_allclose(f2, f, rtol=1e-13)
    np.testing.assert_allclose(g2, g, rtol=1e-5, atol=1e-10)


def test_weights_penalty_and_fixed():
    base = make()
    assert make(weights=np.full(40, 2.0))(THETA[0]) == pytest.approx(2 * base(THETA[0]), rel=1e-12)
    # the penalty multiplies only the runs the law over-predicts (positive residual)
    r = base.residuals(THETA[0])
    over = huber(r, 1e-3)[r > 0].sum()
    assert make(overprediction_penalty=3.0)(THETA[0]) == pytest.approx(base(THETA[0]) + 2 * over, rel=1e-12)
    # a fixed parameter is held at its value and leaves the free vector
    law = Chinchilla()
    ob = make(free=law.parameters[:4], fixed={"beta": 0.36})
    assert ob.names == ("E", "A", "B", "alpha")
    assert ob(THETA[0, :4]) == pytest.approx(base(THETA[0]), rel=1e-12)


def test_non_finite_points_are_inf_not_nan():
    ob = make()
    bad = THETA.copy()
    bad[1, 0] = 1e4  # E = exp(1e4) overflows
    f, g = ob.value_and_grad(bad)
    assert np.isfinite(f[0]) and f[1] == np.inf
    assert np.all(np.isfinite(g[0]))


def test_shared_value_and_gradient_hook():
    from tsbudget.laws.chinchilla import logsumexp, softmax
    from tsbudget.laws.kaplan import Kaplan

    law = Chinchilla()
    n, d = np.geomspace(1e7, 1e11, 7), np.geomspace(1e9, 1e12, 7)
    # rows: ordinary values; a term beyond e^709 (plain sum overflows); every term below e^-745
    params = {"E": np.array([[1.8], [1.0], [1e-320]]), "A": np.array([[480.0], [1e300], [1e-300]]),
              "B": np.array([[2100.0], [1.0], [1e-300]]), "alpha": np.array([[0.35], [-30.0], [2.0]]),
              "beta": np.array([[0.37], [0.5], [2.0]])}
    value, grads = law.log_value_and_gradient(params, {"N": n, "D": d})
    # independent: the shifted log-sum-exp and its softmax shares (App. D.2 form)
    terms = (np.log(params["E"]), np.log(params["A"]) - params["alpha"] * np.log(n),
             np.log(params["B"]) - params["beta"] * np.log(d))
    np.testing.assert_allclose(value, logsumexp(*terms), rtol=1e-14)
    w_e, w_a, w_b = softmax(*terms)
    np.testing.assert_allclose(grads["alpha"], -w_a * np.log(n), rtol=1e-12)
    np.testing.assert_allclose(grads["beta"], -w_b * np.log(d), rtol=1e-12)
    # (d/dE = w_E/E overflows at a subnormal E, as it must: value-space gradients, rows 0-1)
    np.testing.assert_allclose((grads["E"] * params["E"])[:2], w_e[:2], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose((grads["A"] * params["A"])[:2], w_a[:2], rtol=1e-12, atol=1e-300)
    assert np.all(np.isfinite(value))
    # the base-class default composes log_evaluate and log_gradient
    kap = Kaplan()
    v2, g2 = kap.log_value_and_gradient(kap.values, {"N": n, "D": d})
    np.testing.assert_array_equal(v2, kap.log_evaluate(kap.values, {"N": n, "D": d}))
    assert g2.keys() == kap.log_gradient(kap.values, {"N": n, "D": d}).keys()


def test_blocked_rows_equal_one_block():
    ob = make()
    theta = THETA[np.arange(300) % 2] + np.linspace(0, 0.1, 300)[:, None]
    f1, g1 = ob.value_and_grad(theta)
    f2, g2 = attrs.evolve(ob, block_elements=40 * 7).value_and_grad(theta)  # 7-row blocks
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(g1, g2)
    # per-row weights (a bootstrap's multiplicities) are split with the rows
    w = np.random.default_rng(1).integers(0, 3, (300, 40)).astype(float)
    f3, _ = attrs.evolve(ob, weights=w, block_elements=40 * 7).value_and_grad(theta)
    np.testing.assert_allclose(f3, [make(weights=w[i])(theta[i]) for i in range(300)], rtol=1e-12)


def test_fit_coordinates_pass_equals_the_named_pass():
    """The fused pass on theta as it is (no name -> column mappings) gives the named pass's
    values and gradients bit for bit, summed or averaged, blocked or not, with an
    out-of-range row; a non-contiguous theta takes the named pass."""
    law = Chinchilla()
    theta = THETA[np.arange(30) % 2] + np.linspace(0, 0.1, 30)[:, None]
    theta[7, 0] = 800.0  # E = e^800: beyond the float range, the general path's inf
    for kw in ({}, {"weights": np.full(40, 1 / 40)}, {"block_elements": 40 * 4}):
        ob = make(**kw)
        f1, g1 = ob.value_and_grad(theta)
        f2, g2 = ob.value_and_grad(np.asfortranarray(theta))  # not C-contiguous: the named pass
        np.testing.assert_array_equal(f1, f2)
        np.testing.assert_array_equal(g1, g2)
        np.testing.assert_array_equal(ob(theta), ob(np.asfortranarray(theta)))
        ok = np.delete(theta, 7, axis=0)  # (with row 7, value and gradient come from the general path)
        np.testing.assert_array_equal(ob(ok), ob.value_and_grad(ok)[0])
        assert f1[7] == np.inf and np.isfinite(np.delete(f1, 7)).all()
        f0, g0 = ob.value_and_grad(ok[3])
        fb, gb = ob.value_and_grad(ok)
        assert isinstance(f0, float) and f0 == pytest.approx(fb[3], rel=1e-14)
        np.testing.assert_allclose(g0, gb[3], rtol=1e-13)
    ob = make()
    e = np.exp(ok)
    params = {"E": e[:, :1], "A": e[:, 1:2], "B": e[:, 2:3], "alpha": ok[:, 3:4], "beta": ok[:, 4:5]}
    for gradient in (True, False):
        named = law.huber_value_and_grad(params, ob.inputs, ob.log_loss, None, 1e-3, gradient=gradient)
        at = law.huber_value_and_grad_at(ok, ob.inputs, ob.log_loss, None, 1e-3, gradient=gradient)
        np.testing.assert_array_equal(named[0], at[0])
        if gradient:
            np.testing.assert_array_equal(named[1], at[1])


def test_grid_values_share_exponentials_bit_for_bit():
    """A start grid's value pass takes e^{t_A}, e^{t_B} once per distinct (log A, α), (log B, β)
    (Chinchilla.exponent_terms_at): the same values as row by row in blocks, including a last
    block of one row, and a non-finite row (then no sharing)."""
    from tsbudget.optim.multistart import start_grid

    ob = make(block_elements=40 * 7)  # 7-row blocks
    grid = start_grid(ob.free, None)[:1 + 7 * 40]  # 281 rows: the last block has one row
    terms = ob.law.exponent_terms_at(grid, ob.inputs)
    assert terms[0].shape[0] < 20 and terms[2].shape[0] < 40  # few distinct pairs
    calls = []
    share = ob._cache["terms"]
    ob._cache["terms"] = lambda *a, **kw: calls.append(share(*a, **kw)) or calls[-1]
    shared = ob(grid)
    assert calls and calls[0] is not None  # the screen shared them
    ob._cache["terms"] = share
    assert ob.law.exponent_terms_at(grid, ob.inputs, max_elements=100) is None  # tables too large
    assert ob.law.exponent_terms_at(THETA[np.arange(40) % 2] + np.linspace(0, 1, 40)[:, None], ob.inputs) is None
    alone = np.concatenate([ob(grid[i : i + 7]) for i in range(0, len(grid), 7)])  # one block each: no sharing
    np.testing.assert_array_equal(shared, alone)
    np.testing.assert_array_equal(shared, ob.value_and_grad(grid)[0])
    bad = grid.copy()
    bad[3, 1] = np.nan
    assert ob.law.exponent_terms_at(bad, ob.inputs) is None
    f = ob(bad)
    assert f[3] == np.inf  # (its block by the general path, equal to rounding)
    np.testing.assert_allclose(np.delete(f, 3), np.delete(shared, 3), rtol=1e-12)
