"""tsbudget: compute-budget planning for time-series foundation models and world models.

Importing this package loads no plugin module and none of the heavy libraries (polars,
xarray, scipy.optimize, matplotlib): every public name below is imported from its module
the first time it is used (:mod:`tsbudget.lazy`). Units, cost models and laws are found
through entry points and imported on first use (see :mod:`tsbudget.registry`); the
registries are exported as ``unit_registry``, ``costmodel_registry`` and ``law_registry``
(``tsbudget.laws`` is the package of built-in laws).
"""

from tsbudget.errors import (
    FitError,
    InfeasibleError,
    InputError,
    PluginError,
    PluginNotFoundError,
    PluginTypeError,
    PluginWarning,
    SchemaError,
    TsbudgetError,
)
from tsbudget.lazy import attach

__version__ = "0.1.0"

# name -> module that defines it ("module:attribute" where the name differs)
_EXPORTS = {
    "Comparison": "tsbudget.comparisons.result",
    "compare": "tsbudget.comparisons.compare",
    "REFERENCES": "tsbudget.comparisons.references",
    "ReferenceSystem": "tsbudget.comparisons.references",
    "register_reference": "tsbudget.comparisons.references",
    "sensitivity": "tsbudget.comparisons.sensitivity",
    "CostModel": "tsbudget.cost_model",
    "DataCount": "tsbudget.data_unit",
    "DataUnit": "tsbudget.data_unit",
    "fit_capability": "tsbudget.fitting.capability",
    "IsoflopResult": "tsbudget.fitting.isoflop_result",
    "isoflop_profiles": "tsbudget.fitting.approach2",
    "FitResult": "tsbudget.fitting.result",
    "fit": "tsbudget.fitting.fit",
    "lack_of_fit": "tsbudget.fitting.lack_of_fit",
    "validate": "tsbudget.fitting.validation",
    "Validation": "tsbudget.fitting.validation_result",
    "prepare_runs": "tsbudget.fitting.runs",
    "refit": "tsbudget.fitting.fit",
    "HARDWARE": "tsbudget.hardware",
    "Hardware": "tsbudget.hardware",
    "get_hardware": "tsbudget.hardware",
    "gpu_hours": "tsbudget.hardware",
    "Law": "tsbudget.law",
    "Parameter": "tsbudget.law",
    "PRESETS": "tsbudget.laws.presets",
    "Preset": "tsbudget.laws.presets",
    "get_preset": "tsbudget.laws.presets",
    "frontier": "tsbudget.planning.frontier",
    "isoflop": "tsbudget.planning.isoflop",
    "Plan": "tsbudget.planning.result",
    "plan": "tsbudget.planning.plan",
    "Serving": "tsbudget.planning.serving",
    "PluginInfo": "tsbudget.registry",
    "Registry": "tsbudget.registry",
    "Sweep": "tsbudget.sweeps.design",
    "sweep": "tsbudget.sweeps.design",
    "simulate_fits": "tsbudget.sweeps.simulated_fits",
    "effective_data": "tsbudget.timeseries.effective_data",
    "RedundancyReport": "tsbudget.timeseries.report",
    "measure_redundancy": "tsbudget.timeseries.measure",
    "RegimeData": "tsbudget.timeseries.regimes",
    "bootstrap": "tsbudget.uncertainty.bootstrap",
    "intervals": "tsbudget.uncertainty.intervals",
    "normal_draws": "tsbudget.uncertainty.draws",
    "deadweight_compute": "tsbudget.uncertainty.wasted",
    "compare_methods": "tsbudget.comparisons.recommendations",
    "Roofline": "tsbudget.roofline",
    "Workload": "tsbudget.roofline",
    "serving_roofline": "tsbudget.roofline",
    "Variable": "tsbudget.variables",
    "costmodel_registry": "tsbudget.registry:costmodels",
    "law_registry": "tsbudget.registry:laws",
    "unit_registry": "tsbudget.registry:units",
}

__getattr__, __dir__, _lazy = attach(__name__, _EXPORTS)

__all__ = sorted([
    *_lazy,
    "FitError", "InfeasibleError", "InputError", "PluginError", "PluginNotFoundError", "PluginTypeError", "PluginWarning", "SchemaError", "TsbudgetError",
])
