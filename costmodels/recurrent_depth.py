"""Recurrent-depth cost: prelude, a core block repeated r times, coda; truncated backprop."""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np

from tsbudget.cost_model import CostModel, TouchedCurve, nonnegative, positive_int, share
from tsbudget.errors import InputError
from tsbudget.variables import Variable, as_positive_array

__all__ = ["RecurrentDepth"]


@attrs.frozen
class RecurrentDepth(CostModel):
    """A depth-recurrent transformer (Geiping et al. 2025, "Scaling up Test-Time Compute
    with Latent Reasoning: A Recurrent Depth Approach", §3).

    A prelude ``P`` embeds the input into ``e``; a core block ``R`` is applied ``r``
    times to a latent state, each time receiving ``e`` again (concatenated and mapped
    back to the width by an adapter counted in the core); a coda ``C`` reads out. The
    ``n`` parameters the law sees are the unique weights, split by the shares
    ``N_p + N_c + N_o = N``. Training truncates backpropagation to the last ``k``
    repeats (``backprop_repeats``; the paper uses k = 8): the first ``r − k`` repeats
    run without a graph.

    FLOPs per position (derivation; 2 forward and 4 backward FLOPs per weight use,
    as in Kaplan et al. 2020 §2.1)::

        serve = 2·(N_p + r·N_c + N_o)
        train = 2·(N_p + r·N_c + N_o) + 4·(N_p + min(k, r)·N_c + N_o)

    The backward pass runs through the coda, the last ``min(k, r)`` core repeats and
    the prelude once. The prelude gets its gradient only through the injected input
    ``e``: each of the last ``min(k, r)`` repeats sends ``∂L/∂e`` back through the
    adapter (that cost is inside the repeat's ``4·N_c``); these contributions are
    summed and then backpropagated through ``P`` a single time, hence ``4·N_p`` and not
    ``4·k·N_p``. Written as a difference from dense, which makes ``r = 1`` exact::

        serve = 2N + 2·(r − 1)·N_c
        train = 6N + (2·(r − 1) + 4·(min(k, r) − 1))·N_c

    Serving uses whatever ``recurrence`` is passed to :meth:`inference_flops` (the
    test-time ``r`` may differ from training). Parameters do not grow with ``r``.
    """

    name: ClassVar[str] = "recurrent_depth"
    description: ClassVar[str] = "Recurrent depth: prelude, core repeated r times, coda; backprop over last k repeats"
    citation: ClassVar[str] = (
        "Geiping et al. 2025, Scaling up Test-Time Compute with Latent Reasoning: A Recurrent Depth Approach"
    )
    declared_variables: ClassVar[tuple[Variable, ...]] = (
        Variable("recurrence", 1, 256, 8, integer=True, log=True, description="repeats r of the core block"),
    )

    prelude_share: float = attrs.field(default=0.25, validator=share)
    core_share: float = attrs.field(default=0.5, validator=share)
    coda_share: float = attrs.field(default=0.25, validator=share)
    backprop_repeats: int = attrs.field(default=8, validator=positive_int)
    #: attention-cache values per position kept by the prelude and coda (2·layers·d_kv of
    #: their attention layers), and by the core per repeat; 0 leaves them out of the roofline
    cache_values: float = attrs.field(default=0.0, validator=nonnegative)
    core_cache_values: float = attrs.field(default=0.0, validator=nonnegative)

    def __attrs_post_init__(self):
        total = self.prelude_share + self.core_share + self.coda_share
        if abs(total - 1.0) > 1e-9:
            raise InputError(
                f"RecurrentDepth: prelude_share + core_share + coda_share must be 1, got {total!r} "
                f"({self.prelude_share!r} + {self.core_share!r} + {self.coda_share!r})"
            )

    def _r(self, variables) -> np.ndarray:
        return self.resolve_variables(**variables)["recurrence"]

    def train_flops_per_position(self, n, **variables) -> np.ndarray:
        r = self._r(variables)
        n = as_positive_array(n, "n")
        extra = 2.0 * (r - 1.0) + 4.0 * (np.minimum(float(self.backprop_repeats), r) - 1.0)
        return 6.0 * n + extra * (self.core_share * n)

    def inference_flops_per_position(self, n, **variables) -> np.ndarray:
        r = self._r(variables)
        n = as_positive_array(n, "n")
        return 2.0 * n + 2.0 * (r - 1.0) * (self.core_share * n)

    def total_params(self, n, **variables) -> np.ndarray:
        r = self._r(variables)
        return as_positive_array(n, "n") + 0.0 * r

    def active_params(self, n, **variables) -> np.ndarray:
        return self.total_params(n, **variables)

    def weight_params_touched(self, n, batch, **variables) -> np.ndarray:
        """Parameters a decode step reads: ``N_p + r·N_c + N_o = N + (r − 1)·N_c``.

        The ``r`` repeats of the core run one after another, each on the previous one's
        output, so a step reads the core's weights once per repeat (weights larger than the
        on-chip caches do not stay there between repeats): extra loops cost bandwidth at
        decode, not only FLOPs. The count is independent of the batch (every sequence runs
        the same weights) and is half the serving FLOPs per position, as for dense.
        """
        batch = as_positive_array(batch, "batch")
        return self.weight_params_touched_curve(n, **variables)(batch)

    def weight_params_touched_curve(self, n, **variables) -> TouchedCurve:
        """:meth:`weight_params_touched`, the same at every batch (a constant curve)."""
        r = self._r(variables)
        n = as_positive_array(n, "n")
        touched = n + (r - 1.0) * (self.core_share * n)
        return TouchedCurve(lambda batch: touched + 0.0 * batch, constant=touched)

    def cache_bytes_per_position(self, n, precision_bytes, **variables) -> np.ndarray:
        """Attention cache per context position: the prelude's and coda's ``cache_values``
        plus ``core_cache_values`` for each of the ``r`` repeats (each repeat attends over
        its own keys and values; Pope et al. 2022 §2 for the per-layer cache), so
        ``(cache_values + r·core_cache_values)·precision_bytes``: extra loops cost cache
        memory and the bandwidth to read it. 0 when neither is given."""
        r = self._r(variables)
        n = as_positive_array(n, "n")
        precision_bytes = as_positive_array(precision_bytes, "precision_bytes")
        return (self.cache_values + r * self.core_cache_values) * precision_bytes + 0.0 * n
