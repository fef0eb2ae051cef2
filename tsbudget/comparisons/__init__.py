"""Comparing systems across whole budget frontiers, fit choices by the plans they give, and fit
methods by the compute their recommendations waste."""

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
        "METHODS": ".recommendations",
        "Recommendation": ".recommendations",
        "RecommendationComparison": ".recommendations",
        "compare_methods": ".recommendations",
        "compare_recommendations": ".recommendations",
        "recommend": ".recommendations",
        "Variant": ".sensitivity",
        "default_variants": ".sensitivity",
        "residual_outliers": ".sensitivity",
    },
)
