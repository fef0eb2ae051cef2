"""Conformance check of a cost-model plugin (:class:`tsbudget.cost_model.CostModel`).

Usage in a plugin's own test suite::

    from tsbudget.testing import check_costmodel
    def test_conforms():
        check_costmodel(MyCostModel())

It raises ``AssertionError`` naming the plugin and the broken promise. Beyond fixed inputs
it feeds bad values (each must raise an InputError naming the input) and a fixed-seed random
sample of settings (outputs finite, vectorized calls equal to element-by-element calls).
"""

from __future__ import annotations

import math

import numpy as np

from tsbudget.cost_model import CostModel
from tsbudget.errors import InputError
from tsbudget.testing.checks import check_metadata, expect_input_error, fail, qualified
from tsbudget.variables import Variable

__all__ = ["check_costmodel"]


def _default_variables(cm: CostModel) -> dict:
    return {v.name: v.default for v in cm.variables}


def _draw_variables(variables, rng, size: int) -> dict[str, np.ndarray]:
    """``size`` values of each variable, spread over its bounds (log-uniform for log ones,
    integers for integer ones); both bounds are among the draws."""
    out = {}
    for v in variables:
        if v.log:
            x = np.exp(rng.uniform(math.log(v.lower), math.log(v.upper), size))
        else:
            x = rng.uniform(v.lower, v.upper, size)
        x[:2] = v.lower, v.upper
        if v.integer:
            x = np.clip(np.round(x), v.lower, v.upper)
        out[v.name] = rng.permutation(x)
    return out


