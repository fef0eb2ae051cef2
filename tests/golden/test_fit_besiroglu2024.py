"""Golden: the Chinchilla Approach 3 refit of Besiroglu et al. 2024 ("Chinchilla Scaling:
A replication attempt", Table 1 / their repository epoch-research/analyzing-chinchilla).

Data: Hoffmann et al. 2022 Figure 4 runs as digitised by Besiroglu et al. (shipped as
tsbudget/data/chinchilla_fig4_besiroglu2024.csv), tokens = Training FLOP / (6 · Model
Size), the 5 highest-loss runs dropped, Hoffmann's 4,500-start grid, summed Huber δ = 1e-3.
"""

import pytest

from tsbudget.datasets.chinchilla import load_chinchilla_runs
from tsbudget.fitting.fit import fit


def test_besiroglu_refit():
    result = fit(load_chinchilla_runs(), "chinchilla", drop_highest_loss=5)
    p = result.parameters
    assert result.success
    assert result.n_runs == 240 and result.n_starts == 4500
    assert result.objective == pytest.approx(0.0010183, rel=5e-3)
    assert p["E"] == pytest.approx(1.8172, abs=0.005)
    assert p["alpha"] == pytest.approx(0.3473, abs=0.005)
    assert p["beta"] == pytest.approx(0.3672, abs=0.005)
    assert p["A"] == pytest.approx(477.8, rel=0.10)
    assert p["B"] == pytest.approx(2143.9, rel=0.10)
    assert result.n_at_best > 1  # more than one start found the optimum


@pytest.mark.slow  # over 3 s; CI runs it in the slow pass
def test_race_reaches_the_objective_of_every_start_run_to_convergence():
    runs = load_chinchilla_runs()
    raced = fit(runs, "chinchilla", drop_highest_loss=5)
    full = fit(runs, "chinchilla", drop_highest_loss=5, race=False)
    assert raced.diagnostics["n_pruned"] > 4000 and full.diagnostics["n_pruned"] == 0
    assert raced.objective == pytest.approx(full.objective, rel=1e-9)
    assert full.n_at_best > 500  # 794 of 4,500 on this data
    assert raced.diagnostics["n_evaluations"] < full.diagnostics["n_evaluations"] / 10
