"""Uncertainty of a fit and of everything derived from it: bootstrap clusters, bootstrap,
normal draws, derived quantities, interval tables, deadweight compute
(:mod:`.wasted`). The resampler and the percentile
interval themselves are core modules (:mod:`tsbudget.resampling`,
:mod:`tsbudget.percentiles`), re-exported here."""

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
        "percentile_interval": "tsbudget.percentiles",
        "cluster_attrs": ".clustering",
        "cluster_labels": ".clustering",
        "clusters": ".clustering",
        "resample_indices": "tsbudget.resampling",
        "deadweight_compute": ".wasted",
        "equivalent_compute": ".wasted",
        "optimal_loss": ".wasted",
    },
)
