"""The planner: closed form vs general optimizer, target mode, serving, data limits,
integer and real variables, bounds and infeasible requests."""

import json

import numpy as np
import polars as pl
import pytest
import xarray as xr

from tsbudget.planning.closed_form import closed_form_budget, closed_form_target
from tsbudget.errors import InfeasibleError, InputError
from tsbudget.planning.plan import plan
from tsbudget.planning.result import Plan
from tsbudget.laws.presets import get_preset
from tsbudget.registry import laws
from tsbudget.planning.serving import Serving

EPOCH = get_preset("epoch2024").values


def chinchilla_loss(p, N, D):
    return p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]


@pytest.mark.parametrize("preset", ["epoch2024", "chinchilla2022"])
@pytest.mark.parametrize("C", [1e18, 3e20, 1e23, 1e25])
def test_general_optimizer_agrees_with_closed_form(preset, C):
    fast = plan(C, law=preset)
    slow = plan(C, law=preset, method="general")
    assert fast.method == "closed form" and slow.method == "general"
    N, D = closed_form_budget(get_preset(preset).values, C)
    assert fast.N == pytest.approx(float(N), rel=1e-12)
    assert slow.N == pytest.approx(float(N), rel=1e-6)
    assert slow.D == pytest.approx(float(D), rel=1e-6)
    assert slow.loss == pytest.approx(fast.loss, rel=1e-12)
    assert 6 * slow.N * slow.D == pytest.approx(C, rel=1e-12)
    assert slow.train_flops == pytest.approx(C, rel=1e-12)


def test_plan_reports_everything():
    p = plan(1e21)
    assert isinstance(p, Plan) and p.success
    assert p.unit == "tokens" and p.cost_model == "dense" and p.law.startswith("epoch2024")
    assert p.positions == p.D and p.epochs == 1.0 and p.unique is None
    assert p.active_params == p.total_params == p.N
    assert p.binding == ("budget",)
    # GPU-hours = FLOPs / (peak · utilisation · 3600), H100 SXM 989.4 TFLOP/s at 40%
    assert p.train_gpu_hours == pytest.approx(1e21 / (989.4e12 * 0.40 * 3600))
    assert p.inference_flops == 0.0 and p.serve_gpu_hours == 0.0
    text = repr(p)
    assert text.startswith("Plan: success")
    assert text.index("estimates") < text.index("diagnostics")
    d = p.to_dict()
    json.dumps(d)
    for key in ("N", "D", "loss", "train_flops", "inference_flops", "epochs", "variables"):
        assert key in d


def test_method_closed_form_refuses_when_it_does_not_apply():
    with pytest.raises(InputError, match="closed form does not apply"):
        plan(1e21, method="closed_form", serving=Serving(positions=1e12))
    with pytest.raises(InputError, match="method"):
        plan(1e21, method="fast")


# ---------------------------------------------------------------- target mode
@pytest.mark.parametrize("method", ["auto", "general"])
def test_target_without_serving_is_the_chinchilla_optimum_for_that_loss(method):
    target = 2.4
    p = plan(target_loss=target, method=method)
    n, d = closed_form_target(EPOCH, target)
    assert p.N == pytest.approx(float(n), rel=1e-6)
    assert p.D == pytest.approx(float(d), rel=1e-6)
    assert p.loss == pytest.approx(target, rel=1e-12)
    # and it is the budget optimum at the budget it spends
    q = plan(p.train_flops)
    assert q.N == pytest.approx(p.N, rel=1e-6)
    assert p.binding[0] == "target loss"


def test_serving_makes_the_cheapest_model_smaller_and_trained_longer():
    # Sardana & Frankle 2024 §3: with large inference demand the lifetime-optimal model
    # is smaller than Chinchilla's and sees more tokens per parameter.
    base = plan(target_loss=2.3)
    served = plan(target_loss=2.3, serving=Serving(positions=1e13))
    assert served.N < base.N and served.data_per_param > base.data_per_param
    assert served.loss == pytest.approx(2.3, rel=1e-12)
    assert served.inference_flops == pytest.approx(2 * served.N * 1e13, rel=1e-12)
    assert served.total_flops < base.train_flops + 2 * base.N * 1e13


def test_budget_mode_with_serving_spends_the_budget_on_both():
    p = plan(1e22, serving=Serving(requests=1e8, positions_per_request=1000))
    assert p.train_flops + p.inference_flops == pytest.approx(1e22, rel=1e-10)
    assert p.served_positions == 1e11
    assert p.method == "general"
    # serving GPU-hours at the profile's serving utilisation (25%)
    assert p.serve_gpu_hours == pytest.approx(p.inference_flops / (989.4e12 * 0.25 * 3600))
    q = plan(1e22, serving=Serving(positions=1e11, utilization=0.5))
    assert q.serve_gpu_hours == pytest.approx(q.inference_flops / (989.4e12 * 0.5 * 3600))


