"""Uncertainty of a fit and of everything derived from it: resampling, bootstrap, normal
draws, derived quantities, percentile intervals."""

from tsbudget.lazy import attach

# bootstrap: import from the module of the same name (a package attribute would shadow the module).
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "DEFAULT_BUDGETS": ".bootstrap",
        "check_draw_options": ".bootstrap",
        "DERIVED_UNITS": ".derived",
        "bootstrap_draws": ".derived",
        "derived_quantities": ".derived",
        "point_derived": ".derived",
        "normal_draws": ".draws",
        "intervals": ".intervals",
        "intervals_dict": ".intervals",
        "percentile_interval": ".intervals",
        "cluster_attrs": ".resample",
        "cluster_labels": ".resample",
        "clusters": ".resample",
        "resample_indices": ".resample",
    },
)
