"""Conformance checks (one per plugin kind) and hypothesis strategies for plugin authors."""

from tsbudget.lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "check_unit": ".unit_checks",
        "check_costmodel": ".costmodel_checks",
        "check_law": ".law_checks",
        "n_params": ".strategies",
        "data_amounts": ".strategies",
        "budgets": ".strategies",
        "variable_values": ".strategies",
        "cost_settings": ".strategies",
    },
)