# --------------------------------------------------------------------- errors
def test_target_below_E_names_the_limit_and_the_gap():
    with pytest.raises(InfeasibleError, match=r"below the law's irreducible loss E=1\.8172 \(by 0\.0172"):
        plan(target_loss=1.8)


def test_budget_below_the_smallest_model():
    # serving alone on the smallest allowed model (1e9 parameters) costs 2e9 · 1e12 = 2e21
    with pytest.raises(InfeasibleError, match=r"below the smallest allowed model.*costs 2e\+21.*short by 1\.9e\+21"):
        plan(1e20, serving=Serving(positions=1e12), n_bounds=(1e9, 1e12))


def test_target_unreachable_within_n_bounds():
    with pytest.raises(InfeasibleError, match="below the lowest loss reachable within the bounds"):
        plan(target_loss=1.9, n_bounds=(1e6, 1e8))


def test_unreachable_target_reports_the_lowest_loss_in_the_box_and_where():
    # The repetition penalty makes loss rise with epochs: the largest model and data (the
    # corner) gave "lowest reachable 1.58e+25" in the audit. The true minimum over the box is
    # at the largest model trained on exactly its unique data (no repeat, no penalty).
    import re

    law = laws.get("repetition_penalty")(**EPOCH, P=0.05, delta=1.0, kappa=0.5)
    with pytest.raises(InfeasibleError) as exc:
        plan(target_loss=2.0, law=law, unique=1e9)
    msg = str(exc.value)
    m = re.search(r"reachable within the bounds, ([\d.e+-]+) \(at N=([\d.e+-]+), D=([\d.e+-]+) tokens\), by", msg)
    assert m, msg
    best, N, D = (float(x) for x in m.groups())
    Ng = np.geomspace(1e2, 1e16, 1401)[:, None]
    Dg = np.geomspace(1, 1e32, 3201)[None, :]
    grid = law.loss(N=Ng, D=Dg, U=np.full_like(Dg, 1e9)).min()
    assert grid == pytest.approx(2.882645, abs=1e-6)
    assert best == pytest.approx(grid, abs=1e-5) and N == 1e16 and D == pytest.approx(1e9, rel=1e-3)
    assert float(law.loss(N=N, D=D, U=1e9)) == pytest.approx(best, abs=1e-5)


def test_target_above_budget_cap():
    with pytest.raises(InfeasibleError, match="above the budget upper limit"):
        plan(1e20, target_loss=2.2)


@pytest.mark.parametrize("method", ["auto", "general"])
def test_target_mode_spends_at_least_the_budget_lower_limit(method):
    # The audit: target 2.4 with budget_bounds (1e22, 1e23) returned a 3.7e20 plan "with
    # success". Spending must reach 1e22; the best allocation there is the budget plan at 1e22,
    # whose loss is below the target.
    p = plan(target_loss=2.4, budget_bounds=(1e22, 1e23), method=method)
    at_lb = plan(1e22, method=method)
    assert p.mode == "target" and p.target_loss == 2.4 and p.budget == (1e22, 1e23)
    assert p.total_flops == pytest.approx(1e22, rel=1e-12)
    assert p.N == pytest.approx(at_lb.N, rel=1e-12) and p.loss == pytest.approx(at_lb.loss, rel=1e-12)
    assert p.loss < 2.4 and p.binding[0] == "budget lower limit"
    assert "below the budget lower limit 1e+22" in p.message
    assert p.diagnostics["cheapest_reaching_target_flops"] == pytest.approx(plan(target_loss=2.4).total_flops)
    # a lower limit below the cheapest cost does not bind
    q = plan(target_loss=2.4, budget_bounds=(1e19, 1e23), method=method)
    assert q.loss == pytest.approx(2.4, rel=1e-9) and q.total_flops > 1e19
    assert q.total_flops == pytest.approx(plan(target_loss=2.4).total_flops, rel=1e-9)
    assert "budget lower limit" not in q.binding


