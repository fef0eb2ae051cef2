"""Designing the sweep of small runs that feeds a fit, simulating it from a known law, and simulating its refits."""

from tsbudget.lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "Sweep": ".design",
        "sweep": ".design",
        "Simulation": ".simulate",
        "simulate_runs": ".simulate",
        "FitSimulation": ".simulated_fits",
        "simulate_fits": ".simulated_fits",
    },
)
