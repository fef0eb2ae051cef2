"""Measuring time-series data: windows, near-duplicate grouping, regimes and effective data under repetition."""

from tsbudget.lazy import attach

# effective_data: import from the module of the same name (a package attribute would shadow the module).
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "repetitions": ".effective_data",
        "MUENNIGHOFF_R_D": ".effective_data",
        "MUENNIGHOFF_R_N": ".effective_data",
        "sliding_windows": ".windows",
        "window_labels": ".windows",
        "iter_npy_windows": ".windows",
        "normalise_windows": ".normalise",
        "default_floor": ".normalise",
        "exact_groups": ".hashing",
        "lsh_groups": ".hashing",
        "LSHStats": ".hashing",
        "pair_scores": ".scoring",
        "RedundancyReport": ".report",
        "measure_redundancy": ".measure",
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
