"""One planning question, resolved and validated: :class:`PlanRequest`.

:func:`~tsbudget.planning.plan.plan`, :func:`~tsbudget.planning.frontier.frontier` and
:func:`~tsbudget.planning.isoflop.isoflop` take the same keywords (law, cost model, unit,
unique data, serving, variables, bounds, hardware, draws, ...). Each passes them to
:meth:`PlanRequest.build`, the one place where they are resolved (registered names to
plugins, a fit to its law, draws and settings) and checked, so that a bad input is refused
with a message naming it before any optimisation starts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import attrs
import numpy as np

from tsbudget.errors import InputError, PluginTypeError
from tsbudget.hardware import get_hardware
from tsbudget.law import Law
from tsbudget.planning.closed_form import parameter_arrays
from tsbudget.planning.extrapolation import ranges_of
from tsbudget.planning.problem import Problem
from tsbudget.planning.serving import as_serving
from tsbudget.timeseries.effective_data import MUENNIGHOFF_R_D
from tsbudget.variables import positive_number

__all__ = ["DEFAULT_N_BOUNDS", "METHODS", "PlanRequest", "budget_array", "refuse_unvalued", "resolve_law"]

#: Model sizes searched when ``n_bounds`` is not given: 100 parameters to 1e16.
DEFAULT_N_BOUNDS = (1e2, 1e16)
#: How a plan may be solved: closed form where it applies, closed form or error, general optimiser.
METHODS = ("auto", "closed_form", "general")


@attrs.frozen
class PlanRequest:
    """A resolved planning question.

    ``mode`` is ``"budget"`` (minimise loss with lifetime FLOPs in ``[lb, ub]``) or
    ``"target"`` (minimise lifetime FLOPs with loss ``target``; ``lb``/``ub`` a floor and a
    cap on spending). Lifetime FLOPs are training FLOPs plus the serving cost
    (:meth:`~tsbudget.planning.problem.Problem.serve_cost`: inference FLOPs, or a roofline
    workload's GPU time at the training throughput). ``budget_given`` is the budget as the user gave it (reported), ``draws``
    the bootstrap draws (or None), ``label`` names the law, ``hardware`` is a profile,
    ``level`` the interval level and ``method`` one of :data:`METHODS`.
    """

    problem: Problem
    mode: str
    lb: float
    ub: float
    target: float | None
    draws: object
    label: str
    hardware: object
    level: float
    method: str
    budget_given: tuple | None
    #: the span of the runs the law was fitted on (FitRanges; None when unknown), for extrapolation
    ranges: object = None

    @classmethod
    def build(
        cls,
        budget=None,
        *,
        law="epoch2024",
        cost_model=None,
        unit=None,
        unique=None,
        serving=None,
        fixed: Mapping[str, float] | None = None,
        free: Sequence[str] | str = (),
        target_loss: float | None = None,
        budget_bounds=None,
        n_bounds=None,
        d_bounds=None,
        hardware="h100-sxm",
        cost_settings: Mapping | None = None,
        unit_settings: Mapping | None = None,
        draws=None,
        level: float = 0.95,
        repetition_decay: float = MUENNIGHOFF_R_D,
        method: str = "auto",
        mix="optimal",
    ) -> PlanRequest:
        """Resolve and check the planner's keywords (see :func:`~tsbudget.planning.plan.plan`)."""
        from tsbudget.registry import costmodels, units

        if not isinstance(method, str) or method not in METHODS:
            raise InputError(f"method must be 'auto', 'closed_form' or 'general', got {method!r}")
        if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0 < level < 1:
            raise InputError(f"level must be a number in (0, 1), got {level!r}")
        for name, value in (("fixed", fixed), ("cost_settings", cost_settings), ("unit_settings", unit_settings)):
            if value is not None and not isinstance(value, Mapping):
                raise InputError(f"{name} must be a mapping of name -> value, got {value!r}")
        if not isinstance(free, str) and not (isinstance(free, Sequence) and all(isinstance(v, str) for v in free)):
            raise InputError(f"free must be 'all', a variable name or a sequence of names, got {free!r}")
        if not isinstance(hardware, str) and not hasattr(hardware, "peak_flops"):
            raise InputError(f"hardware must be a profile name or a Hardware, got {hardware!r}")
        if isinstance(mix, str) and mix not in ("optimal", "natural"):
            raise InputError(f"mix must be 'optimal', 'natural' or an array of shares, got {mix!r}")
        law_obj, fit_draws, label, options = resolve_law(law)
        draws = fit_draws if draws is None else draws
        if draws is not None:
            parameter_arrays(law_obj, draws)  # validates the draws early
        if unit is None:
            unit = options.get("unit", "tokens")
            if not isinstance(unit, str):
                unit = "tokens"
            elif not unit_settings:
                unit_settings = options.get("unit_settings")  # the fit's tokenization
        if cost_model is None:  # the fit's cost model (and settings), else dense
            cost_model = options.get("cost_model") or "dense"
            if not isinstance(cost_model, str):
                cost_model = "dense"
            elif not cost_settings:
                cost_settings = options.get("cost_settings")
        cm = costmodels.resolve(cost_model, **dict(cost_settings or {}))
        un = units.resolve(unit, **dict(unit_settings or {}))
        mode, lb, ub, target, budget_given = _goal(budget, budget_bounds, target_loss)
        regimes, unique, mix = _unique_data(unique, mix, law_obj, un)
        nb = _bounds(n_bounds, "n_bounds", DEFAULT_N_BOUNDS)
        if nb[0] <= 0:
            raise InputError(f"n_bounds lower limit must be > 0, got {n_bounds!r}")
        if not math.isfinite(nb[1]):
            nb = (nb[0], DEFAULT_N_BOUNDS[1])
        db = _bounds(d_bounds, "d_bounds", (0.0, math.inf))
        one_position = 1.0 / float(un.positions_per_unit())
        if db[1] < one_position * (1 - 1e-12):
            raise InputError(
                f"d_bounds upper limit {db[1]:.4g} {un.name} is less than one model position "
                f"({one_position:.4g} {un.name}); no run trains on less"
            )
        db = (max(db[0], one_position), db[1])  # a run trains on at least one position
        r_star = positive_number(repetition_decay, "repetition_decay") if repetition_decay != math.inf else math.inf
        fixed_values, free_vars = _split_variables(cm, fixed, free)
        refuse_unvalued(law_obj, cm, free_vars, fixed_values)
        serving = as_serving(serving)
        if serving is not None:
            serving = serving.in_unit(un)  # served units -> positions through the plan's unit
            serving.serving_variables(cm)  # names checked now, not mid-optimisation
        law_unit = options.get("unit")
        law_ppu = None
        if isinstance(law_unit, str):
            law_ppu = units.resolve(law_unit, **dict(options.get("unit_settings") or {})).positions_per_unit()
        hw = get_hardware(hardware)
        problem = Problem(law_obj, law_obj.values, cm, un, unique, serving, fixed_values, free_vars, nb, db, r_star,
                          law_ppu=law_ppu, regimes=regimes, mix=mix, hardware=hw)
        return cls(problem, mode, lb, ub, target, draws, label, hw, level, method, budget_given,
                   ranges=ranges_of(law))

    def at_budget(self, budget: float) -> PlanRequest:
        """This request at one budget (``lb = ub``), without draws: a point of a frontier."""
        budget = float(budget)
        return attrs.evolve(self, mode="budget", lb=budget, ub=budget, target=None, budget_given=(budget, budget),
                            draws=None)

    def without_draws(self) -> PlanRequest:
        """This request for the point estimate only."""
        return attrs.evolve(self, draws=None)

    def with_params(self, params: Mapping[str, float]) -> PlanRequest:
        """This request for one bootstrap draw's parameter values (no draws of its own)."""
        return attrs.evolve(self, problem=self.problem.with_params(params), draws=None)


def _goal(budget, budget_bounds, target_loss):
    """``(mode, lb, ub, target, budget_given)`` from the budget, budget bounds and target loss."""
    if target_loss is not None:
        mode = "target"
        try:
            target = float(target_loss)
        except (TypeError, ValueError):
            raise InputError(f"target_loss must be a number, got {target_loss!r}") from None
        if not math.isfinite(target):
            raise InputError(f"target_loss must be finite, got {target_loss!r}")
        if budget is not None and budget_bounds is not None:
            raise InputError("give budget or budget_bounds, not both")
        if budget is not None:
            lb, ub = 0.0, positive_number(budget, "budget")
        else:
            lb, ub = _bounds(budget_bounds, "budget_bounds", (0.0, math.inf))
        budget_given = None if budget is None and budget_bounds is None else (lb, ub)
    else:
        mode, target = "budget", None
        if budget is None and budget_bounds is None:
            raise InputError("give a budget (FLOPs), budget_bounds=(lb, ub) or a target_loss")
        if budget is not None and budget_bounds is not None:
            raise InputError("give budget or budget_bounds, not both")
        if budget is not None:
            lb = ub = positive_number(budget, "budget")
        else:
            lb, ub = _bounds(budget_bounds, "budget_bounds", None)
            if not math.isfinite(ub):
                raise InputError(f"budget_bounds needs a finite upper limit, got {budget_bounds!r}")
        budget_given = (lb, ub)
    return mode, lb, ub, target, budget_given


#: ``tsbudget frontier --budgets 1e18:1e25:COUNT`` took 2.8 s at 300, 5.9 s at 1,000 and 16 s at
#: 10,000 budgets (closed form; printing the table dominates) and had not finished after 5 minutes
#: at 1,000,000; the general optimizer takes about 6 ms per budget without draws (a minute at
#: 10,000). 10,000 log-spaced budgets over seven decades are 1,400 per decade, finer than any
#: table or plot needs.
MAX_BUDGETS = 10_000


def budget_array(budgets, name: str = "budgets", max_draws=None) -> np.ndarray:
    """Budgets as a 1-d float array, each finite and > 0, at least one (and ``max_draws``, when
    given, an integer >= 0): the frontier's inputs, checked before any optimisation."""
    if max_draws is not None and (isinstance(max_draws, bool) or not isinstance(max_draws, (int, np.integer))
                                  or max_draws < 0):
        raise InputError(f"max_draws must be an integer >= 0, got {max_draws!r}")
    if isinstance(budgets, str):
        raise InputError(f"{name} must be numbers (FLOPs), got the text {budgets!r}; parse it with parse_budgets")
    try:
        arr = np.asarray(budgets, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numbers (FLOPs), got {budgets!r:.80}") from None
    if arr.ndim > 1:
        raise InputError(f"{name} must be one number or a 1-d list, got shape {arr.shape}")
    arr = np.atleast_1d(arr)
    if arr.size == 0:
        raise InputError(f"{name}: no budgets given")
    if arr.size > MAX_BUDGETS:
        raise InputError(f"{name}: {arr.size} budgets, more than the limit of {MAX_BUDGETS}; give fewer")
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        raise InputError(f"{name} must be finite and > 0, got {arr[bad][0]!r}")
    return arr


def _unique_data(unique, mix, law, unit):
    """``(regimes, unique, mix)``: unique data as a number in the plan's unit (None when
    unlimited), its regimes (RegimeData in the plan's unit, or None) and the checked mix."""
    regimes = None
    if hasattr(unique, "optimal_mix") and hasattr(unique, "effective"):  # RegimeData
        if "U" in law.required_inputs:
            raise InputError(
                f"unique: regime data cannot be used with law {law.name!r}, which models repetition "
                f"itself from one unique count with its own fitted decay; per-regime R* would be ignored. "
                f"Pass unique={float(unique.total_unique):.6g} (the regimes' total) to use the law's own "
                f"repetition model, or plan with a law without a U input (e.g. a Chinchilla-form law) "
                f"to use the regimes' R*"
            )
        regimes = _regimes_in_unit(unique, unit)
        unique = float(regimes.total_unique)
        if isinstance(mix, str):
            if mix not in ("optimal", "natural"):
                raise InputError(f"mix must be 'optimal', 'natural' or an array of shares, got {mix!r}")
        else:
            mix = regimes.check_mix(mix)
    elif isinstance(getattr(unique, "unit", None), str) and hasattr(unique, "unique") and unique.unit != unit.name:
        raise InputError(
            f"unique: the data count is in {unique.unit!r} but the plan's unit is {unit.name!r}; "
            f"count the data in {unit.name!r} or plan with unit={unique.unit!r}"
        )
    if unique is not None:
        unique = positive_number(getattr(unique, "unique", unique), "unique")
    return regimes, unique, mix


def _split_variables(cost_model, fixed, free):
    """``(fixed values, free Variables)``: every cost-model variable not free (or with equal
    bounds) at its given or default value, checked; the free ones to optimise."""
    known = {v.name: v for v in cost_model.variables}
    fixed = dict(fixed or {})
    if isinstance(free, str):
        free = tuple(known) if free == "all" else (free,)
    free = tuple(free)
    for name in list(fixed) + list(free):
        if name not in known:
            raise InputError(
                f"cost model {cost_model.name!r} has no variable {name!r}; its variables are {sorted(known) or 'none'}"
            )
    both = set(fixed) & set(free)
    if both:
        raise InputError(f"variable {sorted(both)[0]!r} is both fixed and free")
    fixed_values = {}
    free_vars = []
    for name, var in known.items():
        if name in free and var.lower < var.upper:
            free_vars.append(var)
        else:
            fixed_values[name] = float(var.check(fixed.get(name, var.default)))
    return fixed_values, free_vars


def refuse_unvalued(law, cost_model, free_vars, fixed_values) -> None:
    """Refuse a free variable the law does not value (an :class:`~tsbudget.errors.InputError`).

    A plan trades loss against cost. A variable the law does not take as an input changes
    only the cost (router FLOPs per expert, encoder FLOPs per patch, ...), so the optimiser
    would push it to whichever bound is cheapest and report that corner as an optimum; a
    variable that changes neither is left wherever the search happened to stop. Either way
    the answer comes from the variable's bounds, not from data, so it is refused, naming the
    variable, the law and the two ways forward. A variable the law takes as an input but
    whose loss does not move across the variable's range at the law's parameter values
    (e.g. an extended law with both efficiency exponents fixed at 0) is refused the same way.
    """
    inputs = set(law.required_inputs)
    for var in free_vars:
        if var.name not in inputs:
            others = sorted(k for k in inputs if k not in ("N", "D", "U"))
            raise InputError(
                f"free variable {var.name!r}: law {law.name!r} does not depend on it (its inputs are "
                f"{', '.join(sorted(inputs))}{'' if others else '; it values no architecture variable'}), so "
                f"only the cost of cost model {cost_model.name!r} would decide it and the plan would settle at a "
                f"bound of [{var.lower:g}, {var.upper:g}]. Either fix it (fixed={{{var.name!r}: value}}, "
                f"--fix {var.name}=VALUE) or fit a law that includes it (e.g. the 'extended' law with variable "
                f"{var.name!r}) and plan with that fit"
            )
        if _flat_in(law, var, {**{v.name: v.default for v in cost_model.variables}, **fixed_values}):
            raise InputError(
                f"free variable {var.name!r}: law {law.name!r} takes it as an input, but at its parameter values "
                f"the predicted loss does not change anywhere in [{var.lower:g}, {var.upper:g}] (e.g. its "
                f"efficiency exponents are 0), so only the cost would decide it and the plan would settle at a "
                f"bound. Either fix it (--fix {var.name}=VALUE) or fit a law whose terms in {var.name!r} are free"
            )


def _flat_in(law, var, values) -> bool:
    """True when the law's loss is the same (to 1e-12 relative) at 9 points across the range of
    ``var`` (geometric for a log variable), at a 1e9-parameter model on 2e10 units with every other
    variable at ``values`` (fixed or default). A loss that is not finite there says nothing: False."""
    grid = (np.geomspace(var.lower, var.upper, 9) if var.log and var.lower > 0
            else np.linspace(var.lower, var.upper, 9))
    inputs = {"N": np.full(9, 1e9), "D": np.full(9, 2e10), "U": np.full(9, 2e10)}
    for name in law.required_inputs:
        if name not in inputs and name != var.name and name not in values:
            return False  # an input no cost model declares: Problem names it
        if name not in inputs:
            inputs[name] = grid if name == var.name else np.full(9, float(values[name]))
    with np.errstate(all="ignore"):
        loss = np.asarray(law.evaluate(law.values, inputs), float)
    if not np.all(np.isfinite(loss)):
        return False
    return bool(np.ptp(loss) <= 1e-12 * np.max(np.abs(loss)))


def resolve_law(law):
    """``(Law instance, draws or None, label, fit options)`` from a preset name, a registered
    law name, a Law instance or a FitResult (duck-typed: ``.law`` and ``.draws``)."""
    if isinstance(law, Law):
        return law, None, law.name, {}
    if hasattr(law, "law") and isinstance(getattr(law, "law", None), Law) and hasattr(law, "draws"):
        inner = law.law
        return inner, law.draws, f"fit ({inner.name})", dict(getattr(law, "options", {}) or {})
    if isinstance(law, str):
        try:
            from tsbudget.laws.presets import PRESETS, get_preset
        except ImportError:  # presets not installed in this build
            PRESETS, get_preset = {}, None
        if law in PRESETS:
            inst = get_preset(law)
            # the preset's data unit; a preset without one was fitted to language-model tokens
            fields = attrs.asdict(PRESETS[law], recurse=False)
            return inst, None, f"{law} ({inst.name})", {"unit": fields.get("unit") or "tokens"}
        from tsbudget.registry import laws

        try:
            inst = laws.resolve(law)
        except PluginTypeError as exc:
            raise InputError(f"law {law!r} needs parameter values; pass a preset, a Law instance or a fit ({exc})")
        return inst, None, inst.name, {}
    raise InputError(f"law must be a preset name, a law name, a Law or a FitResult, got {law!r}")


def _bounds(value, name, default) -> tuple[float, float]:
    """``(lower, upper)`` from a pair (``None`` for an open end), ``0 <= lower <= upper``."""
    if value is None:
        return default
    try:
        lo, hi = (math.inf if v is None and i else (0.0 if v is None else float(v)) for i, v in enumerate(value))
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a pair (lower, upper), got {value!r}") from None
    if not (lo >= 0 and hi > 0 and lo <= hi) or math.isnan(lo) or math.isnan(hi):
        raise InputError(f"{name} must satisfy 0 <= lower <= upper, upper > 0; got {value!r}")
    return lo, hi


def _regimes_in_unit(regimes, unit):
    """``regimes`` counted in the plan's ``unit``.

    Counts in the plan's unit are used as they are; counts in model ``"positions"`` convert
    exactly through the unit's positions per unit (``RegimeData.scaled``: effective data is
    homogeneous of degree one in the counts). Any other unit (e.g. ``"windows"``, whose size
    in positions the plan cannot know) is refused rather than read as the plan's unit.
    """
    if regimes.unit == unit.name:
        return regimes
    if regimes.unit == "positions":
        return regimes.scaled(1.0 / float(unit.positions_per_unit()), unit.name)
    from tsbudget.registry import units

    other = f" or plan with unit={regimes.unit!r}" if regimes.unit in units else ""
    raise InputError(
        f"unique: RegimeData.unit is {regimes.unit!r} but the plan counts data in {unit.name!r}; "
        f"convert the counts first (RegimeData.scaled(factor, {unit.name!r}) with factor = {unit.name} per "
        f"one of {regimes.unit!r}, or count them in 'positions'){other}"
    )
