"""The routed language-model runs of Clark et al. 2022, shipped with tsbudget.

Source: google-deepmind/scaling_laws_for_routing, ``data/curves.csv.gz`` (CC-BY 4.0; see
``tsbudget/data/SOURCES.md``), the runs behind "Unified Scaling Laws for Routed Language
Models" (Clark et al. 2022, ICML). The shipped file keeps each run's final evaluation:
eight runs split it across steps 248,000 and 249,000 with some losses missing on each
row, so the last non-empty value of each loss column is taken.

The compute axis. The file has ``flops_per_step``, the repository's estimate of one
*forward* step's FLOPs (constant within a run), and the step count; training compute is
``3 · flops_per_step · step`` (backward pass ≈ twice the forward, Kaplan et al. 2020
§2.1). Every run trains for the same number of steps on the same batch, i.e. on the same
data (≈250k steps), so these runs measure loss against model size at *fixed data*, as
Clark et al. fit it (their eq. 1: ``log L = a log N + b log E + c log N log E + d`` at a
fixed token count). A compute-optimal (N, D) frontier cannot be identified from them;
comparisons of these runs use the fixed-data frontier (``compare(..., frontier="fixed_data")``).

Columns of :func:`load_routing_runs`: ``run`` (``hyper_id``), ``router`` (Dense, Hash,
RL-R, S-Base), ``system`` (router and expert count, e.g. ``"S-Base-64"``; ``"Dense"``),
``N`` (``dense_parameter_count``: parameters one token passes through, the law's N),
``experts`` (``num_experts / k``: experts held per routed slot, the ``experts``
variable of the ``moe`` cost model), ``num_experts``, ``top_k``, ``routing_frequency``,
``flop_increase``, ``seed``, ``total_params``, ``step``, ``flops`` (training FLOPs as
above), ``loss`` (``loss_validation``, nats) and the other evaluation losses.
"""

from __future__ import annotations

from importlib import resources

import polars as pl

from tsbudget.errors import InputError

__all__ = ["ROUTING_FILE", "ROUTING_COMPARE", "load_routing_runs", "routing_systems", "routing_law_runs",
           "routing_compare", "ROUTERS", "ROUTING_FIT_OPTIONS"]

ROUTING_FILE = "routing_clark2022_final.csv"
ROUTERS = ("Dense", "Hash", "RL-R", "S-Base")
# forward + backward ≈ 3 × forward (Kaplan et al. 2020 §2.1; Hoffmann et al. 2022 App. F)
TRAIN_TO_FORWARD = 3.0

#: Base settings of :func:`tsbudget.comparisons.compare.compare` for these runs, each system
#: fitted *separately* (``compare(routing_systems(), by="system", reference="dense", **ROUTING_COMPARE)``);
#: :func:`routing_compare` adds Clark et al.'s routing law for the routed systems and is what
#: ``tsbudget compare --example routing`` uses. Separately, each system gets
#: ``E + A/N^α`` at fixed data, and where two such curves meet is an artefact of that form
#: (S-Base-64 meets Dense near 5e10 dense parameters; the routing law puts it near 8e11). All runs see the same data, so the
#: Chinchilla data term ``B/D^β`` is one constant, not identifiable apart from ``E``: it is
#: held at a negligible value (``B = 1``, ``β = 1``, ``D`` = the step count, ≈4e-6 nats)
#: and the fit is ``E + A/N^α`` at Clark et al.'s fixed data. A small start grid (12
#: starts) suffices for three free parameters and keeps the bootstrap fast. Draws are paired
#: on model size (``pair_on="N"``): every system trained the same six dense sizes, so draw
#: ``i`` resamples the same sizes for each (Dense's three seeds at 132M go together).
ROUTING_COMPARE = {
    "frontier": "fixed_data",
    "pair_on": "N",
    "columns": {"D": "step"},
    "fit_options": {
        "fixed": {"B": 1.0, "beta": 1.0},
        "grid": {"E": (0.0, 0.5), "A": (2.0, 5.0), "alpha": (0.1, 0.3, 0.5)},
    },
}


#: Fit options of the routing law in a comparison: the paper's objective, least squares on
#: log loss (a Huber δ above every log residual, which stay below 0.05; as in
#: tests/golden/test_routing_law_clark2022.py). With tsbudget's default δ = 1e-3 the S-Base
#: cut-off moves from 7.8e11 to 4.2e11: it is a ratio of two small slopes.
ROUTING_FIT_OPTIONS = {"delta": 1.0}


def load_routing_runs() -> pl.DataFrame:
    """All 223 runs of Clark et al. 2022 at their final evaluation (see the module docstring)."""
    path = resources.files("tsbudget").joinpath("data", ROUTING_FILE)
    with resources.as_file(path) as p:
        raw = pl.read_csv(p)
    losses = [c for c in raw.columns if c.startswith("loss_") and c != "loss_validation"]
    system = (
        pl.when(pl.col("router_type") == "Dense")
        .then(pl.lit("Dense"))
        .otherwise(pl.col("router_type") + pl.lit("-") + pl.col("num_experts").cast(pl.Utf8))
    )
    return raw.select(
        pl.col("hyper_id").cast(pl.Int64).alias("run"),
        pl.col("router_type").alias("router"),
        system.alias("system"),
        pl.col("dense_parameter_count").cast(pl.Float64).alias("N"),
        (pl.col("num_experts") / pl.col("k")).cast(pl.Float64).alias("experts"),
        pl.col("num_experts").cast(pl.Int64),
        pl.col("k").cast(pl.Int64).alias("top_k"),
        pl.col("routing_frequency").cast(pl.Float64),
        pl.col("flop_increase").cast(pl.Float64),
        pl.col("seed").cast(pl.Int64),
        pl.col("total_parameter_count").cast(pl.Float64).alias("total_params"),
        pl.col("step").cast(pl.Float64),
        (TRAIN_TO_FORWARD * pl.col("flops_per_step") * pl.col("step")).alias("flops"),
        pl.col("loss_validation").cast(pl.Float64).alias("loss"),
        *[pl.col(c).cast(pl.Float64) for c in losses],
        pl.col("model_size_label"),
    )


