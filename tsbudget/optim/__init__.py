"""Numerical optimisation shared by the fit and the bootstrap: one batched projected BFGS, a
batched damped Newton (objectives with a Hessian), their stopping rules (racing of starts,
per-row convergence), the start grid and the polish."""

from tsbudget.lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "BatchResult": ".bfgs",
        "minimize_rows": ".bfgs",
        "projected_gradient": ".bfgs",
        "MAX_STARTS": ".multistart",
        "RACE": ".multistart",
        "minimize_batched": ".multistart",
        "minimize_newton": ".newton",
        "start_grid": ".multistart",
        "POLISH_OPTIONS": ".polish",
        "levenberg_marquardt": ".polish",
        "polish": ".polish",
        "Racing": ".stopping",
        "RowConvergence": ".stopping",
        "Stopping": ".stopping",
    },
)
