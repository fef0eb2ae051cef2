"""Resampling units and paired draws of the systems of a comparison."""

import numpy as np
import polars as pl


def test_paired_draws_resample_the_same_key_values():
    from tsbudget.comparisons.systems import ResamplingUnits as _Units
    from tsbudget.resampling import draw_indices as _indices
    from tsbudget.resampling import draw_uniforms as _draw_uniforms

    # the same three key values, different group sizes and row orders
    a = _Units("N", (1.0, 2.0, 3.0), (np.array([0, 1]), np.array([2]), np.array([3, 4])))
    b = _Units("N", (1.0, 2.0, 3.0), (np.array([2]), np.array([0]), np.array([1])))

    def multiplicities(units, idx):
        return [np.isin(idx, m).sum() / m.size for m in units.members]

    u = _draw_uniforms(5, 50, 3)
    seen = set()
    for ia, ib in zip(_indices(a.members, u), _indices(b.members, u)):
        ma, mb = multiplicities(a, ia), multiplicities(b, ib)
        assert ma == mb and sum(ma) == 3
        seen.add(tuple(ma))
    assert len(seen) > 5  # and they do vary between draws
    # a system's draws do not depend on how many units the other systems have
    np.testing.assert_array_equal(_draw_uniforms(5, 50, 9)[:, :3], u)


def test_pair_on_flops_groups_nearby_budgets_like_bootstrap():
    """Review issue 2: pair_on/cluster="flops" grouped runs by exact FLOPs, so digitised data
    (245 distinct values in the Chinchilla Fig. 4 runs) gave single-run "clusters", a plain
    bootstrap, silently. Now the budgets are grouped by auto_budget_groups, as
    tsbudget.uncertainty.bootstrap's cluster="flops" does."""
    import types
    import warnings

    from tsbudget.comparisons.systems import resampling_units as _units
    from tsbudget.datasets.chinchilla import load_chinchilla_runs
    from tsbudget.fitting.budgets import auto_budget_groups

    df = load_chinchilla_runs().with_row_index("run").with_columns(pl.col("run").cast(pl.Int64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        u = _units("chinchilla", df, types.SimpleNamespace(runs=df), "flops")
    groups = auto_budget_groups(df["flops"].to_numpy())
    assert 1 < u.size <= 12 and u.size == np.unique(groups).size
    assert sum(m.size for m in u.members) == df.height
    for value, members in zip(u.values, u.members):
        assert np.all(groups[members] == value)
