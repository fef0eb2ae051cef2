"""Conformance check of a law plugin (:class:`tsbudget.law.Law`).

Usage in a plugin's own test suite::

    from tsbudget.testing import check_law
    def test_conforms():
        check_law(MyLaw())

It raises ``AssertionError`` naming the plugin and the broken promise.
"""

from __future__ import annotations

import math

import numpy as np

from tsbudget.law import Law, Parameter
from tsbudget.testing.checks import check_metadata, expect_input_error, fail, qualified

__all__ = ["check_law"]


def _law_inputs(law: Law) -> dict:
    runs = 6
    base = {
        "N": np.geomspace(1e7, 1e10, runs),
        "D": np.geomspace(1e9, 1e12, runs),
    }
    base["U"] = base["D"] / 3.0
    return {k: base.get(k, np.linspace(1.0, 4.0, runs)) for k in law.required_inputs}


def _draw_law_inputs(law: Law, rng, size: int) -> dict:
    """Random run inputs: N log-uniform in [1e6, 1e12], D in [1e8, 1e14], U in [D/100, D],
    any other input (a cost model's variable) log-uniform in [1, 64]."""
    d = 10.0 ** rng.uniform(8, 14, size)
    base = {"N": 10.0 ** rng.uniform(6, 12, size), "D": d, "U": d / 10.0 ** rng.uniform(0, 2, size)}
    return {k: base[k] if k in base else 2.0 ** rng.uniform(0, 6, size) for k in law.required_inputs}


def check_law(law: Law) -> None:
    """Check a law: parameters and values agree, defaults within the declared bounds,
    evaluate broadcasts (params ``(S, 1)`` against inputs ``(R,)``) and equals its
    element-by-element scalar calls, losses are finite and > 0 on 24 random inputs,
    log_evaluate = log(evaluate), an analytic gradient matches central differences,
    replace() round-trips, and a missing or bad (negative, NaN) input raises InputError
    naming it."""
    check_metadata(law, Law)
    params = law.parameters
    if not params or not all(isinstance(p, Parameter) for p in params):
        fail(law, "parameters must be a non-empty tuple of tsbudget.Parameter")
    names = [p.name for p in params]
    if len(set(names)) != len(names) or list(law.values) != names:
        fail(law, f"values keys {list(law.values)} must equal parameter names {names} in order")
    values = law.values
    if not all(math.isfinite(v) for v in values.values()):
        fail(law, f"default parameter values must be finite, got {values}")
    for p in params:
        if not p.lower <= values[p.name] <= p.upper:
            fail(law, f"parameter {p.name}={values[p.name]!r} lies outside its declared bounds "
                       f"[{p.lower}, {p.upper}]")
    inputs = _law_inputs(law)
    loss = law.evaluate(values, inputs)
    if np.shape(loss) != (6,) or not np.all(np.isfinite(loss)) or not np.all(loss > 0):
        fail(law, "evaluate(values, inputs) must give finite positive losses of the inputs' shape")
    stacked = {k: np.array([[v], [v]]) for k, v in values.items()}
    both = law.evaluate(stacked, inputs)
    if np.shape(both) != (2, 6) or not np.allclose(both, loss[None, :], rtol=1e-12):
        fail(law, "evaluate must broadcast parameter arrays of shape (S, 1) against inputs (R,)")
    if not np.allclose(law.log_evaluate(values, inputs), np.log(loss), rtol=1e-10, atol=1e-12):
        fail(law, "log_evaluate must equal log(evaluate)")
    if not np.allclose(law.loss(**inputs), loss, rtol=1e-12):
        fail(law, "loss(**inputs) must equal evaluate(values, inputs)")

    rng = np.random.default_rng(20240611)
    size = 24
    drawn = _draw_law_inputs(law, rng, size)
    try:
        vector = np.asarray(law.loss(**drawn), dtype=float)
    except Exception as exc:
        fail(law, f"loss() must accept input arrays; it raised {qualified(exc)}")
    if vector.shape != (size,):
        fail(law, f"loss() with inputs of shape ({size},) must return shape ({size},), got {vector.shape}")
    good = np.isfinite(vector) & (vector > 0)
    if not np.all(good):
        i = int(np.flatnonzero(~good)[0])
        one = {k: float(v[i]) for k, v in drawn.items()}
        fail(law, f"loss must be finite and > 0 for plausible inputs; {one} gave {vector[i]!r}")
    for i in range(size):
        one = {k: float(v[i]) for k, v in drawn.items()}
        scalar = float(np.asarray(law.loss(**one), dtype=float))
        if not math.isclose(scalar, vector[i], rel_tol=1e-12):
            fail(law, f"loss must broadcast: element {i} of the vectorized call is {vector[i]!r}, "
                       f"the scalar call with {one} gives {scalar!r}")

    if law.has_analytic_gradient:  # the finite-difference default needs no check against itself
        grad = law.log_gradient(values, inputs)
        for p in params:
            v = values[p.name]
            h = 1e-6 * max(abs(v), 1e-3)
            up = law.log_evaluate({**values, p.name: v + h}, inputs)
            down = law.log_evaluate({**values, p.name: v - h}, inputs)
            fd = (up - down) / (2 * h)
            if not np.allclose(np.broadcast_to(grad[p.name], fd.shape), fd, rtol=1e-5, atol=1e-8):
                fail(law, f"log_gradient[{p.name!r}] disagrees with central differences")
    again = law.replace(**values)
    if again != law:
        fail(law, "replace(**values) must return an equal law")
    first = law.required_inputs[0]
    expect_input_error(law, first, f"loss() without input {first!r}", law.loss,
                        **{k: v for k, v in inputs.items() if k != first})
    for key in law.required_inputs:
        for bad in (-1.0, math.nan):
            expect_input_error(law, key, f"loss() with input {key}={bad}", law.loss,
                                **{**inputs, key: np.full(6, bad)})

