"""Numerical optimisation shared by the fit, the bootstrap and the planner."""

from tsbudget.lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "BatchResult": ".batched",
        "minimize_batched": ".batched",
    },
)