def test_budget_lower_limit_beyond_the_most_expensive_allocation():
    with pytest.raises(InfeasibleError, match="exceeds the most expensive allowed allocation"):
        plan(budget_bounds=(1e22, 1e23), n_bounds=(1e6, 1e8), d_bounds=(0, 1e9))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "give a budget"),
        ({"budget": 1e21, "budget_bounds": (1, 2)}, "not both"),
        ({"budget": -5}, "budget must be finite and > 0"),
        ({"budget": 1e21, "fixed": {"experts": 4}}, "no variable 'experts'"),
        ({"budget": 1e21, "cost_model": "moe", "fixed": {"experts": 4}, "free": ["experts"]}, "both fixed and free"),
        ({"budget": 1e21, "cost_model": "moe", "fixed": {"top_k": 99}}, "top_k"),
        ({"budget": 1e21, "unique": 0}, "unique must be finite and > 0"),
        ({"budget": 1e21, "law": 3}, "law must be"),
        ({"budget": 1e21, "n_bounds": (5, 1)}, "n_bounds"),
        ({"budget": 1e21, "level": 2}, "level"),
    ],
)
def test_bad_input_names_the_field(kwargs, match):
    with pytest.raises(InputError, match=match):
        plan(**kwargs)


# --------------------------------------------------------------------- bounds
def test_data_bounds_give_exact_bound_active_optima():
    # The budget and d_bounds fix an interval of N (N = C / (6 D) at each data bound). The
    # audit: (1e13, 1.05e13) was rejected though N = 1.667e7 spends 1e21 exactly; with
    # (1e13, 1.3e13) D came back 2e-4 above the bound and "D lower bound" was not reported.
    for hi in (1.05e13, 1.3e13, 1e13):
        p = plan(1e21, d_bounds=(1e13, hi))
        assert p.D == pytest.approx(1e13, rel=1e-14) and p.N == pytest.approx(1e21 / 6e13, rel=1e-14)
        assert p.train_flops == pytest.approx(1e21, rel=1e-14)
        assert "D lower bound" in p.binding and p.method == "general"
    free = plan(1e21)
    capped = plan(1e21, d_bounds=(None, free.D / 3))
    assert capped.D == pytest.approx(free.D / 3, rel=1e-14) and "D upper bound" in capped.binding
    assert capped.N == pytest.approx(3 * free.N, rel=1e-12)
    # an interior optimum inside a narrow data interval is the closed form's, to 1e-9
    narrow = plan(1e21, d_bounds=(free.D * 0.99, free.D * 1.01), method="general")
    assert narrow.N == pytest.approx(free.N, rel=1e-9) and narrow.binding == ("budget",)
    # with a budget interval, a data upper bound caps the spend
    interval = plan(budget_bounds=(1e20, 1e21), d_bounds=(None, free.D / 3))
    assert interval.D == pytest.approx(free.D / 3, rel=1e-12) and "D upper bound" in interval.binding


def test_data_bounds_with_a_cost_that_is_not_affine_in_N():
    # Training FLOPs 6N(1 + 0.1·log10 N): the feasible N interval is found by bisection.
    import attrs
    from costmodels.dense import Dense

    @attrs.frozen
    class Curved(Dense):
        def train_flops_per_position(self, n, **variables):
            n = np.asarray(n, float)
            return 6.0 * n * (1 + 0.1 * np.log10(n))

    p = plan(1e21, cost_model=Curved(), d_bounds=(1e13, 1.3e13))
    assert p.D == pytest.approx(1e13, rel=1e-12) and "D lower bound" in p.binding
    assert p.train_flops == pytest.approx(1e21, rel=1e-12)
    N = np.geomspace(1e6, 1e12, 200_001)
    D = 1e21 / (6 * N * (1 + 0.1 * np.log10(N)))
    assert p.N == pytest.approx(N[np.argmin(np.abs(D - 1e13))], rel=1e-4)


def test_data_is_at_least_one_model_position():
    # The audit: `tsbudget plan --budget 1e-3` planned N = 100 on 1.7e-6 tokens.
    with pytest.raises(InfeasibleError, match=r"budget 0\.001 FLOPs is below the smallest allowed model.*N=100, D=1 tokens = one position\) costs 600"):
        plan(1e-3)
    # in cells patched by 8, one position is 8 cells
    with pytest.raises(InfeasibleError, match=r"N=100, D=8 cells = one position\)"):
        plan(1e-3, unit="cells", unit_settings={"patch_length": 8})
    tiny = plan(601)  # N = 100 on one position is the only plan
    assert tiny.N == pytest.approx(100, rel=1e-3) and tiny.D >= 1
    assert "N lower bound" in tiny.binding
    with pytest.raises(InputError, match="d_bounds upper limit 0.5 tokens is less than one model position"):
        plan(1e21, d_bounds=(0, 0.5))


def test_n_upper_bound_binds_and_is_the_best_allowed_size():
    free = plan(1e23)
    capped = plan(1e23, n_bounds=(1e6, free.N / 4))
    assert capped.N == pytest.approx(free.N / 4, rel=1e-9)
    assert "N upper bound" in capped.binding
    assert capped.loss > free.loss
    assert 6 * capped.N * capped.D == pytest.approx(1e23, rel=1e-12)


