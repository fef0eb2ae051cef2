"""``tsbudget fit RUNS``: fit a scaling law to runs, optionally with a bootstrap."""

from __future__ import annotations

import click

from tsbudget.cli.common import (
    LEVEL,
    POSITIVE,
    check_output,
    check_plot,
    SETTING,
    column_options,
    columns_from_options,
    jsonable,
    parse_fix,
    parse_number,
    parse_numbers,
    parse_settings,
    print_table,
    progress,
    read_runs,
    use_progress,
    write_json,
)
from tsbudget.errors import InputError
from tsbudget.laws.build import build_law, parse_law_variable

__all__ = ["check_bootstrap", "command", "fit_kwargs", "fit_options", "law_variable_columns", "pop_fit_options"]


# canonical run columns that are not extra law variables (see --col)
_BASE_COLUMNS = frozenset({"N", "D", "U", "loss", "flops", "weight"})


def fit_options(func):
    """The fitting choices shared by ``fit`` and ``sensitivity``; read them with :func:`fit_kwargs`."""
    options = [
        click.option("--law", default="chinchilla", show_default=True, help="Registered law name."),
        click.option("--law-variable", "law_variables", multiple=True, metavar="NAME[=REF][:KIND]",
                     help="A variable of the extended law (e.g. experts, or experts=8 to measure it from a "
                          "reference of 8; default reference 1; compression:quadratic for a log-quadratic "
                          "efficiency with a valley); repeatable. Columns mapped with --col NAME=COLUMN "
                          "are variables too."),
        click.option("--cost-model", default="dense", show_default=True,
                     help="Cost model that derives D from the FLOPs column (see `tsbudget plugins`)."),
        click.option("--cost-setting", "cost_settings", multiple=True, type=SETTING, metavar="KEY=VALUE",
                     help="Cost-model setting (e.g. d_model=512); repeatable."),
        click.option("--unit", default="tokens", show_default=True, help="Data unit D is counted in."),
        click.option("--unit-setting", "unit_settings", multiple=True, type=SETTING, metavar="KEY=VALUE",
                     help="Data-unit setting (e.g. patch_length=16); repeatable."),
        click.option("--fix", multiple=True, metavar="NAME=VALUE", help="Hold a parameter at a value; repeatable."),
        click.option("--init", multiple=True, metavar="NAME=VALUE",
                     help="Start from these values (one polish, no grid search); repeatable."),
        click.option("--delta", type=POSITIVE, default=1e-3, show_default=True, help="Huber delta on log residuals."),
        click.option("--mean", is_flag=True, help="Average the per-run losses instead of summing them."),
        click.option("--drop-highest-loss", type=click.IntRange(min=0), default=0, show_default=True,
                     metavar="K", help="Drop the K highest-loss runs before fitting."),
        click.option("--no-race", is_flag=True,
                     help="Run every grid start to convergence (no successive halving; ~30x slower)."),
    ]
    for opt in reversed(options):
        func = opt(func)
    return func


_FIT_OPTION_NAMES = ("law", "law_variables", "cost_model", "cost_settings", "unit", "unit_settings", "fix", "init",
                     "delta", "mean", "drop_highest_loss", "no_race")


def pop_fit_options(options: dict) -> dict:
    """Remove the :func:`fit_options` values from a command's keyword arguments."""
    return {k: options.pop(k) for k in _FIT_OPTION_NAMES if k in options}


def law_variable_columns(options: dict, columns: dict, runs) -> None:
    """Read ``--law-variable NAME=COLUMN[:KIND]`` (the variable measured in a column of the runs,
    ``compression=patch_rate:quadratic``): map NAME to COLUMN in ``columns`` and leave
    ``NAME[:KIND]`` in ``options["law_variables"]``. A number after ``=`` stays a reference value
    (``NAME=REF[:KIND]``); anything else must name a column of the runs."""
    items = []
    for item in options.get("law_variables") or ():
        head, colon, kind = str(item).partition(":")
        name, eq, value = head.partition("=")
        value = value.strip()
        try:
            float(value)
        except ValueError:
            if eq and value:
                if value not in runs.columns:
                    raise InputError(f"--law-variable {item!r}: {value!r} is neither a reference number nor a column "
                                     f"of the runs; columns are {runs.columns}")
                if columns.get(name.strip(), value) != value:
                    raise InputError(f"--law-variable {name.strip()}: mapped to column {value!r} here and to "
                                     f"{columns[name.strip()]!r} by --col")
                columns[name.strip()] = value
                item = name.strip() + (colon + kind if colon else "")
        items.append(item)
    options["law_variables"] = tuple(items)


