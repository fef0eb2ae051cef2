"""Property: a noiseless synthetic fit recovers every parameter of each built-in law (1e-4 relative).

The runs are a design that identifies every parameter (N and D over three decades, unique
data from no repetition to 100 epochs, each extended variable over a range); the fit is
warm-started 5% away from the truth (in fit coordinates), and once more from the law's
default grid of starts.
"""

import itertools

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsbudget.fitting.fit import fit
from tsbudget.registry import laws

N = np.geomspace(1e7, 1e10, 6)
D = np.geomspace(1e9, 1e12, 6)
EPOCHS = (1.0, 4.0, 20.0, 100.0)  # D / U


def design(law):
    rows = []
    extra = [v for v in law.required_inputs if v not in ("N", "D", "U")]
    levels = [(1.0, 4.0, 16.0)] * len(extra)
    for n, d, ep, *vs in itertools.product(N, D, EPOCHS if "U" in law.required_inputs else (1.0,), *levels):
        rows.append({"N": n, "D": d, "U": d / ep, **dict(zip(extra, vs))})
    runs = pl.DataFrame(rows)
    inputs = {k: runs[k].to_numpy() for k in law.required_inputs}
    return runs.with_columns(loss=pl.Series(law.evaluate(law.values, inputs)))


def perturbed(law, rel=0.05):
    start = {}
    for p in law.parameters:
        v = law.values[p.name]
        start[p.name] = float(p.from_fit(p.to_fit(v) * (1 + rel))) if p.log else v * (1 + rel) + (rel if v == 0 else 0)
    return start


def check_recovery(law, from_grid=False):
    runs = design(law)
    result = fit(runs, law) if from_grid else fit(runs, law, init=perturbed(law))
    assert result.success, result.message
    for k, v in law.values.items():
        assert result.parameters[k] == pytest.approx(v, rel=1e-4, abs=1e-6), k


TRUTHS = {
    "chinchilla": {},
    "kaplan": {},
    "data_constrained": {"R_D_star": 8.0, "R_N_star": 4.0},
    "repetition_penalty": {"P": 0.02, "delta": 0.8, "kappa": 0.6},
    "extended": {"variables": ("experts",), "gamma": (0.2,), "eta": (-0.1,)},
}


@pytest.mark.parametrize("name", sorted(TRUTHS))
def test_builtin_law_recovers_its_parameters(name):
    cls = laws.get(name)
    fields = TRUTHS[name]
    law = cls(**fields) if name == "extended" else cls().replace(**fields) if fields else cls()
    check_recovery(law)


@pytest.mark.parametrize("name", sorted(TRUTHS))
def test_builtin_law_recovers_its_parameters_from_the_default_grid(name):
    # the full search: the law's default grid of starts, raced, then polished
    cls = laws.get(name)
    fields = TRUTHS[name]
    law = cls(**fields) if name == "extended" else cls().replace(**fields) if fields else cls()
    check_recovery(law, from_grid=True)


@settings(max_examples=10, deadline=None)
@given(
    E=st.floats(1.0, 3.0),
    A=st.floats(100.0, 1000.0),
    B=st.floats(200.0, 5000.0),
    alpha=st.floats(0.2, 0.6),
    beta=st.floats(0.2, 0.6),
)
def test_chinchilla_recovers_any_parameters(E, A, B, alpha, beta):
    check_recovery(laws.get("chinchilla")(E=E, A=A, B=B, alpha=alpha, beta=beta))