def test_budget_interval_spends_the_upper_limit_when_loss_falls_with_data():
    p = plan(budget_bounds=(1e20, 1e21))
    assert p.train_flops == pytest.approx(1e21, rel=1e-9)
    assert p.binding == ("budget upper limit",)


def test_budget_interval_stops_early_when_repetition_hurts():
    # The repetition-penalty law (Lovelace et al. 2026) makes loss rise with epochs;
    # with a budget interval the best plan need not spend it all. Check against a grid.
    law = laws.get("repetition_penalty")(**EPOCH, P=0.05, delta=1.0, kappa=0.5)
    U = 1e9
    p = plan(budget_bounds=(1e17, 1e21), law=law, unique=U)
    N = np.geomspace(1e7, 1e11, 801)[:, None]
    D = np.geomspace(1e8, 1e12, 801)[None, :]
    ok = 6 * N * D <= 1e21
    L = np.where(ok, law.loss(N=N, D=D, U=np.full_like(D, U)), np.inf)
    assert p.loss <= L.min() + 1e-9
    assert p.loss == pytest.approx(L.min(), abs=1e-4)
    assert p.train_flops < 1e21  # the overfitting penalty stops the spending


# ------------------------------------------------------------------ data limits
def test_unlimited_unique_data_changes_nothing():
    a, b = plan(1e21), plan(1e21, unique=1e15)
    assert b.method == "closed form" and b.N == a.N and b.epochs == pytest.approx(a.D / 1e15)


def test_repeated_data_valued_by_effective_data_moves_to_a_larger_model():
    # Chinchilla law with Muennighoff eq. 5 effective data: repeated tokens are worth less,
    # so the plan buys parameters instead of epochs.
    free = plan(1e23)
    U = free.D / 10
    limited = plan(1e23, unique=U)
    assert limited.N > free.N and limited.D < free.D
    assert limited.epochs < free.D / U
    assert limited.train_flops == pytest.approx(1e23, rel=1e-10)
    from tsbudget.timeseries.effective_data import effective_data

    assert limited.effective_data == pytest.approx(float(effective_data(limited.D, U)))
    assert limited.loss == pytest.approx(chinchilla_loss(EPOCH, limited.N, limited.effective_data))
    assert "unique data" in " ".join(limited.binding)
    # a grid over N on the budget line finds nothing better
    N = limited.N * np.exp(np.linspace(-0.2, 0.2, 401))
    D = 1e23 / (6 * N)
    L = chinchilla_loss(EPOCH, N, effective_data(D, U))
    assert limited.loss <= L.min() + 1e-12


def test_muennighoff_law_prefers_epochs_over_parameters():
    # Muennighoff et al. 2023, Figure 1 (right) and §5: with data-constrained scaling,
    # excess parameters decay faster (R_N* 5.3) than repeated data (R_D* 15.4), so the
    # optimal allocation uses fewer parameters and more epochs than Chinchilla scaling.
    law = get_preset("muennighoff2023")
    values = law.values
    unconstrained = closed_form_budget(values, 1e23)
    U = 1e11
    p = plan(1e23, law="muennighoff2023", unique=U)
    assert p.N < float(unconstrained[0])
    assert p.epochs > float(unconstrained[1]) / U
    # it is the loss minimum on the budget line
    N = p.N * np.exp(np.linspace(-0.3, 0.3, 601))
    L = law.loss(N=N, D=1e23 / (6 * N), U=np.full_like(N, U))
    assert p.loss <= L.min() + 1e-12


# ----------------------------------------------------------- free variables
def extended_moe():
    from tsbudget.laws.extended import Extended

    return Extended.for_cost_model("moe", **EPOCH, gamma=(0.1, 0.05, 0.02), eta=(0.0, 0.0, 0.0))


MOE = {"d_model": 2048, "n_layer": 24}


def test_integer_variables_match_brute_force():
    law = extended_moe()
    p = plan(1e21, law=law, cost_model="moe", cost_settings=MOE, free=("experts", "top_k"))
    assert set(p.variables) == {"experts", "top_k", "granularity"}
    assert isinstance(p.variables["experts"], int)
    assert p.train_flops == pytest.approx(1e21, rel=1e-10)
    # brute force: the best 1-D plan over each setting near the answer, and coarse ones far away
    e0, k0 = p.variables["experts"], p.variables["top_k"]
    settings = [(e, k) for e in (e0 - 2, e0 - 1, e0 + 1, e0 + 2, 1, 8, 64, 512, 4096) for k in range(1, 9)]
    settings += [(e0, k) for k in range(1, 9) if k != k0]
    for e, k in settings:
        if not 1 <= e <= 4096:
            continue
        q = plan(1e21, law=law, cost_model="moe", cost_settings=MOE, fixed={"experts": e, "top_k": k})
        assert p.loss <= q.loss + 1e-12, (e, k)


