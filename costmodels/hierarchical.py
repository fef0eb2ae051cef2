"""Hierarchical compression cost: levels at falling resolution, each with its width share, plus a return path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import attrs
import numpy as np

from tsbudget.cost_model import CostModel, TouchedCurve, any_of_batch_logged, log_miss, nonnegative
from tsbudget.cost_model import share as fraction  # Level has a field named share
from tsbudget.errors import InputError
from tsbudget.variables import Variable, as_positive_array

__all__ = ["HierarchicalCompression", "Level", "parameter_shares"]

MAX_RATIO = 1024.0


def _ratio(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"Level.ratio must be a number, got {value!r}")
    if not 1.0 <= value <= MAX_RATIO:
        raise InputError(f"Level.ratio must be in [1, {MAX_RATIO:g}], got {value!r}")


def _level_name(instance, attribute, value):
    if not isinstance(value, str) or (value and not f"ratio_{value}".isidentifier()):
        raise InputError(f"Level.name must be letters, digits or _ (it names the variable ratio_<name>), got {value!r}")


@attrs.frozen
class Level:
    """One level of the hierarchy.

    ``ratio``: positions of the level below (the input, for the first level) per
    position of this level; it is the default of the level's allocation variable.
    ``share``: fraction of ``N`` in this level's (downward) blocks. ``return_share``:
    fraction of ``N`` in the return-path stage that decodes back at this level's
    resolution. ``name`` names the variable ``ratio_<name>`` (index when empty).
    ``cache_values``: attention-cache values the level (its blocks and its return stage)
    keeps per position of its own, ``2·layers·d_kv`` for attention layers (Pope et al. 2022
    §2); 0, the default, leaves the level's cache out of the serving roofline.
    """

    ratio: float = attrs.field(default=1.0, validator=_ratio)
    share: float = attrs.field(default=1.0, validator=fraction)
    return_share: float = attrs.field(default=0.0, validator=fraction)
    name: str = attrs.field(default="", validator=_level_name)
    cache_values: float = attrs.field(default=0.0, validator=nonnegative)


def parameter_shares(layers, widths) -> list[float]:
    """Parameter shares ``s_i = L_i·d_i² / Σ_j L_j·d_j²`` of stages with ``L_i`` layers of width ``d_i``.

    Each transformer layer of width ``d`` holds ``12·d²`` non-embedding parameters
    (Kaplan et al. 2020, Table 1: ``N ≈ 12·n_layer·d_model²``); the 12 cancels. Give the
    downward stages and the return-path stages in one list and split the result.
    """
    layers = [float(x) for x in layers]
    widths = [float(x) for x in widths]
    if len(layers) != len(widths) or not layers:
        raise InputError(f"parameter_shares: need one width per stage, got {len(layers)} layers and {len(widths)} widths")
    if any(not (x > 0) for x in (*layers, *widths)):
        raise InputError(f"parameter_shares: layers and widths must be > 0, got {layers} and {widths}")
    sizes = [n * d * d for n, d in zip(layers, widths)]
    total = sum(sizes)
    return [x / total for x in sizes]


def _to_level(item) -> Level:
    if isinstance(item, Level):
        return item
    try:
        if isinstance(item, Mapping):
            return Level(**item)
        if isinstance(item, Sequence) and not isinstance(item, str):
            return Level(*item)
    except TypeError as exc:
        raise InputError(f"HierarchicalCompression.levels: bad level {item!r}: {exc}") from exc
    raise InputError(
        f"HierarchicalCompression.levels: a level is a Level, a mapping or (ratio, share[, return_share[, name]]), "
        f"got {item!r}"
    )


def _to_levels(value) -> tuple[Level, ...]:
    if isinstance(value, (str, Mapping, Level)) or not isinstance(value, Sequence):
        raise InputError(f"HierarchicalCompression.levels must be a sequence of levels, got {value!r}")
    levels = []
    for i, item in enumerate(value):
        try:
            levels.append(_to_level(item))
        except InputError as exc:
            raise InputError(f"HierarchicalCompression.levels[{i}]: {exc}") from exc
    return tuple(levels)


@attrs.frozen
class HierarchicalCompression(CostModel):
    """A stack of levels, each running at a coarser resolution than the one below.

    Architecture (Nawrot et al. 2022, "Hierarchical Transformers Are More Efficient
    Language Models" (Hourglass); Yu et al. 2023, MEGABYTE; Hwang et al. 2025, H-Net):
    level ``i`` shortens the sequence by ``c_i`` and runs blocks holding ``s_i·N``
    parameters on the shortened sequence; on the way back, a return-path stage holding
    ``ρ_i·N`` parameters upsamples and decodes at level ``i``'s resolution.

    Derivation (no paper gives one closed form for arbitrary levels). Level ``i`` sees
    one position per ``C_i = c_0·c_1·…·c_i`` input positions. A block of ``P``
    parameters costs ``2P`` forward and ``6P`` training FLOPs per position it
    processes (Kaplan et al. 2020 §2.1), so per input position::

        serve = 2N · Σ_i (s_i + ρ_i) / C_i
        train = 6N · Σ_i (s_i + ρ_i) / C_i,      Σ_i (s_i + ρ_i) = 1

    Shortening/upsampling layers are counted in the level's shares; attention-score
    FLOPs are neglected as in the dense ``6N``. A level's *width share* enters as its
    share of parameters: a stage of ``L`` layers of width ``d`` holds ``12·L·d²``
    parameters (Kaplan et al. 2020 Table 1), so widths give shares through
    :func:`parameter_shares`. The ratios are the allocation
    variables ``ratio_<level>``; one level with ratio 1, share 1 and no return path is
    exactly dense.
    """

    name: ClassVar[str] = "hierarchical"
    description: ClassVar[str] = "Hierarchical compression: levels with compression ratios, width shares, return path"
    citation: ClassVar[str] = (
        "Nawrot et al. 2022, Hierarchical Transformers Are More Efficient Language Models; "
        "Yu et al. 2023, MEGABYTE; Hwang et al. 2025, Dynamic Chunking (H-Net)"
    )

    levels: tuple[Level, ...] = attrs.field(
        default=(Level(1.0, 0.25, 0.25, "outer"), Level(4.0, 0.5, 0.0, "inner")),
        converter=_to_levels,
    )

    def __attrs_post_init__(self):
        if not self.levels:
            raise InputError("HierarchicalCompression.levels must hold at least one level")
        names = [v.name for v in self.variables]
        if len(set(names)) != len(names):
            raise InputError(f"HierarchicalCompression.levels: level names repeat: {names}")
        total = sum(lv.share + lv.return_share for lv in self.levels)
        if abs(total - 1.0) > 1e-9:
            raise InputError(f"HierarchicalCompression.levels: shares + return_shares must sum to 1, got {total!r}")

    @property
    def variables(self) -> tuple[Variable, ...]:
        return tuple(
            Variable(
                f"ratio_{lv.name or i}",
                1.0,
                MAX_RATIO,
                float(lv.ratio),
                log=True,
                description=f"compression ratio of level {lv.name or i}",
            )
            for i, lv in enumerate(self.levels)
        )

    def flops_factor(self, **variables) -> np.ndarray:
        """``Σ_i (s_i + ρ_i)/C_i``: the fraction of dense FLOPs one input position costs."""
        resolved = self.resolve_variables(**variables)
        cumulative = 1.0
        factor = 0.0
        for var, lv in zip(self.variables, self.levels, strict=True):
            cumulative = cumulative * resolved[var.name]
            factor = factor + (lv.share + lv.return_share) / cumulative
        return np.asarray(factor, dtype=float)

    def train_flops_per_position(self, n, **variables) -> np.ndarray:
        return 6.0 * as_positive_array(n, "n") * self.flops_factor(**variables)

    def inference_flops_per_position(self, n, **variables) -> np.ndarray:
        return 2.0 * as_positive_array(n, "n") * self.flops_factor(**variables)

    def total_params(self, n, **variables) -> np.ndarray:
        return as_positive_array(n, "n") + 0.0 * self.flops_factor(**variables)

    def active_params(self, n, **variables) -> np.ndarray:
        return self.total_params(n, **variables)

    def weight_params_touched(self, n, batch, **variables) -> np.ndarray:
        """Parameters a decode step reads: each level's blocks and return-path stage on the
        steps where it runs.

        Derivation. Level ``i`` (downward blocks and its return-path stage, ``(s_i + ρ_i)·N``
        parameters) runs once per ``C_i = c_0·…·c_i`` generated input positions. With ``B``
        sequences at independent phases (continuous batching) some sequence reaches a
        level-``i`` boundary on a step with probability ``1 − (1 − 1/C_i)^B``, and then the
        level's weights are read once for all of them::

            touched = N · Σ_i (s_i + ρ_i) · (1 − (1 − 1/C_i)^B)

        At ``B = 1`` this is ``N·Σ (s_i + ρ_i)/C_i``, half the serving FLOPs per position; as
        the batch grows every level is read every step, so the return path and the coarse
        levels cost bandwidth at serving even where their FLOPs are small.
        """
        batch = as_positive_array(batch, "batch")
        return self.weight_params_touched_curve(n, **variables)(batch)

    def weight_params_touched_curve(self, n, **variables) -> TouchedCurve:
        """:meth:`weight_params_touched` as a function of the batch, each level's share and
        ``ln(1 − 1/C_i)`` evaluated once."""
        resolved = self.resolve_variables(**variables)
        n = as_positive_array(n, "n")
        cumulative, levels = 1.0, []
        for var, lv in zip(self.variables, self.levels, strict=True):
            cumulative = cumulative * resolved[var.name]
            levels.append((lv.share + lv.return_share, log_miss(1.0 / cumulative)))

        def at(batch):
            touched = 0.0
            for weight, logged in levels:
                touched = touched + weight * any_of_batch_logged(logged, batch)
            return n * touched

        return TouchedCurve(at)

    def cache_bytes_per_position(self, n, precision_bytes, **variables) -> np.ndarray:
        """Attention cache per input position: level ``i`` keeps ``cache_values_i`` values per
        position of its own, one per ``C_i`` input positions, so ``Σ_i cache_values_i / C_i``
        values at ``precision_bytes`` bytes each (0 when no level gives its cache)."""
        resolved = self.resolve_variables(**variables)
        n = as_positive_array(n, "n")
        precision_bytes = as_positive_array(precision_bytes, "precision_bytes")
        cumulative, values = 1.0, 0.0
        for var, lv in zip(self.variables, self.levels, strict=True):
            cumulative = cumulative * resolved[var.name]
            values = values + lv.cache_values / cumulative
        return values * precision_bytes + 0.0 * n
