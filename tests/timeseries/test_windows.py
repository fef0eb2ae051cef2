"""Windows from arrays, series, DataArrays, streams and .npy files; per-window labels."""

import numpy as np
import xarray as xr

from tsbudget.timeseries import measure_redundancy, sliding_windows, window_labels

from tests.timeseries.corpora import repeated_corpus


def test_series_xarray_and_stream_inputs_agree():
    rng = np.random.default_rng(4)
    pattern = rng.standard_normal((16, 2)).cumsum(axis=0)
    series = np.tile(pattern, (40, 1)) + 0.01 * rng.standard_normal((640, 2))
    series[320:336] += rng.standard_normal((16, 2)) * 5  # one odd window
    a = measure_redundancy(series, window=16, stride=16)
    windows = sliding_windows(series, 16, 16)
    b = measure_redundancy(np.ascontiguousarray(windows))
    da = xr.DataArray(series, dims=("time", "channel"))
    c = measure_redundancy(da, window=16)
    wda = xr.DataArray(windows.transpose(0, 2, 1), dims=("window", "channel", "time"))
    d = measure_redundancy(wda)
    e = measure_redundancy(iter([windows[:7], windows[7:]]))
    for r in (a, b, c, d, e):
        assert r.windows == 40 and r.groups == 2
        assert r.window_length == 16 and r.channels == 2
        assert r.labels[20] != r.labels[0] and len(set(np.delete(r.labels, 20))) == 1


def test_npy_file_is_streamed(tmp_path):
    w = repeated_corpus(200, 10).astype(np.float32)
    np.save(tmp_path / "w.npy", w)
    report = measure_redundancy(tmp_path / "w.npy", chunk=64)
    assert report.groups == 11 and report.windows == 210


def test_window_labels_take_the_rarest_label_present():
    steps = np.array(["normal"] * 10 + ["intervention"] + ["normal"] * 5 + ["rare"] * 4 + ["normal"] * 4)
    # windows of 4: [0..3] normal, [4..7] normal, [8..11] intervention, [12..15] normal,
    # [16..19] rare, [20..23] normal
    assert window_labels(steps, 4).tolist() == ["normal", "normal", "intervention", "normal", "rare", "normal"]