def test_real_variable_matches_a_fine_scan():
    # hierarchical compression: a ratio that cuts FLOPs but (through the extended law)
    # makes each parameter worth less; the optimum is interior.
    from tsbudget.laws.extended import Extended

    law = Extended(**EPOCH, variables=("ratio_inner",), references=(1.0,), gamma=(-0.3,), eta=(0.0,))
    p = plan(1e21, law=law, cost_model="hierarchical", free=("ratio_inner",))
    r = p.variables["ratio_inner"]
    assert 1 < r < 64
    scan = [plan(1e21, law=law, cost_model="hierarchical", fixed={"ratio_inner": x}).loss for x in r * np.exp(np.linspace(-0.1, 0.1, 21))]
    assert p.loss <= min(scan) + 1e-12


def test_finite_differences_that_meet_infeasible_points_warn_nothing():
    # _derivatives moved the gradient from a clipped stencil centre back to z with H @ (z − zc)
    # even when the stencil met infeasible (inf) points: "invalid value in matmul" leaked.
    import importlib
    import warnings

    module = importlib.import_module("tsbudget.planning.optimizer")

    class Stub:
        lo, hi = np.zeros(2), np.ones(2)

        def __call__(self, z, k):
            z = np.atleast_2d(z)
            return np.where(z[:, 1] > 0.5, np.inf, (z**2).sum(axis=1))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, _, ok = module._derivatives(Stub(), np.array([1.0, 0.5]), np.zeros(0), 1e-3)
        assert not ok
        # the audit's call: the smallest allowed model, one expert, the whole budget (a law under
        # which experts hurt, since a free variable the law ignores is refused)
        from tsbudget.laws.extended import Extended

        law = Extended(**EPOCH, variables=("experts",), references=(1.0,), gamma=(-0.05,), eta=(0.0,))
        p = plan(1e21, law=law, cost_model="moe", free=["experts"], n_bounds=(1e15, 1e16))
    assert p.N == 1e15 and p.variables["experts"] == 1 and p.train_flops == pytest.approx(1e21, rel=1e-12)
    assert "N lower bound" in p.binding and "experts lower bound" in p.binding and p.at_bound == ("experts",)
    for experts in (2, 8):  # more experts cost router FLOPs and (under this law) value: never better
        q = plan(1e21, law=law, cost_model="moe", fixed={"experts": experts}, n_bounds=(1e15, 1e16))
        assert q.loss >= p.loss


def test_fixed_variables_use_the_closed_form_with_their_cost():
    # recurrent depth at fixed r is linear in N: closed form with k = 27 FLOPs/param/token
    p = plan(1e21, cost_model="recurrent_depth", fixed={"recurrence": 8})
    assert p.method == "closed form"
    N, _ = closed_form_budget(EPOCH, 1e21, k=27.0)
    assert p.N == pytest.approx(float(N), rel=1e-12)
    assert p.variables == {"recurrence": 8}


def test_serving_time_recurrence():
    train_r = plan(1e22, cost_model="recurrent_depth", fixed={"recurrence": 4}, serving=Serving(positions=1e11))
    test_r = plan(
        1e22, cost_model="recurrent_depth", fixed={"recurrence": 4},
        serving=Serving(positions=1e11, variables={"recurrence": 32}),
    )
    assert test_r.serving_variables == {"recurrence": 32.0}
    assert test_r.inference_flops == pytest.approx(1e11 * (2 * test_r.N + 2 * 31 * 0.5 * test_r.N), rel=1e-12)
    assert test_r.N < train_r.N  # costlier serving -> smaller model


# ---------------------------------------------------------------------- draws
class FakeFit:
    """Stand-in with the FitResult attributes the planner reads."""

    def __init__(self, law, draws):
        self.law, self.draws, self.options = law, draws, {"unit": "tokens"}


def draws_around(values, n=200, sd=0.02, seed=1):
    rng = np.random.default_rng(seed)
    return xr.Dataset({k: ("draw", v * np.exp(sd * rng.standard_normal(n))) for k, v in values.items()})


def test_fit_draws_give_intervals():
    law = get_preset("epoch2024")
    draws = draws_around(law.values)
    p = plan(1e21, law=FakeFit(law, draws))
    lo, hi = p.loss_interval
    assert lo < p.loss < hi
    L = chinchilla_loss({k: draws[k].values for k in draws}, p.N, p.D)
    assert lo == pytest.approx(np.quantile(L, 0.025)) and hi == pytest.approx(np.quantile(L, 0.975))
    med, nlo, nhi = p.intervals["N_opt"]
    N_draws, D_draws = closed_form_budget({k: draws[k].values for k in draws}, 1e21)
    assert med == pytest.approx(np.median(N_draws))
    assert p.intervals["data_per_param"][0] == pytest.approx(np.median(D_draws / N_draws))
    assert "over draws" in repr(p)


