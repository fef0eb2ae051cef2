"""Adaptive patching cost (Byte Latent Transformer): a latent model over patches, local models over positions."""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np

from tsbudget.cost_model import CostModel, TouchedCurve, nonnegative, saturating_curve
from tsbudget.variables import Variable, as_positive_array

__all__ = ["AdaptivePatching"]


@attrs.frozen
class AdaptivePatching(CostModel):
    """A large latent transformer over patches, fed and read by small local models.

    Pagnoni et al. 2024 ("Byte Latent Transformer: Patches Scale Better Than Tokens",
    §2 and the FLOPs accounting of their §4/Appendix) group bytes into patches of
    dynamic length; a local encoder turns every byte into patch representations, the
    latent transformer (``n`` parameters, the count the law sees) runs once per patch,
    and a local decoder maps patch outputs back to every byte. They count each part as
    ``2·params`` forward FLOPs per position *it processes*. With ``p = compression``
    (mean positions per patch) and local models of ``encoder_params`` and
    ``decoder_params`` parameters (cross-attention included)::

        serve = 2·N/p + 2·(N_enc + N_dec)      per input position
        train = 6·N/p + 6·(N_enc + N_dec)      (backward = 2 × forward)

    ``embedding_params`` (BLT's hash n-gram embedding tables) are lookups: they count
    toward total parameters but cost no matrix FLOPs. ``compression = 1`` with zero-size
    local models is exactly dense.
    """

    name: ClassVar[str] = "adaptive_patching"
    description: ClassVar[str] = "Adaptive patching (BLT): latent model per patch, local encoder/decoder per position"
    citation: ClassVar[str] = "Pagnoni et al. 2024, Byte Latent Transformer: Patches Scale Better Than Tokens"
    declared_variables: ClassVar[tuple[Variable, ...]] = (
        Variable("compression", 1.0, 64.0, 4.5, log=True, description="mean positions per patch (compression rate)"),
    )

    encoder_params: float = attrs.field(default=0.0, validator=nonnegative)
    decoder_params: float = attrs.field(default=0.0, validator=nonnegative)
    embedding_params: float = attrs.field(default=0.0, validator=nonnegative)
    #: attention-cache values the latent model keeps per patch (2·layers·d_kv); 0 leaves it out
    cache_values: float = attrs.field(default=0.0, validator=nonnegative)

    @property
    def local_params(self) -> float:
        return float(self.encoder_params) + float(self.decoder_params)

    def train_flops_per_position(self, n, **variables) -> np.ndarray:
        p = self.resolve_variables(**variables)["compression"]
        return 6.0 * as_positive_array(n, "n") / p + 6.0 * self.local_params

    def inference_flops_per_position(self, n, **variables) -> np.ndarray:
        p = self.resolve_variables(**variables)["compression"]
        return 2.0 * as_positive_array(n, "n") / p + 2.0 * self.local_params

    def total_params(self, n, **variables) -> np.ndarray:
        p = self.resolve_variables(**variables)["compression"]
        return as_positive_array(n, "n") + (self.local_params + float(self.embedding_params)) + 0.0 * p

    def active_params(self, n, **variables) -> np.ndarray:
        """Latent and local weights; each position passes through all of them (the latent
        model once per patch)."""
        p = self.resolve_variables(**variables)["compression"]
        return as_positive_array(n, "n") + self.local_params + 0.0 * p

    def weight_params_touched(self, n, batch, **variables) -> np.ndarray:
        """Parameters a decode step reads: the local models every step, the latent model on
        the steps where some sequence closes a patch.

        Derivation. A sequence ends a patch at a given position with probability ``1/p``
        (mean patch length ``p``). With ``B`` sequences at independent phases the latent
        model runs (and its weights are read) on a step with probability
        ``1 − (1 − 1/p)^B``, so per step::

            touched = N_enc + N_dec + N·(1 − (1 − 1/p)^B)

        ``N/p + N_enc + N_dec`` at ``B = 1`` (half the serving FLOPs per position) and all
        weights every step as the batch grows. The hash n-gram embedding tables are looked
        up (a few rows per position), not streamed, and are not counted.
        """
        batch = as_positive_array(batch, "batch")
        return self.weight_params_touched_curve(n, **variables)(batch)

    def weight_params_touched_curve(self, n, **variables) -> TouchedCurve:
        """:meth:`weight_params_touched` as a function of the batch, ``ln(1 − 1/p)`` evaluated once."""
        p = self.resolve_variables(**variables)["compression"]
        return saturating_curve(self.local_params, as_positive_array(n, "n"), 1.0 / p)

    def cache_bytes_per_position(self, n, precision_bytes, **variables) -> np.ndarray:
        """The latent model's cache, ``cache_values`` per patch, one patch per ``p`` input
        positions: ``cache_values/p·precision_bytes`` (the local models' caches are not
        counted). 0 when not given."""
        p = self.resolve_variables(**variables)["compression"]
        n = as_positive_array(n, "n")
        precision_bytes = as_positive_array(precision_bytes, "precision_bytes")
        return self.cache_values / p * precision_bytes + 0.0 * n

