"""Published run data shipped with tsbudget (runs tables to fit and compare on)."""

from tsbudget.lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "load_chinchilla_runs": ".chinchilla",
        "ROUTING_FILE": ".routing",
        "ROUTING_COMPARE": ".routing",
        "load_routing_runs": ".routing",
        "routing_systems": ".routing",
        "routing_compare": ".routing",
        "ROUTERS": ".routing",
    },
)