def test_cells_unit_plan():
    # The preset was fitted on tokens (one position each): planning in cells (a position = 8
    # cells) reads the law in positions, so N is the token plan's and D is 8x its tokens.
    p = plan(1e21, unit="cells", unit_settings={"patch_length": 8})
    N, D = closed_form_budget(EPOCH, 1e21, k=6)
    assert p.N == pytest.approx(float(N), rel=1e-12)
    assert p.D == pytest.approx(8 * float(D), rel=1e-12) and p.positions == pytest.approx(float(D), rel=1e-12)
    assert p.loss == pytest.approx(plan(1e21).loss, rel=1e-12)
    assert p.unit == "cells"


def test_bare_law_reads_data_in_the_plan_unit():
    # A Law instance carries no unit: it is taken to be in the plan's unit (cells here).
    p = plan(1e21, law=get_preset("epoch2024"), unit="cells", unit_settings={"patch_length": 8})
    N, D = closed_form_budget(EPOCH, 1e21, k=6 / 8)
    assert p.D == pytest.approx(float(D), rel=1e-12) and p.N == pytest.approx(float(N), rel=1e-12)


# -------------------------------------------------------------- regimes
def test_regime_data_oversamples_rare_windows_and_beats_the_natural_mix():
    # DESIGN: near-identical normal-state windows repeat each other (faster decay, R* = 5),
    # rare windows are fresher data (R* = Muennighoff's 15.4). The optimal sampling mix
    # (water filling) values the same trained data higher than the corpus's own mix.
    from tsbudget.timeseries.regimes import RegimeData

    rd = RegimeData.from_counts({"normal": 5e9, "rare": 5e8}, available={"normal": 5e10, "rare": 5e8}, unit="tokens")
    best = plan(1e22, unique=rd)
    natural = plan(1e22, unique=rd, mix="natural")
    assert best.loss < natural.loss
    assert best.diagnostics["mix[rare]"] > rd.natural_mix[1]
    assert best.effective_data == pytest.approx(float(rd.effective(best.D, rd.optimal_mix(best.D))))
    assert best.epochs == pytest.approx(best.D / 5.5e9)
    assert best.train_flops == pytest.approx(1e22, rel=1e-10)
    # all-normal data (decay R* = 5) is worth less per epoch than text (R* = 15.4): bigger model
    normal_only = RegimeData.from_counts({"normal": 5.5e9}, unit="tokens")
    assert plan(1e22, unique=normal_only).N > plan(1e22, unique=5.5e9).N
    with pytest.raises(InputError, match="mix"):
        plan(1e22, unique=rd, mix="uniform")


def test_natural_mix_that_repeats_a_small_regime_is_not_planned_by_the_closed_form():
    # D = 1.65e10 <= ΣU = 5.5e10, but the natural mix draws 91% from "normal" (U = 5e9):
    # D·mix_normal = 1.5e10 > U_normal, so normal windows already repeat and the closed
    # form (no repetition) would be wrong. Audit numbers: closed form N 8.5e8, loss 2.574002;
    # the general optimizer N 1.1e9, loss 2.570362.
    from tsbudget.timeseries.regimes import RegimeData

    rd = RegimeData.from_counts({"normal": 5e9, "rare": 5e10}, available={"normal": 5e11, "rare": 5e10}, unit="tokens")
    auto = plan(1e20, unique=rd, mix="natural")
    general = plan(1e20, unique=rd, mix="natural", method="general")
    assert auto.method == "general"
    assert auto.loss == pytest.approx(general.loss, rel=1e-12) and auto.N == pytest.approx(general.N, rel=1e-9)
    assert general.loss == pytest.approx(2.570362, abs=2e-6) and general.N == pytest.approx(1.103e9, rel=1e-3)
    assert auto.diagnostics["epochs[normal]"] > 1
    # a given mix is checked the same way; the optimal mix fills regimes before repeating
    given = plan(1e20, unique=rd, mix=[0.9, 0.1])
    assert given.method == "general"
    assert given.loss == pytest.approx(plan(1e20, unique=rd, mix=[0.9, 0.1], method="general").loss, rel=1e-12)
    best = plan(1e20, unique=rd)
    assert best.method == "closed form" and best.loss == pytest.approx(plan(1e20).loss, rel=1e-12)


