"""Windows of a time series: cut a series into sliding windows, label windows from per-step
labels, stream the windows of a ``.npy`` file, and turn any accepted input (array, series,
xarray DataArray, path, iterable of chunks) into windows or a stream of window chunks.

A window array has shape ``(windows, time, channels)``; a stream yields such arrays (chunks)
so the input never has to fit in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np

from tsbudget.data_unit import int_setting
from tsbudget.errors import InputError

__all__ = ["DEFAULT_CHUNK", "as_windows", "iter_npy_windows", "sliding_windows", "window_labels", "window_source"]

DEFAULT_CHUNK = 16_384  # windows per streamed chunk


def as_windows(arr, name="windows") -> np.ndarray:
    """``arr`` as a real ``(windows, time, channels)`` array with >= 2 steps and >= 1 channel,
    else an InputError naming ``name`` and what is wrong."""
    arr = np.asarray(arr)
    if arr.ndim != 3:
        raise InputError(f"{name} must have shape (windows, time, channels), got shape {arr.shape}")
    if arr.shape[1] < 2 or arr.shape[2] < 1:
        raise InputError(f"{name} need at least 2 time steps and 1 channel, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise InputError(f"{name} must be real numbers, got dtype {arr.dtype}")
    return arr



def sliding_windows(series, window: int, stride: int | None = None) -> np.ndarray:
    """Windows ``(n, window, channels)`` of a series ``(time,)`` or ``(time, channels)`` (a view)."""
    series = np.asarray(series)
    if series.ndim == 1:
        series = series[:, None]
    if series.ndim != 2:
        raise InputError(f"series must have shape (time,) or (time, channels), got shape {series.shape}")
    window = int_setting("window")(window)
    stride = window if stride is None else int_setting("stride")(stride)
    if window < 2:
        raise InputError(f"window must be >= 2 time steps, got {window}")
    if series.shape[0] < window:
        raise InputError(f"window {window} is longer than the series ({series.shape[0]} steps)")
    view = np.lib.stride_tricks.sliding_window_view(series, window, axis=0)  # (n, C, window)
    return view[::stride].transpose(0, 2, 1)


def window_labels(step_labels, window: int, stride: int | None = None) -> np.ndarray:
    """Per-window labels from per-step labels: the corpus-rarest label present in the window.

    Rarest wins so that a window touching a rare regime or an intervention is counted as one
    (a planner must not discount it as normal state). Ties in frequency break by label order.
    """
    step_labels = np.asarray(step_labels).astype(str)
    stride = window if stride is None else stride
    names, codes, counts = np.unique(step_labels, return_inverse=True, return_counts=True)
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.lexsort((names, -counts))] = np.arange(len(names))  # 0 = most common
    ranked = rank[codes.ravel()]
    view = np.lib.stride_tricks.sliding_window_view(ranked, window)[::stride]
    by_rank = np.empty(len(names), dtype=object)
    by_rank[rank] = names
    return by_rank[view.max(axis=1)].astype(str)


def iter_npy_windows(path, chunk: int = DEFAULT_CHUNK) -> Iterator[np.ndarray]:
    """Chunks of a ``.npy`` window array read with plain file reads (no memory map, so the
    file's pages never count towards this process's resident memory)."""
    path = os.fspath(path)
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot open window file {path!r}: {exc.strerror}") from None
    with f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
        except ValueError as exc:
            raise InputError(f"{path!r} is not a .npy array file: {exc}") from None
        if len(shape) != 3 or fortran or dtype.hasobject:
            raise InputError(
                f"{path!r} must hold a C-ordered numeric array (windows, time, channels), "
                f"got shape {shape}, dtype {dtype}, fortran_order={fortran}"
            )
        n, t, c = shape
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            buf = np.empty((m, t, c), dtype=dtype)
            if f.readinto(memoryview(buf).cast("B")) != buf.nbytes:
                raise InputError(f"{path!r} is truncated: expected {n} windows")
            yield buf



def window_source(data, window, stride, window_dim, time_dim, channel_dim, chunk):
    """``data`` as windows: ``(windows array or iterator of chunks, "windows" or "stream",
    series length in steps when the input was a series cut into windows here, else None)``.

    Accepts windows ``(n, T, C)``; a series ``(time[, channels])`` with ``window`` (and
    ``stride``); an xarray DataArray with dims ``(window_dim, time_dim, channel_dim)`` or
    ``(time_dim[, channel_dim])``; a ``.npy`` path (streamed in chunks of ``chunk``); or an
    iterable of window chunks.
    """
    try:
        import xarray as xr
    except ImportError:  # pragma: no cover - xarray is a dependency
        xr = None
    if xr is not None and isinstance(data, xr.DataArray):
        if window_dim in data.dims:
            missing = [d for d in (time_dim, channel_dim) if d not in data.dims]
            if missing:
                raise InputError(f"DataArray with dim {window_dim!r} also needs dims {missing}; dims are {data.dims}")
            return as_windows(data.transpose(window_dim, time_dim, channel_dim).values), "windows", None
        if time_dim not in data.dims:
            raise InputError(f"DataArray needs a {time_dim!r} (or {window_dim!r}) dim; dims are {data.dims}")
        order = [time_dim] + ([channel_dim] if channel_dim in data.dims else [])
        if set(data.dims) - set(order):
            raise InputError(f"DataArray has dims {data.dims}; expected {tuple(order)}")
        data = data.transpose(*order).values
    if isinstance(data, (str, os.PathLike)):
        return iter_npy_windows(data, chunk), "stream", None
    if isinstance(data, np.ndarray) or (hasattr(data, "__array__") and not isinstance(data, Iterator)):
        arr = np.asarray(data)
        if arr.ndim == 3:
            if window is not None:
                raise InputError("window applies to a series (time, channels); the input is already windowed (3-d)")
            return as_windows(arr), "windows", None
        if window is None:
            raise InputError(f"a series of shape {arr.shape} needs a window length (window=...)")
        return as_windows(sliding_windows(arr, window, stride)), "windows", int(arr.shape[0])
    if isinstance(data, Iterable):
        return iter(data), "stream", None
    raise InputError(f"cannot take windows from a {type(data).__name__}")