def routing_systems(experts=64, routers=ROUTERS) -> pl.DataFrame:
    """The runs of Clark et al.'s main sweep: dense models (``k = 1``, no FLOP increase,
    every seed) and each router at ``experts`` experts with ``k = 1`` and a routed layer
    in every other block (routing frequency 0.5), as in their Figure 1.

    ``experts`` is one count or several; ``routers`` any of :data:`ROUTERS`.
    """
    routers = (routers,) if isinstance(routers, str) else tuple(routers)
    unknown = [r for r in routers if r not in ROUTERS]
    if unknown:
        raise InputError(f"routers: unknown router {unknown[0]!r}; the file has {list(ROUTERS)}")
    counts = [experts] if isinstance(experts, (int, float)) else list(experts)
    df = load_routing_runs()
    have = set(df.filter(pl.col("router") != "Dense")["num_experts"].to_list())
    bad = [e for e in counts if e not in have]
    if bad:
        raise InputError(f"experts: no routed runs with {bad[0]!r} experts; the file has {sorted(have)}")
    dense = (pl.col("router") == "Dense") & (pl.col("top_k") == 1) & (pl.col("flop_increase") == 1.0)
    routed = (
        pl.col("router").is_in([r for r in routers if r != "Dense"])
        & pl.col("num_experts").is_in(counts)
        & (pl.col("top_k") == 1)
        & (pl.col("routing_frequency") == 0.5)
    )
    keep = (dense & pl.lit("Dense" in routers)) | routed
    return df.filter(keep).sort("system", "N", "run")


def routing_law_runs(router: str) -> pl.DataFrame:
    """The runs Clark et al. fit their eq. 1 on for one ``router`` (S-Base, RL-R or Hash), as
    in the repository's example notebook (google-deepmind/scaling_laws_for_routing,
    ``example.ipynb``): the dense models and that router's models with ``k = 1``, a routed
    layer in every other block (routing frequency 0.5) and seed 42, every expert count;
    dense models count as ``experts = 1``. Columns as :func:`load_routing_runs`."""
    if router not in ROUTERS or router == "Dense":
        raise InputError(f"router: {router!r} is not a routed system; choose one of {list(ROUTERS[1:])}")
    df = load_routing_runs()
    keep = (
        pl.col("router").is_in(["Dense", router])
        & (pl.col("top_k") == 1)
        & (pl.col("routing_frequency") == 0.5)
        & (pl.col("seed") == 42)
    )
    return df.filter(keep).sort("num_experts", "N")


def routing_compare(runs: pl.DataFrame, anchor: str = "S-Base") -> dict:
    """Keywords of :func:`tsbudget.comparisons.compare.compare` for ``runs`` of
    :func:`routing_systems` (``compare(runs, by="system", reference="dense", **routing_compare(runs))``):
    :data:`ROUTING_COMPARE`, with every routed system described by Clark et al. 2022's
    routing law (:class:`tsbudget.laws.routing.Routing`) fitted as they fit it, once per
    router on the dense and all that router's runs (:func:`routing_law_runs`), at its
    expert count along the frontier, with the same fit at ``experts = 1`` as its reference
    (``reference_variables``): its ``p_beats_reference`` and the comparison's ``limits``
    (where routing stops helping) come from that one fit.

    The Dense system's own row needs one of those fits: it is the ``anchor`` router's fit
    at ``experts = 1`` (S-Base, Clark et al.'s first router, when present; else the first
    routed system's), the same fit and draws as that router's systems. The other routers'
    dense curves differ from it slightly; their statistics against Dense use their own.
    Without routed systems the result is :data:`ROUTING_COMPARE` (each system its own power law).
    """
    for col in ("system", "router", "experts"):
        if col not in runs.columns:
            raise InputError(f"runs: column {col!r} is missing; pass a table of routing_systems()")
    pairs = runs.select("system", "router", "experts").unique().sort("system")
    routed = [r for r in pairs.iter_rows(named=True) if r["router"] != "Dense"]
    for label, n in pairs.group_by("system").len().iter_rows():
        if n > 1:
            raise InputError(f"runs: system {label!r} mixes routers or expert counts; one per system")
    law_runs = {router: routing_law_runs(router) for router in sorted({r["router"] for r in routed})}
    settings = {"law": "routing", "fit_options": dict(ROUTING_FIT_OPTIONS)}
    systems = {r["system"]: {**settings, "fit_runs": law_runs[r["router"]], "variables": {"experts": r["experts"]},
                             "reference_variables": {"experts": 1.0}} for r in routed}
    if routed:
        base = anchor if anchor in law_runs else routed[0]["router"]
        for r in pairs.filter(pl.col("router") == "Dense").iter_rows(named=True):
            systems[r["system"]] = {**settings, "fit_runs": law_runs[base], "variables": {"experts": 1.0}}
    return {**ROUTING_COMPARE, "systems": systems} if systems else dict(ROUTING_COMPARE)
