"""Conformance checks and hypothesis strategies for plugin authors."""

from tsbudget.lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "check_unit": ".conformance",
        "check_costmodel": ".conformance",
        "check_law": ".conformance",
        "n_params": ".conformance",
        "data_amounts": ".conformance",
        "budgets": ".conformance",
        "variable_values": ".conformance",
        "cost_settings": ".conformance",
    },
)
