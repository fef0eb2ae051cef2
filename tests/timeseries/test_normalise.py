"""Per-window normalisation: offset and scale drop out, flat windows group, bad windows are named."""

import warnings

import numpy as np
import pytest

from tsbudget.errors import InputError
from tsbudget.timeseries import lsh_groups, measure_redundancy


def test_offset_and_scale_do_not_matter_and_flat_windows_group():
    rng = np.random.default_rng(3)
    shape = rng.standard_normal((1, 32, 3)).cumsum(axis=1)
    scaled = shape * rng.uniform(0.1, 10, (20, 1, 3)) + rng.uniform(-100, 100, (20, 1, 3))
    flat = np.broadcast_to(rng.uniform(-5, 5, (20, 1, 3)), (20, 32, 3))
    report = measure_redundancy(np.concatenate([scaled, flat]), normal_min_size=2)
    assert report.groups == 2
    assert sorted(report.group_sizes.tolist()) == [20, 20]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_streamed_bad_window_is_named_by_its_index_in_the_whole_input(tmp_path, bad):
    # Regression: the index used to be counted within the chunk (window 1234 with chunks
    # of 100 was reported as window 34), and inf printed a numpy RuntimeWarning first.
    w = np.random.default_rng(5).standard_normal((2000, 8, 2)).astype(np.float32)
    w[1234, 6, 1] = bad
    np.save(tmp_path / "w.npy", w)
    message = rf"window 1234 holds a non-finite value {bad} at step 6, channel 1"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning may precede the message
        with pytest.raises(InputError, match=message):
            measure_redundancy(tmp_path / "w.npy", chunk=100)
        with pytest.raises(InputError, match=message):
            measure_redundancy(w, chunk=100)
        with pytest.raises(InputError, match=message):
            lsh_groups((w[s : s + 64] for s in range(0, len(w), 64)))
        with pytest.raises(InputError, match=message):
            measure_redundancy(w, method="exact")


def test_values_that_overflow_float32_are_named_not_a_traceback():
    w = np.random.default_rng(6).standard_normal((300, 8, 2))
    w[170, 2, 0] = 1e25  # finite, but its square overflows float32
    w[250, 3, 1] = 1e39  # finite in float64, inf in float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match=r"window 170 holds values too large .* 1e\+25"):
            measure_redundancy(w, chunk=50)
        w[170, 2, 0] = 0.0
        with pytest.raises(InputError, match=r"window 250 holds values too large .* 1e\+39"):
            measure_redundancy(w, chunk=50)
