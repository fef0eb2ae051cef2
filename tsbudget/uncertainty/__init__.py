"""Uncertainty of a fit and of everything derived from it: resampling, bootstrap, intervals."""

from tsbudget.lazy import attach

# bootstrap: import from the module of the same name (a package attribute would shadow the module).
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "DEFAULT_BUDGETS": ".bootstrap",
        "intervals": ".bootstrap",
        "intervals_dict": ".bootstrap",
        "normal_draws": ".bootstrap",
        "resample_indices": ".bootstrap",
    },
)
