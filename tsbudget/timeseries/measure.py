"""Redundancy of a windowed series: group near-duplicate windows, label regimes, count effective data.

Pipeline
--------
1. **Windows** (:mod:`tsbudget.timeseries.windows`). An array ``(windows, time, channels)``, a
   series ``(time, channels)`` cut into windows of ``window`` steps every ``stride`` steps, an
   xarray DataArray with named dims, a ``.npy`` file, or an iterable of window chunks
   (streamed; the input never has to fit in memory).
2. **Per-window normalisation and distance** (:mod:`tsbudget.timeseries.normalise`). Each
   channel z-scored within the window with a floored std; RMS distance of the normalised
   windows (the default threshold 0.5 links shapes that correlate at ρ̄ >= 0.875).
3. **Grouping** (:mod:`tsbudget.timeseries.hashing`). Windows within the threshold are linked;
   groups are connected components: :func:`~tsbudget.timeseries.hashing.lsh_groups` (default,
   streaming SimHash LSH with every link verified) or
   :func:`~tsbudget.timeseries.hashing.exact_groups` (all pairs, the reference).
4. **Regimes.** A window is ``normal`` when its group has at least ``normal_min_size`` members,
   else ``rare``; or each window takes a user label (for a series with a per-step label column:
   the corpus-rarest label present in the window, so a window touching an intervention is an
   intervention window; :func:`~tsbudget.timeseries.windows.window_labels`).
5. **Effective data** (:mod:`tsbudget.timeseries.regimes`): each regime's distinct groups are its unique
   units and its windows the units read in one epoch; ``D' = Σ_r U_r(1 + R*_r(1 − e^{−R_r/R*_r}))``
   (Muennighoff et al. 2023 eq. 5 per regime).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from tsbudget.data_unit import int_setting
from tsbudget.errors import InputError
from tsbudget.timeseries.hashing import exact_groups, lsh_groups
from tsbudget.timeseries.normalise import DEFAULT_THRESHOLD, default_floor, normalise_windows
from tsbudget.timeseries.regimes import RegimeData
from tsbudget.timeseries.report import RedundancyReport
from tsbudget.timeseries.series_table import is_table, series_from_table
from tsbudget.timeseries.windows import DEFAULT_CHUNK, window_labels, window_source

__all__ = ["measure_redundancy"]


def _regimes_from_sizes(labels, sizes, normal_min_size):
    normal = sizes[labels] >= normal_min_size
    return np.where(normal, "normal", "rare")


def measure_redundancy(
    data,
    *,
    window: int | None = None,
    stride: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    labels=None,
    normal_min_size: int = 5,
    r_star: Mapping[str, float] | None = None,
    unit: str = "windows",
    data_unit=None,
    method: str = "lsh",
    floor=None,
    chunk: int = DEFAULT_CHUNK,
    window_dim: str = "window",
    time_dim: str = "time",
    channel_dim: str = "channel",
    time_col: str | None = None,
    label_col: str | None = None,
    channels=None,
    progress: Callable[[int], None] | None = None,
    **lsh_options,
) -> RedundancyReport:
    """Group near-duplicate windows of ``data`` and report redundancy and effective data.

    ``data``: windows ``(n, T, C)``; a series ``(time[, channels])`` with ``window`` (and
    ``stride``, default ``window``); a polars or pandas table of a series, read as
    ``tsbudget redundancy`` reads one (:func:`~tsbudget.timeseries.series_table.series_from_table`:
    rows sorted by ``time_col`` or the detected time column, which is never a channel;
    ``channels`` default to the other numeric columns; per-step labels from ``label_col``);
    an xarray DataArray with dims ``(window, time, channel)`` or ``(time[, channel])``; a
    ``.npy`` path; or an iterable of window chunks.
    ``labels``: per-window regime labels (length n), or per-step labels of a series (length
    time; see :func:`window_labels`); without them regimes come from group sizes.
    ``unit``: ``"windows"`` or ``"cells"`` (``window × channels`` per window); with
    ``data_unit`` (a registered name or instance counting channel-time cells, e.g. ``"cells"``)
    the count is in that unit's model positions. ``method``: ``"lsh"`` or ``"exact"``.
    ``progress`` is called with the number of windows of each chunk as it is grouped.
    """
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and threshold > 0):
        raise InputError(f"threshold must be a finite number > 0, got {threshold!r}")
    if method not in ("lsh", "exact"):
        raise InputError(f"method must be 'lsh' or 'exact', got {method!r}")
    if unit not in ("windows", "cells"):
        raise InputError(f"unit must be 'windows' or 'cells', got {unit!r}")
    normal_min_size = int_setting("normal_min_size")(normal_min_size)
    if is_table(data):
        if labels is not None and label_col is not None:
            raise InputError("give labels or label_col, not both")
        data, step_labels, _, _ = series_from_table(data, time_col=time_col, label_col=label_col, channels=channels)
        labels = step_labels if label_col is not None else labels
    elif time_col is not None or label_col is not None or channels is not None:
        raise InputError("time_col, label_col and channels apply to a table (polars or pandas DataFrame)")
    source, kind, steps = window_source(data, window, stride, window_dim, time_dim, channel_dim, chunk)
    if kind == "windows":
        arr = source
        shape = arr.shape[1:]
        chunks = (arr[s : s + chunk] for s in range(0, len(arr), chunk))
    else:
        arr, chunks, shape = None, source, None

    grouping_stats: dict[str, object] = {}
    if method == "exact":
        if arr is None:
            arr = np.concatenate(list(chunks))
        shape = arr.shape[1:]
        floor = default_floor(arr[: 4 * DEFAULT_CHUNK]) if floor is None else floor
        floor = np.broadcast_to(np.asarray(floor, dtype=np.float32), (shape[1],)).copy()
        group = exact_groups(normalise_windows(arr, floor[None, :]), threshold)
        if progress is not None:
            progress(len(arr))
    else:
        seen = []

        def counted(it):
            for c in it:
                seen.append(np.shape(c))
                yield c
                if progress is not None:  # the chunk has been grouped when the next is asked for
                    progress(len(c))

        group, floor, stats = lsh_groups(counted(chunks), threshold, floor=floor, **lsh_options)
        shape = seen[0][1:]
        grouping_stats.update(
            representatives=stats.representatives, candidates_checked=stats.candidates_checked,
            saturated=stats.saturated,
        )
    n = len(group)
    _, group, sizes = np.unique(group, return_inverse=True, return_counts=True)
    group = group.ravel()

    if labels is None:
        regime = _regimes_from_sizes(group, sizes, normal_min_size)
    else:
        labels = np.asarray(labels).astype(str)
        if labels.shape == (n,):
            regime = labels
        elif steps is not None and labels.shape == (steps,):
            regime = window_labels(labels, window, stride)
        elif steps is not None:
            raise InputError(
                f"labels must have one value per time step of the series ({steps} steps) or one per "
                f"window ({n} windows); got {labels.size} labels" + (f" in shape {labels.shape}" if labels.ndim != 1 else "")
            )
        else:
            raise InputError(
                f"labels must have one value per window ({n} windows); got {labels.size} labels"
                + (f" in shape {labels.shape}" if labels.ndim != 1 else "")
            )
        normal_min_size = None

    names, code = np.unique(regime, return_inverse=True)
    available = np.bincount(code, minlength=len(names)).astype(float)
    pair = np.unique(code.astype(np.int64) * (n + 1) + group)
    unique = np.bincount(pair // (n + 1), minlength=len(names)).astype(float)
    regime_data = RegimeData.from_counts(
        dict(zip(names.tolist(), unique)), dict(zip(names.tolist(), available)), r_star, "windows"
    )
    if unit == "cells" or data_unit is not None:
        regime_data = regime_data.scaled(float(shape[0] * shape[1]), "cells")
    if data_unit is not None:
        from tsbudget.registry import units

        du = units.resolve(data_unit)
        regime_data = regime_data.scaled(float(du.positions_per_unit()), "positions")
    return RedundancyReport(
        windows=n,
        window_length=int(shape[0]),
        channels=int(shape[1]),
        labels=group,
        group_sizes=sizes,
        regime_of_window=regime,
        regime_data=regime_data,
        threshold=float(threshold),
        method=method,
        floor=np.asarray(floor, dtype=float),
        normal_min_size=normal_min_size,
        unit=regime_data.unit,
        grouping_stats=grouping_stats,
    )