def _law_variables(items, columns) -> tuple[dict[str, float | None], dict[str, str]]:
    """``--law-variable NAME[=REF][:KIND]`` plus the non-canonical ``--col`` names -> (name -> reference
    or None, name -> kind); see :func:`tsbudget.laws.build.parse_law_variable`."""
    out: dict[str, float | None] = {}
    kinds: dict[str, str] = {}
    for item in items or ():
        name, ref, kind = parse_law_variable(item)
        if name in out:
            raise InputError(f"--law-variable {name} given twice")
        out[name], kinds[name] = ref, kind
    for name in columns or {}:
        if name not in _BASE_COLUMNS:
            out.setdefault(name, None)
    return out, kinds


def _plugin(kind: str, name: str, settings: dict):
    """The plugin's name (no settings) or an instance with its settings; an unknown name or
    setting is refused now, not saved into the fit."""
    from tsbudget.registry import costmodels, units

    plugin = (costmodels if kind == "cost model" else units).resolve(name, **settings)
    return plugin if settings else name


def _check_parameters(law, values: dict, option: str) -> None:
    """Every name given to ``--fix``/``--init`` must be a parameter of the law."""
    names = [p.name for p in law.parameters]
    for name in values:
        if name not in names:
            raise InputError(f"{option} {name}: law {law.name!r} has no parameter {name!r}; "
                             f"its parameters are {', '.join(names)}")


def fit_kwargs(options: dict, columns: dict | None = None) -> dict:
    """Keyword arguments of :func:`tsbudget.fitting.fit.fit` from the :func:`fit_options` values:
    ``law`` (an instance), ``cost_model``, ``unit`` (names, or instances with their settings),
    ``fixed``, ``delta``, ``reduction``, ``drop_highest_loss``, ``race`` and ``init`` when given."""
    o = options
    out = {
        "race": not o.get("no_race", False),
        "law": build_law(o.get("law", "chinchilla"), *_law_variables(o.get("law_variables"), columns)),
        "cost_model": _plugin("cost model", o.get("cost_model", "dense"),
                              parse_settings(o.get("cost_settings"), "--cost-setting")),
        "unit": _plugin("unit", o.get("unit", "tokens"), parse_settings(o.get("unit_settings"), "--unit-setting")),
        "fixed": parse_fix(o.get("fix")) or None,
        "delta": o.get("delta", 1e-3),
        "reduction": "mean" if o.get("mean") else "sum",
        "drop_highest_loss": o.get("drop_highest_loss", 0),
    }
    _check_parameters(out["law"], out["fixed"] or {}, "--fix")
    if o.get("init"):
        out["init"] = parse_fix(o["init"], option="--init")
        _check_parameters(out["law"], out["init"], "--init")
    return out


def check_bootstrap(n: int, option: str = "--bootstrap") -> None:
    """A bootstrap needs 0 (none) or at least 2 draws (one draw has no spread)."""
    if n == 1:
        raise InputError(f"{option} takes 0 (no bootstrap) or at least 2 draws, got 1")


def _canonical_cluster(cluster: str | None, cols: dict, fitted_columns) -> str | None:
    """A cluster named by its file column (``"Training FLOP"``) or canonical name (``flops``)."""
    if cluster is None or cluster in fitted_columns:
        return cluster
    inverse = {v: k for k, v in cols.items()}
    return inverse.get(cluster, cluster)


