"""Designing the sweep of small runs that feeds a fit, and simulating it from a known law."""

from tsbudget.lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "Sweep": ".design",
        "sweep": ".design",
        "Simulation": ".simulate",
        "simulate_runs": ".simulate",
    },
)
