"""Fitting scaling laws to runs: the objective, the multistart fit and its result, Approach 2."""

from tsbudget.lazy import attach

# fit: import from the module of the same name (a package attribute would shadow the module).
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "IsoflopResult": ".approach2",
        "auto_budget_groups": ".approach2",
        "group_budgets": ".approach2",
        "isoflop_profiles": ".approach2",
        "profile_minimum": ".approach2",
        "FitResult": ".fit",
        "refit": ".fit",
        "prepare_runs": ".fit",
        "huber": ".objective",
        "huber_derivative": ".objective",
        "Objective": ".objective",
        "RunInputs": ".objective",
    },
)
