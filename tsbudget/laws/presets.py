"""Published law fits, so the planner works with no user data.

``get_preset("epoch2024")`` returns a :class:`~tsbudget.law.Law` instance. Laws are
looked up through the registry when a preset is built.
"""

from __future__ import annotations

from types import MappingProxyType

import attrs

from tsbudget.errors import PluginNotFoundError
from tsbudget.law import Law
from tsbudget.laws.chinchilla import HOFFMANN_A, HOFFMANN_ALPHA, HOFFMANN_B, HOFFMANN_BETA, HOFFMANN_E
from tsbudget.laws.data_constrained import MUENNIGHOFF_C4
from tsbudget.laws.fine_grained_moe import KRAJEWSKI_TABLE1
from tsbudget.laws.joint_moe import LUDZIEJEWSKI_TABLE3
from tsbudget.laws.ranges import FitRanges
from tsbudget.laws.routing import CLARK_TABLE3

__all__ = ["Preset", "PRESETS", "get_preset"]


@attrs.frozen
class Preset:
    """A named published fit: the law it instantiates, its parameter values, its source
    (citation with the table or equation the numbers come from) and the data unit its ``D``
    counts (a registered data-unit name; every published fit so far counts tokens).

    ``ranges`` is the span of the runs the fit was made on (:class:`~tsbudget.laws.ranges.FitRanges`:
    training FLOPs, ``N`` as the law counts it, ``D`` in ``unit``), from the source paper, or
    None when the source gives none; a plan reports how far it lies outside it."""

    name: str
    law: str
    values: MappingProxyType = attrs.field(converter=lambda v: MappingProxyType(dict(v)))
    source: str
    note: str = ""
    unit: str = attrs.field(kw_only=True)
    #: non-parameter settings of the law (e.g. Kaplan's ``allocation``)
    settings: dict = attrs.field(factory=dict, converter=dict, kw_only=True)
    #: span of the runs the fit saw (None when the source does not give it)
    ranges: FitRanges | None = attrs.field(default=None, kw_only=True)

    def build(self) -> Law:
        """The law instance with these values and settings."""
        from tsbudget.registry import laws

        return laws.get(self.law)(**self.values, **self.settings)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "law": self.law,
            "values": dict(self.values),
            "source": self.source,
            "unit": self.unit,
            "settings": dict(self.settings),
            "note": self.note,
            "ranges": None if self.ranges is None else self.ranges.to_dict(),
        }


_PRESETS = (
    Preset(
        "chinchilla2022",
        "chinchilla",
        # The TeX-source precision of eq. 10 recovered by Besiroglu et al. 2024 (see HOFFMANN_E).
        {"E": HOFFMANN_E, "A": HOFFMANN_A, "B": HOFFMANN_B, "alpha": HOFFMANN_ALPHA, "beta": HOFFMANN_BETA},
        "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, eq. 10 (approach 3)",
        "unrounded values as used by Besiroglu et al. 2024",
        unit="tokens",
    ),
    Preset(
        "epoch2024",
        "chinchilla",
        {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658},
        "Besiroglu et al. 2024, Chinchilla Scaling: A replication attempt, eq. 3 (refit of approach 3)",
        unit="tokens",
    ),
    Preset(
        "muennighoff2023",
        "data_constrained",
        # The C4 fit at the precision of the repository huggingface/datablations.
        MUENNIGHOFF_C4,
        "Muennighoff et al. 2023, Scaling Data-Constrained Language Models, eq. 17 and App. A (C4)",
        unit="tokens",
    ),
    Preset(
        "kaplan2020",
        "kaplan",
        {"alpha_N": 0.076, "alpha_D": 0.103, "N_c": 6.4e13, "D_c": 1.8e13},
        "Kaplan et al. 2020, Scaling Laws for Neural Language Models, eq. 1.5 with Table 2; allocation on the "
        "compute-efficient frontier, eq. 6.1 and App. A Table 6 (N_opt = 1.3e9·C_min^0.73, C_min in PF-days, "
        "C = 2·C_min at the critical batch size, §6.3)",
        "N counts non-embedding parameters; plans follow Kaplan's compute-efficient frontier (4.68e9 parameters at "
        "1e21 FLOPs, the figure Hoffmann et al. 2022 App. D.4 use); kaplan2020_loss minimises L(N, D) instead; "
        "the separate fits eq. 1.1/1.2 give α_D 0.095, N_c 8.8e13, D_c 5.4e13, but the joint law uses Table 2",
        unit="tokens",
        settings={"allocation": "compute_efficient"},
    ),
    Preset(
        "kaplan2020_loss",
        "kaplan",
        {"alpha_N": 0.076, "alpha_D": 0.103, "N_c": 6.4e13, "D_c": 1.8e13},
        "Kaplan et al. 2020, Scaling Laws for Neural Language Models, eq. 1.5 with Table 2",
        "the same law as kaplan2020, planned by minimising L(N, D) under the budget (6.23e9 parameters at 1e21 "
        "FLOPs) rather than on Kaplan's empirical compute-efficient frontier",
        unit="tokens",
        settings={"allocation": "minimum_loss"},
    ),
    *(
        Preset(
            f"clark2022_{router.lower().replace('-', '')}",
            "routing",
            CLARK_TABLE3[router],
            f"Clark et al. 2022, Unified Scaling Laws for Routed Language Models, eq. 1 and Table 3 ({router} row)",
            "logs base 10; N = dense parameters a token sees, experts = expert count; at fixed data "
            "(130B tokens), no data term; read from transcriptions of Table 3 (see CLARK_TABLE3)",
            unit="tokens",
        )
        for router in ("S-Base", "RL-R", "Hash")
    ),
    Preset(
        "krajewski2024",
        "fine_grained_moe",
        KRAJEWSKI_TABLE1,
        "Krajewski et al. 2024, Scaling Laws for Fine-Grained Mixture of Experts, eq. 9 and Table 1 (MoE row)",
        "expansion rate E = 64, C4; read from transcriptions of Table 1 (see KRAJEWSKI_TABLE1); Table 2's "
        "printed losses lie 0.03-0.09 nats above eq. 9 at N = 64 x active (tests/golden)",
        unit="tokens",
    ),
    Preset(
        "ludziejewski2025",
        "joint_moe",
        LUDZIEJEWSKI_TABLE3,
        "Ludziejewski et al. 2025, Joint MoE Scaling Laws: Mixture of Experts Can Be Memory Efficient (ICML), "
        "eq. 6 and App. B Table 3",
        "N = active parameters including embeddings (App. A.1), experts = top-1 Switch expert count; FineWeb-Edu, "
        "GPT-2 tokenizer; read from a transcription of the paper (see LUDZIEJEWSKI_TABLE3); memory-optimal expert "
        "counts: tsbudget.laws.joint_moe_optima (Table 2 reproduced in 9 of 12 cells, tests/golden)",
        unit="tokens",
    ),
)

PRESETS: MappingProxyType = MappingProxyType({p.name: p for p in _PRESETS})


def get_preset(name: str) -> Law:
    """The law instance of the preset ``name``; an unknown name lists the known ones."""
    if name not in PRESETS:
        raise PluginNotFoundError(f"no preset named {name!r}; known presets: {', '.join(sorted(PRESETS))}")
    return PRESETS[name].build()