@pytest.mark.parametrize("mix", ["optimal", "natural", [0.7, 0.3]])
def test_regimes_that_never_decay_plan_as_unlimited_data(mix):
    # Issue 6: "with R* = ∞ the discount vanishes and plans equal the undiscounted ones",
    # even far beyond the unique data (D ≈ 8-20x ΣU here), in budget and target mode.
    from tsbudget.timeseries.regimes import RegimeData

    rd = RegimeData.from_counts({"normal": 5e9, "rare": 3e9}, available={"normal": 5e10, "rare": 6e9},
                                r_star={"normal": np.inf, "rare": np.inf}, unit="tokens")
    for kwargs in ({"budget": 1e22}, {"target_loss": 2.3}):
        free = plan(**kwargs)
        inf = plan(**kwargs, unique=rd, mix=mix)
        assert inf.D > 5 * rd.total_unique
        assert inf.N == pytest.approx(free.N, rel=1e-12) and inf.D == pytest.approx(free.D, rel=1e-12)
        assert inf.loss == pytest.approx(free.loss, rel=1e-12)
        assert inf.effective_data == pytest.approx(inf.D, rel=1e-12)
        slow_free = plan(**kwargs, method="general")
        slow = plan(**kwargs, unique=rd, mix=mix, method="general")
        assert slow.N == pytest.approx(slow_free.N, rel=1e-6) and slow.loss == pytest.approx(free.loss, rel=1e-9)
    # the discount is real once R* is finite
    assert plan(1e22, unique=rd.with_r_star(normal=5.0, rare=5.0), mix=mix).loss > plan(1e22).loss + 1e-3


@pytest.mark.parametrize("law", ["muennighoff2023", "repetition_penalty"])
def test_regime_data_is_refused_by_laws_that_model_repetition_themselves(law):
    # Such a law takes one unique count U and applies its own fitted decay, so regime R*
    # would be ignored (the audit found plans identical whatever R*): refused, by name.
    from tsbudget.laws.repetition_penalty import RepetitionPenalty
    from tsbudget.timeseries.regimes import RegimeData

    instance = get_preset(law) if law == "muennighoff2023" else RepetitionPenalty(P=0.05)
    rd = RegimeData.from_counts({"normal": 5e9, "rare": 5e8}, unit="tokens")
    with pytest.raises(InputError, match=f"regime data cannot be used with law '{instance.name}'.*unique=5.5e"):
        plan(1e22, law=instance, unique=rd)
    # the suggested alternative works: the law's own repetition model on the total
    assert plan(1e22, law=instance, unique=rd.total_unique).success


def test_regime_data_unit_must_match_the_plan_unit():
    from tsbudget.timeseries.regimes import RegimeData

    windows = RegimeData.from_counts({"normal": 5e8, "rare": 5e7})  # unit "windows"
    with pytest.raises(InputError, match="RegimeData.unit is 'windows'.*'tokens'"):
        plan(1e22, unique=windows)
    with pytest.raises(InputError, match="RegimeData.unit is 'windows'.*'cells'"):
        plan(1e22, unique=windows, unit="cells", unit_settings={"patch_length": 8})
    # counts converted to the plan's unit are used; counts in positions convert exactly
    cells = windows.scaled(64 * 8, "cells")
    a = plan(1e22, unique=cells, unit="cells", unit_settings={"patch_length": 8})
    b = plan(1e22, unique=windows.scaled(64, "positions"), unit="cells", unit_settings={"patch_length": 8})
    assert a.unique == pytest.approx(b.unique, rel=1e-15) == cells.total_unique
    assert a.N == pytest.approx(b.N, rel=1e-12) and a.loss == pytest.approx(b.loss, rel=1e-12)
    from tsbudget.data_unit import DataCount

    with pytest.raises(InputError, match="data count is in 'cells'.*'tokens'"):
        plan(1e22, unique=DataCount("cells", 1e10, 1e9))


def test_effective_data_is_reported_in_the_plan_unit():
    # epoch2024 reads tokens = positions; the plan counts cells, 8 per position. The audit
    # saw effective data 1.541e10 printed next to D in cells: that was positions.
    from tsbudget.timeseries.effective_data import effective_data

    p = plan(1e21, unique=1e10, unit="cells", unit_settings={"patch_length": 8})
    assert p.unit == "cells" and p.D > p.unique
    assert p.effective_data == pytest.approx(float(effective_data(p.D, 1e10)), rel=1e-12)
    assert p.effective_data == pytest.approx(8 * p.diagnostics["effective_data_law_unit"], rel=1e-12)
    assert p.effective_data / 8 == pytest.approx(1.541e10, rel=1e-3)
    assert p.effective_data < p.D
    ds = __import__("tsbudget.planning.frontier", fromlist=["frontier"]).frontier(
        [1e21], unique=1e10, unit="cells", unit_settings={"patch_length": 8})
    assert float(ds.effective_data[0]) == pytest.approx(p.effective_data, rel=1e-6)


