"""Fitting scaling laws to runs: the runs table, the objective, the multistart fit and its result,
variable projection, the fit card, lack-of-fit intervals, leave-future-out validation,
Approach 2 (budget groups, IsoFLOP profiles and their result)."""

from tsbudget.lazy import attach

# fit: import from the module of the same name (a package attribute would shadow the module).
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "isoflop_profiles": ".approach2",
        "profile_minimum": ".approach2",
        "auto_budget_groups": ".budgets",
        "auto_budget_grouping": ".budgets",
        "group_budgets": ".budgets",
        "IsoflopResult": ".isoflop_result",
        "fit_card": ".card",
        "fit_ranges": ".card",
        "fit_objective": ".fit",
        "METHODS": ".fit",
        "LackOfFit": ".lack_of_fit",
        "lack_of_fit": ".lack_of_fit",
        "validate": ".validation",
        "Validation": ".validation_result",
        "vpnls_solve": ".vpnls",
        "refit": ".fit",
        "stationarity_tolerance": ".fit",
        "AT_BEST_RTOL": ".result",
        "FitResult": ".result",
        "fit_plugins": ".runs",
        "is_prepared": ".runs",
        "plugin_name": ".runs",
        "plugin_settings": ".runs",
        "prepare_runs": ".runs",
        "resolve_law": ".runs",
        "select_runs": ".runs",
        "huber": ".objective",
        "huber_derivative": ".objective",
        "Objective": ".objective",
        "RunInputs": ".objective",
    },
)