@click.command("fit")
@click.argument("runs", type=click.Path(dir_okay=False, allow_dash=True))
@column_options
@fit_options
@click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=0), default=0, show_default=True,
              metavar="N", help="Bootstrap draws (refits warm-started from the estimate).")
@click.option("--cluster", default=None, metavar="COL",
              help="Resample whole groups of runs sharing COL (e.g. the FLOPs or N column).")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--level", type=LEVEL, default=0.95, show_default=True, help="Interval coverage (with --bootstrap).")
@click.option("--budgets", "budgets_text", default=None, metavar="C1,C2,...",
              help="FLOPs budgets for N_opt, D_opt, tokens per parameter and loss intervals (with --bootstrap or "
                   "--lack-of-fit).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes for the bootstrap.")
@click.option("--method", type=click.Choice(["huber", "reference", "vpnls"]), default="huber", show_default=True,
              help="huber: the Huber multistart (batched, raced); reference: one scipy L-BFGS-B per start; vpnls: "
                   "variable projection (exponents searched, E, A, B by NNLS; squared loss residuals).")
@click.option("--overestimate-penalty", type=POSITIVE, default=1.0, show_default=True, metavar="P",
              help="Multiply the Huber loss of runs the law over-predicts by P (OLMo-core's ladder fits; "
                   "P > 1 pulls the law toward the best runs, for under-tuned ladders).")
@click.option("--lack-of-fit", "lack", is_flag=True,
              help="Student-t lack-of-fit intervals (n - p degrees of freedom) on parameters and, with --budgets, "
                   "on N_opt, D_opt, tokens per parameter and loss.")
@click.option("--validate", "validate_cuts", multiple=True, metavar="FLOPS",
              help="Leave-future-out check for the fit card: refit on budgets below FLOPS, predict the runs at or "
                   "above it; repeatable.")
@click.option("--budget-col", default=None, metavar="COLUMN",
              help="With --validate: column with each run's nominal budget (default: grouped training FLOPs).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Save the fit as JSON (e.g. fit.json).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Write a plot of the fit (e.g. fit.png).")
def command(runs, n_bootstrap, cluster, seed, level, budgets_text, workers, method, overestimate_penalty, lack,
            validate_cuts, budget_col, out, as_json, plot, **options):
    """Fit LAW to RUNS (CSV or Parquet; one row per training run).

    D comes from a D column (--d-col) counted in --unit, or from the FLOPs column through
    --cost-model. The extended law takes the cost model's variables (--law-variable, with
    their columns mapped by --col NAME=COLUMN), e.g. for a mixture-of-experts sweep:
    --law extended --law-variable experts --col experts="Experts" --cost-model moe.
    """
    from tsbudget.fitting.fit import fit

    # every option and output path is checked before the runs are read and fitted
    check_bootstrap(n_bootstrap)
    budgets = parse_numbers(budgets_text, name="--budgets", positive=True) if budgets_text is not None else None
    cuts = [parse_number(c, name="--validate") for c in validate_cuts]
    if budget_col is not None and not cuts:
        raise InputError("--budget-col applies to --validate: give --validate FLOPS with it")
    if not n_bootstrap:
        given = (("--budgets", budgets if not lack else None), ("--cluster", cluster), ("--workers", workers > 1))
        needs = [option for option, value in given if value]
        if needs:
            raise InputError(f"{needs[0]} applies to the bootstrap: give --bootstrap N (N >= 2) with it")
    check_output(out, "--out")
    check_plot(plot)
    fit_opts = pop_fit_options(options)
    df = read_runs(runs)
    cols = columns_from_options(options, df)
    law_variable_columns(fit_opts, cols, df)
    kwargs = fit_kwargs(fit_opts, cols)
    law = kwargs.pop("law")
    if cluster is not None:
        _check_cluster(cluster, cols, df.columns)
    show = use_progress(as_json)
    kwargs.update(method=_METHOD[method], overprediction_penalty=overestimate_penalty)
    if cuts:  # refuse a cut the runs cannot validate at before any fit
        from tsbudget.fitting.validation import cut_budgets, run_budgets

        cut_budgets(run_budgets(df, law, cols or None, kwargs["cost_model"], kwargs["unit"], budget_col)[0], cuts)
    with progress(f"fitting {law.name}", None, enabled=show):
        result = fit(df, law, columns=cols or None, **kwargs)
    if cuts:
        result = result.with_validation(_validation(df, law, method, kwargs, cols, cuts, budget_col, show))
    if n_bootstrap:
        result = _bootstrap(result, n_bootstrap, cluster, cols, seed, level, budgets, workers, show)
    lof = None
    if lack:
        from tsbudget.fitting.lack_of_fit import lack_of_fit

        lof = lack_of_fit(result, level=level, budgets=budgets)
    if out:
        result.save(out)
    if plot:
        from tsbudget.plotting import plot_fit

        plot_fit(result, plot)
    if as_json:
        click.echo(write_json({**report(result), **({"lack_of_fit": lof.to_dict()} if lof else {})}))
        return
    click.echo(repr(result))
    if lof is not None:
        print_table(lof.table, title=f"lack of fit: {lof.level:.0%} Student-t intervals, {lof.dof} dof "
                                     f"(residual variance {lof.s2:.4g}, {lof.space} loss)")
    if result.draws is not None:
        from tsbudget.uncertainty.intervals import intervals

        table = intervals(result)
        a = result.draws.attrs
        title = (f"bootstrap: {a['n_draws']} draws ({a['n_failed']} failed, {a['n_unconverged']} not converged), "
                 f"{a['level']:.0%} percentile intervals")
        print_table(table, ["name", "budget", "estimate", "median", "se", "lower", "upper"], title=title)


