"""Composition of cost models: an adaptive-patching front end (BLT) stacked on any cost model.

Design. A hierarchy whose first level is adaptive patching could be written two ways: as a
new *level kind* inside :class:`~costmodels.hierarchical.HierarchicalCompression`, or as a
*composition* -- a front end that groups input positions into patches and hands the patch
sequence to another cost model. The composition is the cleaner one and is what this module
builds: the front end's accounting (local encoder and decoder on every input position, the
model behind it once per patch) does not depend on what that model is, so it is written once
and stacks on a hierarchy, a dense model, a mixture of experts or a recurrent-depth model
unchanged; each part keeps its own variables and settings, and the reductions to each part
hold by construction (tested exactly): ``compression = 1`` with no local models is the inner
model; a dense inner model, or a one-level hierarchy, is :class:`AdaptivePatching`. A level
kind would need the hierarchy's share bookkeeping (shares of ``N`` summing to 1) to hold the
local models, whose sizes BLT fixes in parameters, not as fractions of the latent model.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import ClassVar

import attrs
import numpy as np

from costmodels.adaptive_patching import AdaptivePatching
from tsbudget.cost_model import CostModel, TouchedCurve, any_of_batch_logged, log_miss, nonnegative
from tsbudget.errors import InputError, PluginTypeError
from tsbudget.variables import Variable, as_positive_array

__all__ = ["Patched"]


def _inner_name(instance, attribute, value):
    if not isinstance(value, str) or not value:
        raise InputError(f"Patched.inner must be a registered cost-model name, got {value!r}")
    if value == Patched.name:
        raise InputError("Patched.inner cannot be 'patched': one patching front end per model")


def _settings(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"Patched.inner_settings must be a mapping of setting -> value, got {value!r}")
    return dict(value)


@attrs.frozen
class Patched(CostModel):
    """An adaptive-patching front end over the cost model named ``inner`` (default: a hierarchy).

    Pagnoni et al. 2024 ("Byte Latent Transformer: Patches Scale Better Than Tokens", §2 and
    the FLOPs accounting of §4/Appendix) group input positions into patches of dynamic length
    ``p = compression`` (mean positions per patch); local models of ``encoder_params`` and
    ``decoder_params`` parameters run on every input position, and the latent model -- here
    any cost model, ``n`` being the parameter count the law sees -- runs once per patch. Each
    part costs what it costs per position it processes, so per input position::

        train = train_inner(N, v) / p + 6·(N_enc + N_dec)
        serve = serve_inner(N, v) / p + 2·(N_enc + N_dec)
        total = total_inner(N, v) + N_enc + N_dec + N_emb
        active = active_inner(N, v) + N_enc + N_dec

    where ``v`` are the inner model's own variables. With the default inner model,
    :class:`~costmodels.hierarchical.HierarchicalCompression` (Nawrot et al. 2022, Hourglass;
    Yu et al. 2023, MEGABYTE; Hwang et al. 2025, H-Net), this is a hierarchy whose first level
    is adaptive patching: the hierarchy's level ratios compound on top of the patch
    compression, so its first level sees one position per ``p·c_0`` input positions.

    Settings: ``inner`` (a registered cost-model name) and ``inner_settings`` (its fields,
    e.g. ``{"levels": [[1, 0.5], [4, 0.5]]}``), plus the front end's ``encoder_params``,
    ``decoder_params`` and ``embedding_params`` (hash n-gram tables: held, no FLOPs).
    Variables: ``compression`` (as in :class:`AdaptivePatching`) followed by the inner
    model's variables, each free or fixed in the planner with its bounds, integrality and
    default.
    """

    name: ClassVar[str] = "patched"
    description: ClassVar[str] = (
        "Adaptive patching (BLT) front end over any cost model (default: a hierarchy on the patches)"
    )
    citation: ClassVar[str] = (
        "Pagnoni et al. 2024, Byte Latent Transformer: Patches Scale Better Than Tokens; "
        "inner model's own source (hierarchical: Nawrot et al. 2022; Yu et al. 2023; Hwang et al. 2025)"
    )

    inner: str = attrs.field(default="hierarchical", validator=_inner_name)
    # a plain dict (JSON round trip of saved fits); left out of the hash, kept in equality
    inner_settings: dict = attrs.field(factory=dict, converter=_settings, hash=False)
    encoder_params: float = attrs.field(default=0.0, validator=nonnegative)
    decoder_params: float = attrs.field(default=0.0, validator=nonnegative)
    embedding_params: float = attrs.field(default=0.0, validator=nonnegative)

    def __attrs_post_init__(self):
        names = [v.name for v in self.inner_model.variables]
        if "compression" in names:
            raise InputError(
                f"Patched: inner cost model {self.inner!r} already declares a variable 'compression'; "
                "stack the front end on a model without its own patching"
            )

    @classmethod
    def over(cls, model: CostModel, **front_end) -> "Patched":
        """The front end over a cost-model instance (rebuilt from its name and fields)."""
        if not isinstance(model, CostModel):
            raise InputError(f"Patched.over needs a CostModel instance, got {model!r}")
        return cls(inner=model.name, inner_settings=attrs.asdict(model, recurse=True), **front_end)

    @functools.cached_property
    def inner_model(self) -> CostModel:
        """The cost model behind the patches, built once from ``inner`` and ``inner_settings``."""
        from tsbudget.registry import costmodels

        try:
            return costmodels.resolve(self.inner, **self.inner_settings)
        except (InputError, PluginTypeError) as exc:  # a bad or unknown setting of the inner model
            raise InputError(f"Patched.inner_settings {self.inner_settings!r}: {exc}") from exc

    @property
    def variables(self) -> tuple[Variable, ...]:
        return AdaptivePatching.declared_variables + self.inner_model.variables

    @property
    def local_params(self) -> float:
        return float(self.encoder_params) + float(self.decoder_params)

    def _split(self, variables) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``compression`` and the inner model's variables, checked and with defaults filled."""
        resolved = self.resolve_variables(**variables)
        p = resolved.pop("compression")
        return p, resolved

    def train_flops_per_position(self, n, **variables) -> np.ndarray:
        p, inner = self._split(variables)
        return self.inner_model.train_flops_per_position(n, **inner) / p + 6.0 * self.local_params

    def inference_flops_per_position(self, n, **variables) -> np.ndarray:
        p, inner = self._split(variables)
        return self.inner_model.inference_flops_per_position(n, **inner) / p + 2.0 * self.local_params

    def total_params(self, n, **variables) -> np.ndarray:
        p, inner = self._split(variables)
        held = self.local_params + float(self.embedding_params)
        return self.inner_model.total_params(as_positive_array(n, "n"), **inner) + held + 0.0 * p

    def active_params(self, n, **variables) -> np.ndarray:
        """The inner model's active weights and the local models (every position passes both)."""
        p, inner = self._split(variables)
        return self.inner_model.active_params(as_positive_array(n, "n"), **inner) + self.local_params + 0.0 * p

    def weight_params_touched(self, n, batch, **variables) -> np.ndarray:
        """Parameters a decode step reads: the local models every step, the inner model on
        the steps where some sequence closes a patch, at the batch of patches it then runs.

        Derivation. Each of ``B`` sequences closes a patch at a step with probability ``1/p``
        (independent phases), so the inner model runs with probability
        ``q = 1 − (1 − 1/p)^B``, on ``B/p`` patches on average, i.e. on ``m = B/(p·q)``
        patches given that it runs (``m = 1`` at ``B = 1``)::

            touched = N_enc + N_dec + q · touched_inner(N, m)

        ``p = 1`` gives the inner model's own count plus the local models; at ``B = 1`` it is
        ``touched_inner(N, 1)/p`` plus the local models. Embedding tables are looked up, not
        streamed, and are not counted (as in :class:`AdaptivePatching`).
        """
        batch = as_positive_array(batch, "batch")
        return self.weight_params_touched_curve(n, **variables)(batch)

    def weight_params_touched_curve(self, n, **variables) -> TouchedCurve:
        """:meth:`weight_params_touched` as a function of the batch: ``ln(1 − 1/p)`` and the
        inner model's own curve built once."""
        p, inner = self._split(variables)
        local, logged = self.local_params, log_miss(1.0 / p)
        inner_curve = self.inner_model.weight_params_touched_curve(as_positive_array(n, "n"), **inner)

        def at(batch):
            q = any_of_batch_logged(logged, batch)
            return local + q * inner_curve(np.maximum(batch / (p * q), 1.0))

        return TouchedCurve(at)

    def cache_bytes_per_position(self, n, precision_bytes, **variables) -> np.ndarray:
        """The inner model's cache per patch position, one patch per ``p`` input positions
        (``cache_inner / p``); the local models' caches are not counted (no geometry)."""
        p, inner = self._split(variables)
        return self.inner_model.cache_bytes_per_position(n, precision_bytes, **inner) / p
