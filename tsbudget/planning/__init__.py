"""From a law to an allocation: the request, the problem, the closed form and the general
optimiser, plans and their draws, frontiers, IsoFLOP slices, serving."""

from tsbudget.lazy import attach

# plan, frontier, isoflop: import from the module of the same name (a package attribute would shadow the module).
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "CHINCHILLA_PARAMETERS": ".closed_form",
        "is_chinchilla_form": ".closed_form",
        "parameter_arrays": ".closed_form",
        "linear_cost_coefficient": ".closed_form",
        "closed_form_budget": ".closed_form",
        "closed_form_target": ".closed_form",
        "closed_form_coefficient": ".closed_form",
        "closed_form_valid": ".closed_form",
        "closed_form_plan": ".closed_form",
        "frontier_table": ".frontier",
        "parse_budgets": ".frontier",
        "Plan": ".result",
        "PlanRequest": ".request",
        "resolve_law": ".request",
        "DEFAULT_N_BOUNDS": ".request",
        "Problem": ".problem",
        "Objective": ".objective",
        "plan_quantities": ".quantities",
        "QUANTITIES": ".quantities",
        "Serving": ".serving",
        "as_serving": ".serving",
    },
)
