"""Dense transformer cost: 6·N FLOPs per trained position, 2·N per served position."""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np

from tsbudget.cost_model import CostModel, optional_positive_int
from tsbudget.errors import InputError
from tsbudget.variables import as_positive_array

__all__ = ["Dense", "kaplan_non_embedding_params"]


# -- the model ---------------------------------------------------------------------
def kaplan_non_embedding_params(n_layer, d_model) -> np.ndarray:
    """Non-embedding parameters ``12·n_layer·d_model²`` (Kaplan et al. 2020, eq. 2.1).

    With ``d_attn = d_model`` and ``d_ff = 4·d_model``: 4·d_model² for the attention
    projections plus 8·d_model² for the feed-forward block, per layer.
    """
    n_layer = as_positive_array(n_layer, "n_layer")
    d_model = as_positive_array(d_model, "d_model")
    return 12.0 * n_layer * d_model**2


@attrs.frozen
class Dense(CostModel):
    """A dense transformer: every position passes through all ``N`` parameters.

    Kaplan et al. 2020 §2.1 (Table 1): a forward pass costs ``2N`` FLOPs per position
    (one multiply and one add per parameter) and the backward pass twice that, so
    training costs ``6N`` per trained position and serving ``2N`` per served position
    (Hoffmann et al. 2022 use the same ``C = 6·N·D``).

    When ``n_layer``, ``n_ctx`` and ``d_model`` are all given, the attention-score
    term of Kaplan Table 1 is added: forward ``2N + 2·n_layer·n_ctx·d_model`` per
    position (``d_attn = d_model``), training three times the forward pass. Its ratio
    to ``2N`` is ``1 + n_ctx/(12·d_model)`` when ``N = 12·n_layer·d_model²``.
    """

    name: ClassVar[str] = "dense"
    description: ClassVar[str] = "Dense transformer: 6N FLOPs per trained position, 2N per served (+ attention)"
    citation: ClassVar[str] = "Kaplan et al. 2020, Scaling Laws for Neural Language Models, §2.1 and Table 1"

    n_layer: int | None = attrs.field(default=None, validator=optional_positive_int)
    n_ctx: int | None = attrs.field(default=None, validator=optional_positive_int)
    d_model: int | None = attrs.field(default=None, validator=optional_positive_int)
    #: width of the cached keys (and of the values) per layer; None: d_model (multi-head attention)
    d_kv: int | None = attrs.field(default=None, validator=optional_positive_int)

    def __attrs_post_init__(self):
        given = {k: getattr(self, k) for k in ("n_layer", "n_ctx", "d_model")}
        missing = [k for k, v in given.items() if v is None]
        if missing and len(missing) < 3:
            raise InputError(
                f"Dense: the attention term needs n_layer, n_ctx and d_model together; {missing[0]} is missing"
            )
        if self.d_kv is not None and missing:
            raise InputError(f"Dense: d_kv={self.d_kv!r} needs n_layer, n_ctx and d_model too")

    @property
    def has_attention(self) -> bool:
        return self.n_layer is not None

    def attention_flops_per_position(self) -> float:
        """Forward attention-score FLOPs per position, ``2·n_layer·n_ctx·d_model`` (0 without shape)."""
        if not self.has_attention:
            return 0.0
        return 2.0 * self.n_layer * self.n_ctx * self.d_model

    def inference_flops_per_position(self, n, **variables) -> np.ndarray:
        self.resolve_variables(**variables)
        n = as_positive_array(n, "n")
        if not self.has_attention:
            return 2.0 * n
        return 2.0 * n + self.attention_flops_per_position()

    def train_flops_per_position(self, n, **variables) -> np.ndarray:
        self.resolve_variables(**variables)
        n = as_positive_array(n, "n")
        if not self.has_attention:
            return 6.0 * n
        return 3.0 * (2.0 * n + self.attention_flops_per_position())

    def total_params(self, n, **variables) -> np.ndarray:
        self.resolve_variables(**variables)
        return as_positive_array(n, "n")

    def active_params(self, n, **variables) -> np.ndarray:
        return self.total_params(n, **variables)

    def cache_bytes_per_position(self, n, precision_bytes, **variables) -> np.ndarray:
        """Key-value cache per context position of one sequence, ``2·n_layer·d_kv`` values
        (a key and a value per layer; Pope et al. 2022, "Efficiently Scaling Transformer
        Inference", §2) at ``precision_bytes`` bytes each. ``d_kv = d_model`` for multi-head
        attention (Kaplan et al. 2020 Table 1 shapes, ``d_attn = d_model``); multi-query
        attention keeps one key/value head, ``d_kv = d_head`` (Shazeer 2019, "Fast Transformer
        Decoding: One Write-Head is All You Need"; Pope et al. 2022 §3.3), and grouped-query
        attention ``n_kv_heads·d_head`` (Ainslie et al. 2023, GQA).

        Default: without ``n_layer``/``d_model`` the model has no attention geometry and the
        cache is not counted (0): decode then moves only the weights.
        """
        self.resolve_variables(**variables)
        n = as_positive_array(n, "n")
        precision_bytes = as_positive_array(precision_bytes, "precision_bytes")
        if not self.has_attention:
            return 0.0 * n * precision_bytes
        width = self.d_model if self.d_kv is None else self.d_kv
        return 2.0 * self.n_layer * width * precision_bytes + 0.0 * n
