"""The one resampler (tsbudget.resampling): runs or clusters, paired uniforms, within groups."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from tsbudget.errors import BootstrapWarning
from tsbudget.resampling import (
    draw_indices,
    draw_uniforms,
    group_members,
    resample_indices,
    resample_within_groups,
    warn_degenerate_groups,
)


def test_resample_indices_reproducible_and_clustered():
    a = resample_indices(10, 5, seed=3)
    b = resample_indices(10, 5, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, resample_indices(10, 5, seed=4)))
    # draw i depends only on (seed, i): the first 3 of 5 draws equal the 3 draws of a shorter run
    assert all(np.array_equal(x, y) for x, y in zip(a[:3], resample_indices(10, 3, seed=3)))
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    for idx in resample_indices(10, 20, seed=0, clusters=labels):
        picked = labels[idx]
        # every cluster present is present in full (a multiple of its size)
        for g in np.unique(picked):
            assert np.sum(picked == g) % np.sum(labels == g) == 0


def test_plain_draws_are_the_seeded_integers_of_each_draw():
    # the documented stream: draw i is rng.integers(0, n, n) of SeedSequence(seed).spawn(n_draws)[i]
    draws = resample_indices(7, 4, seed=11)
    for i, child in enumerate(np.random.SeedSequence(11).spawn(4)):
        np.testing.assert_array_equal(draws[i], np.random.default_rng(child).integers(0, 7, size=7))
    assert all(d.shape == (7,) and d.min() >= 0 and d.max() < 7 for d in draws)


def test_cluster_draws_take_as_many_whole_clusters_as_there_are():
    labels = np.array(["b", "a", "b", "c", "a", "a", "d"])  # string labels, members not contiguous
    _, members = group_members(labels)
    sizes = {tuple(m) for m in members}
    for idx in resample_indices(labels.size, 30, seed=2, clusters=labels):
        # the draw is a concatenation of 4 whole clusters (with repeats), in the order picked
        start, n_picked = 0, 0
        while start < idx.size:
            unit = next(m for m in sizes if tuple(idx[start:start + len(m)]) == m)
            start += len(unit)
            n_picked += 1
        assert n_picked == 4
    # one label per run: every draw has as many runs as there are
    assert all(d.size == 5 for d in resample_indices(5, 3, seed=0, clusters=np.arange(5)))


def test_group_members_partition_the_entries():
    values, members = group_members([3.0, 1.0, 3.0, 2.0, 1.0, 3.0])
    np.testing.assert_array_equal(values, [1.0, 2.0, 3.0])
    assert [m.tolist() for m in members] == [[1, 4], [3], [0, 2, 5]]


def test_paired_mode_gives_two_systems_the_same_units():
    # two systems with the same three key values, their runs laid out differently
    a = (np.array([0, 1]), np.array([2]), np.array([3, 4]))
    b = (np.array([2]), np.array([0]), np.array([1]))
    u = draw_uniforms(5, 40, 3)
    assert u.shape == (40, 3) and np.all((u >= 0) & (u < 1))
    picks_a = [[int(np.isin(idx, m).sum() / m.size) for m in a] for idx in draw_indices(a, u)]
    picks_b = [[int(np.isin(idx, m).sum() / m.size) for m in b] for idx in draw_indices(b, u)]
    assert picks_a == picks_b  # unit k picked as often in both systems, draw by draw
    assert all(sum(p) == 3 for p in picks_a) and len({tuple(p) for p in picks_a}) > 5
    # unit ⌊u·G⌋: the uniforms decide, and a uniform of 1 - eps still names the last unit
    np.testing.assert_array_equal(draw_indices(a, np.array([[0.0, 0.5, 1 - 1e-17]]))[0], [0, 1, 2, 3, 4])


def test_paired_uniforms_are_reproducible_and_do_not_depend_on_width():
    u = draw_uniforms(9, 6, 4)
    np.testing.assert_array_equal(u, draw_uniforms(9, 6, 4))
    np.testing.assert_array_equal(draw_uniforms(9, 6, 10)[:, :4], u)
    np.testing.assert_array_equal(draw_uniforms(9, 3, 4), u[:3])
    assert not np.array_equal(draw_uniforms(10, 6, 4), u)


def test_within_groups_keeps_every_group_with_its_size():
    sizes = [3, 1, 5]
    sets = resample_within_groups(sizes, 50, seed=4)
    assert [s.shape for s in sets] == [(50, 3), (50, 1), (50, 5)]
    for s, n in zip(sets, sizes):
        assert s.min() >= 0 and s.max() < n
    assert np.all(sets[1] == 0)
    assert len({tuple(row) for row in sets[2]}) > 40  # the draws do vary
    # reproducible; draw i does not depend on how many draws follow
    again = resample_within_groups(sizes, 20, seed=4)
    assert all(np.array_equal(x[:20], y) for x, y in zip(sets, again))


def test_within_groups_draws_the_groups_in_order_from_one_stream_per_draw():
    # the stream Approach 2's bootstrap has always used: per draw, one generator, groups in order
    sizes = [4, 2, 6]
    sets = resample_within_groups(sizes, 5, seed=8)
    for i, child in enumerate(np.random.SeedSequence(8).spawn(5)):
        rng = np.random.default_rng(child)
        for j, n in enumerate(sizes):
            np.testing.assert_array_equal(sets[j][i], rng.integers(0, n, size=n))


def test_degenerate_groups_warn():
    with pytest.warns(BootstrapWarning, match="key: each of the 3 clusters is a single run, so it is plain"):
        warn_degenerate_groups([1, 2, 3], "key", single_runs="it is plain")
    with pytest.warns(BootstrapWarning, match="key: all 4 runs form one group, so every draw is the whole data"):
        warn_degenerate_groups(["x"] * 4, "key", "group", single_runs="it is plain")
    with warnings.catch_warnings():
        warnings.simplefilter("error", BootstrapWarning)
        warn_degenerate_groups([1, 2, 3], "key")  # single runs not checked without single_runs
        warn_degenerate_groups([1, 1, 2, 2], "key", single_runs="it is plain")


def test_warning_points_at_the_callers_caller():
    def library_function():
        warn_degenerate_groups([0, 0], "key", stacklevel=2)

    with pytest.warns(BootstrapWarning) as record:
        line = sys._getframe().f_lineno + 1
        library_function()
    assert record[0].filename == __file__ and record[0].lineno == line


def test_imports_numpy_only():
    code = ("import sys, tsbudget.resampling\n"
            "print(','.join(m for m in ('polars', 'xarray', 'pandas', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