def check_costmodel(cm: CostModel) -> None:
    """Check a cost model: declared variables, finite positive broadcasting FLOPs, linearity
    in positions, training >= serving per position, monotone in N, parameter counts, and
    clear errors for unknown or out-of-bounds variables.

    Besides each variable at its default and bounds, it draws 24 random settings (N
    log-uniform in [1e6, 1e12], positions in [1, 1e13], every variable within its bounds at
    once) and requires: the vectorized call equals the element-by-element scalar calls;
    every output finite, FLOPs > 0, ``total_params >= active_params > 0``, training FLOPs
    rising in N. Bad ``n`` or ``positions`` (negative, NaN), variables below their lower
    bound, above their upper bound, non-integer for integer variables or NaN must raise
    :class:`~tsbudget.errors.InputError` naming what is wrong.
    """
    check_metadata(cm, CostModel)
    variables = cm.variables
    if not all(isinstance(v, Variable) for v in variables):
        fail(cm, "variables must be a tuple of tsbudget.Variable")
    names = [v.name for v in variables]
    if len(set(names)) != len(names):
        fail(cm, f"variable names must be unique, got {names}")
    n = np.array([[1e6], [1e8], [1e10]])
    positions = np.array([1.0, 1e9, 2e12])
    settings = [_default_variables(cm)]
    settings += [{**settings[0], v.name: v.lower} for v in variables]
    settings += [{**settings[0], v.name: v.upper} for v in variables]
    for kw in settings:
        train = cm.train_flops(n, positions, **kw)
        serve = cm.inference_flops(n, positions, **kw)
        for label, arr in (("train_flops", train), ("inference_flops", serve)):
            if np.shape(arr) != (3, 3) or not np.all(np.isfinite(arr)) or not np.all(arr > 0):
                fail(cm, f"{label}(n, positions, **{kw}) must broadcast to (3, 3), finite and > 0")
        if not np.allclose(cm.train_flops(n, 2 * positions, **kw), 2 * train, rtol=1e-12):
            fail(cm, "train_flops must be linear in positions")
        if np.any(np.asarray(cm.train_flops(n, 0.0, **kw)) != 0):
            fail(cm, f"train_flops of 0 positions must be 0 (variables {kw})")
        if np.any(train < serve):
            fail(cm, f"training a position must cost at least serving it (variables {kw})")
        per_pos = cm.train_flops_per_position(n[:, 0], **kw)
        if np.any(np.diff(per_pos) <= 0):
            fail(cm, f"training FLOPs per position must rise with n (variables {kw})")
        total = np.asarray(cm.total_params(n, **kw))
        active = np.asarray(cm.active_params(n, **kw))
        if not (np.all(np.isfinite(total)) and np.all(active > 0) and np.all(total >= active * (1 - 1e-12))):
            fail(cm, f"need total_params >= active_params > 0 (variables {kw})")

    # Random settings, every variable free at once: vectorized == element by element.
    rng = np.random.default_rng(20240611)
    size = 24
    drawn = _draw_variables(variables, rng, size)
    n_draw = 10.0 ** rng.uniform(6, 12, size)
    pos_draw = 10.0 ** rng.uniform(0, 13, size)
    outputs = {
        "train_flops": lambda n_, pos_, kw: cm.train_flops(n_, pos_, **kw),
        "inference_flops": lambda n_, pos_, kw: cm.inference_flops(n_, pos_, **kw),
        "total_params": lambda n_, pos_, kw: cm.total_params(n_, **kw),
        "active_params": lambda n_, pos_, kw: cm.active_params(n_, **kw),
    }
    vectors = {}
    for label, fn in outputs.items():
        try:
            arr = np.asarray(fn(n_draw, pos_draw, drawn), dtype=float)
        except Exception as exc:
            fail(cm, f"{label} must accept arrays for n, positions and every variable; it raised {qualified(exc)}")
        if arr.shape != (size,):
            fail(cm, f"{label} with n, positions and variables of shape ({size},) must return shape "
                      f"({size},), got {arr.shape}")
        if not np.all(np.isfinite(arr)) or not np.all(arr > 0):
            i = int(np.flatnonzero(~(np.isfinite(arr) & (arr > 0)))[0])
            one = {k: float(v[i]) for k, v in drawn.items()}
            fail(cm, f"{label} must be finite and > 0 for every setting within bounds; "
                      f"n={n_draw[i]:.6g}, positions={pos_draw[i]:.6g}, {one} gave {arr[i]!r}")
        vectors[label] = arr
    for i in range(size):
        one = {k: float(v[i]) for k, v in drawn.items()}
        for label, fn in outputs.items():
            scalar = float(np.asarray(fn(float(n_draw[i]), float(pos_draw[i]), one), dtype=float))
            if not math.isclose(scalar, vectors[label][i], rel_tol=1e-12):
                fail(cm, f"{label} must broadcast: element {i} of the vectorized call is {vectors[label][i]!r}, "
                          f"the scalar call with n={n_draw[i]:.6g}, {one} gives {scalar!r}")
    if np.any(vectors["train_flops"] < vectors["inference_flops"]):
        fail(cm, "training a position must cost at least serving it, for every drawn setting")
    if np.any(vectors["total_params"] < vectors["active_params"] * (1 - 1e-12)):
        fail(cm, "need total_params >= active_params for every drawn setting")
    if np.any(cm.train_flops_per_position(1.5 * n_draw, **drawn) <= cm.train_flops_per_position(n_draw, **drawn)):
        fail(cm, "training FLOPs per position must rise with n for every drawn setting")

    defaults = settings[0]
    for bad in (-1.0, math.nan):
        expect_input_error(cm, "n", f"train_flops(n={bad})", cm.train_flops, bad, 1e9, **defaults)
        expect_input_error(cm, "n", f"inference_flops(n={bad})", cm.inference_flops, bad, 1e9, **defaults)
        expect_input_error(cm, "n", f"total_params(n={bad})", cm.total_params, bad, **defaults)
        expect_input_error(cm, "positions", f"train_flops(positions={bad})", cm.train_flops, 1e8, bad, **defaults)
    try:
        cm.resolve_variables(__no_such_variable__=1.0)
    except InputError as exc:
        if "__no_such_variable__" not in str(exc):
            fail(cm, "an unknown-variable error must name the variable")
    else:
        fail(cm, "an unknown variable must raise InputError")
    for v in variables:
        bad_values = [(v.upper + max(1.0, abs(v.upper)), "above its upper bound"),
                      (v.lower - max(1.0, abs(v.lower)), "below its lower bound"),
                      (math.nan, "NaN")]
        if v.integer and v.lower + 0.5 <= v.upper:
            bad_values.append((v.lower + 0.5, "not an integer"))
        for value, why in bad_values:
            for label in ("train_flops", "inference_flops"):
                expect_input_error(cm, v.name, f"{label} with {v.name}={value!r} ({why})",
                                    getattr(cm, label), 1e8, 1e9, **{**defaults, v.name: value})

