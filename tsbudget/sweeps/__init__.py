"""Designing the sweep of small runs that feeds a fit."""

from tsbudget.lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "Sweep": ".design",
        "sweep": ".design",
    },
)
