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

__all__ = ["Preset", "PRESETS", "PRESET_RANGES", "get_preset"]


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

    @property
    def ranges(self) -> FitRanges | None:
        """The span of the runs this fit saw (:data:`PRESET_RANGES`), None when unknown. A
        property, not a field, so that the records listed by ``tsbudget presets`` stay as they are."""
        return PRESET_RANGES.get(self.name)

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


#: Ranges of the runs each preset was fitted on (budget in training FLOPs, ``n`` as the
#: law counts parameters, ``d`` in tokens); None where the source states none.
PRESET_RANGES: MappingProxyType = MappingProxyType({
    # Hoffmann et al. 2022, abstract: "over 400 language models ranging from 70 million to over
    # 16 billion parameters on 5 to 500 billion tokens"; the text gives budgets only for the
    # IsoFLOP runs (6e18-3e21, §3.2), so the budget span is that of the runs in their Fig. 4 (the
    # approach-3 data) as digitised by Besiroglu et al. 2024 (tsbudget/data/chinchilla_fig4_besiroglu2024.csv).
    "chinchilla2022": FitRanges(budget=(1.3972e18, 1.2956e22), n=(70e6, 16e9), d=(5e9, 500e9)),
    # Besiroglu et al. 2024 refit the 240 digitised Fig. 4 runs left after dropping the 5 of
    # highest loss: min and max of those runs in the shipped CSV (tests/laws/test_presets_ranges.py).
    "epoch2024": FitRanges(budget=(1.3972e18, 1.2956e22), n=(5.7334e7, 1.6183e10), d=(8.1868e8, 3.1775e11)),
    # Muennighoff et al. 2023, App. A: the fit uses "182 samples with parameters varying from 7
    # million up to 9 billion and epochs ranging from 1 to 500"; tokens are given only as "up to
    # 900 billion" (abstract) and budgets not at all.
    "muennighoff2023": FitRanges(n=(7e6, 9e9)),
    # Kaplan et al. 2020, §3: "Model size (ranging in size from 768 to 1.5 billion non-embedding
    # parameters)", "Dataset size (ranging from 22 million to 23 billion tokens)"; compute is
    # described only as varied "by factors of tens of thousands" (§1).
    "kaplan2020": FitRanges(n=(768.0, 1.5e9), d=(22e6, 23e9)),
    "kaplan2020_loss": FitRanges(n=(768.0, 1.5e9), d=(22e6, 23e9)),
    # Clark et al. 2022: the runs of their released data behind Table 3 (tsbudget.datasets.routing.
    # routing_law_runs: dense and one router, k = 1, seed 42), min and max of N (dense parameters)
    # and of training FLOPs (3 x forward FLOPs per step x steps); every run saw the same data,
    # whose token count the shipped runs do not give.
    "clark2022_sbase": FitRanges(budget=(3.3289e19, 1.3239e21), n=(1.6527e7, 1.3088e9)),
    "clark2022_rlr": FitRanges(budget=(3.3289e19, 1.3288e21), n=(1.6527e7, 1.3088e9)),
    "clark2022_hash": FitRanges(budget=(3.3289e19, 1.3239e21), n=(1.6527e7, 1.3088e9)),
    # Krajewski et al. 2024, §5: "models with sizes ranging from 129M to 3.7B parameters across
    # different training durations, from 16B to 130B tokens"; no budget span stated.
    "krajewski2024": FitRanges(n=(129e6, 3.7e9), d=(16e9, 130e9)),
    # Ludziejewski et al. 2025, App. E listing: active parameters (with embeddings) from 79M to
    # 2.7B, 500M to 80B tokens; budget 6·N_act·D of the smallest (79M, 500M tokens) and the
    # largest (1.1B active, 80B tokens) runs.
    "ludziejewski2025": FitRanges(budget=(2.37e17, 5.28e20), n=(79e6, 2.7e9), d=(500e6, 80e9)),
})


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
        # read from a transcription of the paper (see LUDZIEJEWSKI_TABLE3); memory-optimal expert counts:
        # tsbudget.laws.joint_moe_optima (Table 2 reproduced in 9 of 12 cells, tests/golden/test_joint_moe.py)
        "N = active parameters with embeddings; experts = top-1 expert count",
        unit="tokens",
    ),
)

PRESETS: MappingProxyType = MappingProxyType({p.name: p for p in _PRESETS})


def get_preset(name: str) -> Law:
    """The law instance of the preset ``name``; an unknown name lists the known ones."""
    if name not in PRESETS:
        raise PluginNotFoundError(f"no preset named {name!r}; known presets: {', '.join(sorted(PRESETS))}")
    return PRESETS[name].build()