def test_effective_data_of_laws_that_take_unique_data():
    # Muennighoff et al. 2023 eq. 5 with the law's own R_D* (the audit: D 9.419e10 printed as
    # effective data; the law sees D' = 1.635e10).
    from tsbudget.timeseries.effective_data import effective_data
    from tsbudget.laws.repetition_penalty import RepetitionPenalty

    law = get_preset("muennighoff2023")
    p = plan(1e21, law="muennighoff2023", unique=1e9)
    expected = float(effective_data(p.D, 1e9, law.R_D_star))
    assert p.effective_data == pytest.approx(expected, rel=1e-12)
    assert p.effective_data == pytest.approx(1.635e10, rel=1e-3) and p.D == pytest.approx(9.419e10, rel=1e-3)
    # the repetition penalty law's data term counts every unit seen (repeats cost via P)
    q = plan(1e21, law=RepetitionPenalty(P=0.05), unique=1e9)
    assert q.effective_data == pytest.approx(q.D, rel=1e-15)
    # no repetition: D' = D
    assert plan(1e21, law="muennighoff2023").effective_data == pytest.approx(plan(1e21, law="muennighoff2023").D)


def test_fit_in_patched_cells_plans_in_its_own_tokenization(tmp_path):
    # A law fitted on cells patched by 16 keeps the unit's settings in its options (and its
    # JSON), so a plan from the saved fit reads D in the same positions: with the fit's
    # own tokenization, positions = D / 16.
    from units.cells import ChannelTimeCells

    from tsbudget.fitting.fit import fit
    from tsbudget.fitting.result import FitResult

    law = get_preset("epoch2024")
    n = np.repeat(np.geomspace(1e7, 1e9, 5), 4)
    positions = np.tile(np.geomspace(1e9, 1e11, 4), 5)
    loss = law.evaluate(law.values, {"N": n, "D": positions})  # the law in positions
    runs = pl.DataFrame({"N": n, "D": 16 * positions, "loss": loss})
    res = fit(runs, "chinchilla", unit=ChannelTimeCells(patch_length=16), init=law)
    assert res.options["unit"] == "cells" and res.options["unit_settings"]["patch_length"] == 16
    loaded = FitResult.load(res.save(tmp_path / "fit.json"))
    assert loaded.options["unit_settings"] == res.options["unit_settings"]
    p = plan(1e21, law=loaded, unit=None)
    assert p.unit == "cells"
    assert p.D == pytest.approx(16 * p.positions, rel=1e-12)
    N, D = closed_form_budget(EPOCH, 1e21, k=6)
    assert p.N == pytest.approx(float(N), rel=1e-3) and p.positions == pytest.approx(float(D), rel=1e-3)


def test_plan_from_a_fit_defaults_to_the_fit_cost_model():
    # a fit made through the moe cost model plans with it (and its settings) unless told otherwise
    from tsbudget.fitting.fit import fit
    from tsbudget.registry import costmodels

    law = get_preset("epoch2024")
    n = np.repeat(np.geomspace(1e7, 1e9, 5), 4)
    d = np.tile(np.geomspace(1e9, 1e11, 4), 5)
    runs = pl.DataFrame({"N": n, "D": d, "loss": law.evaluate(law.values, {"N": n, "D": d})})
    res = fit(runs, "chinchilla", cost_model=costmodels.resolve("moe", d_model=512, n_layer=8), init=law)
    p = plan(1e21, law=res)
    assert p.cost_model == "moe"
    assert res.options["cost_settings"]["d_model"] == 512
    dense = plan(1e21, law=res, cost_model="dense")
    assert dense.cost_model == "dense" and dense.N != p.N


def test_plan_intervals_replan_draws_that_outgrow_the_unique_data():
    # as the frontier does: draws whose closed-form optimum wants more than the unique data
    # are planned by the general optimizer, so plan and frontier give the same intervals
    import xarray as xr

    from tsbudget.planning.closed_form import closed_form_budget
    from tsbudget.planning.frontier import frontier

    rng = np.random.default_rng(4)
    draws = xr.Dataset({k: ("draw", v * np.exp(0.05 * rng.standard_normal(40))) for k, v in EPOCH.items()})
    unique = 1.02 * float(closed_form_budget(EPOCH, 1e21)[1])
    p = plan(1e21, draws=draws, unique=unique)
    f = frontier([1e21], draws=draws, unique=unique, max_draws=40)
    assert p.method == "closed form" and p.diagnostics["draws_replanned"] > 0
    med, lo, hi = p.intervals["D_opt"]
    assert (med, lo, hi) == pytest.approx((float(f.D_median[0]), float(f.D_lower[0]), float(f.D_upper[0])), rel=1e-6)
