"""Mixture-of-experts cost: active vs total parameters, top-k routing, fine granularity, router FLOPs."""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np

from tsbudget.cost_model import (
    CostModel,
    TouchedCurve,
    nonnegative,
    optional_positive_int,
    saturating_curve,
    share,
)
from tsbudget.errors import InputError
from tsbudget.variables import Variable, as_positive_array

__all__ = ["MixtureOfExperts"]


@attrs.frozen
class MixtureOfExperts(CostModel):
    """A transformer whose feed-forward blocks are routed experts.

    ``n`` is the number of *active* parameters per position (Clark et al. 2022, "Unified
    Scaling Laws for Routed Language Models": compute is set by the parameters a token
    passes through; the expert count is a second axis). Variables:

    * ``experts`` ``E`` -- the expansion rate: experts held per expert a position uses,
      i.e. total over active expert weights. With ``top_k = granularity = 1`` it is the
      expert count of Clark et al. 2022 and the ``E`` of Krajewski et al. 2024. Counting
      experts per routed slot keeps every combination of the three variables valid
      (a raw expert count below ``top_k`` would be infeasible), so an optimizer or a
      property test can draw them independently; :meth:`expert_count` gives the pool size.
    * ``top_k`` ``k`` -- coarse experts each position is routed to (pool ``E·k``).
    * ``granularity`` ``G`` -- Krajewski et al. 2024 ("Scaling Laws for Fine-Grained
      Mixture of Experts", §3): every expert is split into ``G`` experts ``G`` times
      smaller and each position goes to ``k·G`` of the ``E·k·G`` fine experts, so active
      and total expert parameters do not change with ``G``; only the router grows.

    Parameter count (derivation). A share ``f = expert_share`` of the active ``N`` sits
    in expert weights used by one position; the pool holds ``E`` times as many. The
    shared part (attention, embeddings) holds ``(1−f)·N``. With one router of
    ``d_model × E·k·G`` weights per MoE layer::

        total = N + f·N·(E − 1) + n_layer·d_model·E·k·G

    FLOPs. Krajewski et al. 2024 §5 count training compute per token as
    ``(12·d_model²·c_f + d_model·E·G·c_r)·n_blocks`` with ``c_f = 6``, ``c_r = 14``
    (their ``E·G`` is the pool size); ``12·d_model²·n_blocks`` is the active
    non-embedding count, so per trained position::

        train = 6·N + c_r·d_model·(E·k·G)·n_layer
        serve = 2·N + (c_r/3)·d_model·(E·k·G)·n_layer

    The serving router term keeps the forward:training ratio 1:3 of the dense part (an
    assumption; the paper gives only the training constant). A single expert
    (pool ``E·k·G = 1``) needs no router, so its router term is zero; and the router
    term is omitted when ``d_model``/``n_layer`` are not given. Hence ``E = k = G = 1``
    is exactly dense: ``6N`` and ``2N`` FLOPs, ``N`` parameters.
    """

    name: ClassVar[str] = "moe"
    description: ClassVar[str] = (
        "Mixture of experts: N active params; expansion (experts held per expert used), top-k, granularity, router"
    )
    citation: ClassVar[str] = (
        "Clark et al. 2022, Unified Scaling Laws for Routed Language Models; "
        "Krajewski et al. 2024, Scaling Laws for Fine-Grained Mixture of Experts, §3 and §5"
    )
    declared_variables: ClassVar[tuple[Variable, ...]] = (
        Variable("experts", 1, 4096, 8, integer=True, log=True, description="expansion E: experts held per one used"),
        Variable("top_k", 1, 8, 1, integer=True, description="coarse experts each position is routed to"),
        Variable("granularity", 1, 64, 1, integer=True, log=True, description="fine-grained split G of each expert"),
    )

    # 8·d² of the 12·d² per layer sit in the feed-forward block (Kaplan et al. 2020 eq. 2.1)
    expert_share: float = attrs.field(default=2.0 / 3.0, validator=share)
    d_model: int | None = attrs.field(default=None, validator=optional_positive_int)
    n_layer: int | None = attrs.field(default=None, validator=optional_positive_int)
    router_flops_constant: float = attrs.field(default=14.0, validator=nonnegative)

    def __attrs_post_init__(self):
        if (self.d_model is None) != (self.n_layer is None):
            missing = "d_model" if self.d_model is None else "n_layer"
            raise InputError(
                f"MixtureOfExperts: the router term needs d_model and n_layer together; {missing} is missing"
            )

    def _resolve(self, variables):
        v = self.resolve_variables(**variables)
        return v["experts"], v["top_k"], v["granularity"]

    def _router_weights(self, pool) -> np.ndarray:
        """Router parameters ``n_layer·d_model·pool``; zero with one expert or no shape."""
        if self.d_model is None:
            return np.zeros(np.shape(pool))
        return np.where(pool > 1, float(self.d_model) * self.n_layer * pool, 0.0)

    def expert_count(self, **variables) -> np.ndarray:
        """Fine experts in each MoE layer, ``E·k·G``."""
        e, k, g = self._resolve(variables)
        return e * k * g

    def router_params(self, **variables) -> np.ndarray:
        return self._router_weights(self.expert_count(**variables))

    def train_flops_per_position(self, n, **variables) -> np.ndarray:
        router = self.router_params(**variables)
        return 6.0 * as_positive_array(n, "n") + self.router_flops_constant * router

    def inference_flops_per_position(self, n, **variables) -> np.ndarray:
        router = self.router_params(**variables)
        return 2.0 * as_positive_array(n, "n") + (self.router_flops_constant / 3.0) * router

    def total_params(self, n, **variables) -> np.ndarray:
        e, k, g = self._resolve(variables)
        n = as_positive_array(n, "n")
        return n + self.expert_share * n * (e - 1.0) + self._router_weights(e * k * g)

    def active_params(self, n, **variables) -> np.ndarray:
        """``N`` plus the router weights every position multiplies by."""
        return as_positive_array(n, "n") + self.router_params(**variables)

    def weight_params_touched(self, n, batch, **variables) -> np.ndarray:
        """Parameters a decode step reads when ``batch`` positions are routed together.

        Derivation (uniform top-k routing). Each MoE layer holds ``M = E·k·G`` fine experts
        and a position is routed to ``k·G`` distinct ones, so a given expert is missed by one
        position with probability ``1 − k·G/M = 1 − 1/E``, and by all ``B`` positions of a
        step (routed independently) with probability ``(1 − 1/E)^B``. By linearity of
        expectation the step touches ``M·(1 − (1 − 1/E)^B)`` experts on average, each of
        ``f·N/(k·G)`` parameters, so::

            touched = (1 − f)·N + router + f·N·E·(1 − (1 − 1/E)^B)

        which is the active count at ``B = 1`` and rises to the whole pool (``total_params``)
        as ``B`` grows; ``E = 1`` is dense at every batch. The shared weights and the router
        are read once per step. Real routers are not uniform (load-balancing losses push them
        towards it), so this is the balanced-load expectation.
        """
        batch = as_positive_array(batch, "batch")
        return self.weight_params_touched_curve(n, **variables)(batch)

    def weight_params_touched_curve(self, n, **variables) -> TouchedCurve:
        """:meth:`weight_params_touched` as a function of the batch: the shared weights and
        router ``active − f·N`` and the pool ``f·N·E`` evaluated once, so a step at batch
        ``B`` costs one ``expm1``; with its inverse (:func:`~tsbudget.cost_model.saturating_curve`)."""
        e, _, _ = self._resolve(variables)
        n = as_positive_array(n, "n")
        experts = self.expert_share * n
        return saturating_curve(self.active_params(n, **variables) - experts, experts * e, 1.0 / e)

    def cache_bytes_per_position(self, n, precision_bytes, **variables) -> np.ndarray:
        """Key-value cache per context position, ``2·n_layer·d_model`` values at
        ``precision_bytes`` bytes (Pope et al. 2022 §2), when ``d_model`` and ``n_layer``
        are given; 0 (not counted) without them. Experts do not change the attention."""
        self.resolve_variables(**variables)
        n = as_positive_array(n, "n")
        precision_bytes = as_positive_array(precision_bytes, "precision_bytes")
        if self.d_model is None:
            return 0.0 * n * precision_bytes
        return 2.0 * self.n_layer * self.d_model * precision_bytes + 0.0 * n

