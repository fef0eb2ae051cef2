"""The redundancy report: groups of near-duplicate windows, their regimes and the effective data."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import numpy as np

from tsbudget.report import Report, fmt
from tsbudget.timeseries.regimes import RegimeData

__all__ = ["RedundancyReport"]


@attrs.frozen(eq=False, repr=False)
class RedundancyReport(Report):
    """Redundancy of a windowed corpus and its effective data.

    ``labels`` holds a group id per window and ``group_sizes`` the repetition count of each
    group (indexed by group id); ``regime_of_window`` names each window's regime;
    :meth:`group_table` lists every group with its size and regime.
    ``regime_data`` is the planner-facing description (:class:`~tsbudget.timeseries.regimes.RegimeData`)
    in ``unit``; ``effective`` is its effective data for one epoch over the corpus.
    ``grouping_stats`` holds what the grouping run reports about itself (for ``lsh``: the
    representatives stored, candidate pairs checked, and whether the store saturated).
    """

    windows: int
    window_length: int
    channels: int
    labels: np.ndarray
    group_sizes: np.ndarray
    regime_of_window: np.ndarray
    regime_data: RegimeData
    threshold: float
    method: str
    floor: np.ndarray
    normal_min_size: int | None
    unit: str = "windows"
    grouping_stats: Mapping[str, object] = attrs.field(factory=dict)

    @property
    def groups(self) -> int:
        return int(len(self.group_sizes))

    @property
    def cells_per_window(self) -> int:
        return self.window_length * self.channels

    @property
    def normal_share(self) -> float:
        """Share of windows in the ``normal`` regime (0 when no window is labelled normal)."""
        return float(np.mean(self.regime_of_window == "normal")) if self.windows else 0.0

    @property
    def raw(self) -> float:
        """Data read in one epoch over the corpus, in :attr:`unit`."""
        return float(self.regime_data.total_available)

    @property
    def unique(self) -> float:
        return float(self.regime_data.total_unique)

    @property
    def effective(self) -> float:
        """Effective data of one epoch over the corpus, in :attr:`unit`."""
        return float(self.regime_data.effective(self.regime_data.total_available))

    def effective_over_epochs(self, epochs) -> np.ndarray:
        """Effective data after ``epochs`` passes over the corpus (natural mix), in :attr:`unit`."""
        e = np.asarray(epochs, dtype=float)
        return self.regime_data.effective(e * self.regime_data.total_available)

    def to_dict(self, group_sizes: bool = False) -> dict:
        sizes, counts = np.unique(self.group_sizes, return_counts=True)
        out = {
            "success": True,
            "message": f"{self.windows} windows in {self.groups} groups",
            "unit": self.unit,
            "windows": self.windows,
            "groups": self.groups,
            "normal_share": self.normal_share,
            "raw": self.raw,
            "unique": self.unique,
            "effective": self.effective,
            "effective_fraction": self.effective / self.raw,
            "largest_group": int(self.group_sizes.max()),
            "group_size_histogram": {int(s): int(c) for s, c in zip(sizes, counts)},
            "regimes": self.regime_data.to_dict()["regimes"],
            "window_length": self.window_length,
            "channels": self.channels,
            "threshold": self.threshold,
            "method": self.method,
            "normal_min_size": self.normal_min_size,
            "floor": [float(f) for f in self.floor],
            "diagnostics": dict(self.grouping_stats),
        }
        if group_sizes:
            out["group_sizes"] = self.group_sizes.tolist()
        return out

    def group_table(self):
        """One row per group: ``group`` (id, as in :attr:`labels`), ``size`` (its repetition
        count, windows in it), ``first_window`` (index of its first window, to look it up),
        ``regime`` (the regime of most of its windows; ties go to the label first in sorted
        order) and ``regime_share`` (the share of its windows in that regime: 1 unless user
        labels split the group across regimes). A polars DataFrame sorted by group id."""
        import polars as pl

        names, code = np.unique(self.regime_of_window, return_inverse=True)
        code = code.ravel().astype(np.int64)
        g, k = self.groups, len(names)
        first = np.unique(self.labels, return_index=True)[1]  # group ids are 0..groups-1
        per = np.bincount(self.labels * k + code, minlength=g * k).reshape(g, k)
        top = per.argmax(axis=1)
        return pl.DataFrame({
            "group": np.arange(g, dtype=np.int64),
            "size": self.group_sizes.astype(np.int64),
            "first_window": first.astype(np.int64),
            "regime": names[top].astype(str),
            "regime_share": per[np.arange(g), top] / self.group_sizes,
        })

    def headline(self) -> str:
        return (f"RedundancyReport: {self.windows} windows ({self.window_length} steps x {self.channels} channels) "
                f"in {self.groups} groups")

    def estimate_lines(self) -> list[str]:
        lines = [
            f"effective data  {fmt(self.effective, 6)} of {fmt(self.raw, 6)} {self.unit} "
            f"({self.effective / self.raw:.1%}); unique {fmt(self.unique, 6)}",
            f"normal share    {self.normal_share:.1%}; largest group {int(self.group_sizes.max())} windows",
        ]
        rd = self.regime_data
        for n, u, a, r in zip(rd.regimes, rd.unique, rd.available, rd.r_star):
            # R* may be inf (no decay), which says more than the missing-value mark would
            lines.append(f"regime {n:<12} {fmt(a, 6)} {self.unit}, {fmt(u, 6)} unique, R* = {r:.4g}")
        return lines

    def diagnostic_lines(self) -> list[str]:
        lines = [f"grouping        {self.method}, RMS threshold {self.threshold:g}"]
        lines += [f"{k:<15} {fmt(v)}" for k, v in self.grouping_stats.items()]
        return lines