_METHOD = {"huber": "batched", "reference": "reference", "vpnls": "vpnls"}


def _validation(df, law, method, kwargs, cols, cuts, budget_col, show) -> dict:
    """Leave-future-out errors of this fit's law and options at ``cuts`` (for its card)."""
    from tsbudget.fitting.validation import validate

    kw = {k: v for k, v in kwargs.items() if k not in ("method", "fixed", "init")}
    fixed = kwargs.get("fixed")
    with progress("validating", None, enabled=show):
        v = validate(df, [law], [method], fixed=fixed, include_free=not fixed, cuts=cuts, budget_column=budget_col,
                     columns=cols or None, **kw)
    return v.summary()


def _check_cluster(cluster: str, cols: dict, columns) -> None:
    """``--cluster`` names a column of the runs, by its name in the file or its canonical name."""
    if cluster not in columns and cluster not in cols and cluster not in ("N", "D", "flops", "loss"):
        raise InputError(f"--cluster {cluster!r} is not a column of the runs; columns are {list(columns)}")


def _bootstrap(result, n, cluster, cols, seed, level, budgets, workers, show):
    from tsbudget.uncertainty.bootstrap import bootstrap

    cluster = _canonical_cluster(cluster, cols, result.runs.columns)
    executor = None
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: forking a process that runs polars' thread pool can deadlock
        executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        with progress(f"bootstrap ({n} draws)", n, enabled=show) as advance:
            # a vpnls fit is redone by its own method per draw (refit), not by the Huber batched BFGS
            method = "refit" if result.options.get("method") == "vpnls" else "batched"
            return bootstrap(result, n, seed=seed, cluster=cluster, executor=executor, level=level,
                             budgets=budgets, progress=advance, method=method)
    finally:
        if executor is not None:
            executor.shutdown()


def report(result) -> dict:
    """The ``--json`` object: law, success, message, objective, n_runs, parameters, ... and,
    after a bootstrap, intervals."""
    out = dict(jsonable(result.to_dict()))
    law = result.law
    out["law"] = law.name
    out["success"] = bool(result.success)
    out["message"] = str(result.message)
    out["objective"] = float(result.objective)
    out["n_runs"] = int(result.n_runs)
    out["parameters"] = law.values
    if result.draws is not None:
        from tsbudget.uncertainty.intervals import intervals_dict

        out["intervals"] = intervals_dict(result)
    out.pop("draws", None)
    return out
