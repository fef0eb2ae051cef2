"""Measuring time-series data: windows, near-duplicate grouping, regimes and effective data under repetition."""

from tsbudget.lazy import attach

# effective_data: import from the module of the same name (a package attribute would shadow the module).
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "repetitions": ".effective_data",
        "MUENNIGHOFF_R_D": ".effective_data",
        "MUENNIGHOFF_R_N": ".effective_data",
        "RedundancyReport": ".redundancy",
        "measure_redundancy": ".redundancy",
        "normalise_windows": ".redundancy",
        "default_floor": ".redundancy",
        "exact_groups": ".redundancy",
        "lsh_groups": ".redundancy",
        "sliding_windows": ".redundancy",
        "window_labels": ".redundancy",
        "iter_npy_windows": ".redundancy",
        "pair_scores": ".redundancy",
        "DEFAULT_R_STAR": ".regimes",
        "NORMAL_R_STAR": ".regimes",
        "RegimeData": ".regimes",
        "default_r_star": ".regimes",
        "fitted_r_star": ".regimes",
        "regime_effective_data": ".regimes",
        "synthetic_telemetry": ".telemetry",
        "telemetry_windows": ".telemetry",
        "REGIMES": ".telemetry",
    },
)
