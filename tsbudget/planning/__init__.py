"""From a law to an allocation: the closed form, the general optimiser, plans, frontiers, serving."""

from tsbudget.lazy import attach

# plan, frontier: import from the module of the same name (a package attribute would shadow the module).
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "CHINCHILLA_PARAMETERS": ".closed_form",
        "is_chinchilla_form": ".closed_form",
        "parameter_arrays": ".closed_form",
        "linear_cost_coefficient": ".closed_form",
        "closed_form_budget": ".closed_form",
        "closed_form_target": ".closed_form",
        "frontier_table": ".frontier",
        "isoflop": ".frontier",
        "parse_budgets": ".frontier",
        "plot_frontier": ".frontier",
        "Plan": ".plan",
        "resolve_law": ".plan",
        "DEFAULT_N_BOUNDS": ".plan",
        "Serving": ".serving",
        "as_serving": ".serving",
    },
)
