"""Comparing systems across whole budget frontiers, and fit choices by the plans they give."""

from tsbudget.lazy import attach

# compare, sensitivity: import from the module of the same name (a package attribute would shadow the module).
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "Comparison": ".result",
        "DEFAULT_COMPARE_BUDGETS": ".compare",
        "ReferenceSystem": ".references",
        "REFERENCES": ".references",
        "register_reference": ".references",
        "get_reference": ".references",
        "match_reference": ".references",
        "reference_limits": ".limits",
        "Variant": ".sensitivity",
        "default_variants": ".sensitivity",
        "residual_outliers": ".sensitivity",
    },
)
